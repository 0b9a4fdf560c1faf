"""The services one app instance shares, built in one place from `Settings`.

Routes reach them through `RuntimeDep`; tests and the CLI build their own
with `build_runtime(settings)`, so swapping a part needs no patching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_session_factory
from app.errors import InsufficientStorage
from app.mailbox.service import mailbox_pow
from app.manifests.service import ManifestCache
from app.pow import ProofOfWork
from app.ratelimit import RateLimiter
from app.settings import Settings
from app.storage import BlobStore, free_bytes, guarded_path, make_blob_store


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    blobs: BlobStore
    limiter: RateLimiter
    pow: ProofOfWork
    # One per process, so its price can follow the load of mailbox checks.
    mailbox_pow: ProofOfWork
    manifests: ManifestCache = field(default_factory=ManifestCache)

    def check_disk(self) -> None:
        """Disk guard: refuse to take more bytes when free space is short,
        so a full disk can never cut a stored blob or the database."""
        path: Path | None = guarded_path(self.settings)
        if path is None or self.settings.min_free_bytes <= 0:
            return
        path.mkdir(parents=True, exist_ok=True)
        if free_bytes(path) < self.settings.min_free_bytes:
            raise InsufficientStorage()

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    engine = make_engine(settings)  # lazy: connects on first use
    return Runtime(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        blobs=make_blob_store(settings, engine),
        limiter=RateLimiter(scale=settings.rate_limit_scale),
        pow=ProofOfWork(
            settings.pow_key,
            settings.pow_difficulty,
            settings.pow_ttl_seconds,
            max_difficulty=settings.pow_max_difficulty,
            target_per_minute=settings.pow_target_per_minute,
            half_life_seconds=settings.pow_load_half_life_seconds,
        ),
        mailbox_pow=mailbox_pow(settings).adaptive(
            # Never above the submissions' maximum: reading replies must not
            # cost more than submitting.
            max_difficulty=min(settings.mailbox_pow_max_difficulty, settings.pow_max_difficulty),
            target_per_minute=settings.mailbox_pow_target_per_minute,
            half_life_seconds=settings.pow_load_half_life_seconds,
        ),
    )


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
