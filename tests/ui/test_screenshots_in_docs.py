"""The screenshots docs/ui.md shows exist and are PNG images (``scripts/screenshots``)."""

from __future__ import annotations

import re
import struct

import pytest

from tests.conftest import REPO

DOCS = REPO / "docs"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED = {"ui-graph.png", "ui-heatmap.png", "ui-run.png", "ui-logs.png"}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header chunk (IHDR, always first)."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13, "a PNG without its IHDR header"
    return struct.unpack(">II", data[16:24])


def test_every_image_in_the_ui_page_is_a_png() -> None:
    page = (DOCS / "ui.md").read_text()
    referenced = re.findall(r"!\[[^\]]+\]\((images/[^)\s]+)\)", page)
    assert {name.removeprefix("images/") for name in referenced} >= EXPECTED
    for name in referenced:
        image = DOCS / name
        assert image.is_file(), (
            f"docs/ui.md shows {name}, which is missing: run scripts/screenshots"
        )
        width, height = png_size(image.read_bytes())
        assert width >= 600 and height >= 300, f"{name} is {width}x{height}: not a page"


def test_png_size_reads_the_header() -> None:
    header = PNG_SIGNATURE + struct.pack(">I4sII", 13, b"IHDR", 1200, 760) + bytes(5)
    assert png_size(header) == (1200, 760)
    with pytest.raises(AssertionError, match="not a PNG"):
        png_size(b"GIF89a" + bytes(30))
