"""The people of a ceremony: each with a home directory and only their own key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import crypto
from tests.support.live_server import BIN


@dataclass(frozen=True)
class Person:
    """One person on their own machine: a home, a key file, its public part."""

    name: str
    kind: str
    home: Path

    @property
    def key(self) -> Path:
        if self.kind == "verifier":
            return self.home / "keyring" / f"{self.name}.key"
        return self.home / f"{self.name}.key"

    @property
    def public(self) -> Path:
        return self.home / f"{self.name}.pub.json"

    @property
    def keyring(self) -> Path:
        return self.home / "keyring"

    @property
    def passphrase(self) -> str:
        # Different for everyone: nobody's key opens with another's passphrase.
        return f"{self.name} correct horse battery staple"

    @property
    def sign_kid(self) -> str:
        return crypto.PublicKey.from_json(json.loads(self.public.read_text())).sign_kid

    @property
    def kid(self) -> str:
        return crypto.PublicKey.from_json(json.loads(self.public.read_text())).kid

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
        env["HOME"] = str(self.home)
        env["INTAKE_PASSPHRASE"] = self.passphrase
        env["COLUMNS"] = "250"  # tables on one line each, for the assertions
        return env

    def run(self, *args: object, ok: bool = True) -> subprocess.CompletedProcess[str]:
        """Run one of the tools as this person, in their home."""
        return run_tool([str(a) for a in args], self.env(), cwd=self.home, ok=ok)

    def receive(self, path: Path, name: str | None = None) -> Path:
        """A file handed to this person (a USB stick, say): copied into their home."""
        target = self.home / (name or path.name)
        if target.resolve() != path.resolve():  # already on this machine
            shutil.copyfile(path, target)
        return target


def run_tool(
    args: list[str], env: dict[str, str], *, cwd: Path | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if ok and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


@dataclass(frozen=True)
class People:
    admins: dict[str, Person]
    verifiers: dict[str, Person]
    courier: Person

    def admin(self, name: str) -> Person:
        return self.admins[name]

    def by_sign_kid(self) -> dict[str, Person]:
        return {p.sign_kid: p for p in self.admins.values()}
