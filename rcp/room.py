"""Video room core: participants per meeting, grid composition, mix-minus audio, aiortc tracks."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Literal, NamedTuple, TypeAlias

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageDraw, ImageFont

from rcp.errors import NotFound

logger = logging.getLogger(__name__)

MeetingId: TypeAlias = int | str
ParticipantKey: TypeAlias = int | str

# What aiortc's Opus decoder delivers (aiortc/codecs/opus.py): packed s16, stereo, 48 kHz,
# 960 samples per channel (20 ms). Everything inside the room is mono s16 at 48 kHz.
SAMPLE_RATE = 48_000
AUDIO_PTIME = 0.020
SAMPLES_PER_FRAME = int(SAMPLE_RATE * AUDIO_PTIME)
AUDIO_TIME_BASE = Fraction(1, SAMPLE_RATE)
VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = Fraction(1, VIDEO_CLOCK_RATE)

DEFAULT_FPS = 15
DEFAULT_WIDTH = 640
DEFAULT_HEIGHT = 480
MAX_GRID_TILES = 16
STALE_VIDEO_S = 2.0
# At most 200 ms of audio waits per participant (older samples are dropped: latency stays
# bounded when a browser's clock runs a little fast), and after an underrun 40 ms must
# accumulate again before the participant is heard (a cushion against network jitter).
AUDIO_BUFFER_SAMPLES = 10 * SAMPLES_PER_FRAME
AUDIO_PREBUFFER_SAMPLES = 2 * SAMPLES_PER_FRAME
MIX_HISTORY_TICKS = 8
# The room's picture is VP8-encoded once per tick for everyone (see SharedVideo): a constant
# bit rate (aiortc's own encoder adapts between 250 kb/s and 1.5 Mb/s per receiver), a
# keyframe at least every KEYFRAME_INTERVAL_S so that a receiver who lost a packet recovers
# (a shared encoder cannot answer one receiver's PLI alone), and one at once for a newcomer.
# 600 kb/s: on a 4-person grid of noisy 320×240 cameras, luma PSNR 44.8 dB against 45.6 dB at
# 1 Mb/s, for 68 RTP packets a second to each receiver instead of 106 — and every packet is
# a sendto() on the server's event loop, its largest single cost (bench/RESULTS.md).
VIDEO_BITRATE = 600_000
KEYFRAME_INTERVAL_S = 1.0
# Audio is Opus-encoded by the room too (see Room.audio_packet_for), mono voice.
AUDIO_BITRATE = 48_000

_GAP = 2
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
_WAITING_TEXT = "En attente des autres participants…"
_SCREEN_WAITING_TEXT = "Partage d'écran en attente…"


class NotInRoom(NotFound):
    """Raised when an action names a participant who is not (or no longer) in the room.

    Typically a stale page acting after its stream stopped: rerun the page, which joins again.
    """

    default_message = "Ce participant n'est pas (ou plus) dans la salle de visioconférence."


class _RoomClosed(Exception):
    """Raised internally when a closed room is joined; the registry then makes a new one."""


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


def _fitted(frame: np.ndarray | av.VideoFrame | YuvImage, rect: Rect) -> tuple[int, int]:
    """The even size a frame takes in its box (letterboxed), at least 2 × 2."""
    fw, fh = fit_size(*_frame_size(frame), rect.w, rect.h)
    return max(2, _even(fw)), max(2, _even(fh))


def _draw_frame(
    canvas: YuvPicture, frame: np.ndarray | av.VideoFrame | YuvImage, rect: Rect
) -> None:
    if isinstance(frame, YuvImage) and frame.width <= rect.w and frame.height <= rect.h:
        image = frame  # scaled for this box already (Room caches one per camera frame)
    else:
        image = frame_to_yuv(frame, *_fitted(frame, rect))
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
        _draw_message(canvas, _WAITING_TEXT, Rect(0, 0, width, height))
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
        _draw_message(canvas, _SCREEN_WAITING_TEXT, main)
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


# --------------------------------------------------------------------------- audio


def mix_minus(
    chunks: Mapping[ParticipantKey, np.ndarray | None],
) -> dict[ParticipantKey, np.ndarray]:
    """For each participant, the sum of all the others' samples, clipped to int16.

    Computed as (total − own) in int32, so the cost is O(N) and not O(N²). ``None`` or short
    chunks (a late or missing participant) count as silence and are zero-padded to the
    longest chunk; every chunk must otherwise have the same shape (e.g. all mono 1-D).
    """
    arrays = {k: None if c is None else np.asarray(c, dtype=np.int16) for k, c in chunks.items()}
    present = [a for a in arrays.values() if a is not None]
    if not present:
        return {k: np.zeros(0, dtype=np.int16) for k in arrays}
    lead_shape = present[0].shape[:-1]
    if any(a.shape[:-1] != lead_shape for a in present):
        raise ValueError("all audio chunks must share one channel layout")
    n = max(a.shape[-1] for a in present)
    total = np.zeros((*lead_shape, n), dtype=np.int32)
    for a in present:
        total[..., : a.shape[-1]] += a
    out: dict[ParticipantKey, np.ndarray] = {}
    for key, a in arrays.items():
        mixed = total.copy()
        if a is not None:
            mixed[..., : a.shape[-1]] -= a
        out[key] = np.clip(mixed, -32768, 32767).astype(np.int16)
    return out


def audio_frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    """Samples of a 48 kHz frame as mono int16 (1-D), averaging the channels.

    aiortc's Opus decoder delivers packed s16 stereo (``to_ndarray()`` is 1 × 2n, interleaved);
    planar and float formats are handled too. Other rates need a resampler: see ``Room``.
    """
    arr = frame.to_ndarray()
    channels = len(frame.layout.channels)
    samples = frame.samples
    if frame.format.is_planar:
        per_channel = arr.reshape(channels, samples).T
    else:
        per_channel = arr.reshape(samples, channels)
    name = frame.format.name.rstrip("p")
    if name == "flt" or name == "dbl":
        per_channel = np.clip(per_channel * 32767.0, -32768, 32767)
    elif name == "s32":
        per_channel = per_channel >> 16
    elif name == "u8":
        per_channel = (per_channel.astype(np.int32) - 128) << 8
    if channels == 1:
        return per_channel[:, 0].astype(np.int16)
    return (per_channel.astype(np.int32).sum(axis=1) // channels).astype(np.int16)


class _AudioBuffer:
    """A bounded FIFO of mono samples with a jitter cushion after each underrun."""

    def __init__(self) -> None:
        self._chunks: deque[np.ndarray] = deque()
        self._size = 0
        self._primed = False

    def __len__(self) -> int:
        return self._size

    def write(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        self._chunks.append(samples)
        self._size += samples.size
        excess = self._size - AUDIO_BUFFER_SAMPLES
        while excess > 0:
            head = self._chunks[0]
            if head.size <= excess:
                self._chunks.popleft()
                self._size -= head.size
                excess -= head.size
            else:
                self._chunks[0] = head[excess:]
                self._size -= excess
                excess = 0

    def read(self, n: int) -> np.ndarray | None:
        """Exactly ``n`` samples (zero-padded on underrun), or None while (re)buffering."""
        if not self._primed:
            if self._size < AUDIO_PREBUFFER_SAMPLES:
                return None
            self._primed = True
        out = np.zeros(n, dtype=np.int16)
        filled = 0
        while filled < n and self._chunks:
            head = self._chunks[0]
            take = min(n - filled, head.size)
            out[filled : filled + take] = head[:take]
            filled += take
            if take == head.size:
                self._chunks.popleft()
            else:
                self._chunks[0] = head[take:]
            self._size -= take
        if filled < n:
            self._primed = False
        return out

    def clear(self) -> None:
        self._chunks.clear()
        self._size = 0
        self._primed = False


# --------------------------------------------------------------------------- room


@dataclass(frozen=True)
class ParticipantInfo:
    """A participant as shown in lists (no media)."""

    key: ParticipantKey
    name: str
    joined_at: datetime
    muted: bool
    camera_off: bool
    has_video: bool
    sharing_screen: bool

    @property
    def initials(self) -> str:
        return initials(self.name)


@dataclass(frozen=True)
class RoomEvent:
    """A join or a leave, handed to the registry's callbacks (e.g. to write Attendance rows)."""

    kind: Literal["join", "leave"]
    meeting_id: MeetingId
    participant: ParticipantInfo
    at: datetime


RoomCallback: TypeAlias = Callable[[RoomEvent], None]


class _Participant:
    def __init__(self, key: ParticipantKey, name: str, joined_at: datetime, now_s: float) -> None:
        self.key = key
        self.name = name
        self.joined_at = joined_at
        self.muted = False
        self.camera_off = False
        self.frame: np.ndarray | av.VideoFrame | None = None
        self.frame_at = 0.0
        self.frame_version = 0
        self.last_media_at = now_s
        self.audio = _AudioBuffer()
        self.resampler: av.AudioResampler | None = None
        self.scaled: dict[tuple[int, int], tuple[int, YuvImage]] = {}
        self.tracks: tuple[RoomVideoTrack, RoomAudioTrack] | None = None
        self.seat: str | None = None  # the browser tab holding the seat (None: not tracked)
        self.opus: _OpusEncoder | None = None  # their mix-minus stream


class Room:
    """The live state of one meeting's video room; every method is thread-safe.

    Holds per participant the latest camera frame, a short audio buffer and the muted / camera
    flags, plus the screen-share owner and its latest frame. Media callbacks run on aiortc's
    event loop and the Streamlit script threads concurrently: one lock guards the state, and
    no callback, drawing or encoding happens while it is held.
    """

    def __init__(
        self,
        meeting_id: MeetingId,
        *,
        on_join: RoomCallback | None = None,
        on_leave: RoomCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.meeting_id = meeting_id
        self._on_join = on_join
        self._on_leave = on_leave
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._participants: dict[ParticipantKey, _Participant] = {}
        self._closed = False
        self._screen_owner: ParticipantKey | None = None
        self._screen_frame: np.ndarray | av.VideoFrame | None = None
        self._mix_tick = -1
        self._mix_history: deque[tuple[int, dict[ParticipantKey, np.ndarray]]] = deque(
            maxlen=MIX_HISTORY_TICKS
        )
        # Per tick: each participant's packet.
        self._packet_history: deque[tuple[int, dict[ParticipantKey, bytes]]] = deque(
            maxlen=MIX_HISTORY_TICKS
        )
        self._silence = _OpusEncoder().encode(np.zeros(SAMPLES_PER_FRAME, dtype=np.int16))
        self.audio_encodes = 0  # Opus packets encoded so far (benchmarks and tests read it)
        self._videos: dict[tuple[float, int, int], SharedVideo] = {}

    # -- membership

    def join(
        self,
        key: ParticipantKey,
        name: str,
        *,
        muted: bool = False,
        camera_off: bool = False,
        seat: str | None = None,
    ) -> ParticipantInfo:
        """Enter the room with the given flags; for someone already in it, only update the name.

        Idempotent, so a page may call it on every rerun without resetting the flags the
        participant changed since. The join callback fires only for a new participant.

        One seat per participant: ``seat`` names the browser tab that holds it. Joining from
        another tab moves the seat there — the old tab's outgoing tracks stop, its media and
        its leave are ignored from then on (see :meth:`seat_of`) — instead of two tabs
        feeding one tile and the first one to close taking the other out of the room.
        """
        with self._lock:
            if self._closed:
                raise _RoomClosed
            participant = self._participants.get(key)
            is_new = participant is None
            stopped: tuple[RoomVideoTrack, RoomAudioTrack] | None = None
            if participant is None:
                participant = _Participant(key, name, self._now(), self._clock())
                participant.muted = muted
                participant.camera_off = camera_off
                participant.seat = seat
                self._participants[key] = participant
            elif seat is not None and participant.seat != seat:
                stopped, participant.tracks = participant.tracks, None
                participant.seat = seat
                participant.frame = None
                participant.audio.clear()
                participant.muted = muted
                participant.camera_off = camera_off
                participant.last_media_at = self._clock()
            participant.name = name
            info = self._info(participant)
        for track in stopped or ():
            track.stop()
        if is_new and self._on_join is not None:
            self._on_join(RoomEvent("join", self.meeting_id, info, info.joined_at))
        return info

    def leave(self, key: ParticipantKey, *, seat: str | None = None) -> ParticipantInfo | None:
        """Leave the room (stopping this participant's outgoing tracks); None if not in it.

        With ``seat``, only if that tab still holds the seat (a tab whose seat moved to
        another one leaves nothing).
        """
        with self._lock:
            participant = self._participants.get(key)
            if participant is None or (seat is not None and participant.seat != seat):
                return None
            del self._participants[key]
            info = self._info(participant)
            if self._screen_owner == key:
                self._screen_owner = None
                self._screen_frame = None
            tracks = participant.tracks
        if tracks is not None:
            for track in tracks:
                track.stop()
        if self._on_leave is not None:
            self._on_leave(RoomEvent("leave", self.meeting_id, info, self._now()))
        return info

    def close(self) -> list[ParticipantInfo]:
        """Make everyone leave (callbacks fire) and refuse later joins; returns who left."""
        with self._lock:
            self._closed = True
            keys = list(self._participants)
        return [info for key in keys if (info := self.leave(key)) is not None]

    def prune_idle(self, *, max_idle_s: float) -> list[ParticipantInfo]:
        """Make leave whoever sent no media for ``max_idle_s`` (a closed tab, a dead network)."""
        limit = self._clock() - max_idle_s
        with self._lock:
            idle = [k for k, p in self._participants.items() if p.last_media_at < limit]
        return [info for key in idle if (info := self.leave(key)) is not None]

    def seat_of(self, key: ParticipantKey) -> str | None:
        """The tab holding ``key``'s seat (None if not in the room or not tracked)."""
        with self._lock:
            participant = self._participants.get(key)
            return None if participant is None else participant.seat

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._participants

    def __len__(self) -> int:
        with self._lock:
            return len(self._participants)

    @property
    def closed(self) -> bool:
        return self._closed

    def participants(self) -> list[ParticipantInfo]:
        """Everyone in the room, in order of arrival."""
        with self._lock:
            return [self._info(p) for p in self._participants.values()]

    def _info(self, p: _Participant) -> ParticipantInfo:
        return ParticipantInfo(
            key=p.key,
            name=p.name,
            joined_at=p.joined_at,
            muted=p.muted,
            camera_off=p.camera_off,
            has_video=self._fresh_frame(p) is not None,
            sharing_screen=self._screen_owner == p.key,
        )

    def _get(self, key: ParticipantKey) -> _Participant:
        participant = self._participants.get(key)
        if participant is None:
            raise NotInRoom
        return participant

    # -- flags and screen sharing

    def set_muted(self, key: ParticipantKey, muted: bool) -> None:
        """Mute or unmute: a muted participant's audio is dropped on arrival, heard by nobody."""
        with self._lock:
            participant = self._get(key)
            participant.muted = muted
            if muted:
                participant.audio.clear()

    def set_camera_off(self, key: ParticipantKey, camera_off: bool) -> None:
        """Camera off: the others see the initials tile even if frames still arrive."""
        with self._lock:
            self._get(key).camera_off = camera_off

    def grant_screen(self, key: ParticipantKey) -> None:
        """Give the (single) screen share to a participant; permission checks belong to services."""
        with self._lock:
            self._get(key)
            if self._screen_owner != key:
                self._screen_frame = None
            self._screen_owner = key

    def revoke_screen(self) -> None:
        """End the screen share: everyone is back to the grid."""
        with self._lock:
            self._screen_owner = None
            self._screen_frame = None

    @property
    def screen_owner(self) -> ParticipantKey | None:
        with self._lock:
            return self._screen_owner

    # -- ingest (called from aiortc's event loop: cheap, no conversion here)

    def push_video(
        self, key: ParticipantKey, frame: np.ndarray | av.VideoFrame, *, seat: str | None = None
    ) -> bool:
        """Keep a participant's latest camera frame; False if the key is not in the room (or
        ``seat`` no longer holds its seat)."""
        with self._lock:
            participant = self._participants.get(key)
            if participant is None or (seat is not None and participant.seat != seat):
                return False
            participant.frame = frame
            participant.frame_at = participant.last_media_at = self._clock()
            participant.frame_version += 1
            return True

    def push_screen(self, key: ParticipantKey, frame: np.ndarray | av.VideoFrame) -> bool:
        """Keep the shared screen's latest frame; ignored (False) unless ``key`` owns the share."""
        with self._lock:
            if self._screen_owner != key:
                return False
            self._screen_frame = frame
            return True

    def push_audio(
        self, key: ParticipantKey, audio: np.ndarray | av.AudioFrame, *, seat: str | None = None
    ) -> bool:
        """Queue a participant's samples (an aiortc frame, or mono int16 at 48 kHz).

        Muted participants' audio is dropped here. False if the key is not in the room (or
        ``seat`` no longer holds its seat).
        """
        with self._lock:
            participant = self._participants.get(key)
            if participant is None or (seat is not None and participant.seat != seat):
                return False
            participant.last_media_at = self._clock()
            if participant.muted:
                return True
            if isinstance(audio, av.AudioFrame):
                samples = self._to_mono(participant, audio)
            else:
                samples = np.array(audio, dtype=np.int16).reshape(
                    -1
                )  # a copy: callers reuse buffers
            participant.audio.write(samples)
            return True

    @staticmethod
    def _to_mono(participant: _Participant, frame: av.AudioFrame) -> np.ndarray:
        if frame.sample_rate == SAMPLE_RATE and frame.format.name in {"s16", "s16p", "flt", "fltp"}:
            return audio_frame_to_mono(frame)
        # Another codec (e.g. G.711 at 8 kHz) or format: a per-participant resampler, since
        # it keeps filter state from one frame to the next.
        if participant.resampler is None:
            participant.resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        parts = [f.to_ndarray().reshape(-1) for f in participant.resampler.resample(frame)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    # -- outgoing media

    def _fresh_frame(self, p: _Participant) -> np.ndarray | av.VideoFrame | None:
        if p.frame is None or self._clock() - p.frame_at > STALE_VIDEO_S:
            return None
        return p.frame

    def tiles_for(
        self, viewer: ParticipantKey | None, *, size: tuple[int, int] | None = None
    ) -> list[Tile]:
        """The tiles a viewer sees: everyone else, in order of arrival.

        With ``size`` (w, h), frames are pre-scaled to fit that box, and the scaled picture is
        cached per participant and frame, so N viewers scale each camera once, not N times.
        """
        with self._lock:
            snapshot = [
                (p, self._fresh_frame(p), p.frame_version, p.muted, p.camera_off)
                for k, p in self._participants.items()
                if k != viewer
            ]
        tiles = []
        for p, frame, version, muted, camera_off in snapshot:
            if frame is not None and not camera_off and size is not None:
                frame = self._scaled(p, frame, version, size)
            tiles.append(Tile(p.name, None if camera_off else frame, muted, camera_off))
        return tiles

    @staticmethod
    def _scaled(
        p: _Participant, frame: np.ndarray | av.VideoFrame, version: int, box: tuple[int, int]
    ) -> YuvImage:
        size = _fitted(frame, Rect(0, 0, *box))
        cached = p.scaled.get(size)
        if cached is not None and cached[0] == version:
            return cached[1]
        scaled = frame_to_yuv(frame, *size)
        # Benign race: two viewers may scale the same frame at once; the last write wins.
        if len(p.scaled) > 4:
            p.scaled.clear()
        p.scaled[size] = (version, scaled)
        return scaled

    def render_view(
        self,
        viewer: ParticipantKey | None,
        *,
        width: int = DEFAULT_WIDTH,
        height: int = DEFAULT_HEIGHT,
    ) -> np.ndarray:
        """:meth:`render_picture` as RGB pixels (H × W × 3 uint8)."""
        return self.render_picture(viewer, width=width, height=height).to_rgb()

    def render_picture(
        self,
        viewer: ParticipantKey | None,
        *,
        width: int = DEFAULT_WIDTH,
        height: int = DEFAULT_HEIGHT,
    ) -> YuvPicture:
        """The picture ``viewer`` receives (None: everyone, as the room sends it): the grid,
        or the shared screen above a strip."""
        with self._lock:
            owner = self._screen_owner
            screen = self._screen_frame
            owner_name = self._participants[owner].name if owner in self._participants else None
            n_others = sum(1 for k in self._participants if k != viewer)
        if owner is None:
            rects = grid_layout(min(n_others, MAX_GRID_TILES), width=width, height=height)
            size = (rects[0].w, rects[0].h) if rects else None
            return compose_grid_yuv(self.tiles_for(viewer, size=size), width=width, height=height)
        _, rects = screen_layout(
            min(n_others, strip_capacity(width=width, height=height)), width=width, height=height
        )
        size = (rects[0].w, rects[0].h) if rects else None
        label = f"Écran partagé par {owner_name}" if owner_name else None
        return compose_with_screen_yuv(
            screen,
            self.tiles_for(viewer, size=size),
            width=width,
            height=height,
            screen_label=label,
        )

    def current_audio_tick(self) -> int:
        """Index of the last 20 ms mix computed; a new audio track starts right after it."""
        with self._lock:
            return self._mix_tick

    def audio_for(self, key: ParticipantKey, tick: int) -> np.ndarray:
        """The 20 ms mix-minus (960 mono int16 samples) that ``key`` hears at ``tick``.

        Outgoing audio tracks share one room clock: the first track asking for a new tick
        advances the mix (reads 20 ms from every buffer, O(N)); the others read it from a
        short history. A tick older than the history, or a key unknown then, gets silence.
        """
        with self._lock:
            self._advance_to(tick)
            for past_tick, mixes in self._mix_history:
                if past_tick == tick:
                    mixed = mixes.get(key)
                    if mixed is not None:
                        return mixed
        return np.zeros(SAMPLES_PER_FRAME, dtype=np.int16)

    def audio_packet_for(self, key: ParticipantKey, tick: int) -> bytes:
        """What ``key`` hears at ``tick`` — their mix-minus — as one Opus packet (20 ms, mono).

        Encoded here, once per participant and tick, with that participant's own encoder,
        when the tick's mix is computed: aiortc then packs the bytes as they are, without a
        thread hop per frame to its encoder nor its pure-Python audio-level pass over every
        sample. A tick or key not known gets silence.
        """
        with self._lock:
            self._advance_to(tick)
            for past_tick, packets in self._packet_history:
                if past_tick == tick:
                    return packets.get(key, self._silence)
            return self._silence

    def _advance_to(self, tick: int) -> None:
        if tick > self._mix_tick:
            if tick - self._mix_tick > MIX_HISTORY_TICKS:
                self._mix_tick = tick - 1  # a long stall: skip, do not drain in a burst
            while self._mix_tick < tick:
                self._advance_mix()

    def _advance_mix(self) -> None:
        chunks = {k: p.audio.read(SAMPLES_PER_FRAME) for k, p in self._participants.items()}
        mixes = mix_minus(chunks) if any(c is not None for c in chunks.values()) else {}
        self._mix_tick += 1
        self._mix_history.append((self._mix_tick, mixes))
        packets: dict[ParticipantKey, bytes] = {}
        for key, participant in self._participants.items():
            if participant.tracks is None:
                continue  # nobody listens through this participant's track yet
            if participant.opus is None:
                participant.opus = _OpusEncoder()
            mixed = mixes.get(key)
            if mixed is None or mixed.size != SAMPLES_PER_FRAME:
                mixed = np.zeros(SAMPLES_PER_FRAME, dtype=np.int16)
            packets[key] = participant.opus.encode(mixed)
            self.audio_encodes += 1
        self._packet_history.append((self._mix_tick, packets))

    def outgoing_tracks(
        self,
        key: ParticipantKey,
        *,
        fps: float = DEFAULT_FPS,
        width: int = DEFAULT_WIDTH,
        height: int = DEFAULT_HEIGHT,
    ) -> tuple[RoomVideoTrack, RoomAudioTrack]:
        """This participant's outgoing (video, audio) tracks, the same ones while they are live.

        Pass them as ``source_video_track`` / ``source_audio_track``; they stop on leave.
        """
        with self._lock:
            participant = self._get(key)
            tracks = participant.tracks
            if tracks is None or any(t.readyState != "live" for t in tracks):
                video = self._videos.get((fps, width, height))
                if video is None:
                    video = SharedVideo(self, fps=fps, width=width, height=height)
                    self._videos[(fps, width, height)] = video
                tracks = (RoomVideoTrack(video), RoomAudioTrack(self, key))
                participant.tracks = tracks
            return tracks

    def shared_video(
        self, *, fps: float = DEFAULT_FPS, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT
    ) -> SharedVideo | None:
        """The encoder every participant's video track of that format reads from, if any."""
        with self._lock:
            return self._videos.get((fps, width, height))


class RoomRegistry:
    """The rooms of this server process, keyed by meeting id (all of a meeting's participants
    must be served by one process: sticky sessions by meeting)."""

    def __init__(
        self,
        *,
        on_join: RoomCallback | None = None,
        on_leave: RoomCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._on_join = on_join
        self._on_leave = on_leave
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._rooms: dict[MeetingId, Room] = {}

    def room(self, meeting_id: MeetingId) -> Room:
        """The meeting's room, created empty if needed."""
        with self._lock:
            room = self._rooms.get(meeting_id)
            if room is None or room.closed:
                room = Room(
                    meeting_id,
                    on_join=self._on_join,
                    on_leave=self._on_leave,
                    clock=self._clock,
                    now=self._now,
                )
                self._rooms[meeting_id] = room
            return room

    def get(self, meeting_id: MeetingId) -> Room | None:
        """The meeting's room if it exists (an existing room may be empty)."""
        with self._lock:
            return self._rooms.get(meeting_id)

    def meeting_ids(self) -> list[MeetingId]:
        with self._lock:
            return list(self._rooms)

    def join(
        self,
        meeting_id: MeetingId,
        key: ParticipantKey,
        name: str,
        *,
        muted: bool = False,
        camera_off: bool = False,
        seat: str | None = None,
    ) -> Room:
        """Enter a meeting's room (see :meth:`Room.join`) and return the room."""
        for _ in range(3):
            room = self.room(meeting_id)
            try:
                room.join(key, name, muted=muted, camera_off=camera_off, seat=seat)
            except _RoomClosed:
                continue  # closed between lookup and join: the next lookup makes a new room
            return room
        raise RuntimeError(f"room {meeting_id!r} keeps closing")

    def leave(
        self, meeting_id: MeetingId, key: ParticipantKey, *, seat: str | None = None
    ) -> ParticipantInfo | None:
        """Leave a meeting's room; None if not in it. The (maybe empty) room stays."""
        room = self.get(meeting_id)
        return None if room is None else room.leave(key, seat=seat)

    def close(self, meeting_id: MeetingId) -> list[ParticipantInfo]:
        """End a meeting's room: everyone leaves (callbacks fire) and the room is forgotten."""
        with self._lock:
            room = self._rooms.pop(meeting_id, None)
        return [] if room is None else room.close()

    def prune_idle(self, *, max_idle_s: float) -> list[ParticipantInfo]:
        """:meth:`Room.prune_idle` on every room."""
        with self._lock:
            rooms = list(self._rooms.values())
        return [info for room in rooms for info in room.prune_idle(max_idle_s=max_idle_s)]


# --------------------------------------------------------------------------- aiortc tracks


def vp8_only() -> None:
    """Make aiortc negotiate VP8 alone for video and Opus alone for audio, in this process.

    The room hands aiortc packets it encoded itself (``SharedVideo``, ``audio_packet_for``),
    so no receiver may negotiate another codec. aiortc answers with the codecs of the offer it
    also supports, in the offer's order (``find_common_codecs`` over
    ``aiortc.codecs.CODECS``): with H.264, G.722 and G.711 gone from that list, Safari (which
    offers H.264 first) gets VP8 too. Chrome, Edge, Firefox and Safari ≥ 12.1 all support VP8
    and Opus. Incoming media (cameras, microphones, shared screens) is VP8/Opus as well.
    Idempotent.
    """
    from aiortc.codecs import CODECS, is_rtx

    video = CODECS["video"]
    vp8 = {c.payloadType for c in video if c.mimeType.lower() == "video/vp8"}
    video[:] = [
        c for c in video if c.payloadType in vp8 or (is_rtx(c) and c.parameters.get("apt") in vp8)
    ]
    CODECS["audio"][:] = [c for c in CODECS["audio"] if c.mimeType.lower() == "audio/opus"]


def _vp8_encoder(width: int, height: int, fps: float) -> av.video.codeccontext.VideoCodecContext:
    """libvpx in real-time CBR mode, with the options aiortc's own VP8 encoder uses."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.bit_rate = VIDEO_BITRATE
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, VIDEO_CLOCK_RATE)
    codec.framerate = Fraction(fps).limit_denominator(1000)
    codec.gop_size = max(1, round(fps * KEYFRAME_INTERVAL_S))
    codec.qmin, codec.qmax = 2, 56
    codec.thread_count = 1
    codec.options = {
        "bufsize": str(VIDEO_BITRATE),
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": str(VIDEO_BITRATE),
        "maxrate": str(VIDEO_BITRATE),
        "noise-sensitivity": "4",
        "overshoot-pct": "15",
        "partitions": "0",
        "static-thresh": "1",
        "undershoot-pct": "100",
    }
    return codec


@dataclass(frozen=True)
class EncodedPicture:
    """The room's picture at one tick of its video clock, VP8-encoded."""

    tick: int
    data: bytes
    keyframe: bool


class SharedVideo:
    """The room's picture, composed and VP8-encoded once per tick for every participant.

    Everyone sees the same grid — every participant with their name, oneself included, or the
    shared screen above a strip — so one composition and one encode per frame serve the whole
    room: the encoding cost no longer grows with the number of receivers (with one encoder
    per receiver, as aiortc does for frames, 4 people cost 4 encodes per frame; with relays,
    12). Ticks come from one room clock (``fps`` per second since creation); the first track
    asking for a new tick encodes it (in its worker thread), the others reuse it.
    """

    def __init__(
        self,
        room: Room,
        *,
        fps: float = DEFAULT_FPS,
        width: int = DEFAULT_WIDTH,
        height: int = DEFAULT_HEIGHT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if fps <= 0 or width % 2 or height % 2:
            raise ValueError("fps must be positive and the size even (yuv420p encoders)")
        self.room = room
        self.fps, self.width, self.height = fps, width, height
        self.clock = clock
        self._epoch = clock()
        self._lock = threading.Lock()
        self._codec: av.video.codeccontext.VideoCodecContext | None = None
        self._latest: EncodedPicture | None = None
        self._want_keyframe = True
        self.encodes = 0  # pictures encoded so far (benchmarks and tests read it)

    def tick_at(self, t: float) -> int:
        return int((t - self._epoch) * self.fps)

    def time_of(self, tick: int) -> float:
        return self._epoch + tick / self.fps

    def now_tick(self) -> int:
        return self.tick_at(self.clock())

    def request_keyframe(self) -> None:
        """The next encoded picture is a keyframe (a newcomer cannot decode before one)."""
        with self._lock:
            self._want_keyframe = True

    def picture(self, tick: int) -> EncodedPicture:
        """The picture of ``tick``, or of a later tick already encoded; encodes it if new."""
        with self._lock:
            latest = self._latest
            if latest is not None and latest.tick >= tick:
                return latest
            frame = self.room.render_picture(None, width=self.width, height=self.height).to_frame()
            frame.pts = round(tick * VIDEO_CLOCK_RATE / self.fps)
            frame.time_base = VIDEO_TIME_BASE
            if self._want_keyframe:
                frame.pict_type = av.video.frame.PictureType.I
            if self._codec is None:
                self._codec = _vp8_encoder(self.width, self.height, self.fps)
            packets = self._codec.encode(frame)
            self.encodes += 1
            data = b"".join(bytes(p) for p in packets)
            keyframe = any(p.is_keyframe for p in packets)
            if keyframe:
                self._want_keyframe = False
            self._latest = EncodedPicture(tick, data, keyframe)
            return self._latest


class RoomVideoTrack(MediaStreamTrack):
    """The video one participant receives: the room's shared picture as VP8 packets.

    aiortc's sender packs ``av.Packet`` objects without encoding them
    (``RTCRtpSender._next_encoded_frame``: "Pack the pre-encoded data"), so every receiver
    shares ``SharedVideo``'s one encode. Pacing follows the room's video clock, so all tracks
    ask for the same tick at the same time; a track starts with a keyframe and skips a late
    tick rather than bursting. The encode runs in a worker thread: streamlit-webrtc drives
    every peer connection on Streamlit's own server event loop, which must not block.
    """

    kind = "video"

    def __init__(self, video: SharedVideo) -> None:
        super().__init__()
        self._video = video
        self._first_tick: int | None = None
        self._last_tick: int | None = None
        self._keyframe_seen = False

    async def recv(self) -> av.Packet:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            video = self._video
            if self._last_tick is None:
                video.request_keyframe()
                tick = video.now_tick()
            else:
                tick = max(self._last_tick + 1, video.now_tick())
                wait = video.time_of(tick) - video.clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            picture = await asyncio.to_thread(video.picture, tick)
            if self.readyState != "live":
                raise MediaStreamError
            self._last_tick = picture.tick
            if not picture.data or not (self._keyframe_seen or picture.keyframe):
                continue  # a newcomer waits for the keyframe it asked for (next tick)
            self._keyframe_seen = True
            if self._first_tick is None:
                self._first_tick = picture.tick
            packet = av.Packet(picture.data)
            packet.pts = round((picture.tick - self._first_tick) * VIDEO_CLOCK_RATE / video.fps)
            packet.time_base = VIDEO_TIME_BASE
            packet.is_keyframe = picture.keyframe
            return packet


class _OpusEncoder:
    """libopus for voice, mono 48 kHz, one 20 ms packet per call (what aiortc's sender packs)."""

    def __init__(self) -> None:
        codec = av.CodecContext.create("libopus", "w")
        codec.bit_rate = AUDIO_BITRATE
        codec.format = "s16"
        codec.layout = "mono"
        codec.sample_rate = SAMPLE_RATE
        codec.time_base = AUDIO_TIME_BASE
        # Complexity 5 of 10: 40 % less CPU per stream than the default 10, measured here
        # (one encoder per listener, 50 packets a second each), for mono voice at 48 kb/s.
        codec.options = {"application": "voip", "compression_level": "5"}
        self._codec = codec
        self._pts = 0

    def encode(self, samples: np.ndarray) -> bytes:
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts, frame.time_base = self._pts, AUDIO_TIME_BASE
        self._pts += SAMPLES_PER_FRAME
        return b"".join(bytes(p) for p in self._codec.encode(frame))


class RoomAudioTrack(MediaStreamTrack):
    """The audio one participant receives: everyone else's mix, as 20 ms Opus packets."""

    kind = "audio"

    def __init__(self, room: Room, key: ParticipantKey) -> None:
        super().__init__()
        self._room = room
        self._key = key
        self._started_at: float | None = None
        self._first_tick = 0
        self._pts = 0

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self._started_at is None:
            self._started_at = time.monotonic()
            self._first_tick = self._room.current_audio_tick() + 1
            self._pts = 0
        else:
            self._pts += SAMPLES_PER_FRAME
            wait = self._started_at + self._pts / SAMPLE_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            elif -wait > 5 * AUDIO_PTIME:
                # A long stall (e.g. the event loop was busy): jump ahead instead of bursting.
                elapsed = int((time.monotonic() - self._started_at) * SAMPLE_RATE)
                self._pts = max(self._pts, elapsed // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME)
        tick = self._first_tick + self._pts // SAMPLES_PER_FRAME
        # aiortc packs an av.Packet as it is (no encode, no audio-level pass over samples).
        packet = av.Packet(self._room.audio_packet_for(self._key, tick))
        packet.pts = self._pts
        packet.time_base = AUDIO_TIME_BASE
        return packet


# --------------------------------------------------------------------------- edge helpers


def video_sink(
    room: Room, key: ParticipantKey, seat: str | None = None
) -> Callable[[av.VideoFrame], None]:
    """A callback for ``create_video_sink_track``: each incoming camera frame into the room."""

    def ingest(frame: av.VideoFrame) -> None:
        room.push_video(key, frame, seat=seat)

    return ingest


def audio_sink(
    room: Room, key: ParticipantKey, seat: str | None = None
) -> Callable[[av.AudioFrame], None]:
    """A callback for ``create_audio_sink_track``: each incoming microphone frame into the room."""

    def ingest(frame: av.AudioFrame) -> None:
        room.push_audio(key, frame, seat=seat)

    return ingest


async def consume_track(
    track: MediaStreamTrack, ingest: Callable[[av.frame.Frame], object]
) -> None:
    """Feed every frame of an incoming track to ``ingest`` until the track ends.

    For an edge that holds the incoming tracks itself (e.g. ``ctx.input_video_track``) rather
    than sinks; run it as a task on the track's event loop.
    """
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        ingest(frame)


# --------------------------------------------------------------------------- screen share


class ScreenReceiver:
    """One presenter's shared screen arriving over its own aiortc connection.

    streamlit-webrtc's frontend only calls getUserMedia, so the room page carries a small
    component of ours (``rcp/ui/screen_share``) that captures with getDisplayMedia and sends a
    complete (non-trickle) SDP offer. :meth:`accept` answers it; every incoming video frame
    goes to :meth:`Room.push_screen`. The room shows the screen large from the first frame
    (``Room.grant_screen``) and goes back to the grid when the track ends or on :meth:`close`.
    Permission (who may share) is the caller's business: ``rcp.attendance.may_share_screen``.
    Run :meth:`accept` and :meth:`close` on the event loop that drives aiortc.
    """

    def __init__(
        self, room: Room, key: ParticipantKey, *, ice_servers: Sequence[Mapping[str, object]] = ()
    ) -> None:
        self.room = room
        self.key = key
        self._ice_servers = [dict(s) for s in ice_servers]
        self._pc: RTCPeerConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.frames = 0

    async def accept(self, offer_sdp: str) -> str:
        """Answer the browser's offer (its ICE candidates included); returns the answer SDP."""
        await self.close()
        config = RTCConfiguration(iceServers=[RTCIceServer(**s) for s in self._ice_servers])
        pc = RTCPeerConnection(configuration=config)
        self._pc = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and self._task is None:
                self._task = asyncio.ensure_future(self._consume(track))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and self._pc is pc:
                await self.close()

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())  # aiortc gathers ICE here
        return pc.localDescription.sdp

    async def _consume(self, track: MediaStreamTrack) -> None:
        try:
            await consume_track(track, self._ingest)
        finally:
            self._end_share()

    def _ingest(self, frame: object) -> None:
        if not isinstance(frame, av.VideoFrame):
            return
        if self.frames == 0 or self.room.screen_owner != self.key:
            try:
                self.room.grant_screen(self.key)
            except NotInRoom:
                return  # the presenter left the room: drop the frame
        self.room.push_screen(self.key, frame)
        self.frames += 1

    def _end_share(self) -> None:
        if self.room.screen_owner == self.key:
            self.room.revoke_screen()

    @property
    def active(self) -> bool:
        return self._pc is not None

    async def close(self) -> None:
        """Stop receiving; the room goes back to the grid if this presenter was shown."""
        pc, task = self._pc, self._task
        self._pc, self._task = None, None
        if task is not None:
            task.cancel()
        if pc is not None:
            await pc.close()
        self._end_share()
        self.frames = 0
