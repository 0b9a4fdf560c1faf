"""Hidden data in photos: removed in the page before encryption, only if he chooses.

The picture itself is never re-encoded: the compressed image data must come
out byte for byte as it went in.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.page import flow
from tests.page.images import has_gps, jpeg_scan, jpeg_with_gps, png_chunks, png_with_text
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


@pytest.fixture
def page(chromium: Browser, page_server: LiveServer) -> Any:
    page = chromium.new_page()
    flow.open_page(page, page_server)
    yield page
    page.close()


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


def test_a_photo_keeps_its_hidden_data_when_he_chooses_to_send_it_as_it_is(
    chromium: Browser,
    page_server: LiveServer,
    demo_org: Path,
    tools_env: dict[str, str],
    tmp_path: Path,
) -> None:
    photo = jpeg_with_gps(tmp_path / "as-is.jpg")
    canary = "canary-" + secrets.token_hex(8)
    page = chromium.new_page()
    flow.open_page(page, page_server)
    flow.go_to(page, "story")
    page.fill("#q-story", canary)
    flow.next_step(page)
    page.set_input_files("#files", str(photo))
    page.uncheck("#clean-metadata")
    expect(page.locator("#file-list")).to_contain_text("будут отправлены")
    flow.next_step(page)
    flow.decline_codename(page)
    flow.send(page)
    page.close()

    case = flow.find_case(flow.pull_and_decrypt(page_server, demo_org, tools_env, tmp_path), canary)
    (attachment,) = case.doc["attachments"]
    assert (case.folder / attachment["file"]).read_bytes() == photo.read_bytes()
