"""The demo's README.txt: a volunteer can follow it from activating the tools to a reply."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import crypto
from crypto.cli.admin import DEMO_PASSPHRASE

from .support import CODENAME, URGENT_ANSWERS, make_submission, run, write_bundle


def readme_command(readme: str, tool_and_verb: str) -> list[str]:
    """The README's command line starting with `tool_and_verb`, continuation lines joined."""
    joined = readme.replace("\\\n", " ")
    line = next(
        line.strip() for line in joined.splitlines() if line.strip().startswith(tool_and_verb)
    )
    return shlex.split(line)


def test_demo_readme_walks_from_activation_to_a_russian_reply(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    assert run("admin", ["demo", "--out", demo], passphrase=None).exit_code == 0
    readme = (demo / "README.txt").read_text(encoding="utf-8")
    assert "source .venv/bin/activate" in readme
    assert f"intake-verifier cases {demo}/cases" in readme
    assert f"{demo}/cases/CASE*/answers.html" in readme
    assert "--append" in readme
    chain = json.loads((demo / "chain.json").read_text())["chain"]
    manifest = crypto.verify_chain(
        chain, crypto.TrustRoot.parse((demo / "trust-root.json").read_text())
    )[-1]
    mailbox = crypto.derive_mailbox(CODENAME, crypto.parse_manifest(chain[0]).payload)
    sub = make_submission(manifest, answers=URGENT_ANSWERS, mailbox=mailbox)
    write_bundle(demo / "bundle.tar", chain, [sub])

    decrypt = readme_command(readme, "intake-verifier decrypt")
    opened = run("verifier", decrypt[1:], passphrase=DEMO_PASSPHRASE)
    listing = run("verifier", readme_command(readme, "intake-verifier cases")[1:])
    short = listing.stdout.splitlines()[1].split()[0]
    reply = [arg.replace("CASE", short) for arg in readme_command(readme, "intake-verifier reply")]
    sent = run("verifier", reply[1:], passphrase=DEMO_PASSPHRASE)

    assert opened.exit_code == 0, opened.output
    assert (demo / "cases" / sub.sid / "answers.html").is_file()
    assert listing.exit_code == 0 and short == sub.sid[:8], listing.output
    # The README's path to the report, with the short id, is the one report.
    pattern = f"cases/{short}*/answers.html"
    assert list(demo.glob(pattern)) == [demo / "cases" / sub.sid / "answers.html"]
    assert sent.exit_code == 0, sent.output
    [entry] = json.loads((demo / "replies.json").read_text())["replies"]
    content = json.loads(
        crypto.open_reply(
            crypto.b64d(entry["envelope"]), mailbox.reply_secret, mailbox.reply_public
        )
    )
    assert re.search("[а-я]", content["message"]) and content["lang"] == "ru"
