"""Fixtures for the applicant-page tests: one real server (SQLite), real Chromium.

The demo organisation, the Chromium browser and the offline tools'
environment are the shared fixtures of tests/conftest.py, rather than
copied. One server serves every page test in the session (each test finds its
own submission by a canary), which keeps the whole folder fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.page import flow
from tests.support.live_server import LiveServer, live_server


def start_server(demo_org: Path, folder: Path, **extra: str) -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    return live_server(
        database_url=f"sqlite:///{folder / 'intake.db'}",
        blob_dir=folder / "blobs",
        log_path=folder / "server.log",
        trust_root=(demo_org / "trust-root.json").read_text(),
        genesis=demo_org / "manifest-1.json",
        INTAKE_POW_DIFFICULTY="8",
        **extra,
    )


@pytest.fixture(scope="session")
def page_server(demo_org: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with start_server(demo_org, tmp_path_factory.mktemp("page-server")) as live:
        yield live


@pytest.fixture(scope="session")
def strict_server(demo_org: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second server, taking envelopes of at most 12,000 bytes (a long story is
    refused); tests may publish new manifests to it."""
    folder = tmp_path_factory.mktemp("strict-server")
    with start_server(demo_org, folder, INTAKE_MAX_ENVELOPE_BYTES="12000") as live:
        yield live


@pytest.fixture
def case_of(
    page_server: LiveServer, demo_org: Path, tools_env: dict[str, str], tmp_path: Path
) -> Callable[[str], flow.Case]:
    """The case holding a canary, once the organisation has pulled everything from
    `page_server` and decrypted it with the real tools."""

    def find(canary: str) -> flow.Case:
        cases = flow.pull_and_decrypt(page_server, demo_org, tools_env, tmp_path)
        return flow.find_case(cases, canary)

    return find


@pytest.fixture
def page(chromium: Browser, page_server: LiveServer) -> Iterator[Page]:
    """A fresh tab with the intake form open and ready (in Russian), closed after the test."""
    with closing(chromium.new_page()) as tab:
        flow.open_page(tab, page_server)
        yield tab
