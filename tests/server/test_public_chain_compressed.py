"""The public manifest chain, which every page loads before it can encrypt, is sent compressed.

It is the same for everyone and holds no secret (public keys and signatures
the page shows anyway), so compressing it leaks nothing (BREACH needs a
secret beside attacker-chosen text). Every other API answer stays plain:
the one place that compresses an API answer is named here, so a second
caller needs a person to add it.
"""

from __future__ import annotations

import ast
import gzip
from pathlib import Path

import brotli
import pytest
from fastapi.testclient import TestClient

from tests.server.test_compression import fetch, vary

APP = Path(__file__).resolve().parents[2] / "app"
DECODE = {"gzip": gzip.decompress, "br": brotli.decompress}


@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_the_chain_is_sent_compressed_and_decodes_to_the_plain_chain(
    ready: TestClient, coding: str
) -> None:
    plain, chain = fetch(ready, "/api/v1/manifests", None)
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    assert "accept-encoding" in vary(plain)
    response, raw = fetch(ready, "/api/v1/manifests", f"{coding}, identity;q=0.5")
    assert response.status_code == 200
    assert response.headers["content-encoding"] == coding
    assert int(response.headers["content-length"]) == len(raw) < len(chain)
    assert DECODE[coding](raw) == chain
    assert response.headers["content-type"] == "application/json"


def test_a_client_refusing_every_coding_gets_the_plain_chain(ready: TestClient) -> None:
    response, raw = fetch(ready, "/api/v1/manifests", "br;q=0, gzip;q=0")
    assert "content-encoding" not in response.headers
    assert raw == ready.get("/api/v1/manifests").content


def test_the_other_api_answers_stay_plain(ready: TestClient) -> None:
    for path in ("/api/v1/manifests/audit", "/api/v1/status", "/api/openapi.json"):
        response, _ = fetch(ready, path, "gzip, deflate, br, zstd")
        assert response.status_code == 200, path
        assert "content-encoding" not in response.headers, path


def test_the_chain_is_the_only_api_answer_compressed() -> None:
    callers = []
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
                for inner in ast.walk(node):
                    if (
                        isinstance(inner, ast.Call)
                        and isinstance(inner.func, ast.Name)
                        and inner.func.id == "public_answer"
                    ):
                        callers.append(f"{path.relative_to(APP)}:{node.name}")
    assert callers == ["manifests/routes.py:get_chain"]
