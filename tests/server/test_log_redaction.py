"""Every IP address is removed from log lines, and nothing else is."""

from __future__ import annotations

import logging

import pytest

from app.logredact import RedactAddresses, redact


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Uvicorn running on http://127.0.0.1:8000 (Press",
            "Uvicorn running on http://[address]:8000 (Press",
        ),
        ("peer 203.0.113.7 closed.", "peer [address] closed."),
        ("from [2001:db8::1]:443", "from [[address]]:443"),
        ("client ::1 gone", "client [address] gone"),
        ("mapped ::ffff:198.51.100.2 here", "mapped [address] here"),
    ],
)
def test_addresses_are_redacted(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "at 02:01:51,099",
        "version 1.2.3",
        "ratio 1:2",
        "kid 3f2a:91c0",
        "999.1.1.1 is not an address",
    ],
)
def test_text_that_only_looks_like_an_address_is_kept(line: str) -> None:
    assert redact(line) == line


def test_filter_redacts_arguments_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "peer %s", ("192.0.2.1",), None)
    try:
        raise ConnectionError("reset by 192.0.2.9")
    except ConnectionError as exc:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    assert RedactAddresses().filter(record)
    assert record.getMessage() == "peer [address]"
    assert record.exc_text is not None
    assert "192.0.2.9" not in record.exc_text
