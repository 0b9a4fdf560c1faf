"""Run pip-audit over requirements/lock.txt and say plainly what it could check.

pip-audit skips (and exits 0 for) any package whose vulnerability data it
cannot fetch. On a machine that reaches PyPI's package files but not its JSON
API, every package is skipped, and a bare `pip-audit` would look green while
auditing nothing. This wrapper fails on any known vulnerability and prints a
loud notice when nothing could be checked, so nobody mistakes that for a pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements" / "lock.txt"


def main() -> int:
    pins = [line for line in LOCK.read_text().splitlines() if line and not line.startswith("#")]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write("\n".join(pins) + "\n")
    result = subprocess.run(  # noqa: S603 -- fixed argv, our own venv's pip-audit
        [
            sys.executable,
            "-m",
            "pip_audit",
            "-r",
            req.name,
            "--disable-pip",
            "--no-deps",
            "--progress-spinner",
            "off",
            "-f",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    Path(req.name).unlink()
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        print(result.stderr, file=sys.stderr)
        print("audit: error: pip-audit gave no report", file=sys.stderr)
        return 1
    deps = report.get("dependencies", [])
    vulnerable = [d for d in deps if d.get("vulns")]
    skipped = [d for d in deps if "skip_reason" in d]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"audit: VULNERABLE {dep['name']}=={dep.get('version')}: {ids}")
    audited = len(deps) - len(skipped)
    print(
        f"audit: {len(deps)} pinned packages, {audited} checked, {len(skipped)} not checked, "
        f"{len(vulnerable)} vulnerable"
    )
    if skipped and not audited:
        print(
            "audit: NOTICE: no vulnerability data could be fetched from this machine "
            "(the package index answers, its vulnerability API does not); nothing was audited. "
            "Run `make audit` where PyPI's JSON API is reachable."
        )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
