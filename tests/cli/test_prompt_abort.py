"""An aborted passphrase prompt (Ctrl-D) gives the two-line error, not Click's bare "Aborted!"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def test_an_empty_answer_at_the_passphrase_prompt_is_a_clear_error_with_a_hint(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    result = subprocess.run(
        [str(BIN / "intake-verifier"), "keygen", "--out", str(tmp_path / "v.key"), "--label", "x"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("intake-verifier: ")]
    assert lines[0].startswith("intake-verifier: error: no passphrase")
    assert lines[1].startswith("intake-verifier: hint: ")
    assert "Aborted!" not in result.stderr
    assert not (tmp_path / "v.key").exists()
