"""The server opens transactions one way: through app/db.py (issue 16).

`transaction`/`writing` for ORM work, `core_transaction` for Core
statements, `read_connection`/`read_session`/`reading` for readers and
`snapshot` for a backup. A module calling `engine.begin()` or
`engine.connect()` itself would bypass the SQLite lock rules `app.db` sets
(IMMEDIATE for writers, deferred for readers).
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def _direct_engine_calls(source: str, name: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"begin", "connect"}
        ):
            target = ast.unparse(node.func.value)
            if target == "engine" or target.endswith((".engine", "._engine")):
                found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_only_app_db_opens_connections_on_the_engine() -> None:
    offenders = [
        call
        for path in sorted(APP.rglob("*.py"))
        if path.name != "db.py" or path.parent != APP
        for call in _direct_engine_calls(
            path.read_text(encoding="utf-8"), str(path.relative_to(APP.parent))
        )
    ]
    assert offenders == []


def test_the_guard_sees_a_direct_call() -> None:
    sample = "def f(runtime):\n    with runtime.engine.begin() as c:\n        pass\n"
    assert _direct_engine_calls(sample, "x.py") == ["x.py:2 runtime.engine.begin()"]
    db = (APP / "db.py").read_text(encoding="utf-8")
    found = " ".join(_direct_engine_calls(db, "app/db.py"))
    assert "engine.begin()" in found and "engine.connect()" in found
