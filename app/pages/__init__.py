"""The applicant's pages: server-rendered HTML, every byte of crypto done in the browser.

`create_app` includes `router` and calls `setup(app, settings)`. Each page is
a module with its own router (`intake`, and `mailbox` for replies), joined here
in one place.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from fastapi import APIRouter, FastAPI

from app.pages import intake
from app.pages.rendering import setup_pages

router = APIRouter(include_in_schema=False)
# The mailbox page first: its fixed paths must win over intake's `/{lang}/`.
if importlib.util.find_spec("app.pages.mailbox") is not None:
    router.include_router(importlib.import_module("app.pages.mailbox").router)
router.include_router(intake.router)


def setup(app: FastAPI, settings: Any) -> None:
    """Load templates, catalogs and asset hashes once, at start-up."""
    setup_pages(app, settings)


__all__ = ["router", "setup"]
