"""Sealing and opening stream in constant memory: a 100 MB file must not be held."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROBE = textwrap.dedent(
    """
    import hashlib, io, os, resource, sys
    from pathlib import Path
    from crypto import Keyring, ManifestRef, generate_identity, open_envelope, open_to_path, seal

    work = Path(sys.argv[1])
    size = int(sys.argv[2])
    block = os.urandom(1 << 20)
    src_hash = hashlib.blake2b()
    with open(work / "plain", "wb") as fh:
        for i in range(size // len(block)):
            piece = i.to_bytes(8, "big") + block[8:]
            fh.write(piece)
            src_hash.update(piece)
    ident = generate_identity("verifier", "probe")
    ring = Keyring([ident])

    def rss_kib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    baseline = rss_kib()
    with open(work / "plain", "rb") as src, open(work / "env", "wb") as dst:
        seal(src, size, dst, kind="attachment", manifest=ManifestRef(1, bytes(32)),
             recipients=[ident.x25519_public])
    with open(work / "env", "rb") as src, open(work / "out1", "wb") as dst:
        opened = open_envelope(src, dst, ring)
    assert opened.size == size
    open_to_path(work / "env", work / "out2", ring)
    for name in ("out1", "out2"):
        h = hashlib.blake2b()
        with open(work / name, "rb") as fh:
            for piece in iter(lambda: fh.read(1 << 20), b""):
                h.update(piece)
        assert h.digest() == src_hash.digest(), name
    print((rss_kib() - baseline) * 1024)
    """
)


@pytest.mark.slow
def test_seal_and_open_of_100_mb_keep_peak_memory_growth_under_30_mb(tmp_path: Path) -> None:
    size = 100 * 2**20
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), str(size)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    growth = int(result.stdout.strip())
    assert growth < 30 * 2**20, f"peak RSS grew by {growth / 2**20:.1f} MiB"
