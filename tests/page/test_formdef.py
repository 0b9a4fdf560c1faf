"""The form definition: its schema (docs/FORMS.md), the default deserter-intake
form, and the server rendering whatever form the admins signed."""

from __future__ import annotations

import copy
import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from crypto import formdef
from tests.page import flow
from tests.support.live_server import LiveServer, run_cli


@pytest.fixture
def form() -> dict[str, Any]:
    return formdef.default_form()


def field(form: dict[str, Any], field_id: str) -> dict[str, Any]:
    return next(f for f in formdef.fields(form) if f["id"] == field_id)


def test_the_default_form_asks_what_the_ngos_need_and_requires_only_consent(
    form: dict[str, Any],
) -> None:
    formdef.validate_form(form)
    ids = {f["id"] for f in formdef.fields(form)}
    assert {
        "contact-method",
        "country",
        "city",
        "documents",
        "service-start",
        "unit",
        "left-how",
        "refusal-evidence",
        "criminal-case",
        "dangers",
        "help-needed",
        "story",
        "consent",
    } <= ids
    assert [f["id"] for f in formdef.fields(form) if f.get("required")] == ["consent"]
    methods = [o["value"] for o in field(form, "contact-method")["options"]]
    assert methods == ["signal", "telegram", "email", "phone", "none"]
    documents = [o["value"] for o in field(form, "documents")["options"]]
    assert documents == ["internal-passport", "foreign-passport", "military-id", "none"]
    for f in formdef.fields(form):  # every text in Russian and English
        assert set(f["label"]) == {"ru", "en"}


def test_default_form_returns_a_fresh_copy(form: dict[str, Any]) -> None:
    form["sections"].clear()
    assert formdef.default_form()["sections"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.update(type="other"), r"form\.type: must be 'intake/form'"),
        (lambda f: f.update(extra=1), r"form: unknown key 'extra'"),
        (lambda f: f.update(version=True), r"form\.version: must be an integer"),
        (lambda f: f["languages"].append("ru"), r"form\.languages"),
        (
            lambda f: f["sections"][0]["fields"][0]["label"].pop("en"),
            r"form\.sections\[0\]\.fields\[0\]\.label: languages differ .*missing en",
        ),
        (
            lambda f: f["sections"][0]["fields"][0].update(type="slider"),
            r"form\.sections\[0\]\.fields\[0\]\.type: must be one of",
        ),
        (
            lambda f: f["sections"][0]["fields"][0]["options"].append(
                copy.deepcopy(f["sections"][0]["fields"][0]["options"][0])
            ),
            r"option 'signal' listed twice",
        ),
        (
            lambda f: f["sections"][0]["fields"][1].update(options=[]),
            r"fields\[1\]\.options: a text field has no options",
        ),
        (
            lambda f: f["sections"][-1]["fields"][0].update(required=False),
            r"a consent field must be required",
        ),
        (
            lambda f: f["sections"][1]["fields"][0].update(id="city"),
            r"id 'city' used twice",
        ),
        (
            lambda f: f["sections"][0]["fields"][1].update(max_length=0),
            r"max_length: must be an integer in 1\.\.20000",
        ),
        (lambda f: f["sections"][0]["fields"][0].update(id="Bad Id"), r"id must be"),
    ],
)
def test_a_faulty_form_is_refused_with_a_message_naming_the_fault(
    form: dict[str, Any], change: Any, message: str
) -> None:
    change(form)
    with pytest.raises(ValueError, match=message):
        formdef.validate_form(form)


def test_answers_are_checked_against_the_form(form: dict[str, Any]) -> None:
    good = {
        "consent": "yes",
        "documents": ["none"],
        "arrived": "2023-04",
        "country": "armenia",
        "refusal-evidence": "no",
        "story": "…",
    }
    formdef.validate_answers(form, good)
    for bad, message in [
        ({}, "consent: required"),
        ({**good, "country": "mars"}, "not one of the options"),
        ({**good, "documents": ["none", "none"]}, "distinct options"),
        ({**good, "arrived": "2023-13"}, "YYYY or YYYY-MM"),
        ({**good, "story": "x" * 10001}, "at most 10000"),
        ({**good, "secret": "x"}, "unknown question"),
    ]:
        with pytest.raises(ValueError, match=message):
            formdef.validate_answers(form, bad)


def test_the_shape_is_what_the_page_compares(form: dict[str, Any]) -> None:
    shape = formdef.form_shape(form)
    assert {"id": "consent", "type": "consent", "required": True, "options": []} in shape
    assert shape[0]["options"] == ["signal", "telegram", "email", "phone", "none"]


# ---------------------------------------------------------------- a signed new form


def publish_form(
    new_form: dict[str, Any], server: LiveServer, demo_org: Path, env: dict[str, str], work: Path
) -> None:
    """What the admins do offline: draft, sign twice, combine, publish."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "form.json").write_text(json.dumps(new_form, ensure_ascii=False))
    current = str(demo_org / "manifest-1.json")
    draft = str(work / "draft.json")
    run_cli(
        ["intake-admin", "set-form", str(work / "form.json"), "--current", current, "--out", draft],
        env,
    )
    signatures = []
    for n in (1, 2):
        signature = str(work / f"sig-{n}.json")
        key = str(demo_org / "admins" / f"admin-{n}.key")
        run_cli(["intake-admin", "sign", draft, "--key", key, "--out", signature], env)
        signatures.append(signature)
    signed = str(work / "manifest-2.json")
    run_cli(["intake-admin", "combine", draft, *signatures, "--out", signed], env)
    run_cli(["intake-admin", "publish", signed, "--server", server.url], env)


@pytest.mark.browser
def test_the_page_asks_the_questions_the_admins_signed(
    chromium: Browser,
    strict_server: LiveServer,
    demo_org: Path,
    tools_env: dict[str, str],
    tmp_path: Path,
) -> None:
    new_form = formdef.default_form()
    new_form["version"] = 2
    new_form["sections"][0]["fields"].append(
        {
            "id": "safe-hours",
            "type": "text",
            "label": {"ru": "Когда вам удобно писать?", "en": "When is it safe to write to you?"},
        }
    )
    server = strict_server  # a server of its own: its chain moves on to version 2
    publish_form(new_form, server, demo_org, tools_env, tmp_path / "admin")

    canary = "canary-" + secrets.token_hex(6)
    page = chromium.new_page()
    flow.open_page(page, server, "en")  # ready: the page's questions match the signed ones
    flow.show_field(page, "#q-safe-hours")  # in the contact section: shown late
    expect(page.get_by_label("When is it safe to write to you?")).to_be_visible()
    page.fill("#q-safe-hours", f"evenings {canary}")
    flow.go_to(page, "reply")
    flow.decline_codename(page)
    flow.send(page)
    page.close()

    case = flow.find_case(flow.pull_and_decrypt(server, demo_org, tools_env, tmp_path), canary)
    assert case.doc["form"] == {"id": "deserter-intake", "version": "2"}
    assert case.doc["lang"] == "en"
    assert re.search(r"safe-hours:\s+evenings " + canary, case.answers)
