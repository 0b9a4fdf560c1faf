"""Photos carrying hidden data, made with Pillow, for the metadata-stripping tests."""

from __future__ import annotations

import io
import secrets
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


XMP_WITH_PLACE = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
    b'exif:GPSLatitude="43,15.5N" exif:GPSLongitude="76,55.17E" '
    b'photoshop:City="Almaty"/></rdf:RDF></x:xmpmeta>'
)


def gps_exif() -> bytes:
    """EXIF (as Pillow writes it, "Exif\\0\\0" + TIFF) naming a camera and a place."""
    exif = Image.Exif()
    exif[MAKE] = "TestPhone"
    exif[GPS_IFD] = {1: "N", 2: (43.0, 15.0, 30.0), 3: "E", 4: (76.0, 55.0, 10.0)}
    return bytes(exif.tobytes())


def webp_with_gps(path: Path, *, lossless: bool = False) -> Path:
    """A WebP as a phone or messenger writes it: VP8X, a colour profile, alpha,
    the picture, then EXIF (camera, GPS) and XMP (place) chunks."""
    from PIL import ImageCms

    image = Image.new("RGBA", (96, 64))
    image.putdata(
        [((x * 7) % 256, (y * 11) % 256, 90, 255 - x) for y in range(64) for x in range(96)]
    )
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image.save(
        path,
        "WEBP",
        exif=gps_exif(),
        xmp=XMP_WITH_PLACE,
        icc_profile=srgb,
        lossless=lossless,
        quality=90,
    )
    return path


def webp_chunks(data: bytes) -> list[str]:
    """The top-level RIFF chunk names of a WebP file (checking the RIFF size)."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    (riff_size,) = struct.unpack("<I", data[4:8])
    assert riff_size == len(data) - 8, (riff_size, len(data))
    names, pos = [], 12
    while pos < len(data):
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        names.append(data[pos : pos + 4].decode("ascii"))
        pos += 8 + length + (length & 1)
    assert pos == len(data)
    return names


def webp_flags(data: bytes) -> int:
    """The VP8X feature flags (ICC 0x20, alpha 0x10, EXIF 0x08, XMP 0x04, animation 0x02)."""
    assert data[12:16] == b"VP8X"
    return data[20]


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full_box(kind: bytes, version: int, body: bytes) -> bytes:
    return _box(kind, bytes([version, 0, 0, 0]) + body)


def heic_with_gps(path: Path) -> Path:
    """A minimal HEIF file (ISO-BMFF) as an iPhone writes one, reduced to what
    matters here: a meta box whose iinf/iloc name an image item and an Exif
    item, and an mdat holding both (the "image" is random bytes: no browser
    here decodes HEIC anyway)."""
    picture = secrets.token_bytes(600)
    exif = struct.pack(">I", 6) + gps_exif()  # exif_tiff_header_offset, then "Exif\0\0" + TIFF

    def meta(mdat_start: int) -> bytes:
        hdlr = _full_box(b"hdlr", 0, b"\0" * 4 + b"pict" + b"\0" * 12 + b"\0")
        pitm = _full_box(b"pitm", 0, struct.pack(">H", 1))
        infe_image = _full_box(b"infe", 2, struct.pack(">HH", 1, 0) + b"hvc1" + b"\0")
        infe_exif = _full_box(b"infe", 2, struct.pack(">HH", 2, 0) + b"Exif" + b"\0")
        iinf = _full_box(b"iinf", 0, struct.pack(">H", 2) + infe_image + infe_exif)
        entries = struct.pack(">HHH", 1, 0, 1) + struct.pack(">II", mdat_start, len(picture))
        entries += struct.pack(">HHH", 2, 0, 1)
        entries += struct.pack(">II", mdat_start + len(picture), len(exif))
        iloc = _full_box(b"iloc", 0, bytes([0x44, 0x00]) + struct.pack(">H", 2) + entries)
        return _full_box(b"meta", 0, hdlr + pitm + iinf + iloc)

    ftyp = _box(b"ftyp", b"heic" + b"\0\0\0\0" + b"mif1heic")
    size = len(ftyp) + len(meta(0)) + 8
    path.write_bytes(ftyp + meta(size) + _box(b"mdat", picture + exif))
    return path


def mp4_with_place(path: Path) -> Path:
    """A minimal MP4 whose udta carries the ©xyz location a phone camera writes."""
    xyz = _box(b"\xa9xyz", struct.pack(">HH", 18, 0x15C7) + b"+43.2583+076.9286/")
    ftyp = _box(b"ftyp", b"isom\0\0\x02\0isomiso2mp41")
    moov = _box(b"moov", _box(b"udta", xyz))
    path.write_bytes(ftyp + moov + _box(b"mdat", secrets.token_bytes(2000)))
    return path


def pdf_with_author(path: Path) -> Path:
    """A PDF whose information dictionary names its author and creation time."""
    path.write_bytes(
        b"%PDF-1.4\n1 0 obj\n<< /Author (Ivan Petrov) /CreationDate (D:20261204093000+05'00') "
        b"/Producer (Scanner App, Samsung SM-A515F) >>\nendobj\ntrailer\n<< /Info 1 0 R >>\n%%EOF\n"
    )
    return path
