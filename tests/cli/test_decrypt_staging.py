"""intake-verifier decrypt removes the plaintext staging folders an interrupted run left,
and nothing else."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

from click.testing import Result

from .support import PASSPHRASE, Attachment, Org, case_dirs, make_submission, run, write_bundle

# A decrypt that has made (and locked) its staging folder and written plaintext
# into it, then waits to be killed, as a run killed mid-bundle would be.
INTERRUPTED = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import crypto
    from crypto.cli.decrypt import Decryptor

    out = Path(sys.argv[1])
    decryptor = Decryptor(crypto.Keyring([]), out, [], print)
    case = decryptor._staging / ("a" * 32)
    case.mkdir()
    (case / "answers.txt").write_text("plaintext that never became a case")
    print(decryptor._staging.name, flush=True)
    sys.stdin.read()
    """
)


def decrypt(bundle: Path, keyring: Path, out: Path) -> Result:
    return run(
        "verifier", ["decrypt", bundle, "--keyring", keyring, "--out", out], passphrase=PASSPHRASE
    )


@contextlib.contextmanager
def interrupted_decrypt(out: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """The running process and its staging folder; killed (if still alive) on exit."""
    with subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    ) as proc:
        try:
            assert proc.stdout is not None
            name = proc.stdout.readline().strip()
            assert name.startswith(".staging-"), name
            yield proc, out / name
        finally:
            proc.kill()


def test_a_killed_decrypts_staging_folder_is_removed_by_the_next_run(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cases"
    out.mkdir()
    with interrupted_decrypt(out) as (proc, staging):
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (staging / ("a" * 32) / "answers.txt").exists()
    sub = make_submission(org.manifest, attachments=[Attachment("a.txt", b"content")])
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])

    result = decrypt(bundle, keyring, out)

    assert result.exit_code == 0, result.output
    assert "removed 1 unfinished staging folder(s)" in result.stderr
    assert not staging.exists()
    assert case_dirs(out) == [out / sub.sid]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_only_our_own_unlocked_staging_folders_are_removed(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cases"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not ours to remove")
    (out / ".staging-symlink").symlink_to(elsewhere, target_is_directory=True)
    (out / ".staging-afile123").write_text("a file, not a folder")
    kept = [
        out / ".staging-abc",  # not a name mkdtemp gives
        out / ".staging-ABCDEFGH",
        out / ".staging-abcdefgh-x",
        out / ".stagingabcdefgh",
        out / "staging-abcdefgh",
    ]
    for folder in kept:
        folder.mkdir()
        (folder / "keep.txt").write_text("keep")
    stale = out / ".staging-k3_x9q2m"
    stale.mkdir()
    (stale / "answers.txt").write_text("plaintext")
    with interrupted_decrypt(out) as (_alive, in_use):  # still running: its folder is locked
        sub = make_submission(org.manifest)
        bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])

        result = decrypt(bundle, keyring, out)

        assert result.exit_code == 0, result.output
        assert "removed 1 unfinished staging folder(s)" in result.stderr
        assert not stale.exists()
        assert (in_use / ("a" * 32) / "answers.txt").exists(), "a running decrypt's folder"
        assert all((folder / "keep.txt").exists() for folder in kept)
        assert (out / ".staging-symlink").is_symlink() and (elsewhere / "keep.txt").exists()
        assert (out / ".staging-afile123").is_file()


def test_a_clean_run_says_nothing_about_staging(org: Org, keyring: Path, tmp_path: Path) -> None:
    sub = make_submission(org.manifest)
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    out = tmp_path / "cases"

    result = decrypt(bundle, keyring, out)

    assert result.exit_code == 0, result.output
    assert "staging" not in result.stderr
    assert os.listdir(out) == [sub.sid]
