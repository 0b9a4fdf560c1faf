"""`POST /api/v1/mailbox`: an applicant's replies, by token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from app.db import SessionDep
from app.mailbox import service
from app.runtime import RuntimeDep

router = APIRouter(prefix="/api/v1/mailbox", tags=["mailbox"])


class MailboxRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=64)


@router.post("")
def fetch_mailbox(body: MailboxRequest, session: SessionDep, runtime: RuntimeDep) -> dict[str, Any]:
    # Global bucket: slows anyone guessing tokens (256-bit, so hopeless anyway)
    # and anyone hammering the database, without looking at who asks.
    runtime.limiter.hit("mailbox")
    return {"replies": service.fetch(session, body.token)}
