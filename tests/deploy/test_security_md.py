"""SECURITY.md names, for every promise, the code that keeps it and the test
that proves it. A renamed test or moved file must not leave a promise
pointing at nothing."""

from __future__ import annotations

import ast
import re

from tests.deploy.helpers import REPO

SECURITY = REPO / "SECURITY.md"
CITED_TEST = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
CITED_PATH = re.compile(r"`((?:app|crypto|deploy|docs|tests)/[\w./*-]*)`")


def test_every_test_security_md_cites_exists() -> None:
    text = SECURITY.read_text(encoding="utf-8")
    cited = CITED_TEST.findall(text)
    assert len(cited) >= 40
    missing = []
    for path, name in sorted(set(cited)):
        source = REPO / path
        names = (
            {
                node.name
                for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
                if isinstance(node, ast.FunctionDef)
            }
            if source.is_file()
            else set()
        )
        if name not in names:
            missing.append(f"{path}::{name}")
    assert missing == [], "SECURITY.md cites tests that do not exist"


def test_every_file_security_md_cites_exists() -> None:
    text = SECURITY.read_text(encoding="utf-8")
    paths = {path for path in CITED_PATH.findall(text) if "::" not in path}
    assert paths
    missing = [path for path in sorted(paths) if not any(REPO.glob(path.rstrip("/")))]
    assert missing == [], "SECURITY.md cites files that do not exist"
