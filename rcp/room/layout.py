"""Where each tile goes: the grid, the screen-share layout, fitting a picture in a box."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import av
import numpy as np

if TYPE_CHECKING:
    from rcp.room.picture import YuvImage

_GAP = 2

# --------------------------------------------------------------------------- layout


class Rect(NamedTuple):
    """A rectangle in pixels: left, top, width, height."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Tile:
    """What one participant's tile shows: a frame (or a placeholder), a name, a muted marker."""

    name: str
    frame: np.ndarray | av.VideoFrame | YuvImage | None = None
    muted: bool = False
    camera_off: bool = False


def grid_layout(n: int, *, width: int, height: int) -> list[Rect]:
    """Place ``n`` equal tiles on a ceil(sqrt(n))-column grid; an incomplete last row is centred."""
    if n <= 0:
        return []
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cell_w, cell_h = width // cols, height // rows
    off_x, off_y = (width - cols * cell_w) // 2, (height - rows * cell_h) // 2
    last_row_count = n - cols * (rows - 1)
    rects = []
    for i in range(n):
        row, col = divmod(i, cols)
        row_off = (cols - last_row_count) * cell_w // 2 if row == rows - 1 else 0
        x, y = off_x + row_off + col * cell_w, off_y + row * cell_h
        rects.append(Rect(x + _GAP, y + _GAP, max(1, cell_w - 2 * _GAP), max(1, cell_h - 2 * _GAP)))
    return rects


def strip_capacity(*, width: int, height: int) -> int:
    """How many small tiles fit in the strip under a shared screen."""
    return max(1, width // _strip_tile_width(height))


def screen_layout(n: int, *, width: int, height: int) -> tuple[Rect, list[Rect]]:
    """Split the picture into a large screen area and a bottom strip of ``n`` small tiles.

    ``n`` must not exceed :func:`strip_capacity`; callers show an overflow tile instead.
    """
    if n <= 0:
        return Rect(_GAP, _GAP, width - 2 * _GAP, height - 2 * _GAP), []
    strip_h = _strip_height(height)
    main = Rect(_GAP, _GAP, width - 2 * _GAP, height - strip_h - 2 * _GAP)
    tile_w = min(_strip_tile_width(height), width // n)
    off_x = (width - n * tile_w) // 2
    y = height - strip_h
    tiles = [
        Rect(off_x + i * tile_w + _GAP, y + _GAP, tile_w - 2 * _GAP, strip_h - 2 * _GAP)
        for i in range(n)
    ]
    return main, tiles


def _strip_height(height: int) -> int:
    return max(height // 5, 40)


def _strip_tile_width(height: int) -> int:
    return _strip_height(height) * 4 // 3


def fit_size(src_w: int, src_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """Largest size with the source's aspect ratio that fits in the box (letterbox)."""
    if src_w <= 0 or src_h <= 0:
        return box_w, box_h
    if src_w <= box_w and src_h <= box_h and (src_w == box_w or src_h == box_h):
        return src_w, src_h  # already fitted (e.g. a cached, pre-scaled frame)
    scale = min(box_w / src_w, box_h / src_h)
    return max(1, min(box_w, round(src_w * scale))), max(1, min(box_h, round(src_h * scale)))
