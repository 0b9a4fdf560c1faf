"""The case report (answers.html, answers.txt): the signed form's words, urgent risks
first, attachment links inside the case, the conversation in order, inert hostile text."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin

import crypto
from crypto.cli.report import default_lang
from crypto.cli.urgency import urgent_answers
from crypto.formdef import default_form

from .desk import Desk, page_of
from .support import (
    JPEG_HEAD,
    URGENT_ANSWERS,
    Attachment,
    entry,
    make_submission,
    run,
)


def test_report_shows_the_signed_forms_questions_and_labels_in_sections(desk: Desk) -> None:
    case = desk.case(URGENT_ANSWERS, lang="en")

    page = page_of(case)
    shown = "".join(page.text)

    assert "What threatens you now?" in shown and "Deportation" in shown
    assert "My permitted stay is running out" in shown
    assert "Russian internal passport" in shown and "Kazakhstan" in shown
    # Option codes and field ids stay out of the reader's view.
    for code in ("expiring-stay", "internal-passport", "contact-method", "kazakhstan"):
        assert code not in shown, code
    # The form's sections, in the form's order.
    sections = [
        h
        for h in page.headings
        if h in ("How to reach you", "Where you are now", "Documents", "Immediate danger and help")
    ]
    assert sections == [
        "How to reach you",
        "Where you are now",
        "Documents",
        "Immediate danger and help",
    ]
    # The plain-text twin keeps ids and codes beside the labels, for grep and scripts.
    text = (case / "answers.txt").read_text(encoding="utf-8")
    assert "  country: Kazakhstan [kazakhstan]" in text
    assert "    - Russian internal passport [internal-passport]" in text
    # The form this tool ships with is not copied into every case.
    assert not (case / "form.json").exists()


def test_a_form_signed_in_the_manifest_is_kept_with_the_case_and_speaks_for_it(desk: Desk) -> None:
    org = desk.org
    form = default_form()
    form["version"] = 2
    city = next(f for s in form["sections"] for f in s["fields"] if f["id"] == "city")
    city["label"]["en"] = "Town (as the admins signed it)"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    payload = crypto.build_manifest_payload(
        version=2,
        issued=now,
        expires=now + dt.timedelta(days=30),
        org=org.manifest.data["org"],
        threshold=2,
        admins=[a.public() for a in org.admins],
        verifiers=[entry(org.verifier)],
        couriers=[],
        extra={"form": form},
    )
    chain = [*org.chain, crypto.dsse_sign(crypto.MANIFEST_TYPE, payload, org.admins)]
    manifest = crypto.parse_manifest(chain[-1])
    sub = make_submission(manifest, answers={"city": "Алматы"}, form_version=2)
    out = desk.decrypt([sub], chain=chain)

    shown = "".join(page_of(out / sub.sid).text)

    assert "Town (as the admins signed it)" in shown and "Алматы" in shown
    saved = json.loads((out / sub.sid / "form.json").read_text(encoding="utf-8"))
    assert saved == form
    assert json.loads((out / sub.sid / "case.json").read_text())["form_file"] == "form.json"


def test_report_speaks_russian_when_asked_and_keeps_the_applicants_words(desk: Desk) -> None:
    case = desk.case(URGENT_ANSWERS, lang="ru")

    shown = "".join(page_of(case).text)

    assert "Что угрожает вам сейчас?" in shown and "Депортация" in shown
    assert "Что сделать дальше" in shown and "Срочно" in shown
    assert "Заграничный паспорт остался в части." in shown  # the applicant's own text
    assert json.loads((case / "case.json").read_text())["report_lang"] == "ru"


def test_urgent_risks_come_first_in_a_box_and_calm_cases_have_none(desk: Desk) -> None:
    urgent = desk.case(URGENT_ANSWERS, under="a")
    calm = desk.case({"dangers": ["none"], "stay-expires": "2040-01"}, under="b")

    report = (urgent / "answers.html").read_text(encoding="utf-8")
    box = report.index('<div class="urgent">')
    assert box < report.index("<h2>Answers</h2>")
    boxed = report[box : report.index("</div>", box)]
    assert "Deportation" in boxed and "My permitted stay is running out" in boxed
    assert "When does your permitted stay end?" in boxed and "2026-12" in boxed
    assert "Russian internal passport" not in boxed
    assert "== URGENT ==" in (urgent / "answers.txt").read_text(encoding="utf-8")
    assert 'class="urgent"' not in (calm / "answers.html").read_text(encoding="utf-8")


def test_urgency_rules_weigh_dangers_and_how_near_the_stay_ends() -> None:
    today = dt.date(2026, 12, 4)

    def fields(answers: dict[str, list[str]]) -> list[str]:
        return [u.field for u in urgent_answers("deserter-intake", answers, today)]

    assert fields({"dangers": ["none"]}) == []
    assert fields({"dangers": ["detention", "none"]}) == ["dangers"]
    assert fields({"criminal-case": ["yes"]}) == ["criminal-case"]
    assert fields({"criminal-case": ["unknown"]}) == []
    assert fields({"stay-expires": ["2027-01"]}) == ["stay-expires"]  # within two months
    assert fields({"stay-expires": ["2027-06"]}) == []
    assert fields({"stay-expires": ["2025"]}) == ["stay-expires"]  # already past
    # Far off, but beside "my stay is running out" it is the date that matters.
    assert fields({"dangers": ["expiring-stay"], "stay-expires": ["2028-03"]}) == [
        "dangers",
        "stay-expires",
    ]
    assert urgent_answers("another-form", {"dangers": ["deportation"]}, today) == []


def test_server_hour_and_applicant_time_read_as_consistent(desk: Desk) -> None:
    case = desk.case(
        {"story": "x"},
        sent="2026-11-22T06:50:12Z",
        received="2026-11-22T06:00:00Z",
    )

    shown = "".join(page_of(case).text)

    assert "2026-11-22 06:50 UTC (by the clock of their phone)" in shown
    assert "2026-11-22 06:00–07:00 UTC (the server keeps only the hour" in shown


def test_followups_and_sent_replies_are_threaded_in_the_order_they_happened(desk: Desk) -> None:
    scene = desk.scene(
        answers={"story": "first words"},
        followup_message="second words, after your reply",
        reply_message="your reply text",
    )

    report = (scene.case / "answers.html").read_text(encoding="utf-8")
    conversation = report[report.index("<h2>Conversation</h2>") :]
    order = [
        conversation.index("Application sent"),
        conversation.index("your reply text"),
        conversation.index("second words, after your reply"),
    ]
    assert order == sorted(order)
    assert "Your reply (needs more information)" in conversation
    # The applicant wrote last: the next step is to answer, with a command that works.
    shown = "".join(page_of(scene.case).text)
    assert "The applicant wrote again after your last reply" in shown
    command = re.search(r"intake-verifier reply (\S+) --keyring", shown)
    assert command is not None and Path(command.group(1)).name == scene.submission.sid[:8]
    doc = json.loads((scene.case / "case.json").read_text())
    assert [r["message"] for r in doc["replies"]] == ["your reply text"]
    assert doc["followups"] == [scene.followup.sid]
    text = (scene.case / "answers.txt").read_text(encoding="utf-8")
    assert text.index("your reply text") < text.index("second words, after your reply")


def test_attachments_link_inside_the_case_and_risky_ones_are_not_linked(desk: Desk) -> None:
    scene = desk.scene(
        answers={"story": "files attached"},
        attachments=[
            Attachment("scan #1?.jpg", JPEG_HEAD + bytes(100), "image/jpeg"),
            Attachment("../../../etc/passwd.pdf", b"%PDF-1.4 x", "application/pdf"),
            Attachment("run.exe", b"MZ\x90\x00" + bytes(60)),
            Attachment("page.html", b"<html><script>alert(1)</script>"),
            Attachment("fake.jpg", b"<svg onload=alert(1)>"),
        ],
        followup_attachments=[Attachment("later.pdf", b"%PDF-1.4 later", "application/pdf")],
    )

    hrefs = page_of(scene.case).hrefs
    base = scene.case.resolve().as_uri() + "/"
    targets = [Path(unquote(urljoin(base, h).removeprefix("file://"))) for h in hrefs]

    assert sorted(t.name for t in targets) == ["later.pdf", "passwd.pdf", "scan #1_.jpg"]
    for href, target in zip(hrefs, targets, strict=True):
        assert not href.startswith(("/", "file:", "javascript:")) and ".." not in href, href
        assert target.resolve().is_relative_to(scene.case.resolve()), href
        assert target.is_file() and not target.is_symlink(), href
    shown = "".join(page_of(scene.case).text)
    assert "not linked: open it deliberately" in shown
    assert "dangerous type .exe" in shown and "dangerous type .html" in shown


def test_report_command_rebuilds_the_report_in_another_language(desk: Desk) -> None:
    case = desk.case(URGENT_ANSWERS, lang="en")

    result = run("verifier", ["report", case.parent / case.name[:6], "--lang", "ru"])

    assert result.exit_code == 0, result.output
    assert "Депортация" in (case / "answers.html").read_text(encoding="utf-8")
    assert json.loads((case / "case.json").read_text())["report_lang"] == "ru"


def test_default_report_language_follows_the_locale() -> None:
    assert default_lang({"LANG": "ru_RU.UTF-8"}) == "ru"
    assert default_lang({"LANGUAGE": "en_GB:ru", "LANG": "ru_RU.UTF-8"}) == "en"
    assert default_lang({"LC_ALL": "de_DE.UTF-8"}) == "en"
    assert default_lang({"LANG": "C.UTF-8"}) == "en"
    assert default_lang({}) == "en"


def test_a_form_unknown_to_the_tool_is_shown_by_field_ids(desk: Desk) -> None:
    org = desk.org
    sub = make_submission(org.manifest, answers={"dangers": ["deportation"]})
    content = {
        "v": 2,
        "lang": "en",
        "form": {"id": "other-form", "version": 7},
        "answers": {"dangers": ["deportation"]},
        "attachments": [],
        "sent": "2026-11-22T10:00:00Z",
    }
    form = crypto.seal_bytes(
        json.dumps(content).encode(),
        kind="submission",
        manifest=org.manifest.ref,
        recipients=[v.x25519 for v in org.manifest.active_verifiers()],
    )
    sub.envelopes = [("form", form)]
    sub.digests = {"form": crypto.payload_digest(io.BytesIO(form))}
    out = desk.decrypt([sub])

    shown = "".join(page_of(out / sub.sid).text)

    assert "This form (other-form 7) is not known to this tool" in shown
    assert "dangers" in shown and "deportation" in shown
    assert not (out / sub.sid / "form.json").exists()


# --------------------------------------------------------------------------
# In a real browser


HOSTILE_ANSWERS: dict[str, object] = {
    **URGENT_ANSWERS,
    "story": "</dd></dl><script>alert('story')</script><img src=x onerror=alert(1)>",
    "city": '<a href="javascript:alert(1)">Алматы</a>\u202eevil',
    "country": "<svg onload=alert('country')>",  # not one of the options
    "<b>key</b>": "<iframe src='https://example.org'></iframe>",
    "documents-notes": "<style>*{display:none}</style><meta http-equiv=refresh content=0>",
}


def test_hostile_report_stays_inert_in_chromium_and_links_stay_in_the_case(
    desk: Desk, chromium: Any
) -> None:
    from .report_browser import render_report

    scene = desk.scene(
        answers=HOSTILE_ANSWERS,
        attachments=[
            Attachment('"><script>alert(1)</script>.jpg', JPEG_HEAD + bytes(50), "image/jpeg"),
            Attachment("x.pdf#../../../../etc/passwd", b"%PDF-1.4"),
            Attachment("ok.pdf", b"%PDF-1.4 ok", "application/pdf"),
        ],
        followup_message="<script>alert('followup')</script>",
        reply_message="<b>not bold</b>",
    )

    shot = desk.base / "shot.png"
    seen = render_report(scene.case / "answers.html", shot, browser=chromium)

    assert seen.dialogs == []
    assert seen.requests == [(scene.case / "answers.html").resolve().as_uri()]
    for tag in ("script", "img", "iframe", "object", "embed", "form"):
        assert seen.elements[tag] == 0, tag
    assert seen.elements["style"] == 1  # ours, allowed by its hash
    assert not [line for line in seen.console if "Content Security Policy" in line], seen.console
    # Shown as the text it is.
    assert "<script>alert('story')</script>" in seen.text
    assert "<svg onload=alert('country')> (not one of the form's options)" in seen.text
    assert "<script>alert('followup')</script>" in seen.text
    assert "<b>not bold</b>" in seen.text
    assert "\u202e" not in seen.text and "<U+202E>" in seen.text
    assert "Deportation" in seen.urgent
    # Every link resolves inside the case folder, to a file that is there.
    root = scene.case.resolve().as_uri() + "/"
    # The jpg under its hostile name and ok.pdf; "x.pdf#../…/passwd" lost its path and
    # with it its extension, so it is flagged and listed without a link.
    assert len(seen.links) == 2 and seen.links[0].endswith(".jpg"), seen.links
    for link in seen.links:
        assert link.startswith(root), link
        target = Path(unquote(link.removeprefix("file://")))
        assert target.is_file() and target.resolve().is_relative_to(scene.case.resolve())
    assert shot.stat().st_size > 10_000
