"""aiortc tracks of the room: the shared VP8 picture, each listener's Opus mix, sinks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import av
from aiortc import (
    MediaStreamTrack,
)
from aiortc.mediastreams import MediaStreamError

from rcp.room.constants import (
    AUDIO_PTIME,
    AUDIO_TIME_BASE,
    DEFAULT_FPS,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    KEYFRAME_INTERVAL_S,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    VIDEO_BITRATE,
    VIDEO_CLOCK_RATE,
    VIDEO_TIME_BASE,
    ParticipantKey,
)

if TYPE_CHECKING:
    from rcp.room.core import Room

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


def _vp8_encoder(
    width: int,
    height: int,
    fps: float,
    *,
    bitrate: int = VIDEO_BITRATE,
    keyframe_s: float = KEYFRAME_INTERVAL_S,
) -> av.video.codeccontext.VideoCodecContext:
    """libvpx in real-time CBR mode, with the options aiortc's own VP8 encoder uses."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.bit_rate = bitrate
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, VIDEO_CLOCK_RATE)
    codec.framerate = Fraction(fps).limit_denominator(1000)
    codec.gop_size = max(1, round(fps * keyframe_s))
    codec.qmin, codec.qmax = 2, 56
    codec.thread_count = 1
    codec.options = {
        "bufsize": str(bitrate),
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": str(bitrate),
        "maxrate": str(bitrate),
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
