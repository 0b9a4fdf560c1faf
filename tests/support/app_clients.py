"""In-process clients of the real app, for the fixtures that hand tests a `make_client`."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


def unthrottled_settings(**values: Any) -> Settings:
    """Settings for a test server that lets every request through: no proof of
    work, no rate limits, no free-space floor. `values` are Settings fields
    (database_url, blob_dir, trust_root and pow_secret at least) and may set
    any of those three limits again."""
    if isinstance(values.get("pow_secret"), str):
        values["pow_secret"] = SecretStr(values["pow_secret"])
    defaults: dict[str, Any] = {
        "environment": "test",
        "pow_difficulty": 0,
        "min_free_bytes": 0,
        "rate_limit_scale": 0,
    }
    return Settings(**(defaults | values))
