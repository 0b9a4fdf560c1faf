"""Several app instances on one PostgreSQL database: the way a growing NGO
scales. Nothing an upload needs may live in one process or on one disk."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.deploy.helpers import (
    Org,
    Uploader,
    prepare_database,
    pull_and_decrypt,
    seal_submission,
    serve,
)
from tests.support.databases import fresh_database


@pytest.mark.usefixtures("postgresql")
def test_submission_uploaded_in_chunks_alternately_to_two_instances_arrives_whole(
    org: Org, tmp_path: Path, tools_env: dict[str, str]
) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        # Blobs in the database (`db` backend), so both instances share them;
        # each instance gets its own (unused) blob directory to prove it.
        env = prepare_database(org, url, tmp_path / "blobs-a", INTAKE_BLOB_BACKEND="db")
        env_b = {**env, "INTAKE_BLOB_DIR": str(tmp_path / "blobs-b")}
        with (
            serve(env, tmp_path / "a.log") as first,
            serve(env_b, tmp_path / "b.log") as second,
        ):
            assert first != second
            canary = "canary-" + secrets.token_hex(12)
            # A form and two attachments, one spanning many chunks and a
            # partial last chunk, the other smaller than one chunk.
            sealed = seal_submission(org, canary, [3 * 2**20 + 12345, 70_000])
            uploader = Uploader([first, second], chunk=256 * 1024)
            try:
                sid = uploader.submit(sealed)
            finally:
                uploader.close()
            # Both instances really took part, in about equal shares.
            assert uploader.requests_per_instance[first] >= 8
            assert uploader.requests_per_instance[second] >= 8

            # Pulled from the instance that did not finalise it: whole, and it opens.
            cases = pull_and_decrypt(org, first, tmp_path / "verifier", tools_env)

    assert list(cases) == [sid]
    assert canary in cases[sid].answers
    assert cases[sid].attachment_sha256 == sealed.attachment_sha256
    for name in ("a", "b"):
        assert canary.encode() not in (tmp_path / f"{name}.log").read_bytes()
        # Nothing of the upload was kept on either instance's own disk.
        blobs = tmp_path / f"blobs-{name}"
        assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))
