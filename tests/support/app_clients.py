"""In-process clients of the real app, for the fixtures that hand tests a `make_client`."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.main import create_app
from app.settings import Settings

with warnings.catch_warnings():
    # Starlette's TestClient asks for `httpx2`; the project pins `httpx`.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@contextmanager
def app_clients(settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """Makes started clients of `create_app(settings(**overrides))`; stops them all
    (lifespan shutdown included) when the block ends."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(settings(**overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def unthrottled_settings(
    database_url: str, blob_dir: Path, trust_root: str, pow_secret: str, **overrides: Any
) -> Settings:
    """Settings for a test server that lets every request through: no proof of
    work, no rate limits, no free-space floor (`overrides` set any of them)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "blob_dir": blob_dir,
        "environment": "test",
        "trust_root": trust_root,
        "pow_difficulty": 0,
        "pow_secret": SecretStr(pow_secret),
        "min_free_bytes": 0,
        "rate_limit_scale": 0,
    }
    values.update(overrides)
    return Settings(**values)
