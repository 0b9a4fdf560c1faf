"""The offline tools install with PyNaCl, Click, Rich and segno alone."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = (
    "app",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "pydantic",
    "requests",
    "httpx",
    "psycopg",
)


def test_tools_import_nothing_from_the_server_or_http_libraries() -> None:
    code = (
        "import json, sys\n"
        "import crypto.cli.verifier, crypto.cli.admin, crypto.cli.courier\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )

    loaded = set(json.loads(result.stdout))
    assert loaded.isdisjoint(FORBIDDEN), loaded & set(FORBIDDEN)
    assert {"nacl", "click", "rich", "segno"} <= loaded
