"""Neutralising hostile text: names, answers and JSON from bundles and servers.

Everything inside a bundle was written by an anonymous applicant or relayed by
a server we do not trust, so nothing in it may reach a terminal, a file system
or a browser unaltered: terminal escapes could rewrite what the verifier sees,
a bidi override can disguise `evil.exe` as `exe.png`, `../` walks out of the
case folder and `CON` hangs Windows Explorer.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from crypto.encoding import load_json

# Categories removed from names and made visible in text: controls (terminal
# escapes), format characters (bidi overrides U+202A-202E and isolates
# U+2066-2069, zero-width joiners), surrogates, private use, unassigned, and the
# Unicode line/paragraph separators that some viewers treat as new lines.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"COM{n}" for n in "123456789¹²³"}
    | {f"LPT{n}" for n in "123456789¹²³"}
)

# Characters Windows refuses in names; a case folder is often copied to a
# Windows machine or a FAT-formatted stick.
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')

MAX_NAME_BYTES = 120
_EXTENSION = re.compile(r"^[A-Za-z0-9_+-]{1,16}$")

# Types that execute, run scripts or render active content when opened.
DANGEROUS_EXTENSIONS = frozenset(
    {
        "exe",
        "com",
        "scr",
        "pif",
        "msi",
        "msp",
        "msix",
        "appx",
        "dll",
        "cpl",
        "sys",
        "drv",
        "bat",
        "cmd",
        "ps1",
        "psm1",
        "psd1",
        "vbs",
        "vbe",
        "js",
        "jse",
        "mjs",
        "wsf",
        "wsh",
        "hta",
        "jar",
        "jnlp",
        "apk",
        "aab",
        "xapk",
        "ipa",
        "app",
        "sh",
        "bash",
        "zsh",
        "csh",
        "ksh",
        "fish",
        "command",
        "tool",
        "py",
        "pyw",
        "pl",
        "rb",
        "php",
        "lua",
        "html",
        "htm",
        "xhtml",
        "shtml",
        "mht",
        "mhtml",
        "svg",
        "svgz",
        "xml",
        "xsl",
        "xslt",
        "docm",
        "dotm",
        "xlsm",
        "xltm",
        "xlam",
        "xll",
        "pptm",
        "potm",
        "ppam",
        "ppsm",
        "sldm",
        "one",
        "lnk",
        "url",
        "website",
        "desktop",
        "reg",
        "inf",
        "scf",
        "iso",
        "img",
        "vhd",
        "vhdx",
        "dmg",
        "pkg",
        "mpkg",
        "deb",
        "rpm",
        "appimage",
        "run",
        "bin",
        "elf",
        "scpt",
        "workflow",
        "chm",
        "hlp",
        "gadget",
        "msc",
        "swf",
        "library-ms",
        "settingcontent-ms",
        "diagcab",
        "application",
        "appref-ms",
        "rdp",
        "ics",
    }
)

# What the first bytes of a file say it is.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "windows-executable"),
    (b"\x7fELF", "elf-executable"),
    (b"\xfe\xed\xfa\xce", "macho-executable"),
    (b"\xfe\xed\xfa\xcf", "macho-executable"),
    (b"\xce\xfa\xed\xfe", "macho-executable"),
    (b"\xcf\xfa\xed\xfe", "macho-executable"),
    (b"\xca\xfe\xba\xbe", "macho-executable"),
    (b"#!", "script"),
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (b"{\\rtf", "rtf"),
    (b"Rar!\x1a\x07", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x1f\x8b", "gzip"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", "windows-shortcut"),
)
_EXECUTABLE_KINDS = frozenset(
    {"windows-executable", "elf-executable", "macho-executable", "script", "windows-shortcut"}
)
_MARKUP = re.compile(rb"^\s*<(\?xml|svg|!doctype\s+html|html|script|head|body|iframe)", re.I)

# The magic each harmless-looking extension must carry; a mismatch means the
# name lies about the content.
_EXPECTED_KIND = {
    "jpg": {"jpeg"},
    "jpeg": {"jpeg"},
    "jfif": {"jpeg"},
    "png": {"png"},
    "gif": {"gif"},
    "pdf": {"pdf"},
    "webp": {"webp"},
    "heic": {"iso-media"},
    "heif": {"iso-media"},
    "mp4": {"iso-media"},
    "mov": {"iso-media"},
    "m4a": {"iso-media"},
    "docx": {"zip"},
    "xlsx": {"zip"},
    "pptx": {"zip"},
    "odt": {"zip"},
    "ods": {"zip"},
    "zip": {"zip"},
    "doc": {"ole", "rtf"},
    "xls": {"ole"},
    "ppt": {"ole"},
    "rtf": {"rtf"},
    "rar": {"rar"},
    "7z": {"7z"},
    "gz": {"gzip"},
}
_TEXT_EXTENSIONS = frozenset({"txt", "csv", "md", "log"})


def visible(text: str, *, multiline: bool = False, limit: int | None = None) -> str:
    """Text safe to print or store as plain text: invisible characters shown as <U+XXXX>.

    A terminal interprets escape sequences, and bidi controls reorder what the
    reader sees; both are made visible rather than dropped, so a verifier can
    tell that an applicant (or an attacker) used them.
    """
    out: list[str] = []
    for ch in text:
        if multiline and ch in "\n\t":
            out.append(ch)
        elif ch == "\r" and multiline:
            continue
        elif unicodedata.category(ch) in _INVISIBLE:
            out.append(f"<U+{ord(ch):04X}>")
        else:
            out.append(ch)
    result = "".join(out)
    if limit is not None and len(result) > limit:
        result = result[: max(limit - 1, 0)] + "…"
    return result


def safe_filename(name: object, taken: set[str]) -> str:
    """A harmless file name for an attachment, unique (case-insensitively) within `taken`.

    The name is the applicant's (or the server's) word, so it loses any path,
    invisible characters, Windows-hostile characters and reserved device names,
    leading dots (hidden files, `..`) and leading dashes (read as options by
    shell tools). `taken` is updated.
    """
    text = unicodedata.normalize("NFC", name if isinstance(name, str) else "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)
    text = _WINDOWS_FORBIDDEN.sub("_", text)
    text = " ".join(text.split())
    text = text.strip(" .").lstrip("-~").strip(" .")
    stem, ext = _split_extension(text)
    stem = stem.strip(" .")
    if stem.split(".")[0].strip().upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    if not stem:
        stem = "attachment"
    stem = _truncate_utf8(stem, MAX_NAME_BYTES - len(ext.encode()) - 8).rstrip(" .") or "attachment"
    candidate = stem + ext
    counter = 2
    while candidate.casefold() in taken:
        candidate = f"{stem} ({counter}){ext}"
        counter += 1
    taken.add(candidate.casefold())
    return candidate


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and _EXTENSION.match(ext):
        return stem, "." + ext
    return name, ""


def _truncate_utf8(text: str, max_bytes: int) -> str:
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode(errors="ignore")


def sniff(head: bytes) -> str:
    """What the first bytes of a file say it is (`unknown` if nothing matches)."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        return "iso-media"
    stripped = head.removeprefix(b"\xef\xbb\xbf")
    if _MARKUP.match(stripped):
        return "markup"
    return "unknown"


def attachment_flags(file_name: str, head: bytes) -> list[str]:
    """Reasons to open this attachment only with care (empty if none apply)."""
    flags: list[str] = []
    ext = _split_extension(file_name)[1].lstrip(".").lower()
    kind = sniff(head)
    if ext in DANGEROUS_EXTENSIONS:
        flags.append(f"dangerous type .{ext}")
    if kind in _EXECUTABLE_KINDS:
        flags.append(f"content is a {kind.replace('-', ' ')}")
    elif kind == "markup" and ext not in DANGEROUS_EXTENSIONS:
        flags.append("content is HTML/SVG/XML markup")
    expected = _EXPECTED_KIND.get(ext)
    if expected is not None and kind not in expected:
        flags.append(f"name says .{ext} but content looks like {kind}")
    if ext in _TEXT_EXTENSIONS and (kind in _EXECUTABLE_KINDS or b"\x00" in head):
        flags.append(f"name says .{ext} but content is binary")
    if not ext:
        flags.append("no file extension")
    return flags


# Types a browser shows (or hands to a viewer) rather than runs, so the case
# report may link them. Everything else, and anything flagged, is listed
# without a link: opening it must be a deliberate act.
LINKABLE_EXTENSIONS = frozenset(
    {
        "jpg",
        "jpeg",
        "png",
        "gif",
        "webp",
        "heic",
        "heif",
        "pdf",
        "txt",
        "mp4",
        "mov",
        "m4a",
        "mp3",
        "ogg",
        "oga",
        "opus",
        "wav",
        "docx",
        "xlsx",
        "pptx",
        "odt",
        "ods",
        "doc",
        "xls",
        "rtf",
    }
)


def linkable(file_name: str, flags: object) -> bool:
    """Whether the report may link this (already sanitised) attachment file name."""
    ext = _split_extension(file_name)[1].lstrip(".").lower()
    return not flags and ext in LINKABLE_EXTENSIONS


class HostileJSONError(ValueError):
    """JSON from a hostile source that we refuse to interpret."""


def strict_json(data: bytes | str) -> Any:
    """The protocol's one strict JSON reader (``crypto.load_json``: UTF-8, no
    duplicate keys, no NaN, bounded nesting), its refusal a `HostileJSONError`."""
    try:
        return load_json(data)
    except ValueError as exc:
        raise HostileJSONError(str(exc)) from None
