"""The room's picture: tiles, names, initials and messages composed in yuv420p."""

from __future__ import annotations

import functools
import logging
import math
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageDraw, ImageFont

from rcp.i18n import N_, _
from rcp.room.constants import MAX_GRID_TILES
from rcp.room.layout import Rect, Tile, fit_size, grid_layout, screen_layout, strip_capacity

logger = logging.getLogger(__name__)

_BACKGROUND = (16, 18, 22)
_CELL_BACKGROUND = (30, 33, 40)
_PLACEHOLDER_BACKGROUND = (44, 48, 58)
_MUTED_RED = (214, 48, 49)
_AVATAR_COLOURS = (
    (52, 101, 164),
    (78, 154, 6),
    (196, 160, 0),
    (117, 80, 123),
    (206, 92, 0),
    (32, 128, 128),
    (164, 0, 80),
    (85, 87, 83),
)
_TITLES = {"dr", "dr.", "pr", "pr.", "docteur", "professeur", "mme", "mme.", "m.", "mr", "mr."}
_WAITING_TEXT = N_("En attente des autres participants…")
_SCREEN_WAITING_TEXT = N_("Partage d'écran en attente…")

# --------------------------------------------------------------------------- drawing


@functools.cache
def _font_path() -> str | None:
    import matplotlib  # only for its bundled DejaVu fonts (see FIELD-NOTES, fpdf2)

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return str(path) if path.exists() else None


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_path()
    if path is None:
        logger.warning("DejaVuSans.ttf not found; falling back to Pillow's default font")
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)


def initials(name: str) -> str:
    """Initials of a display name, skipping titles: "Dr Marie Curie" gives "MC"."""
    words = [w for w in name.replace("-", " ").split() if w.lower() not in _TITLES]
    letters = [w[0] for w in words if w[0].isalnum()]
    if not letters:
        return "?"
    return (letters[0] + letters[-1]).upper() if len(letters) > 1 else letters[0].upper()


def _avatar_colour(name: str) -> tuple[int, int, int]:
    return _AVATAR_COLOURS[zlib.crc32(name.encode()) % len(_AVATAR_COLOURS)]


def _font_px_for(tile_h: int) -> int:
    return max(10, min(22, tile_h // 12))


@functools.lru_cache(maxsize=512)
def _label_rgba(text: str, muted: bool, font_px: int, max_w: int) -> np.ndarray:
    """A name label (text on a translucent box, red marker first when muted) as RGBA pixels."""
    font = _font(font_px)
    pad = max(2, font_px // 4)
    box_h = font_px + 2 * pad
    marker_w = box_h if muted else 0
    available = max(1, max_w - marker_w - 2 * pad)
    shown = text
    while shown and font.getlength(shown) > available:
        shown = shown[:-2] + "…" if len(shown) > 1 else ""
    box_w = min(max_w, marker_w + 2 * pad + math.ceil(font.getlength(shown)))
    image = Image.new("RGBA", (max(1, box_w), box_h), (0, 0, 0, 170))
    draw = ImageDraw.Draw(image)
    if muted:
        r = box_h // 2 - 2
        cx = cy = box_h // 2
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(*_MUTED_RED, 255))
        draw.line((cx - r // 2, cy + r // 2, cx + r // 2, cy - r // 2), fill="white", width=2)
    draw.text((marker_w + pad, box_h // 2), shown, font=font, fill="white", anchor="lm")
    pixels = np.asarray(image)
    pixels.setflags(write=False)
    return pixels


@functools.lru_cache(maxsize=128)
def _placeholder_rgb(name: str, w: int, h: int) -> np.ndarray:
    """A camera-off tile: a coloured disc with the initials."""
    image = Image.new("RGB", (w, h), _PLACEHOLDER_BACKGROUND)
    draw = ImageDraw.Draw(image)
    d = max(8, int(min(w, h) * 0.5))
    x0, y0 = (w - d) // 2, (h - d) // 2 - min(w, h) // 16
    draw.ellipse((x0, y0, x0 + d, y0 + d), fill=_avatar_colour(name))
    draw.text(
        (x0 + d // 2, y0 + d // 2),
        initials(name),
        font=_font(max(8, int(d * 0.4))),
        fill="white",
        anchor="mm",
    )
    pixels = np.asarray(image)
    pixels.setflags(write=False)
    return pixels


@functools.lru_cache(maxsize=32)
def _message_rgba(text: str, font_px: int) -> np.ndarray:
    font = _font(font_px)
    image = Image.new("RGBA", (math.ceil(font.getlength(text)) + 4, font_px + 8), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((2, 4), text, font=font, fill=(200, 200, 200, 255))
    pixels = np.asarray(image)
    pixels.setflags(write=False)
    return pixels


# Composition happens in yuv420p, the encoder's format: the cameras arrive decoded in it, so a
# tile is a crop or a yuv→yuv scale and the picture goes to libvpx without a colour
# conversion. Composing in RGB cost a yuv→rgb conversion per camera frame and an rgb→yuv one
# per picture: ≈ 5 of the ≈ 7 ms of composition per frame at 4 people (bench/RESULTS.md).
# Colours are converted with BT.601 limited range, swscale's default for yuv420p and what
# browsers assume for a VP8 stream that says nothing about its colours.
_CROP_SLACK = 8  # a frame at most this many pixels larger than its box is cropped, not scaled


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _luma(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255


def _chroma(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return u, v


def _pad_even(pixels: np.ndarray, mode: Literal["edge", "constant"] = "edge") -> np.ndarray:
    """Pad to even sides: repeating the edge, or with zeros (transparent for RGBA)."""
    h, w = pixels.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return pixels
    return np.pad(pixels, ((0, h % 2), (0, w % 2), (0, 0)), mode=mode)


def _half(values: np.ndarray) -> np.ndarray:
    """2×2 means of an array with even sides (the chroma planes' resolution)."""
    h, w = values.shape[:2]
    return values.reshape(h // 2, 2, w // 2, 2, *values.shape[2:]).mean(axis=(1, 3))


class YuvImage:
    """A yuv420p image as its three planes: Y (h × w), U and V (h/2 × w/2); sides even."""

    __slots__ = ("y", "u", "v")

    def __init__(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        self.y, self.u, self.v = y, u, v

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]

    @classmethod
    def from_rgb(cls, rgb: np.ndarray) -> YuvImage:
        pixels = _pad_even(rgb[:, :, :3]).astype(np.float32)
        u, v = _chroma(_half(pixels))
        return cls(_to_uint8(_luma(pixels)), _to_uint8(u), _to_uint8(v))

    @classmethod
    def from_yuv420p(cls, packed: np.ndarray, width: int, height: int) -> YuvImage:
        """Split PyAV's yuv420p ndarray layout ((h·3/2) × w, planes one after the other)."""
        flat = packed.reshape(-1)
        q = width * height // 4
        return cls(
            flat[: width * height].reshape(height, width),
            flat[width * height : width * height + q].reshape(height // 2, width // 2),
            flat[width * height + q : width * height + 2 * q].reshape(height // 2, width // 2),
        )

    def crop(self, x: int, y: int, w: int, h: int) -> YuvImage:
        """A view of the part at (x, y) of size w × h; all four even."""
        return YuvImage(
            self.y[y : y + h, x : x + w],
            self.u[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2],
            self.v[y // 2 : (y + h) // 2, x // 2 : (x + w) // 2],
        )


class _Overlay:
    """An RGBA image premultiplied for blending on yuv420p: per plane value × α and 256 − α."""

    def __init__(self, rgba: np.ndarray) -> None:
        rgba = _pad_even(rgba, mode="constant")  # transparent padding
        alpha = rgba[:, :, 3].astype(np.uint16)
        alpha = alpha + (alpha >> 7)  # 0..255 -> 0..256, so opaque pixels stay exact
        half_alpha = np.rint(_half(alpha.astype(np.float32))).astype(np.uint16)
        colour = rgba[:, :, :3].astype(np.float32)
        u, v = _chroma(_half(colour))
        self.height, self.width = alpha.shape
        self.planes = tuple(
            (plane.astype(np.uint16) * a, np.uint16(256) - a)
            for plane, a in (
                (_to_uint8(_luma(colour)), alpha),
                (_to_uint8(u), half_alpha),
                (_to_uint8(v), half_alpha),
            )
        )


_overlay_cache: dict[int, tuple[np.ndarray, _Overlay]] = {}


def _overlay(rgba: np.ndarray) -> _Overlay:
    """The overlay of a cached, read-only RGBA image (labels, messages), computed once."""
    cached = _overlay_cache.get(id(rgba))
    if cached is not None and cached[0] is rgba:
        return cached[1]
    overlay = _Overlay(rgba)
    if len(_overlay_cache) > 1024:
        _overlay_cache.clear()
    _overlay_cache[id(rgba)] = (rgba, overlay)
    return overlay


@functools.lru_cache(maxsize=256)
def _yuv_colour(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    pixel = np.array(colour, dtype=np.float32)
    u, v = _chroma(pixel)
    return int(_to_uint8(_luma(pixel))), int(_to_uint8(u)), int(_to_uint8(v))


def _even(value: int) -> int:
    return value - value % 2


class YuvPicture:
    """The picture being composed, in yuv420p: plane views over one buffer laid out as
    ``av.VideoFrame.from_ndarray(buffer, format="yuv420p")`` takes it. Positions and sizes are
    rounded down to even numbers (one chroma sample covers 2 × 2 pixels)."""

    def __init__(self, width: int, height: int, colour: tuple[int, int, int]) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"width and height must be positive and even, got {width}×{height}")
        self.width, self.height = width, height
        self.buffer = np.empty((height * 3 // 2, width), dtype=np.uint8)
        self.image = YuvImage.from_yuv420p(self.buffer, width, height)
        for plane, value in zip(self._planes(), _yuv_colour(colour), strict=True):
            plane[:] = value

    def _planes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.image.y, self.image.u, self.image.v

    def _clip(self, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int] | None:
        x0, y0 = max(0, _even(x)), max(0, _even(y))
        x1, y1 = min(self.width, _even(x + w)), min(self.height, _even(y + h))
        return None if x0 >= x1 or y0 >= y1 else (x0, y0, x1, y1)

    def fill(self, rect: Rect, colour: tuple[int, int, int]) -> None:
        box = self._clip(*rect)
        if box is None:
            return
        x0, y0, x1, y1 = box
        y_value, u_value, v_value = _yuv_colour(colour)
        self.image.y[y0:y1, x0:x1] = y_value
        self.image.u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = u_value
        self.image.v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = v_value

    def paste(self, image: YuvImage, x: int, y: int) -> None:
        x, y = _even(x), _even(y)
        box = self._clip(x, y, image.width, image.height)
        if box is None:
            return
        x0, y0, x1, y1 = box
        sx, sy = x0 - x, y0 - y
        part = image.crop(sx, sy, x1 - x0, y1 - y0)
        self.image.y[y0:y1, x0:x1] = part.y
        self.image.u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = part.u
        self.image.v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = part.v

    def blend(self, rgba: np.ndarray, x: int, y: int) -> None:
        """Alpha-blend a (cached, read-only) RGBA image at (x, y), clipped to the picture."""
        overlay = _overlay(rgba)
        x, y = _even(x), _even(y)
        box = self._clip(x, y, overlay.width, overlay.height)
        if box is None:
            return
        x0, y0, x1, y1 = box
        for scale, plane, (premultiplied, inverse_alpha) in zip(
            (1, 2, 2), self._planes(), overlay.planes, strict=True
        ):
            dst = plane[y0 // scale : y1 // scale, x0 // scale : x1 // scale]
            src = (
                slice((y0 - y) // scale, (y1 - y) // scale),
                slice((x0 - x) // scale, (x1 - x) // scale),
            )
            # >> 8 instead of / 255: at most one level darker, and several times faster.
            dst[:] = ((dst * inverse_alpha[src] + premultiplied[src]) >> 8).astype(np.uint8)

    def to_frame(self) -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(self.buffer, format="yuv420p")

    def to_rgb(self) -> np.ndarray:
        """The picture in RGB (H × W × 3 uint8), as a browser shows it (tests, previews)."""
        return self.to_frame().to_ndarray(format="rgb24")


def _frame_size(frame: np.ndarray | av.VideoFrame | YuvImage) -> tuple[int, int]:
    if isinstance(frame, av.VideoFrame | YuvImage):
        return frame.width, frame.height
    return frame.shape[1], frame.shape[0]


_thread_local = threading.local()


def frame_to_yuv(frame: np.ndarray | av.VideoFrame | YuvImage, w: int, h: int) -> YuvImage:
    """A frame as a yuv420p image of exactly ``w`` × ``h`` (even) pixels.

    A decoded camera frame slightly larger than the box (a 320×240 camera in a 316×236 tile)
    is centre-cropped: a few pixels of its edges for no scaling at all.
    """
    if isinstance(frame, YuvImage) and (frame.width, frame.height) == (w, h):
        return frame
    if isinstance(frame, av.VideoFrame):
        fw, fh = frame.width, frame.height
        if (
            frame.format.name == "yuv420p"
            and 0 <= fw - w <= _CROP_SLACK
            and 0 <= fh - h <= _CROP_SLACK
            and fw % 2 == 0
            and fh % 2 == 0
        ):
            whole = YuvImage.from_yuv420p(frame.to_ndarray(), fw, fh)
            return whole.crop(_even((fw - w) // 2), _even((fh - h) // 2), w, h)
        # swscale scales (and converts when needed) in one C pass. Not through
        # frame.reformat(): it caches one swscale context *on the frame* and runs it without
        # the GIL, so two viewers' threads scaling the same frame (a shared screen, a camera
        # seen by several people) used one context at once and crashed the server. One
        # reformatter per thread instead (each keeps its context for the sizes it serves).
        reformatter = getattr(_thread_local, "reformatter", None)
        if reformatter is None:
            reformatter = _thread_local.reformatter = VideoReformatter()
        scaled = reformatter.reformat(frame, width=w, height=h, format="yuv420p")
        return YuvImage.from_yuv420p(scaled.to_ndarray(), w, h)
    if isinstance(frame, YuvImage):
        frame = frame_to_rgb(frame)
    arr = np.asarray(frame)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.shape[:2] != (h, w):
        arr = np.asarray(Image.fromarray(arr).resize((w, h), Image.Resampling.BILINEAR))
    return YuvImage.from_rgb(arr)


def frame_to_rgb(image: YuvImage) -> np.ndarray:
    packed = np.concatenate([image.y.reshape(-1), image.u.reshape(-1), image.v.reshape(-1)])
    frame = av.VideoFrame.from_ndarray(
        packed.reshape(image.height * 3 // 2, image.width), format="yuv420p"
    )
    return frame.to_ndarray(format="rgb24")


def fitted(frame: np.ndarray | av.VideoFrame | YuvImage, rect: Rect) -> tuple[int, int]:
    """The even size a frame takes in its box (letterboxed), at least 2 × 2."""
    fw, fh = fit_size(*_frame_size(frame), rect.w, rect.h)
    return max(2, _even(fw)), max(2, _even(fh))


def _draw_frame(
    canvas: YuvPicture, frame: np.ndarray | av.VideoFrame | YuvImage, rect: Rect
) -> None:
    if isinstance(frame, YuvImage) and frame.width <= rect.w and frame.height <= rect.h:
        image = frame  # scaled for this box already (Room caches one per camera frame)
    else:
        image = frame_to_yuv(frame, *fitted(frame, rect))
    canvas.paste(image, rect.x + (rect.w - image.width) // 2, rect.y + (rect.h - image.height) // 2)


def _draw_label(canvas: YuvPicture, text: str, muted: bool, rect: Rect) -> None:
    margin = max(2, rect.h // 40)
    label = _label_rgba(text, muted, _font_px_for(rect.h), max(8, rect.w - 2 * margin))
    canvas.blend(label, rect.x + margin, rect.y + rect.h - label.shape[0] - margin)


@functools.lru_cache(maxsize=128)
def _placeholder_yuv(name: str, w: int, h: int) -> YuvImage:
    return YuvImage.from_rgb(_placeholder_rgb(name, w, h))


def _draw_tile(canvas: YuvPicture, tile: Tile, rect: Rect) -> None:
    canvas.fill(rect, _CELL_BACKGROUND)
    if tile.camera_off or tile.frame is None:
        canvas.paste(_placeholder_yuv(tile.name, _even(rect.w), _even(rect.h)), rect.x, rect.y)
    else:
        _draw_frame(canvas, tile.frame, rect)
    _draw_label(canvas, tile.name, tile.muted, rect)


def _draw_message(canvas: YuvPicture, text: str, rect: Rect) -> None:
    message = _message_rgba(text, _font_px_for(rect.h) + 2)
    canvas.blend(
        message,
        rect.x + (rect.w - message.shape[1]) // 2,
        rect.y + (rect.h - message.shape[0]) // 2,
    )


def _draw_overflow(canvas: YuvPicture, hidden: int, rect: Rect) -> None:
    canvas.fill(rect, _PLACEHOLDER_BACKGROUND)
    _draw_message(canvas, f"+{hidden}", rect)


def _split_overflow(tiles: Sequence[Tile], capacity: int) -> tuple[Sequence[Tile], int]:
    if len(tiles) <= capacity:
        return tiles, 0
    shown = max(0, capacity - 1)
    return tiles[:shown], len(tiles) - shown


def compose_grid_yuv(tiles: Sequence[Tile], *, width: int, height: int) -> YuvPicture:
    """Compose the tiles on a grid; beyond 16 tiles the last one says "+k".

    Frames are letterboxed in their cell; a tile without a frame or with the camera off shows
    the participant's initials; every tile carries its name, with a red marker when muted.
    """
    canvas = YuvPicture(width, height, _BACKGROUND)
    if not tiles:
        _draw_message(canvas, _(_WAITING_TEXT), Rect(0, 0, width, height))
        return canvas
    shown, hidden = _split_overflow(tiles, MAX_GRID_TILES)
    rects = grid_layout(len(shown) + (1 if hidden else 0), width=width, height=height)
    for tile, rect in zip(shown, rects, strict=False):
        _draw_tile(canvas, tile, rect)
    if hidden:
        _draw_overflow(canvas, hidden, rects[-1])
    return canvas


def compose_grid(tiles: Sequence[Tile], *, width: int, height: int) -> np.ndarray:
    """:func:`compose_grid_yuv` as RGB pixels (H × W × 3 uint8)."""
    return compose_grid_yuv(tiles, width=width, height=height).to_rgb()


def compose_with_screen_yuv(
    screen: np.ndarray | av.VideoFrame | None,
    tiles: Sequence[Tile],
    *,
    width: int,
    height: int,
    screen_label: str | None = None,
) -> YuvPicture:
    """Compose a shared screen in a large area above a strip of small participant tiles."""
    canvas = YuvPicture(width, height, _BACKGROUND)
    capacity = strip_capacity(width=width, height=height)
    shown, hidden = _split_overflow(tiles, capacity)
    main, rects = screen_layout(len(shown) + (1 if hidden else 0), width=width, height=height)
    if screen is None:
        _draw_message(canvas, _(_SCREEN_WAITING_TEXT), main)
    else:
        _draw_frame(canvas, screen, main)
    if screen_label:
        _draw_label(canvas, screen_label, False, main)
    for tile, rect in zip(shown, rects, strict=False):
        _draw_tile(canvas, tile, rect)
    if hidden:
        _draw_overflow(canvas, hidden, rects[-1])
    return canvas


def compose_with_screen(
    screen: np.ndarray | av.VideoFrame | None,
    tiles: Sequence[Tile],
    *,
    width: int,
    height: int,
    screen_label: str | None = None,
) -> np.ndarray:
    """:func:`compose_with_screen_yuv` as RGB pixels (H × W × 3 uint8)."""
    return compose_with_screen_yuv(
        screen, tiles, width=width, height=height, screen_label=screen_label
    ).to_rgb()
