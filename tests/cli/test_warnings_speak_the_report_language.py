"""Warnings about a case speak the report's language (issue 15): decrypt keeps each as
a code and its parameters beside its English words; the report says it in Russian or
English, an older case folder's words are shown as they are, and an applicant's file
name inside a warning stays text."""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path
from string import Formatter
from typing import Any

import crypto
from crypto.cli.report import _WORDS, LANGS

from .desk import Desk, page_of
from .support import (
    CODENAME,
    Attachment,
    decrypt_into,
    make_submission,
    run,
    write_bundle,
)

# A file name that would be markup, and a right-to-left override, if it were not escaped.
HOSTILE_NAME = "<img src=x onerror=alert(1)>\u202egpj.exe"


def odd_case(desk: Desk, lang: str) -> Path:
    """A case, decrypted by the real tool, that earns four warnings: an answer that is
    not text, a stranger among the recipients, an envelope the form does not name, and
    a server digest that differs for an attachment under a hostile name."""
    org = desk.org
    recipients = [org.verifier.x25519_public or b"", org.outsider.x25519_public or b""]
    attachment = Attachment(HOSTILE_NAME, b"%PDF-1.4 x", "application/pdf")
    sub = make_submission(
        org.manifest,
        answers={"dangers": {"not": "text"}, "story": "words"},
        attachments=[attachment],
        recipients=recipients,
    )
    stray = crypto.seal_bytes(
        b"stray", kind="attachment", manifest=org.manifest.ref, recipients=recipients
    )
    stray_id = secrets.token_hex(16)
    sub.envelopes.append((stray_id, stray))
    sub.digests[stray_id] = crypto.payload_digest(io.BytesIO(stray))
    sub.digests[attachment.id] = bytes(32)  # what the server claims, not what it holds
    return desk.decrypt([sub], lang=lang) / sub.sid


def reports(case: Path) -> tuple[str, str]:
    """What a reader sees: the HTML report's text, and the text report."""
    return "".join(page_of(case).text), (case / "answers.txt").read_text(encoding="utf-8")


RUSSIAN = [
    "ответ на вопрос «Что угрожает вам сейчас?» пришёл не текстом; "
    "он показан как есть (в формате JSON)",
    "среди получателей есть чужие ключи (это не действующие ключи проверяющих по манифесту 1): ",
    "в пакете есть конверты, которых анкета не называет (всего: 1); они пропущены",
    "вложение «<img src=x onerror=alert(1)><U+202E>gpj.exe»: контрольная сумма, "
    "записанная сервером, не совпадает с содержимым",
]
ENGLISH = [
    'the answer to "What threatens you now?" is not text; shown as JSON',
    "sealed to key(s) that are not active verifiers of manifest 1: ",
    "the bundle holds 1 envelope(s) the form does not name; ignored",
    'attachment "<img src=x onerror=alert(1)><U+202E>gpj.exe": the server\'s digest '
    "differs from its content",
]


def test_a_russian_report_says_the_warnings_in_russian_not_english(desk: Desk) -> None:
    case = odd_case(desk, "ru")

    html_text, text = reports(case)

    for shown in (html_text, text):
        assert "ПРЕДУПРЕЖДЕНИЯ" in shown.upper()
        for words in RUSSIAN:
            assert words in shown, words
        for words in ENGLISH:
            assert words not in shown, words
        assert "the server's digest" not in shown and "sealed to key(s)" not in shown


def test_an_english_report_says_the_same_warnings_in_english(desk: Desk) -> None:
    case = odd_case(desk, "ru")

    result = run("verifier", ["report", case, "--lang", "en"])

    assert result.exit_code == 0, result.output
    html_text, text = reports(case)
    for shown in (html_text, text):
        for words in ENGLISH:
            assert words in shown, words
        for words in RUSSIAN:
            assert words not in shown, words


def test_case_json_keeps_the_english_words_beside_codes_and_the_applicants_name(desk: Desk) -> None:
    case = odd_case(desk, "ru")

    doc = json.loads((case / "case.json").read_text(encoding="utf-8"))

    # The plain list older readers and `intake-verifier cases` use: English words.
    assert [w.split(":")[0] for w in doc["warnings"]] == [
        'the answer to "dangers" is not text; shown as JSON',
        "sealed to key(s) that are not active verifiers of manifest 1",
        "the bundle holds 1 envelope(s) the form does not name; ignored",
        'attachment "<img src=x onerror=alert(1)><U+202E>gpj.exe"',
    ]
    coded = doc["coded_warnings"]
    assert [w["code"] for w in coded] == [
        "answer-not-text",
        "sealed-to-strangers",
        "unnamed-envelopes",
        "attachment-digest-differs",
    ]
    assert [w["text"] for w in coded] == doc["warnings"]
    assert coded[0]["params"] == {"field": "dangers"}
    assert coded[1]["params"]["version"] == 1 and len(coded[1]["params"]["keys"]) == 1
    assert coded[2]["params"] == {"count": 1}
    # The applicant's name as it came; made safe only where it is shown.
    assert coded[3]["params"] == {"file": HOSTILE_NAME}
    assert doc["status"] == "warnings"


def test_a_hostile_file_name_in_a_warning_stays_text(desk: Desk) -> None:
    case = odd_case(desk, "ru")

    page = (case / "answers.html").read_text(encoding="utf-8")
    text = (case / "answers.txt").read_text(encoding="utf-8")

    start = page.index('<h2 class="warn">')
    warned = page[start : page.index("</ul>", start)]
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;U+202E&gt;gpj.exe" in warned
    assert "<img" not in page and "\u202e" not in page
    assert "\u202e" not in text
    assert "вложение «<img src=x onerror=alert(1)><U+202E>gpj.exe»" in text


def rewrite_case_json(case: Path, **changes: Any) -> None:
    doc = json.loads((case / "case.json").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    (case / "case.json").write_text(json.dumps(doc), encoding="utf-8")


def test_a_case_folder_from_an_older_version_still_shows_its_warning_words(desk: Desk) -> None:
    case = odd_case(desk, "en")
    older = [
        "sealed to key(s) that are not active verifiers of manifest 1: 0123abcd",
        "answer '\u202egnp.exe' is not text; shown as JSON\x1b[2J",
    ]
    rewrite_case_json(case, warnings=older, coded_warnings=None)

    result = run("verifier", ["report", case, "--lang", "ru"])

    assert result.exit_code == 0, result.output
    html_text, text = reports(case)
    for shown in (html_text, text):
        assert older[0] in shown
        assert "answer '<U+202E>gnp.exe' is not text; shown as JSON<U+001B>[2J" in shown
        assert "\u202e" not in shown and "\x1b" not in shown
        assert "среди получателей" not in shown


def test_an_unknown_code_or_unfit_parameters_show_the_stored_english_words(desk: Desk) -> None:
    case = odd_case(desk, "en")
    coded = [
        {"code": "from-a-newer-version", "params": {}, "text": "a newer warning"},
        {"code": "unnamed-envelopes", "params": {}, "text": "count went missing"},
        {"code": "unnamed-envelopes", "params": {"count": {"no": 1}}, "text": "odd count"},
        {"code": "unnamed-envelopes", "params": {"count": 3}, "text": "the bundle holds 3 …"},
    ]
    rewrite_case_json(case, coded_warnings=coded)

    result = run("verifier", ["report", case, "--lang", "ru"])

    assert result.exit_code == 0, result.output
    html_text, text = reports(case)
    for shown in (html_text, text):
        for words in ("a newer warning", "count went missing", "odd count"):
            assert words in shown, words
        assert "(всего: 3)" in shown and "the bundle holds 3" not in shown


def test_a_follow_up_without_its_case_is_warned_of_in_russian_and_in_the_summary(
    desk: Desk,
) -> None:
    mailbox = crypto.derive_mailbox(CODENAME, desk.org.genesis_payload)
    followup = make_submission(
        desk.org.manifest, kind="followup", mailbox=mailbox, answers={"message": "ещё я"}
    )
    bundle = write_bundle(desk.base / "b.tar", desk.org.chain, [followup])

    result = decrypt_into(bundle, desk.keyring, desk.base / "cases", "ru")

    assert result.exit_code == 0, result.output
    assert "not among the cases" in " ".join(result.output.split())
    html_text, text = reports(desk.base / "cases" / followup.sid)
    for shown in (html_text, text):
        assert "это дополнение, но обращения, к которому оно относится, нет в этой папке" in shown
        assert "not among the cases" not in shown


def test_an_attachment_sealed_otherwise_than_its_form_is_named_in_the_warning(
    desk: Desk,
) -> None:
    org = desk.org
    attachment = Attachment("скан паспорта.jpg", b"\xff\xd8\xff\xe0 scan", "image/jpeg")
    sub = make_submission(org.manifest, attachments=[attachment])
    # Rewrapped to a stranger as well: same payload (the form's digest still holds),
    # other recipients than the form's.
    n, (eid, sealed) = next((n, e) for n, e in enumerate(sub.envelopes) if e[0] == attachment.id)
    rewrapped = io.BytesIO()
    crypto.rewrap(
        io.BytesIO(sealed),
        rewrapped,
        crypto.Keyring([org.verifier]),
        [org.verifier.x25519_public or b"", org.outsider.x25519_public or b""],
    )
    sub.envelopes[n] = (eid, rewrapped.getvalue())

    case = desk.decrypt([sub], lang="ru") / sub.sid

    html_text, text = reports(case)
    for shown in (html_text, text):
        assert "вложение «скан паспорта.jpg»: среди получателей есть чужие ключи" in shown
        assert shown.count("среди получателей есть чужие ключи") == 1
    coded = json.loads((case / "case.json").read_text())["coded_warnings"]
    assert [(w["code"], w["params"]["file"]) for w in coded] == [
        ("sealed-to-strangers", "скан паспорта.jpg")
    ]


def test_every_warning_is_worded_in_both_languages_with_the_same_parameters() -> None:
    def placeholders(words: str) -> set[str]:
        return {name for _, name, _, _ in Formatter().parse(words) if name}

    worded = {
        lang: {key: words for key, words in _WORDS[lang].items() if key.startswith("w.")}
        for lang in LANGS
    }

    assert worded["ru"].keys() == worded["en"].keys()
    assert len(worded["en"]) > 10
    for key, words in worded["en"].items():
        assert placeholders(worded["ru"][key]) == placeholders(words), key
