"""Every failure of intake-verifier is one `error:` line and one `hint:` line
with a non-zero exit, and hostile content reaches no terminal, file system or
browser unaltered. (Complements test_decrypt.py, which covers the common
cases: wrong passphrase, wrong key, tampered and truncated bundles.)"""

from __future__ import annotations

import html.parser
import json
import stat
from pathlib import Path

from click.testing import Result

import crypto

from .support import (
    Attachment,
    Org,
    assert_clean_failure,
    case_dirs,
    entry,
    make_submission,
    rewrap,
    rewrapped_for_boris,
    run,
    write_bundle,
)


def decrypt(bundle: Path, keyring: Path, out: Path, *extra: str) -> Result:
    return run("verifier", ["decrypt", bundle, "--keyring", keyring, "--out", out, *extra])


# --------------------------------------------------------------------------
# Errors


def test_bundle_cut_short_says_so_and_how_to_finish_it(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    subs = [
        make_submission(org.manifest, attachments=[Attachment("a.bin", bytes(200_000))])
        for _ in range(2)
    ]
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, subs)
    data = bundle.read_bytes()
    for cut in (0, 700, len(data) // 3, len(data) - 30_000):
        bundle.write_bytes(data[:cut])
        out = tmp_path / f"cases-{cut}"

        result = decrypt(bundle, keyring, out)

        lines = assert_clean_failure(result)
        error = next(line for line in lines if ": error: " in line)
        hint = next(line for line in lines if ": hint: " in line)
        assert "ends early" in error, (cut, error)
        assert "intake-courier pull" in hint, (cut, hint)
        if cut < len(data) // 2:
            assert case_dirs(out) == [], cut


def test_tampered_bundle_is_not_mistaken_for_a_cut_one(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [make_submission(org.manifest)])
    data = bytearray(bundle.read_bytes())
    data[600:700] = b"\xff" * 100  # the first member's data and the next header
    data[1024:1536] = b"\x41" * 512
    bundle.write_bytes(bytes(data))

    result = decrypt(bundle, keyring, tmp_path / "cases")

    lines = assert_clean_failure(result)
    assert not any("ends early" in line for line in lines)


def test_paths_that_are_not_what_they_should_be_are_explained(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [make_submission(org.manifest)])
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")

    cases = [
        (decrypt(tmp_path, keyring, tmp_path / "c1"), "is not a file"),
        (decrypt(tmp_path / "missing.tar", keyring, tmp_path / "c2"), "does not exist"),
        (decrypt(bundle, keyring, a_file), "exists and is not a folder"),
        (decrypt(bundle, tmp_path / "no-keyring", tmp_path / "c3"), "is not a directory"),
    ]

    for result, expected in cases:
        lines = assert_clean_failure(result)
        assert expected in lines[0], lines
    assert a_file.read_text() == "mine"


def test_rewrap_by_a_key_the_new_manifest_dropped_is_refused_before_writing(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [make_submission(org.manifest)])
    # Anna (the keyring's only key) is revoked: manifest 2 names Boris alone.
    successor = org.successor(verifiers=[entry(org.verifier2)])
    chain = org.chain_file(tmp_path / "chain.json", successor)
    out = tmp_path / "rewraps.json"

    result = rewrap(bundle, keyring, chain, out)

    lines = assert_clean_failure(result)
    assert "no verifier key in the keyring is listed in the current manifest" in lines[0]
    assert not out.exists()


def test_rewrap_entries_carry_a_verifier_signature_the_server_will_check(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    attachment = Attachment("a.pdf", b"%PDF-1.4 x")

    _sub, successor, out, result = rewrapped_for_boris(org, keyring, tmp_path, attachment)

    assert result.exit_code == 0, result.output
    manifest = crypto.parse_manifest(successor)
    entries = json.loads(out.read_text())["rewraps"]
    assert len(entries) == 2
    for item in entries:
        digest, prefix = crypto.b64d(item["digest"]), crypto.b64d(item["prefix"])
        signer = crypto.verify_rewrap(
            digest, prefix, item["kid"], crypto.b64d(item["sig"]), manifest
        )
        assert signer.kid == org.verifier.kid and signer.status == "retired"
    assert "signed by 'anna'" in result.stderr


# --------------------------------------------------------------------------
# Hostile content


class _Markup(html.parser.HTMLParser):
    """Every tag and attribute of a document, to compare with what we write."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


OUR_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "h1",
    "h2",
    "table",
    "tr",
    "th",
    "td",
    "dl",
    "dt",
    "dd",
    "ul",
    "li",
    # The case report (crypto/cli/report.py): sections, the next step, attachment links.
    "h3",
    "p",
    "strong",
    "code",
    "div",
    "span",
    "a",
}
OUR_ATTRIBUTES = {"lang", "charset", "http-equiv", "content", "name", "class", "dir", "href", "rel"}


def test_more_hostile_names_and_answers_are_neutralised(
    org: Org, keyring: Path, tmp_path: Path
) -> None:
    hostile = [
        Attachment("..", b"dots"),
        Attachment("...", b"more dots"),
        Attachment("", b"no name"),
        Attachment("/etc/passwd", b"root"),
        Attachment("..\\..\\windows\\system32\\evil.dll", b"MZ\x90\x00dll"),
        Attachment("nul\x00byte.txt", b"nul"),
        Attachment("con.txt", b"device"),
        Attachment("COM1.tar.gz", b"\x1f\x8b device"),
        Attachment("lpt9", b"device"),
        Attachment("-rf --no-preserve-root", b"option"),
        Attachment("~root", b"tilde"),
        Attachment("report.pdf.", b"%PDF-1.4 trailing dot"),
        Attachment("inv\u200boice\u2066.pdf", b"%PDF-1.4 zero width"),
        Attachment("Report.PDF", b"%PDF-1.4 one"),
        Attachment("report.pdf", b"%PDF-1.4 two"),
        Attachment("x" * 400 + ".png", b"\x89PNG\r\n\x1a\n long"),
        Attachment('<img src=x onerror="alert(1)">.html', b"<html><script>alert(1)</script>"),
        Attachment("a:b*c?d|e.txt", b"windows"),
    ]
    answers = {
        "note": "</dd></dl><script>alert('dd')</script><style>*{display:none}</style>",
        "link": '<a href="javascript:alert(1)">click</a> <iframe src="https://example.org">',
        "bidi": "\u2067\u202eevil\u2069 \u200e\u200f\u061c",
        "carriage": "visible\rhidden overwrite \x08\x08\x1b[31m red",
        "entity": "&lt;script&gt; &amp; &#x3C;",
        "\u202eyek": "key with an override",
    }
    sub = make_submission(org.manifest, answers=answers, attachments=hostile)
    bundle = write_bundle(tmp_path / "bundle.tar", org.chain, [sub])
    work = tmp_path / "work"
    out = work / "cases"

    result = decrypt(bundle, keyring, out)

    assert result.exit_code == 0, result.output
    case = out / sub.sid
    files = sorted((case / "attachments").iterdir())
    names = [p.name for p in files]
    assert len(names) == len(hostile) and len({n.casefold() for n in names}) == len(names)
    for path in files:
        # Inside the case folder, plain files, private, not executable, not hidden.
        assert path.parent == case / "attachments" and path.is_file() and not path.is_symlink()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        name = path.name
        assert not name.startswith((".", "-", "~", " ")), name
        assert not name.endswith((".", " ")), name
        assert len(name.encode()) <= 120, name
        assert not set(name) & set('<>:"|?*\\/\x00'), name
        assert all(ch.isprintable() and ch not in "\u200b\u2066\u202e" for ch in name), name
        assert name.split(".")[0].upper() not in {"CON", "NUL", "COM1", "LPT9"}, name
    # Nothing landed outside the case folder.
    assert sorted(p.name for p in work.iterdir()) == ["cases"]
    assert not (tmp_path / "etc").exists() and not (tmp_path / "windows").exists()

    doc = json.loads((case / "case.json").read_text())
    flags = {a["file"]: a["flags"] for a in doc["attachments"]}
    dll = next(f for f in flags if f.endswith(".dll"))
    assert "dangerous type .dll" in flags[dll] and "content is a windows executable" in flags[dll]
    page = next(f for f in flags if f.endswith(".html"))
    assert "dangerous type .html" in flags[page]

    markup = _Markup()
    markup.feed((case / "answers.html").read_text())
    assert markup.tags <= OUR_TAGS, markup.tags - OUR_TAGS
    assert markup.attributes <= OUR_ATTRIBUTES, markup.attributes - OUR_ATTRIBUTES
    shown = "".join(markup.text)
    assert "<script>alert('dd')</script>" in shown  # shown as text, not run
    assert "&lt;script&gt;" in shown  # an applicant's entity stays literal
    for invisible in ("\u202e", "\u2067", "\u2069", "\u200e", "\u200f", "\u061c", "\x1b", "\x08"):
        assert invisible not in shown
    text = (case / "answers.txt").read_text()
    assert "\x1b" not in text and "\x08" not in text and "\r" not in text
    assert "<U+202E>" in text and "<U+001B>" in text and "<U+0008>" in text
    # Terminal output (the summary and warnings) carries no raw control character.
    assert not any(ch in result.output for ch in ("\x1b", "\x08", "\u202e", "\x00"))
