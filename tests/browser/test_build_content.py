"""The one content encoder of both pages (`buildContent` in intake-crypto.js)
writes what PROTOCOL.md's *Submission content* says, byte for byte, which the
verifier reads without a note; input the protocol does not allow is refused
before anything is sealed."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from crypto.cli.casefiles import parse_content
from tests.browser.conftest import Harness

pytestmark = pytest.mark.browser

DIGEST = bytes(range(32))
REPLY_KEY = bytes(range(100, 132))
MAILBOX = "ab" * 32
ATTACHMENT_ID = "0123456789abcdef" * 2

BUILD = """async ([mode, digest, replyKey, mailbox, attachmentId]) => {
    const intake = await import('/static/js/intake-crypto.js');
    const bytes = (list) => Uint8Array.from(list);
    const attachment = {
        id: attachmentId, name: 'скан.jpg', type: '', size: 12345, digest: bytes(digest),
    };
    const content = intake.buildContent({
        lang: 'ru',
        form: { id: 'deserter-intake', version: 1 },
        answers: { name: 'Иван', reasons: ['a', 'b'] },
        attachments: [attachment],
        reply: mode === 'reply' ? { x25519: bytes(replyKey), mailbox } : null,
        sent: new Date(Date.UTC(2026, 10, 22, 10, 0, 0, 789)),
    });
    return Array.from(content);
}"""

REFUSED = """async ([digest, attachmentId]) => {
    const intake = await import('/static/js/intake-crypto.js');
    const attachment = {
        id: attachmentId, name: 'a', type: 'image/jpeg', size: 1, digest: Uint8Array.from(digest),
    };
    const good = {
        lang: 'en', form: { id: 'f', version: 1 }, answers: {}, attachments: [attachment],
        reply: null, sent: new Date(),
    };
    const cases = {
        upper_case_id: { attachments: [{ ...attachment, id: attachmentId.toUpperCase() }] },
        repeated_id: { attachments: [attachment, attachment] },
        short_digest: { attachments: [{ ...attachment, digest: new Uint8Array(31) }] },
        negative_size: { attachments: [{ ...attachment, size: -1 }] },
        number_answer: { answers: { age: 30 } },
        form_version_zero: { form: { id: 'f', version: 0 } },
        empty_lang: { lang: '' },
        sent_as_text: { sent: '2026-11-22T10:00:00Z' },
        invalid_date: { sent: new Date(NaN) },
        upper_case_mailbox: { reply: { x25519: new Uint8Array(32), mailbox: 'AB'.repeat(32) } },
        reply_key_not_base64: { reply: { x25519: 'not base64', mailbox: 'ab'.repeat(32) } },
    };
    const outcome = { good: Array.from(intake.buildContent(good)).length > 0 };
    for (const [name, change] of Object.entries(cases)) {
        try {
            intake.buildContent({ ...good, ...change });
            outcome[name] = 'built';
        } catch (error) {
            outcome[name] = error.name;
        }
    }
    return outcome;
}"""


def _build(harness: Harness, mode: str) -> bytes:
    args = [mode, list(DIGEST), list(REPLY_KEY), MAILBOX, ATTACHMENT_ID]
    return bytes(harness.page.evaluate(BUILD, args))


def _expected(reply: dict[str, Any] | None) -> bytes:
    doc: dict[str, Any] = {
        "v": 2,
        "lang": "ru",
        "form": {"id": "deserter-intake", "version": 1},
        "answers": {"name": "Иван", "reasons": ["a", "b"]},
        "attachments": [
            {
                "id": ATTACHMENT_ID,
                "name": "скан.jpg",
                "type": "application/octet-stream",
                "size": 12345,
                "digest": base64.b64encode(DIGEST).decode(),
            }
        ],
    }
    if reply is not None:
        doc["reply"] = reply
    doc["sent"] = "2026-11-22T10:00:00Z"
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def test_content_with_a_reply_is_the_protocol_document_and_reads_without_notes(
    harness: Harness,
) -> None:
    built = _build(harness, "reply")
    assert built == _expected({"x25519": base64.b64encode(REPLY_KEY).decode(), "mailbox": MAILBOX})
    content = parse_content(built)
    assert content.notes == []
    assert content.attachments[0].digest == DIGEST
    assert content.reply_x25519 == REPLY_KEY
    assert content.mailbox == MAILBOX
    assert content.sent == "2026-11-22T10:00:00Z"


def test_content_without_a_mailbox_leaves_reply_out(harness: Harness) -> None:
    built = _build(harness, "none")
    assert built == _expected(None)
    content = parse_content(built)
    assert content.reply_x25519 is None
    assert content.mailbox is None


def test_input_the_protocol_does_not_allow_is_refused_before_sealing(harness: Harness) -> None:
    outcome = harness.page.evaluate(REFUSED, [list(DIGEST), ATTACHMENT_ID])
    assert outcome.pop("good") is True
    assert outcome == dict.fromkeys(outcome, "TypeError")
    assert len(outcome) == 11
