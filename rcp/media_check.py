"""Equipment check maths: microphone levels, the returned preview, a test tone, browser sniffing."""

from __future__ import annotations

import asyncio
import io
import math
import re
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack
from PIL import Image, ImageDraw, ImageFont

from rcp.i18n import N_, _
from rcp.room import audio_frame_to_mono

# ---------------------------------------------------------------------------------------------
# Microphone level
# ---------------------------------------------------------------------------------------------

#: The quietest level we report: digital silence and anything below it read as this.
SILENCE_DB = -90.0
#: The bottom of the meter's scale; a quiet room with a laptop microphone sits around -60 dBFS.
METER_FLOOR_DB = -60.0
#: How fast the displayed level falls after a sound (fast attack, slow release, like a VU meter),
#: so that a short word is still visible when the page polls a few times per second.
RELEASE_DB_PER_S = 30.0
#: Above this RMS level we say the microphone "hears" something (speech is -30..-10 dBFS).
HEARD_DB = -50.0


def to_dbfs(value: float, full_scale: float = 32768.0) -> float:
    """Amplitude (RMS or peak, in sample units) as dB relative to full scale, floored."""
    if value <= 0.0 or full_scale <= 0.0:
        return SILENCE_DB
    return max(SILENCE_DB, 20.0 * math.log10(value / full_scale))


def audio_levels(samples: np.ndarray) -> tuple[float, float]:
    """RMS and peak of a block of samples, in dBFS.

    Integer samples are taken as 16-bit PCM (full scale 32768); floating-point samples as
    [-1, 1]. An empty block is silence.
    """
    if samples.size == 0:
        return SILENCE_DB, SILENCE_DB
    full_scale = 1.0 if np.issubdtype(samples.dtype, np.floating) else 32768.0
    x = samples.astype(np.float64, copy=False)
    rms = float(np.sqrt(np.mean(x * x)))
    peak = float(np.max(np.abs(x)))
    return to_dbfs(rms, full_scale), to_dbfs(peak, full_scale)


def meter_fraction(level_db: float, floor_db: float = METER_FLOOR_DB) -> float:
    """Position of a level on a meter going linearly in dB from ``floor_db`` (0) to 0 dBFS (1)."""
    if level_db <= floor_db:
        return 0.0
    return min(1.0, (level_db - floor_db) / -floor_db)


@dataclass(frozen=True)
class LevelReading:
    """What the meter shows at one instant."""

    level_db: float  # the displayed level: recent RMS with a slow release
    peak_db: float  # peak of the most recent block
    frames: int  # audio blocks received since the meter was created
    age_s: float | None  # seconds since the last block, None if none yet
    heard_s_ago: float | None  # seconds since the RMS last exceeded HEARD_DB, None if never

    @property
    def fraction(self) -> float:
        return meter_fraction(self.level_db)

    @property
    def receiving(self) -> bool:
        """Audio blocks are still arriving (they come every 20 ms while the stream runs)."""
        return self.age_s is not None and self.age_s < 1.0


class LevelMeter:
    """Microphone level fed by aiortc's thread and read by the page's thread.

    ``push`` only does a few numpy reductions under a short lock, so it is safe to call from a
    callback running on the server's event loop.
    """

    def __init__(self, *, release_db_per_s: float = RELEASE_DB_PER_S) -> None:
        self._lock = threading.Lock()
        self._release = release_db_per_s
        self._level_db = SILENCE_DB
        self._peak_db = SILENCE_DB
        self._level_at: float | None = None
        self._frames = 0
        self._heard_at: float | None = None

    def _decayed(self, now: float) -> float:
        if self._level_at is None:
            return SILENCE_DB
        return max(SILENCE_DB, self._level_db - self._release * max(0.0, now - self._level_at))

    def push(self, samples: np.ndarray, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        rms_db, peak_db = audio_levels(samples)
        with self._lock:
            self._level_db = max(rms_db, self._decayed(now))
            self._level_at = now
            self._peak_db = peak_db
            self._frames += 1
            if rms_db >= HEARD_DB:
                self._heard_at = now

    def reading(self, now: float | None = None) -> LevelReading:
        now = time.monotonic() if now is None else now
        with self._lock:
            return LevelReading(
                level_db=self._decayed(now),
                peak_db=self._peak_db,
                frames=self._frames,
                age_s=None if self._level_at is None else now - self._level_at,
                heard_s_ago=None if self._heard_at is None else now - self._heard_at,
            )


class FrameRate:
    """Frames per second over a sliding window, fed by one thread and read by another."""

    def __init__(self, window_s: float = 2.0) -> None:
        self._lock = threading.Lock()
        self._window = window_s
        self._times: deque[float] = deque()
        self.count = 0

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._times.append(now)
            self.count += 1
            while self._times and self._times[0] < now - self._window:
                self._times.popleft()

    def fps(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = [t for t in self._times if t >= now - self._window]
        return len(recent) / self._window


@dataclass
class MediaProbe:
    """What the server measured of one browser's test stream (one per browser session)."""

    level: LevelMeter
    video: FrameRate

    @classmethod
    def new(cls) -> MediaProbe:
        return cls(level=LevelMeter(), video=FrameRate())

    def push_audio(self, frame: av.AudioFrame) -> None:
        """An incoming microphone frame (aiortc's loop): only the level is kept, no sound."""
        if isinstance(frame, av.AudioFrame):
            self.level.push(audio_frame_to_mono(frame))


# ---------------------------------------------------------------------------------------------
# The preview sent back to the browser
# ---------------------------------------------------------------------------------------------

_BAR_GREEN = np.array([46, 160, 67], dtype=np.uint8)
_BAR_AMBER = np.array([230, 160, 20], dtype=np.uint8)
_BAR_RED = np.array([210, 50, 40], dtype=np.uint8)
_BAR_TRACK = np.array([40, 40, 40], dtype=np.uint8)
PREVIEW_LABEL = N_("Image renvoyée par le serveur")


def _bar_colour(position: float) -> np.ndarray:
    """Colour of the meter at a height in [0, 1] (the top tenth is red, the next amber)."""
    if position >= 0.9:
        return _BAR_RED
    if position >= 0.75:
        return _BAR_AMBER
    return _BAR_GREEN


@lru_cache(maxsize=8)
def _font(font_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Matplotlib ships DejaVu Sans (accents included); Pillow's default font lacks "é".
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return (
        ImageFont.truetype(str(path), font_px) if path.exists() else ImageFont.load_default(font_px)
    )


@lru_cache(maxsize=8)
def _label_rgba(text: str, font_px: int) -> np.ndarray:
    """White text on a translucent dark box, as RGBA; drawn once per size, blended per frame."""
    font = _font(font_px)
    left, top, right, bottom = font.getbbox(text)
    pad = max(2, font_px // 3)
    img = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 150))
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=(255, 255, 255, 255))
    return np.asarray(img)


def _blend(canvas: np.ndarray, rgba: np.ndarray, x: int, y: int) -> None:
    h = min(rgba.shape[0], canvas.shape[0] - y)
    w = min(rgba.shape[1], canvas.shape[1] - x)
    if h <= 0 or w <= 0:
        return
    src = rgba[:h, :w]
    alpha = src[..., 3:4].astype(np.uint16)
    region = canvas[y : y + h, x : x + w].astype(np.uint16)
    canvas[y : y + h, x : x + w] = (
        (src[..., :3].astype(np.uint16) * alpha + region * (255 - alpha)) // 255
    ).astype(np.uint8)


def preview_frame(rgb: np.ndarray, fraction: float, *, label: str | None = None) -> np.ndarray:
    """The camera image mirrored (as in a mirror), with the microphone level as a bar on the right.

    Returns a new H×W×3 uint8 array; ``fraction`` is the meter position in [0, 1]. The label
    tells the user that what they see has been to the server and back.
    """
    out = np.ascontiguousarray(rgb[:, ::-1])
    height, width = out.shape[:2]
    bar_w = max(4, width // 32)
    margin = max(2, width // 80)
    x0, x1 = width - margin - bar_w, width - margin
    y0, y1 = margin, height - margin
    out[y0:y1, x0:x1] = _BAR_TRACK
    span = y1 - y0
    filled = round(span * min(1.0, max(0.0, fraction)))
    if filled:
        rows = np.arange(y1 - filled, y1)
        positions = (y1 - rows) / span
        colours = np.stack([_bar_colour(p) for p in positions])
        out[y1 - filled : y1, x0:x1] = colours[:, None, :]
    if label is None:
        label = _(PREVIEW_LABEL)  # in the current language (the test's request's)
    if label and height >= 60:
        _blend(out, _label_rgba(label, max(10, height // 30)), margin, margin)
    return out


def preview_image(frame: av.VideoFrame, probe: MediaProbe) -> av.VideoFrame:
    """:func:`preview_frame` of a camera frame, as a frame with the same timing."""
    image = preview_frame(frame.to_ndarray(format="rgb24"), probe.level.reading().fraction)
    out = av.VideoFrame.from_ndarray(image, format="rgb24")
    out.pts = frame.pts
    out.time_base = frame.time_base
    return out


class PreviewTrack(MediaStreamTrack):
    """The camera sent back to the browser: each frame mirrored, with the microphone level.

    Drawing runs in a worker thread (the server's event loop must not block); a frame that
    arrives while the previous one is still being drawn replaces it (no queue builds up).
    """

    kind = "video"

    def __init__(self, source: MediaStreamTrack, probe: MediaProbe) -> None:
        super().__init__()
        self._source = source
        self._probe = probe

    async def recv(self) -> av.VideoFrame:
        frame = await self._source.recv()
        self._probe.video.tick()
        return await asyncio.to_thread(preview_image, frame, self._probe)


def preview_track(source: MediaStreamTrack, probe: MediaProbe) -> PreviewTrack:
    """The track an equipment check sends back for the browser's camera ``source``."""
    return PreviewTrack(source, probe)


# ---------------------------------------------------------------------------------------------
# Test sound for the speakers
# ---------------------------------------------------------------------------------------------


def tone_samples(
    frequency_hz: float = 440.0,
    seconds: float = 2.0,
    *,
    sample_rate: int = 44100,
    amplitude: float = 0.3,
    fade_s: float = 0.02,
) -> np.ndarray:
    """A sine as int16 mono, with short fades so that the speakers do not click."""
    if frequency_hz <= 0 or seconds <= 0 or sample_rate <= 0:
        raise ValueError("frequency, duration and sample rate must be positive")
    if not 0.0 < amplitude <= 1.0:
        raise ValueError("amplitude must be in (0, 1]")
    n = round(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    signal = amplitude * np.sin(2.0 * np.pi * frequency_hz * t)
    fade = min(round(fade_s * sample_rate), n // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, endpoint=False)
        signal[:fade] *= ramp
        signal[n - fade :] *= ramp[::-1]
    return np.round(signal * 32767.0).astype(np.int16)


def tone_wav(
    frequency_hz: float = 440.0,
    seconds: float = 2.0,
    *,
    sample_rate: int = 44100,
    amplitude: float = 0.3,
) -> bytes:
    """:func:`tone_samples` as a 16-bit mono WAV file."""
    samples = tone_samples(frequency_hz, seconds, sample_rate=sample_rate, amplitude=amplitude)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Browser check from the User-Agent header
# ---------------------------------------------------------------------------------------------


class Verdict(StrEnum):
    ok = "ok"  # Chrome, Firefox (the procedure's browsers) or Chromium-based Edge, recent enough
    outdated = "outdated"  # a compatible browser in a version too old for reliable video
    untested = "untested"  # may work (Safari, Opera, …) but is not what the procedure asks for
    unsupported = "unsupported"  # Internet Explorer and the old Edge: the platform cannot run
    unknown = "unknown"  # no or unreadable User-Agent


#: Oldest versions we call compatible (WebRTC unified plan, getUserMedia constraints used here).
MINIMUM_VERSIONS = {"Google Chrome": 90, "Mozilla Firefox": 90, "Microsoft Edge": 90}


@dataclass(frozen=True)
class BrowserCheck:
    name: str
    version: int | None
    verdict: Verdict

    @property
    def is_internet_explorer(self) -> bool:
        return self.name == "Internet Explorer"


def _version(agent: str, token: str) -> int | None:
    match = re.search(re.escape(token) + r"/(\d+)", agent)
    return int(match.group(1)) if match else None


def check_browser(agent: str) -> BrowserCheck:
    """Name, major version and verdict for a User-Agent header.

    Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari", and on iOS every
    browser is Safari underneath (CriOS and FxiOS are Chrome and Firefox there).
    """
    if not agent or not agent.strip():
        return BrowserCheck("", None, Verdict.unknown)
    if "MSIE " in agent or "Trident/" in agent:
        version = None
        match = re.search(r"MSIE (\d+)", agent) or re.search(r"rv:(\d+)", agent)
        if match:
            version = int(match.group(1))
        return BrowserCheck("Internet Explorer", version, Verdict.unsupported)
    if re.search(r"\bEdge/\d+", agent):  # EdgeHTML (2015-2020), not the Chromium-based "Edg/"
        return BrowserCheck(
            "Microsoft Edge (ancienne version)", _version(agent, "Edge"), Verdict.unsupported
        )
    for token, name, family in (
        ("Edg", "Microsoft Edge", "Microsoft Edge"),
        ("EdgA", "Microsoft Edge", "Microsoft Edge"),
        ("EdgiOS", "Microsoft Edge", None),
        ("OPR", "Opera", None),
        ("SamsungBrowser", "Samsung Internet", None),
        ("FxiOS", "Mozilla Firefox", None),
        ("CriOS", "Google Chrome", None),
        ("Firefox", "Mozilla Firefox", "Mozilla Firefox"),
        ("Chrome", "Google Chrome", "Google Chrome"),
    ):
        version = _version(agent, token)
        if version is None:
            continue
        if family is None:  # a Chromium or WebKit browser the procedure does not name
            return BrowserCheck(name, version, Verdict.untested)
        verdict = Verdict.ok if version >= MINIMUM_VERSIONS[family] else Verdict.outdated
        return BrowserCheck(name, version, verdict)
    if "Safari/" in agent:
        return BrowserCheck("Safari", _version(agent, "Version"), Verdict.untested)
    return BrowserCheck("", None, Verdict.untested)
