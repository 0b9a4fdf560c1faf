"""Photos carrying hidden data, made with Pillow, for the metadata-stripping tests."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

GPS_IFD = 0x8825
MAKE = 0x010F


def jpeg_with_gps(path: Path) -> Path:
    """A JPEG whose EXIF names a camera and a place (Almaty), as a phone writes it."""
    image = Image.new("RGB", (96, 64))
    image.putdata([((x * 7) % 256, (y * 11) % 256, 90) for y in range(64) for x in range(96)])
    exif = Image.Exif()
    exif[MAKE] = "TestPhone"
    exif[GPS_IFD] = {1: "N", 2: (43.0, 15.0, 30.0), 3: "E", 4: (76.0, 55.0, 10.0)}
    image.save(path, "JPEG", exif=exif.tobytes(), quality=90, comment=b"taken at home")
    return path


def png_with_text(path: Path) -> Path:
    """A PNG with a tEXt chunk (place) and an eXIf chunk, beside its pixels."""
    image = Image.new("RGB", (32, 32), (10, 120, 200))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    data = buffer.getvalue()
    end = data.rindex(b"IEND") - 4  # start of the IEND chunk

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    extra = chunk(b"tEXt", b"Location\x00Almaty, home") + chunk(b"eXIf", b"MM\x00*\x00\x00\x00\x08")
    path.write_bytes(data[:end] + extra + data[end:])
    return path


def has_gps(data: bytes) -> bool:
    image = Image.open(io.BytesIO(data))
    return GPS_IFD in image.getexif() or b"Exif" in data


def jpeg_scan(data: bytes) -> bytes:
    """The compressed picture itself (from the first SOS on): stripping must not touch it."""
    return data[data.index(b"\xff\xda") :]


def png_chunks(data: bytes) -> list[str]:
    names, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        names.append(data[pos + 4 : pos + 8].decode("ascii"))
        pos += 12 + length
    return names
