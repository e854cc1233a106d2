"""Picture sizes read from JPEG and PNG headers, without decoding a pixel.

A frame's size is checked against the snapshot's pixel limit BEFORE it is decoded: a 16000 x
16000 JPEG is a few hundred bytes on the wire and hundreds of megabytes once decoded, inside
the web process that holds the secrets (a decompression bomb).
"""

from __future__ import annotations

import struct

# Start-of-frame markers carry the size (not DHT C4, JPG C8, DAC CC).
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                          0xCE, 0xCF})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageHeaderError(ValueError):
    """The bytes are not a JPEG or PNG whose size can be read from its header."""


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame segment."""
    if not data.startswith(b"\xff\xd8"):
        raise ImageHeaderError("not a JPEG (no start-of-image marker)")
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ImageHeaderError("a JPEG segment does not start with a marker")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame header
            break
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if length < 2:
            raise ImageHeaderError("a JPEG segment has an impossible length")
        if marker in _SOF_MARKERS:
            if i + 9 > len(data):
                break
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    raise ImageHeaderError("the JPEG has no frame header before its picture data")


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 24:
        raise ImageHeaderError("not a PNG (no signature and IHDR chunk)")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a JPEG or PNG, from its header only."""
    if data.startswith(_PNG_SIGNATURE):
        return png_size(data)
    return jpeg_size(data)
