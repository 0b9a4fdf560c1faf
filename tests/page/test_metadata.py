"""Hidden data in photos: removed in the page before encryption, only if he chooses.

The picture itself is never re-encoded: the compressed image data must come
out byte for byte as it went in. A file the page cannot clean (HEIC, video,
PDF, a broken image) is never passed silently: he is told, per file, before
anything is sent, and decides to send it anyway or to leave it out.
"""

from __future__ import annotations

import io
import secrets
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.page import flow
from tests.page.images import (
    has_gps,
    heic_with_gps,
    jpeg_scan,
    jpeg_with_gps,
    mp4_with_place,
    pdf_with_author,
    png_chunks,
    png_with_text,
    webp_chunks,
    webp_flags,
    webp_with_gps,
)
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

STRIP = """async ({bytes, type}) => {
  const exif = await import("/static/js/exif.js");
  const file = new File([new Uint8Array(bytes)], "x", {type});
  const out = await exif.stripMetadata(file);
  return {bytes: Array.from(new Uint8Array(await out.blob.arrayBuffer())),
          removed: out.removed, kind: out.kind, failed: out.failed};
}"""


def strip_in_page(page: Page, data: bytes, mime: str) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(STRIP, {"bytes": list(data), "type": mime})
    result["bytes"] = bytes(result["bytes"])
    return result


def test_a_jpeg_loses_exif_gps_and_comments_but_not_one_byte_of_its_picture(
    page: Page, tmp_path: Path
) -> None:
    original = jpeg_with_gps(tmp_path / "p.jpg").read_bytes()
    result = strip_in_page(page, original, "image/jpeg")
    assert result["kind"] == "jpeg" and not result["failed"]
    assert "EXIF/XMP" in result["removed"] and "comment" in result["removed"]
    out = result["bytes"]
    assert has_gps(original) and not has_gps(out)
    assert b"taken at home" not in out
    assert jpeg_scan(out) == jpeg_scan(original)
    assert Image.open(io.BytesIO(out)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_data_hidden_after_the_end_of_a_jpeg_is_dropped(page: Page, tmp_path: Path) -> None:
    """Phones append extra images or a short video after the picture (motion photos)."""
    original = jpeg_with_gps(tmp_path / "p.jpg").read_bytes() + b"MotionPhoto GPS 43.25,76.92"
    out = strip_in_page(page, original, "image/jpeg")["bytes"]
    assert out.endswith(b"\xff\xd9")
    assert b"MotionPhoto" not in out


def test_a_png_loses_its_text_and_exif_chunks_and_keeps_its_pixels(
    page: Page, tmp_path: Path
) -> None:
    original = png_with_text(tmp_path / "p.png").read_bytes()
    assert {"tEXt", "eXIf"} <= set(png_chunks(original))
    result = strip_in_page(page, original, "image/png")
    out = result["bytes"]
    assert png_chunks(out) == [c for c in png_chunks(original) if c not in {"tEXt", "eXIf"}]
    assert b"Almaty" not in out
    assert Image.open(io.BytesIO(out)).tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_other_files_and_broken_images_are_left_alone(page: Page) -> None:
    pdf = b"%PDF-1.4\n" + secrets.token_bytes(2000)
    result = strip_in_page(page, pdf, "application/pdf")
    assert result["bytes"] == pdf and result["kind"] is None and result["removed"] == []
    broken = b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00"  # cut short inside a segment
    result = strip_in_page(page, broken, "image/jpeg")
    assert result["failed"] and result["bytes"] == broken


CaseOf = Callable[[str], flow.Case]


def story_with_files(page: Page, server: LiveServer, files: list[Path]) -> str:
    """Opens the form, tells a story holding a fresh canary and chooses `files`;
    returns the canary that finds the case later."""
    canary = "canary-" + secrets.token_hex(8)
    flow.open_page(page, server)
    flow.go_to(page, "story")
    page.fill("#q-story", canary)
    flow.go_to(page, "files")
    page.set_input_files("#files", [str(f) for f in files])
    return canary


def send_from_the_files_step(page: Page) -> None:
    flow.next_step(page)
    flow.decline_codename(page)
    flow.send(page)
    page.close()


def send_one_photo(
    chromium: Browser, server: LiveServer, photo: Path, *, clean: bool, shown: str
) -> str:
    """Sends `photo` through the intake page, with the metadata box as `clean`
    says, after the file list has said `shown` about it; returns the canary."""
    page = chromium.new_page()
    canary = story_with_files(page, server, [photo])
    if not clean:
        page.uncheck("#clean-metadata")
    expect(page.locator("#file-list")).to_contain_text(shown)
    send_from_the_files_step(page)
    return canary


def only_attachment(case: flow.Case) -> bytes:
    """The one attachment of a case, as the verifier tool decrypted it."""
    (attachment,) = case.doc["attachments"]
    return (case.folder / str(attachment["file"])).read_bytes()


def test_a_photo_keeps_its_hidden_data_when_he_chooses_to_send_it_as_it_is(
    chromium: Browser, page_server: LiveServer, case_of: CaseOf, tmp_path: Path
) -> None:
    photo = jpeg_with_gps(tmp_path / "as-is.jpg")
    canary = send_one_photo(chromium, page_server, photo, clean=False, shown="будут отправлены")
    assert only_attachment(case_of(canary)) == photo.read_bytes()


# Decodes images in this Chromium and returns their pixels, so a stripped
# WebP is proven to be a picture the browser still shows, identical to the original.
DECODE = """async (files) => {
  const out = [];
  for (const bytes of files) {
    const bitmap = await createImageBitmap(new Blob([new Uint8Array(bytes)], {type: "image/webp"}));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0);
    const pixels = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
    out.push({width: bitmap.width, height: bitmap.height, pixels: Array.from(pixels)});
  }
  return out;
}"""

EXIF_AND_XMP_FLAGS = 0x08 | 0x04
PLACE_AND_CAMERA = (b"TestPhone", b"Almaty", b"GPSLatitude", b"MM\x00*")  # the last: a TIFF header


def decode_in_chromium(page: Page, *images: bytes) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(DECODE, [list(data) for data in images])
    return result


@pytest.mark.parametrize("lossless", [False, True], ids=["lossy-alpha", "lossless"])
def test_a_webp_loses_its_exif_and_xmp_and_chromium_shows_the_same_picture(
    page: Page, tmp_path: Path, lossless: bool
) -> None:
    original = webp_with_gps(tmp_path / "p.webp", lossless=lossless).read_bytes()
    assert {"EXIF", "XMP "} <= set(webp_chunks(original))
    assert webp_flags(original) & EXIF_AND_XMP_FLAGS == EXIF_AND_XMP_FLAGS
    result = strip_in_page(page, original, "image/webp")
    assert result["kind"] == "webp" and not result["failed"]
    assert set(result["removed"]) == {"EXIF", "XMP"}
    out = result["bytes"]
    # Only the two metadata chunks go; the colour profile and the picture stay
    # byte for byte, and the VP8X header no longer announces EXIF or XMP.
    assert webp_chunks(out) == [c for c in webp_chunks(original) if c not in {"EXIF", "XMP "}]
    assert webp_flags(out) == webp_flags(original) & ~EXIF_AND_XMP_FLAGS
    for marker in PLACE_AND_CAMERA:
        assert marker in original and marker not in out, marker
    assert Image.open(io.BytesIO(out)).tobytes() == Image.open(io.BytesIO(original)).tobytes()
    before, after = decode_in_chromium(page, original, out)
    assert (after["width"], after["height"]) == (96, 64)
    assert after["pixels"] == before["pixels"]


def test_unknown_chunks_and_data_after_a_webp_are_dropped(page: Page, tmp_path: Path) -> None:
    original = webp_with_gps(tmp_path / "p.webp").read_bytes()
    extra = b"ZZZZ" + struct.pack("<I", 9) + b"GPS 43.25\x00"  # odd size: one pad byte
    body = original[12:] + extra
    tampered = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body + b"trailing GPS 76.92"
    result = strip_in_page(page, tampered, "image/webp")
    out = result["bytes"]
    assert {"EXIF", "XMP", "ZZZZ", "trailing data"} <= set(result["removed"])
    assert b"GPS" not in out and b"trailing" not in out
    assert webp_chunks(out) == ["VP8X", "ICCP", "ALPH", "VP8 "]
    (decoded,) = decode_in_chromium(page, out)
    assert (decoded["width"], decoded["height"]) == (96, 64)


def test_a_broken_webp_is_reported_as_not_cleaned(page: Page, tmp_path: Path) -> None:
    original = webp_with_gps(tmp_path / "p.webp").read_bytes()
    for broken in (original[:40], original[:12] + b"EXIF" + struct.pack("<I", 1 << 30)):
        result = strip_in_page(page, broken, "image/webp")
        assert result["failed"] and result["kind"] == "webp" and result["bytes"] == broken


def test_a_webp_photo_reaches_the_organisation_without_its_place_or_camera(
    chromium: Browser, page_server: LiveServer, case_of: CaseOf, tmp_path: Path
) -> None:
    photo = webp_with_gps(tmp_path / "фото.webp")
    shown = "скрытые данные будут удалены"
    canary = send_one_photo(chromium, page_server, photo, clean=True, shown=shown)
    received = only_attachment(case_of(canary))
    for marker in PLACE_AND_CAMERA:
        assert marker in photo.read_bytes() and marker not in received, marker
    assert "exif" not in Image.open(io.BytesIO(received)).info
    original = Image.open(photo)
    assert Image.open(io.BytesIO(received)).tobytes() == original.tobytes()


WARNING_RU = "Этот файл может содержать место и время, когда он был сделан, и данные об устройстве."


def file_row(page: Page, name: str) -> Any:
    return page.locator("#file-list li").filter(has_text=name)


def test_files_the_page_cannot_clean_are_held_until_he_decides_each_one(
    chromium: Browser, page_server: LiveServer, case_of: CaseOf, tmp_path: Path
) -> None:
    heic = heic_with_gps(tmp_path / "IMG_0001.HEIC")
    video = mp4_with_place(tmp_path / "video.mp4")
    pdf = pdf_with_author(tmp_path / "повестка.pdf")
    page = chromium.new_page()
    canary = story_with_files(page, page_server, [heic, video, pdf])
    for name in (heic.name, video.name, pdf.name):
        row = file_row(page, name)
        expect(row).to_contain_text(WARNING_RU)
        expect(row).to_contain_text("Мы не смогли их удалить.")
        expect(row.get_by_role("button", name="Всё равно отправить")).to_be_visible()
        expect(row.get_by_role("button", name="Не отправлять этот файл")).to_be_visible()

    # Nothing moves on while a file is undecided.
    page.locator("#step-files button[data-go=next]").click()
    expect(page.locator("#form-alert")).to_be_visible()
    assert flow.current_step(page) == "step-files"

    file_row(page, video.name).get_by_role("button", name="Не отправлять этот файл").click()
    expect(page.locator("#file-list li")).to_have_count(2)
    file_row(page, heic.name).get_by_role("button", name="Всё равно отправить").click()
    page.locator("#step-files button[data-go=next]").click()
    assert flow.current_step(page) == "step-files"  # the PDF is still undecided
    file_row(page, pdf.name).get_by_role("button", name="Всё равно отправить").click()
    for name in (heic.name, pdf.name):
        expect(file_row(page, name)).not_to_contain_text(WARNING_RU)
        expect(file_row(page, name)).to_contain_text("будет отправлен как есть")
    send_from_the_files_step(page)

    case = case_of(canary)
    by_name = {a["name"]: a for a in case.doc["attachments"]}
    assert set(by_name) == {heic.name, pdf.name}  # the video he took out never left
    for original in (heic, pdf):
        assert (case.folder / by_name[original.name]["file"]).read_bytes() == original.read_bytes()


def test_a_broken_photo_is_also_held_and_the_warning_speaks_english(
    chromium: Browser, page_server: LiveServer, tmp_path: Path
) -> None:
    broken = tmp_path / "cut.jpg"
    broken.write_bytes(jpeg_with_gps(tmp_path / "p.jpg").read_bytes()[:300])
    page = chromium.new_page()
    flow.open_page(page, page_server, "en")
    flow.go_to(page, "files")
    page.set_input_files("#files", str(broken))
    row = file_row(page, broken.name)
    expect(row).to_contain_text(
        "This file may contain the place and time it was made and the device. "
        "We could not remove it."
    )
    page.locator("#step-files button[data-go=next]").click()
    assert flow.current_step(page) == "step-files"
    row.get_by_role("button", name="Send it anyway").click()
    expect(row).to_contain_text("will be sent as it is")
    flow.next_step(page)
    page.close()
