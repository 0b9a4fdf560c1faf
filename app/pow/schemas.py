"""Proof of work on the wire: the challenge the server issues, and the body a
client sends with what a proof pays for (a new submission, a mailbox check):
the challenge as issued and the nonce found."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


# Unknown fields are refused, as in every request body: a client sending
# more than the protocol names is buggy or probing.
class PowProof(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge: str = Field(max_length=200)
    nonce: str = Field(max_length=64)


class Challenge(BaseModel):
    challenge: str
    difficulty: int
