"""`POST /api/v1/mailbox`: an applicant's replies, by token, for a proof of work;
`POST /api/v1/mailbox/delete`: deleting them, with the same token and proof."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.db import forget_deleted, writing
from app.errors import InvalidRequest
from app.http import StrictJSONRoute
from app.mailbox import service
from app.pow.schemas import Challenge, PowProof
from app.runtime import RuntimeDep

router = APIRouter(prefix="/api/v1/mailbox", tags=["mailbox"], route_class=StrictJSONRoute)


class MailboxRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=64, description="b64 of the 32-byte mailbox token.")
    pow: PowProof | None = Field(default=None, description="A solved mailbox challenge.")


class StoredReply(BaseModel):
    envelope: str = Field(description="b64 of the reply envelope.")
    kid: str = Field(description="kid of the signing verifier's Ed25519 key.")
    sig: str = Field(description='b64 Ed25519 over "intake/v1/reply" || H(32, envelope).')
    sent: str = Field(description="When the server received it, to the hour.")


class DeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=64, description="b64 of the 32-byte mailbox token.")
    pow: PowProof | None = Field(default=None, description="A solved mailbox challenge.")
    replies: list[str] = Field(
        default_factory=list,
        max_length=service.MAX_DELETE_NAMES,
        description="The replies to delete, each as b64 of H(32, envelope bytes).",
    )
    all: bool = Field(default=False, description="Delete every reply of the mailbox instead.")


class DeleteAnswer(BaseModel):
    deleted: int = Field(description="How many replies were deleted.")


class MailboxAnswer(BaseModel):
    """The same shape, status and work whether or not the mailbox exists."""

    replies: list[StoredReply]


@router.post("/challenges")
def mailbox_challenge(runtime: RuntimeDep) -> Challenge:
    """A challenge priced for one mailbox check (cheaper than a submission's).
    Never rate limited: it costs one MAC (see `app.pow`)."""
    issued = runtime.mailbox_pow.issue()
    return Challenge(challenge=issued.challenge, difficulty=issued.difficulty)


@router.post("")
async def fetch_mailbox(body: MailboxRequest, runtime: RuntimeDep) -> MailboxAnswer:
    pow = runtime.mailbox_pow
    challenge = body.pow.challenge if body.pow else None
    nonce = body.pow.nonce if body.pow else None
    # A MAC and one hash, before anything shared: junk without a valid proof
    # never opens a transaction or touches the bucket below.
    pow.check(challenge, nonce)
    mailbox = service.mailbox_for_token(body.token)

    def fetch(session: Session) -> list[dict[str, Any]]:
        pow.redeem(session, challenge, nonce)
        # Global bucket, charged only for a paid, unspent proof: it caps
        # the database work of checks (and codename guesses) without
        # looking at who asks. A 429 rolls the redemption back, so the
        # proof is not lost.
        runtime.limiter.hit("mailbox")
        return service.fetch(session, runtime.settings, mailbox)

    # One transaction in one worker thread (see app.db.writing).
    replies = await writing(runtime.session_factory, fetch)
    return MailboxAnswer(replies=[StoredReply(**reply) for reply in replies])


@router.post("/delete")
async def delete_replies(body: DeleteRequest, runtime: RuntimeDep) -> DeleteAnswer:
    """Deletes replies of the mailbox the token names: the token is the
    authorisation, exactly as for reading, and only that mailbox's rows are
    touched. Paid for with a mailbox proof, like a check."""
    if body.all == bool(body.replies):
        raise InvalidRequest('Name the replies to delete, or send "all": true (not both).')
    names = None if body.all else service.reply_names(body.replies)
    pow = runtime.mailbox_pow
    challenge = body.pow.challenge if body.pow else None
    nonce = body.pow.nonce if body.pow else None
    pow.check(challenge, nonce)
    mailbox = service.mailbox_for_token(body.token)

    def delete(session: Session) -> int:
        pow.redeem(session, challenge, nonce)
        # The same global bucket as checks: deleting costs what reading does.
        runtime.limiter.hit("mailbox")
        return service.delete(session, mailbox, names)

    deleted = await writing(runtime.session_factory, delete)
    if deleted:
        await run_in_threadpool(forget_deleted, runtime.engine)
    return DeleteAnswer(deleted=deleted)
