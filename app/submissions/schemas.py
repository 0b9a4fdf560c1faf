"""Request and response bodies of the submission endpoints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.pow.schemas import PowProof
from crypto import encoding

# The id grammar is the protocol's (crypto.encoding), anchored for pydantic.
HEX32 = f"^{encoding.HEX32}$"
HEX64 = r"^[0-9a-f]{64}$"
EID = f"^({encoding.EID})$"


class _Strict(BaseModel):
    # Unknown fields are refused: a client sending more than the protocol
    # names is buggy or probing.
    model_config = ConfigDict(extra="forbid")


class EnvelopeDecl(_Strict):
    id: str = Field(pattern=EID)
    size: int = Field(gt=0)


class CreateSubmission(_Strict):
    kind: Literal["submission", "followup"]
    # Read and dropped, never stored: pages loaded before the upgrade still
    # send it, and refusing them would lose an applicant's submission. The
    # id would link a submission, its follow-ups and the mailbox reads; the
    # verifier takes it from inside the ciphertext.
    mailbox: str | None = Field(
        default=None,
        pattern=HEX64,
        deprecated=True,
        description="Ignored and not stored; pages no longer send it.",
    )
    envelopes: list[EnvelopeDecl] = Field(min_length=1, max_length=1000)
    pow: PowProof | None = None


class UploadHint(BaseModel):
    chunk: int


class Created(BaseModel):
    id: str
    upload: UploadHint


class Progress(BaseModel):
    offset: int
    size: int


class Offset(BaseModel):
    offset: int


class Finalised(BaseModel):
    status: Literal["complete"]
    received: str
