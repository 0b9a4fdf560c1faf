"""The application factory. Nothing here runs at import time: `create_app`
builds everything from a `Settings`, and connects to nothing until a request
needs the database."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import maintenance, openapi
from app.compression import CompressPages
from app.courier.routes import router as courier_router
from app.errors import IntakeError, RateLimited, ServerBusy
from app.mailbox.routes import router as mailbox_router
from app.manifests.routes import router as manifests_router
from app.pow.routes import router as pow_router
from app.runtime import Runtime, build_runtime
from app.security import CatchAll, SecurityHeaders
from app.settings import Settings
from app.static_files import CompressedStaticFiles
from app.submissions.routes import router as submissions_router

STATIC_DIR = Path(__file__).parent / "static"

_HTTP_CODES = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
    415: "unsupported-media-type",
}

log = logging.getLogger("intake")


def error_body(code: str, message: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail or {}}}


async def _intake_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, IntakeError):  # pragma: no cover - registered for IntakeError only
        raise exc
    headers: dict[str, str] = dict(getattr(exc, "headers", None) or {})
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.detail.get("retry_after", 1))
    return JSONResponse(error_body(exc.code, exc.text, exc.detail), exc.status, headers=headers)


async def _database_busy(request: Request, exc: Exception) -> JSONResponse:
    """Pool exhausted, or SQLite still locked after its busy timeout: 503."""
    locked = isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)
    if not (locked or isinstance(exc, PoolTimeout)):
        raise exc
    log.warning("answered 503: the database is busy (%s)", type(exc).__name__)
    return await _intake_error(request, ServerBusy())


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    # Where and why only: the rejected input itself is never echoed back.
    detail = {"errors": [{"loc": list(error["loc"]), "type": error["type"]} for error in errors]}
    return JSONResponse(error_body("invalid-request", "The request is not valid.", detail), 422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    code = _HTTP_CODES.get(status, "http-error")
    message = exc.detail if isinstance(exc, StarletteHTTPException) else "Error."
    return JSONResponse(error_body(code, str(message)), status)


def _include_pages(app: FastAPI, settings: Settings) -> None:
    """The applicant's pages live in `app.pages` (router + optional setup),
    written separately; the API works without them."""
    if importlib.util.find_spec("app.pages") is None:
        return
    pages = importlib.import_module("app.pages")
    setup = getattr(pages, "setup", None)
    if setup is not None:
        setup(app, settings)
    app.include_router(pages.router)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Builds the app. Tests pass `Settings(...)`; production reads `INTAKE_*`."""
    settings = settings or Settings()
    runtime = runtime or build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A process killed between marking an envelope complete and moving
        # its bytes left them in partial/: finish that before serving.
        try:
            await run_in_threadpool(maintenance.finish_interrupted_moves, runtime)
        except SQLAlchemyError:
            # No schema yet: every request will say so; `intake purge` repairs later.
            log.error("start-up repair skipped: the database is not ready (intake migrate)")
        yield
        runtime.close()

    app = FastAPI(
        title="Intake",
        version="1",
        # The interactive docs load scripts from a CDN: not on this server.
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime

    for router in (
        manifests_router,
        pow_router,
        submissions_router,
        mailbox_router,
        courier_router,
    ):
        app.include_router(router)
    # gzip or brotli when the browser accepts it (app/static_files.py).
    app.mount(
        "/static", CompressedStaticFiles(directory=STATIC_DIR, check_dir=False), name="static"
    )
    _include_pages(app, settings)

    openapi.install(app)

    app.add_exception_handler(IntakeError, _intake_error)
    app.add_exception_handler(PoolTimeout, _database_busy)
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # The pages (text/html) compressed; never an API answer (BREACH, SECURITY.md).
    app.add_middleware(CompressPages)
    # Added last = outermost: headers go on every answer, errors included.
    app.add_middleware(CatchAll)
    app.add_middleware(SecurityHeaders, settings=settings)
    return app
