"""deploy/caddy/Caddyfile run by a real Caddy in front of a running `intake serve`.

The deployment tests (tests/deploy/test_caddy.py) and the slow-phone
benchmark (bench/ready.py) both start it here. The file is the production
one: headers, body limits, proxying, logs, the onion site. What a loopback
run must change is set through the environment the file already reads
(INTAKE_DOMAIN, INTAKE_UPSTREAM, INTAKE_ONION_PORT, CADDY_ADMIN=off) and,
for HTTPS, two global options applied to Caddy's own adaptation of the file
(`caddy adapt`), nothing else:

- `pki.ca.local.install_trust false`: a site on an IP address gets a
  certificate from Caddy's internal CA (`tls internal`, automatic for
  addresses no public CA will certify), and Caddy would otherwise install that
  CA's root into the machine's trust store;
- `http_port` a free port: the HTTP->HTTPS redirect listener would bind :80.

The public site is then `https://127.0.0.1:<port>`, with HTTP/2 (and HTTP/3,
which Chromium with `--disable-quic` does not use) as in production.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.live_server import free_port, stop

ROOT = Path(__file__).resolve().parents[1]
CADDYFILE = ROOT / "deploy" / "caddy" / "Caddyfile"
INSTALL_HINT = "run deploy/install-test-tools.sh (as root)"


def find_caddy() -> str | None:
    """The caddy binary's path, or None (it installs with deploy/install-test-tools.sh)."""
    return shutil.which("caddy") or shutil.which("caddy", path="/usr/sbin:/sbin")


def caddy_version() -> str:
    """`caddy version`'s version number ("v2.6.2"), or "unknown"."""
    caddy = find_caddy()
    if caddy is None:
        return "unknown"
    result = subprocess.run([caddy, "version"], capture_output=True, text=True, check=False)
    return result.stdout.split(" ")[0].strip() or "unknown"


@dataclass(frozen=True)
class CaddySite:
    public: str  # http://127.0.0.1:<port> or https://127.0.0.1:<port>
    onion: str  # the onion site's plain-HTTP loopback listener
    log_path: Path
    root_ca: Path | None  # the internal CA's root certificate (HTTPS only)

    def issuer_spki_sha256(self) -> str:
        """Base64 SHA-256 of the SubjectPublicKeyInfo of the internal CA's
        intermediate, which signs the site's certificate: what Chromium's
        `--ignore-certificate-errors-spki-list` takes to accept the chain (it
        matches only certificates the server presents, so not the root)."""
        if self.root_ca is None:
            raise RuntimeError("plain-HTTP site: no certificate")
        return spki_sha256((self.root_ca.parent / "intermediate.crt").read_text())


def _adapted(env: dict[str, str], caddy: str, https: bool) -> dict[str, Any]:
    result = subprocess.run(
        [caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"caddy adapt failed:\n{result.stderr}")
    config: dict[str, Any] = json.loads(result.stdout)
    if https:
        apps = config["apps"]
        apps["pki"] = {"certificate_authorities": {"local": {"install_trust": False}}}
        apps["http"]["http_port"] = free_port()
    return config


@contextmanager
def run_caddy(
    upstream: str,
    log_path: Path,
    work: Path,
    *,
    https: bool = False,
    caddy: str | None = None,
    timeout: float = 30,
) -> Iterator[CaddySite]:
    """Caddy with the production Caddyfile in front of `upstream` (host:port);
    the public site over plain HTTP, or with `https` over TLS from Caddy's
    internal CA. Its state (certificates) lives in `work`."""
    caddy = caddy or find_caddy()
    if caddy is None:
        raise RuntimeError(f"caddy is missing: {INSTALL_HINT}")
    work.mkdir(parents=True, exist_ok=True)
    public_port, onion_port = free_port(), free_port()
    scheme = "https" if https else "http"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTAKE_", "CADDY_"))}
    env.update(
        INTAKE_DOMAIN=f"{scheme}://127.0.0.1:{public_port}",
        INTAKE_UPSTREAM=upstream,
        INTAKE_ONION_PORT=str(onion_port),
        CADDY_ADMIN="off",
        XDG_DATA_HOME=str(work / "caddy-data"),
        XDG_CONFIG_HOME=str(work / "caddy-config"),
    )
    config = work / f"caddy-{public_port}.json"
    config.write_text(json.dumps(_adapted(env, caddy, https), indent=1))
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [caddy, "run", "--config", str(config)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    public, onion = f"{scheme}://127.0.0.1:{public_port}", f"http://127.0.0.1:{onion_port}"
    root = work / "caddy-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(onion, timeout=2)
                if https:
                    # Any answer (the upstream may be down) over a verified
                    # connection: the certificate is issued and served.
                    httpx.get(public, timeout=2, verify=ssl.create_default_context(cafile=root))
                break
            except (httpx.TransportError, OSError) as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"caddy did not start ({exc}); log:\n"
                        + log_path.read_text(errors="replace")
                    ) from exc
                time.sleep(0.1)
        yield CaddySite(public, onion, log_path, root if https else None)
    finally:
        stop(proc)


def _der_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER element at `offset`."""
    tag, length, at = data[offset], data[offset + 1], offset + 2
    if length & 0x80:
        count = length & 0x7F
        length, at = int.from_bytes(data[at : at + count], "big"), at + count
    return tag, at, at + length


def spki_sha256(pem: str) -> str:
    """Base64 SHA-256 of a PEM certificate's SubjectPublicKeyInfo (the 7th
    element of tbsCertificate, counting the explicit [0] version)."""
    der = ssl.PEM_cert_to_DER_cert(pem)
    _, cert, _ = _der_element(der, 0)
    _, tbs, _ = _der_element(der, cert)
    at = tbs
    fields: list[tuple[int, int]] = []
    while len(fields) < 7:
        tag, _, end = _der_element(der, at)
        fields.append((at, end))
        at = end
        if len(fields) == 1 and tag != 0xA0:  # no version field: v1 certificate
            fields.insert(0, (0, 0))
    begin, end = fields[6]
    return base64.b64encode(hashlib.sha256(der[begin:end]).digest()).decode()
