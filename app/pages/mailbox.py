"""The mailbox page: `/mailbox/` in Russian, `/{lang}/mailbox/` in other languages.

The applicant types his codename; his browser derives the mailbox keys, asks
for replies with the token, checks every reply's signature against the
organisation's verified keys and decrypts it. The server renders the same
bytes for everyone and never sees the codename.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.pages.i18n import DEFAULT_LANGUAGE
from app.pages.intake import SCRIPT_MESSAGES as INTAKE_MESSAGES
from app.pages.intake import limits_text, upload_limits
from app.pages.rendering import check_language, latest_manifest, mark, render

router = APIRouter(include_in_schema=False)

# Strings the page's script shows; translated on the server, handed over as JSON.
SCRIPT_MESSAGES = {
    "ready": mark("Type your codename to read replies."),
    "empty_codename": mark("Please type your codename."),
    # The codename is checked against the word lists before it is used: a
    # mistyped one would open someone else's (empty) mailbox in silence.
    "codename_count": mark("Words typed: {count}. A codename has 9 words."),
    "codename_numbering": mark(
        "Word {position} is numbered {number}. Type the words in the order you wrote them down."
    ),
    "codename_unknown_word": mark("Word {position}, “{word}”, is not one of the codename words."),
    "codename_unknown_word_suggest": mark(
        "Word {position}, “{word}”, is not one of the codename words. Did you mean “{suggestion}”?"
    ),
    "codename_fix_words": mark(
        "Check these words against what you wrote down and correct them. Nothing was sent."
    ),
    "codename_list_failed": mark(
        "The list of codename words could not be loaded, so your codename was neither "
        "checked nor sent. Check your connection and try again."
    ),
    "checking": mark("Looking for replies…"),
    "opened": mark("Mailbox open. Close it when you are done."),
    "no_replies": mark(
        "No replies yet. If you typed your codename exactly as you wrote it down, "
        "check again in a few days."
    ),
    "rejected": mark(
        "Some messages could not be verified as coming from the organisation "
        "and were not shown. Tell the organisation."
    ),
    "status_received": mark("Received"),
    "status_needs_info": mark("More information needed"),
    "status_verified": mark("Verified"),
    "status_declined": mark("Declined"),
    "status_other": mark("Message"),
    "current_status": mark("Current status: {status}"),
    "network": mark("No connection. Check that you are online and try again."),
    "rate_limited": mark("Too many people are checking right now. Wait a minute and try again."),
    "closed": mark("The mailbox is closed. Nothing was kept on this device."),
    "followup_empty": mark("Please write a message or choose a file."),
    "uploading": mark("Sending: {percent}%"),
    "offline": mark("Connection lost. Waiting to resume…"),
    "server_error": mark("The server refused the message: {message}"),
    "sent": mark("Sent and encrypted. Your reference: {reference}"),
    "unexpected": mark("Something went wrong. Nothing was sent in plain text. Try again."),
    # Deleting replies from the server (the codename's token authorises it).
    "delete_reply": mark("Delete this reply"),
    "delete_reply_confirm": mark("Press again to delete this reply for good"),
    "delete_all_confirm": mark("Press again to delete every reply for good"),
    "deleting": mark("Deleting…"),
    "deleted_one": mark("The reply was deleted from the server."),
    "deleted_all": mark("Every reply was deleted from the server."),
    # Follow-ups sent since the mailbox was opened, kept in memory only.
    "sent_item": mark("Sent {time}. Your reference: {reference}"),
    "sent_files": mark("Files: {names}"),
}

# What this page says exactly as the intake page does, from the same catalog
# entries: starting the encryption, the proof of work, and the chosen files'
# list (files.js), among them the per-file warning about hidden data the page
# cannot remove and his two choices.
SHARED_MESSAGES = (
    "loading",
    "crypto_failed",
    "chain_failed",
    "working",
    "working_progress",
    "encrypting",
    "too_many_files",
    "file_too_large",
    "total_too_large",
    "file_empty",
    "remove_file",
    "no_files",
    "files_total",
    "cleaned",
    "not_cleaned",
    "metadata_unknown",
    "send_anyway",
    "leave_out",
    "sent_as_is",
    "decide_files",
    "unit_b",
    "unit_kb",
    "unit_mb",
    "unit_gb",
)
SCRIPT_MESSAGES.update({key: INTAKE_MESSAGES[key] for key in SHARED_MESSAGES})


def _limits(request: Request, lang: str) -> dict[str, Any]:
    """The upload limits, stated on the page before he picks a file (the
    intake page's own computation, so both pages promise the same)."""
    limits = upload_limits(request.app.state.settings)
    gettext = request.app.state.pages.catalogs.get(lang).gettext
    return {"limits": limits, "limits_text": limits_text(limits, lang, gettext)}


def _wordlists(request: Request, lang: str) -> str:
    """Every codename word list (URL and SRI), the page's language first: the
    script fetches them only to check a typed codename, and a codename may
    come from either list whatever the page's language. A list's retired
    words (`<lang>-retired.txt`, words older codenames may hold) follow its
    URL and SRI when there are any."""
    assets = request.app.state.pages.assets
    names = sorted(
        name
        for name in assets.integrity
        if name.startswith("wordlists/") and not name.endswith("-retired.txt")
    )
    names.sort(key=lambda name: name != f"wordlists/{lang}.txt")
    lists = []
    for name in names:
        entry = [
            name.removeprefix("wordlists/").removesuffix(".txt"),
            assets.url(name),
            assets.sri(name),
        ]
        retired = name.removesuffix(".txt") + "-retired.txt"
        if retired in assets.integrity:
            entry += [assets.url(retired), assets.sri(retired)]
        lists.append(entry)
    return json.dumps(lists, separators=(",", ":"))


def _page(request: Request, lang: str) -> HTMLResponse:
    return render(
        request,
        "mailbox.html",
        lang,
        SCRIPT_MESSAGES,
        manifest=latest_manifest(request),
        wordlists_json=_wordlists(request, lang),
        **_limits(request, lang),
    )


# Route names are an interface: the intake page links here by them.
@router.get("/mailbox/", name="mailbox_default", response_class=HTMLResponse)
def mailbox_default(request: Request) -> HTMLResponse:
    return _page(request, DEFAULT_LANGUAGE)


@router.get("/{lang}/mailbox/", name="mailbox_in", response_class=HTMLResponse)
def mailbox_in(request: Request, lang: str) -> HTMLResponse:
    return _page(request, check_language(lang))
