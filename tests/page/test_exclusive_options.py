"""An answer that excludes the others ("No documents", "Nothing urgent") cannot be ticked with them.

The signed form is unchanged: the page treats a multichoice option whose value
is `none` as exclusive (app/pages/intake.py, EXCLUSIVE_OPTION_VALUE), shows it
after an "or" (GOV.UK's divider), and the script keeps the choice coherent.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from app.pages.intake import EXCLUSIVE_OPTION_VALUE, form_view
from crypto import formdef
from tests.page import flow
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser


def test_only_the_none_options_of_multichoice_questions_are_exclusive() -> None:
    view = form_view(formdef.default_form(), "ru", 2026)
    exclusive = {
        (field["id"], option["value"])
        for step in view["steps"]
        for field in step["fields"]
        for option in field["options"]
        if option["exclusive"]
    }
    assert exclusive == {("documents", "none"), ("dangers", "none")}
    assert EXCLUSIVE_OPTION_VALUE == "none"


def test_ticking_no_documents_clears_the_documents_and_a_document_clears_it(
    chromium: Browser, page_server: LiveServer
) -> None:
    context, page = flow.phone_context(chromium)
    flow.open_page(page, page_server)
    flow.go_to(page, "documents")
    none = page.locator("#q-documents-none")
    passport = page.locator("#q-documents-internal-passport")
    military = page.locator("#q-documents-military-id")
    expect(page.locator("#step-documents .or")).to_have_text("или")

    passport.check()
    military.check()
    none.check()
    expect(passport).not_to_be_checked()
    expect(military).not_to_be_checked()
    expect(none).to_be_checked()

    military.check()
    expect(none).not_to_be_checked()
    expect(military).to_be_checked()

    # The same rule on the other question with such an option.
    flow.go_to(page, "danger")
    page.check("#q-dangers-deportation")
    page.check("#q-dangers-none")
    expect(page.locator("#q-dangers-deportation")).not_to_be_checked()
    # Other multichoice questions are untouched by the rule.
    page.check("#q-help-needed-legal")
    page.check("#q-help-needed-other")
    expect(page.locator("#q-help-needed-legal")).to_be_checked()
    context.close()
