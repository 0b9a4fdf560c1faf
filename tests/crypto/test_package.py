"""The package's promises: protocol version, public names, and its fences."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import crypto

CORE = Path(crypto.__file__).resolve().parent
CORE_MODULES = sorted(p for p in CORE.glob("*.py"))

# Every name docs/CRYPTO_API.md promises other parts of the project.
DOCUMENTED = [
    "IntakeCryptoError",
    "InvalidEnvelope",
    "NoMatchingKey",
    "InvalidSignature",
    "ManifestExpired",
    "WrongPassphrase",
    "InvalidKeyFile",
    "UnsupportedCpu",
    "b64e",
    "b64d",
    "blake2b",
    "kid",
    "fingerprint",
    "format_time",
    "parse_time",
    "padme",
    "padded_size",
    "Identity",
    "PublicKey",
    "generate_identity",
    "write_key_file",
    "read_key_file",
    "Keyring",
    "check_passphrase_strength",
    "ManifestRef",
    "EnvelopeHeader",
    "read_header",
    "check_payload_framing",
    "seal",
    "SealResult",
    "seal_bytes",
    "open_envelope",
    "Opened",
    "open_to_path",
    "open_bytes",
    "payload_digest",
    "rewrap_prefix",
    "rewrap",
    "pae",
    "dsse_sign",
    "dsse_add_signature",
    "dsse_valid_signers",
    "TrustRoot",
    "Manifest",
    "VerifierEntry",
    "parse_manifest",
    "verify_chain",
    "verify_successor",
    "build_manifest_payload",
    "normalise_codename",
    "derive_mailbox",
    "MailboxKeys",
    "open_reply",
    "sign_reply",
    "verify_reply",
    "sign_receipt",
    "verify_receipt",
    "request_signing_bytes",
    "sign_request",
    "parse_authorization",
    "verify_request",
    "BundleWriter",
    "read_bundle",
    "BundleItem",
    "ChainItem",
    "SubmissionItem",
]


def test_package_declares_protocol_version_5_reading_envelopes_1_to_4_writing_v3() -> None:
    assert crypto.PROTOCOL_VERSION == 5
    assert crypto.READS_VERSIONS == (1, 2, 3, 4)
    assert crypto.ENVELOPE_VERSION == 3


def test_every_documented_name_is_exported() -> None:
    missing = [n for n in DOCUMENTED if n not in crypto.__all__ or not hasattr(crypto, n)]
    assert missing == []
    assert all(hasattr(crypto, n) for n in crypto.__all__)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_sodium_module_imports_nacl() -> None:
    users = [p.name for p in CORE_MODULES if "nacl" in _imports(p)]
    assert users == ["_sodium.py"]


def test_core_imports_nothing_from_the_server() -> None:
    for path in CORE_MODULES:
        assert not _imports(path) & {"app", "fastapi", "sqlalchemy", "starlette", "pydantic"}, path
    probe = (
        "import sys, crypto; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('app', 'fastapi', 'sqlalchemy', 'starlette', 'pydantic')]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_failures_carry_only_their_class_in_the_message() -> None:
    err = crypto.InvalidEnvelope("payload")
    assert str(err) == "payload" and err.reason == "payload"
    assert isinstance(crypto.NoMatchingKey(["k"]), crypto.InvalidEnvelope)
    assert isinstance(
        crypto.ManifestExpired.__mro__[1](reason="threshold"), crypto.IntakeCryptoError
    )
