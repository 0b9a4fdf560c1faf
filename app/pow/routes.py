"""`POST /api/v1/challenges`: a fresh proof-of-work challenge."""

from __future__ import annotations

from fastapi import APIRouter

from app.pow.schemas import Challenge
from app.runtime import RuntimeDep

router = APIRouter(prefix="/api/v1/challenges", tags=["submissions"])


@router.post("")
def new_challenge(runtime: RuntimeDep) -> Challenge:
    # No rate limit: a challenge costs one MAC, and a bucket here is what a
    # flood of junk requests drained to shut honest applicants out.
    issued = runtime.pow.issue()
    return Challenge(challenge=issued.challenge, difficulty=issued.difficulty)
