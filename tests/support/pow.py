"""Paying for a request the way the page does: the server's challenge, solved."""

from __future__ import annotations

from typing import Any

from app.pow import solve


def solved(challenge: dict[str, Any]) -> dict[str, str]:
    """The `pow` field of a request: `challenge` (the API's answer to a
    challenge request) with a nonce that meets its difficulty."""
    return {
        "challenge": challenge["challenge"],
        "nonce": solve(challenge["challenge"], int(challenge["difficulty"])),
    }
