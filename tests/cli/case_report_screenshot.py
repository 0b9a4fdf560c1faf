"""Re-make docs/screenshots/case-report.png: a realistic urgent case, as a volunteer sees it.

    .venv/bin/python -m tests.cli.case_report_screenshot [--lang ru|en] [--out PATH]

Everything is real: an organisation with key files, a bundle, the verifier's
decrypt and reply commands, a follow-up from a later bundle, and Chromium
showing the answers.html they wrote. Nothing of it is kept but the picture.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from .report_browser import render_report
from .support import JPEG_HEAD, URGENT_ANSWERS, Attachment, decrypted_scene, new_org

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "case-report.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("ru", "en"), default="ru")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        org = new_org(base / "org")
        scene = decrypted_scene(
            org,
            org.keyring_dir,
            base / "work",
            answers=URGENT_ANSWERS,
            attachments=[
                Attachment("паспорт.jpg", JPEG_HEAD + bytes(2000), "image/jpeg"),
                Attachment("повестка.pdf", b"%PDF-1.7\n" + bytes(3000), "application/pdf"),
                Attachment("setup.exe", b"MZ\x90\x00" + bytes(100), "application/octet-stream"),
            ],
            followup_attachments=[
                Attachment("миграционная карта.jpg", JPEG_HEAD + bytes(900), "image/jpeg")
            ],
            lang=args.lang,
        )
        render_report(scene.case / "answers.html", args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
