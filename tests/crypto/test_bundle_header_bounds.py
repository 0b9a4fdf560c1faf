"""A bundle's tar headers are bounded before their data is read (issue 14, item 7).

tarfile reads the data of a PAX or GNU long-name header whole, and copies it
while parsing, before the bundle reader sees a member: a 300 MB PAX header
cost the verifier ~950 MB before the bundle was refused. Now the header
block's size field is checked first, from a file and from a stream alike,
with peak memory measured in a process of its own. The headers real writers
emit (a few hundred bytes) are still read.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from crypto import ChainItem, InvalidEnvelope, read_bundle
from crypto.bundle import MAX_TAR_HEADER_DATA
from crypto.encoding import canonical_json

from .test_bundle import BASE_CHAIN, Trickle, tar_of

HUGE = 300 * 2**20
MIB = 2**20

PROBE = textwrap.dedent(
    """
    import io, json, resource, sys
    import crypto

    class Stream(io.RawIOBase):
        def __init__(self, f): self.f = f
        def readable(self): return True
        def readinto(self, b): return self.f.readinto(b)

    def rss_kib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    baseline = rss_kib()
    outcome = "read"
    try:
        with open(sys.argv[1], "rb") as f:
            src = f if sys.argv[2] == "file" else io.BufferedReader(Stream(f))
            for item in crypto.read_bundle(src):
                pass
    except crypto.InvalidEnvelope as exc:
        outcome = "refused: " + type(exc.__cause__).__name__
    print(json.dumps({"outcome": outcome, "growth": (rss_kib() - baseline) * 1024}))
    """
)


def header_block(name: bytes, typeflag: bytes, size: int) -> bytes:
    """One ustar header block, checksum included, as a hostile server writes it."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000600\x00"
    block[108:116] = block[116:124] = b"0000000\x00"
    block[124:136] = b"%011o\x00" % size
    block[136:148] = b"00000000000\x00"
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    block[148:156] = b"        "
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block)


def oversized_header(path: Path, typeflag: bytes, size: int) -> Path:
    """A bundle whose first header announces `size` bytes of extension data:
    one PAX record (or a long name) that long, then a valid bundle. The data
    is a hole in a sparse file, so the test costs no disk."""
    with path.open("wb") as out:
        out.write(header_block(b"././@LongHeader", typeflag, size))
        out.write(b"%d path=" % size if typeflag == b"x" else b"s/")
        out.seek(512 + size - 1)
        out.write(b"\n")
        out.seek(512 + -(-size // 512) * 512)
        out.write(tar_of([("chain.json", canonical_json({"chain": BASE_CHAIN}))]))
    return path


def probe(path: Path, mode: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(path), mode],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


@pytest.mark.parametrize("mode", ["file", "stream"])
@pytest.mark.parametrize(
    "typeflag",
    [
        pytest.param(b"x", id="pax"),
        pytest.param(b"L", id="gnu-long-name"),
        pytest.param(b"K", id="gnu-long-link"),
    ],
)
def test_a_300_mb_extension_header_is_refused_before_its_data_is_read(
    tmp_path: Path, typeflag: bytes, mode: str
) -> None:
    bundle = oversized_header(tmp_path / "bundle.tar", typeflag, HUGE)

    answer = probe(bundle, mode)

    growth = answer["growth"]
    assert isinstance(growth, int) and growth < 16 * MIB, f"peak RSS grew {growth / MIB:.0f} MiB"
    assert answer["outcome"] == "refused: HeaderRefused"


def pax_header_before_chain(records: dict[str, str]) -> bytes:
    info = tarfile.TarInfo("chain.json")
    data = canonical_json({"chain": BASE_CHAIN})
    info.size = len(data)
    info.pax_headers = records
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_extension_headers_of_the_size_writers_emit_are_read() -> None:
    for source in (io.BytesIO, Trickle):
        data = pax_header_before_chain({"comment": "x" * (MAX_TAR_HEADER_DATA - 100)})
        [item] = list(read_bundle(source(data)))  # type: ignore[arg-type]
        assert isinstance(item, ChainItem) and item.chain == BASE_CHAIN


def test_an_extension_header_one_byte_over_the_bound_is_refused() -> None:
    data = pax_header_before_chain({"comment": "x" * MAX_TAR_HEADER_DATA})
    with pytest.raises(InvalidEnvelope):
        list(read_bundle(io.BytesIO(data)))


def test_a_run_of_extension_headers_is_refused_without_recursing_through_it() -> None:
    # tarfile follows each extension header to the next by recursion: a
    # thousand of them was a RecursionError out of the verifier.
    record = b"20 comment=abcdefgh\n"
    run = (header_block(b"././@PaxHeader", b"x", len(record)) + record.ljust(512, b"\0")) * 1000
    data = run + tar_of([("chain.json", canonical_json({"chain": BASE_CHAIN}))])
    for source in (io.BytesIO, Trickle):
        with pytest.raises(InvalidEnvelope):
            list(read_bundle(source(data)))  # type: ignore[arg-type]


@pytest.mark.parametrize("typeflag", [b"g", b"X", b"S"])
def test_global_solaris_and_sparse_headers_which_no_bundle_holds_are_refused(
    typeflag: bytes,
) -> None:
    record = b"20 comment=abcdefgh\n"
    data = (
        header_block(b"././@PaxHeader", typeflag, len(record))
        + record.ljust(512, b"\0")
        + tar_of([("chain.json", canonical_json({"chain": BASE_CHAIN}))])
    )
    with pytest.raises(InvalidEnvelope):
        list(read_bundle(io.BytesIO(data)))
