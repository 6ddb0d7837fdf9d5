"""The SVG as a browser draws it: headless Chromium renders a real directory tree to a colourful PNG.

Needs /usr/bin/chromium (CI: ``apt-get install -y chromium``); skipped, with that reason, without it.
"""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest

from solvers.treemap import KIND
from solvers.treemap.generate import directory_tree
from solvers.treemap.schema import parse

from .conftest import solve

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def decode_png(data: bytes) -> np.ndarray:
    """Pixels of an 8-bit RGB or RGBA non-interlaced PNG, as an (height, width, channels) array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width * channels + 1)
    out = np.zeros((height, width * channels), dtype=np.int32)
    prev = np.zeros(width * channels, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        row = line.copy()
        if kind == 1:  # Sub: running sums per channel
            row = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1) % 256
        elif kind == 2:  # Up
            row = (line + prev) % 256
        elif kind in (3, 4):  # Average, Paeth: sequential
            for x in range(width * channels):
                left = row[x - channels] if x >= channels else 0
                up, up_left = prev[x], prev[x - channels] if x >= channels else 0
                if kind == 3:
                    row[x] = (line[x] + (left + up) // 2) % 256
                else:
                    p = left + up - up_left
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                    row[x] = (line[x] + pred) % 256
        out[y], prev = row, row
    return out.reshape(height, width, channels)


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="needs /usr/bin/chromium (apt-get install chromium)")
def test_chromium_draws_a_colourful_treemap(tmp_path: Path) -> None:
    instance = parse(directory_tree(str(Path(__file__).resolve().parents[3] / "solvers"), max_nodes=400))
    result = solve(instance, "squarified")
    assert KIND.render_svg is not None
    svg = KIND.render_svg(
        instance, {"solver": "squarified", "objective": result.objective, "solution": result.solution}
    )
    page = tmp_path / "treemap.svg"
    page.write_text(svg)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=640,420",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    pixels = decode_png(shot.read_bytes())
    rgb = pixels[:, :, :3].reshape(-1, 3)
    colours = {tuple(c) for c in rgb[::7].tolist()}
    assert len(colours) >= 20  # fills, shades, strokes and anti-aliased labels: far from blank
    _, counts = np.unique(rgb, axis=0, return_counts=True)
    assert counts.max() < 0.6 * len(rgb)  # no single colour (e.g. a white page) dominates
