"""The applicant's pages: server-rendered HTML, every byte of crypto done in the browser.

`create_app` includes `router` and calls `setup(app, settings)` when this
package exists; the page needs nothing from the server but static files and
the public API.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.pages.routes import router, setup_pages


def setup(app: FastAPI, settings: Any) -> None:
    """Load templates, catalogs and asset hashes once, at start-up."""
    setup_pages(app, settings)


__all__ = ["router", "setup"]
