"""`intake-verifier decrypt` refuses a bundle with a 300 MB PAX header without
reading it (issue 14, item 7): one `error:` line and one `hint:` line, no
case written, and peak memory barely moved (it grew ~830 MiB before).

The decrypt runs in a process of its own, after a first decrypt of a valid
bundle has opened the keyring (Argon2id's memory is then already the peak),
so the growth measured is the hostile bundle's alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.crypto.test_bundle_header_bounds import HUGE, MIB, oversized_header

from .support import PASSPHRASE, Org, make_submission, write_bundle

PROBE = textwrap.dedent(
    """
    import json, resource, sys
    from click.testing import CliRunner
    from crypto.cli import verifier

    keyring, valid, hostile, work, passphrase = sys.argv[1:]

    def decrypt(bundle, out):
        return CliRunner().invoke(
            verifier.cli,
            ["decrypt", bundle, "--keyring", keyring, "--out", out],
            env={"INTAKE_PASSPHRASE": passphrase},
            prog_name="intake-verifier",
        )

    def rss_kib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    warm = decrypt(valid, work + "/warm")
    assert warm.exit_code == 0, warm.output
    baseline = rss_kib()
    result = decrypt(hostile, work + "/cases")
    print(json.dumps({
        "exit": result.exit_code,
        "stderr": result.stderr,
        "growth": (rss_kib() - baseline) * 1024,
    }))
    """
)


def test_decrypt_refuses_a_300_mb_pax_header_cleanly_and_in_bounded_memory(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    valid = write_bundle(tmp_path / "valid.tar", org.chain, [make_submission(org.manifest)])
    hostile = oversized_header(tmp_path / "hostile.tar", b"x", HUGE)

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE,
            str(keyring),
            str(valid),
            str(hostile),
            str(tmp_path),
            PASSPHRASE,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    assert answer["growth"] < 16 * MIB, f"peak RSS grew {answer['growth'] / MIB:.0f} MiB"
    assert answer["exit"] == 1
    lines = answer["stderr"].splitlines()
    [error] = [line for line in lines if line.startswith("intake-verifier: error: ")]
    [hint] = [line for line in lines if line.startswith("intake-verifier: hint: ")]
    assert "damaged or not a bundle" in error
    assert "intake-courier" in hint
    assert "Traceback" not in answer["stderr"]
    assert not (tmp_path / "cases").exists() or not any((tmp_path / "cases").iterdir())
