"""A logging filter that removes every IP address from every log line.

The access log is off and no route logs a client, but third-party messages
(uvicorn's start-up line, an exception text naming a peer) can still carry an
address. Redacting at the handler is the one place that catches them all, so
the log cannot be used to place an applicant.
"""

from __future__ import annotations

import ipaddress
import logging
import re

# Candidates: runs of hex digits, dots and colons that hold a dot or a colon;
# each is confirmed with `ipaddress`, so times like 02:01:51 survive.
CANDIDATE = re.compile(r"(?<![\w:.])[0-9A-Fa-f.:]*[.:][0-9A-Fa-f.:]*(?![\w:.])")
REDACTED = "[address]"


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _replace(match: re.Match[str]) -> str:
    whole = match.group(0)
    text = whole.rstrip(".:")  # the end of a sentence, not of the address
    tail = whole[len(text) :]
    return _redact_one(text) + tail


def _redact_one(text: str) -> str:
    if _is_address(text):
        return REDACTED
    host, sep, port = text.rpartition(":")  # "203.0.113.5:8000"
    if sep and port.isdigit() and _is_address(host):
        return f"{REDACTED}:{port}"
    return text


def redact(text: str) -> str:
    return CANDIDATE.sub(_replace, text)


class RedactAddresses(logging.Filter):
    """Rewrite the record's message (and any traceback text) with addresses redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
