"""A presenter's shared screen: received over its own connection, sent to everyone as its own
stream at its own size (up to 1920 × 1080), encoded once for the whole room."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

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

from rcp.room.constants import VIDEO_CLOCK_RATE, VIDEO_TIME_BASE, ParticipantKey
from rcp.room.core import NotInRoom, Room
from rcp.room.tracks import _vp8_encoder, consume_track

#: A slide, a PACS screen or a report changes a few times a minute: 5 pictures a second are
#: plenty, and let a 1080p screen keep its small text at a bit rate any hospital link carries.
SCREEN_FPS = 5
SCREEN_MAX_WIDTH, SCREEN_MAX_HEIGHT = 1920, 1080
SCREEN_BITRATE = 2_000_000
#: A receiver that lost a packet recovers at the next keyframe (one encoder serves everyone).
SCREEN_KEYFRAME_S = 2.0


def screen_size(width: int, height: int) -> tuple[int, int]:
    """The size a screen of ``width`` × ``height`` is sent at: its own, or scaled down to fit
    1920 × 1080 (aspect kept); even numbers (yuv420p)."""
    scale = min(1.0, SCREEN_MAX_WIDTH / max(1, width), SCREEN_MAX_HEIGHT / max(1, height))
    w, h = max(2, round(width * scale)), max(2, round(height * scale))
    return w - w % 2, h - h % 2


_thread_local = threading.local()


def _yuv_frame(frame: av.VideoFrame | np.ndarray, width: int, height: int) -> av.VideoFrame:
    """A new yuv420p frame of the screen at ``width`` × ``height`` for the encoder.

    One swscale context per thread (``VideoFrame.reformat`` keeps one on the frame itself and
    runs it without the GIL: two threads on one frame crashed the server once), and always a
    new frame, since the encoder's pts and picture type are set on it.
    """
    if not isinstance(frame, av.VideoFrame):
        rgb = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., :3])
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    reformatter = getattr(_thread_local, "reformatter", None)
    if reformatter is None:
        reformatter = _thread_local.reformatter = VideoReformatter()
    out = reformatter.reformat(frame, width=width, height=height, format="yuv420p")
    if out is frame:
        out = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
    return out


@dataclass(frozen=True)
class ScreenPicture:
    """The shared screen at one tick, VP8-encoded (``data`` empty: nobody shares)."""

    tick: int
    data: bytes
    keyframe: bool
    presenter: str | None
    width: int
    height: int


class SharedScreen:
    """The room's shared screen, encoded once per tick (at ``fps``) for every participant.

    Like :class:`rcp.room.tracks.SharedVideo` for the grid: the first track asking for a new
    tick encodes it, in its worker thread; the others reuse it. A new size (another window,
    another presenter) makes a new encoder, whose first picture is a keyframe.
    """

    def __init__(
        self, room: Room, *, fps: float = SCREEN_FPS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.room = room
        self.fps = fps
        self.clock = clock
        self._epoch = clock()
        self._lock = threading.Lock()
        self._codec: av.video.codeccontext.VideoCodecContext | None = None
        self._size: tuple[int, int] | None = None
        self._latest: ScreenPicture | None = None
        self._want_keyframe = True
        self.encodes = 0

    def now_tick(self) -> int:
        return int((self.clock() - self._epoch) * self.fps)

    def time_of(self, tick: int) -> float:
        return self._epoch + tick / self.fps

    def request_keyframe(self) -> None:
        with self._lock:
            self._want_keyframe = True

    def picture(self, tick: int) -> ScreenPicture:
        """The screen at ``tick`` (or a later one already encoded); encodes it if new."""
        with self._lock:
            latest = self._latest
            if latest is not None and latest.tick >= tick:
                return latest
            shared = self.room.screen()
            if shared is None or shared[1] is None:
                name = None if shared is None else shared[0]
                self._latest = ScreenPicture(tick, b"", False, name, 0, 0)
                self._want_keyframe = True
                return self._latest
            name, frame, _version = shared
            fw, fh = (
                (frame.width, frame.height)
                if isinstance(frame, av.VideoFrame)
                else (np.asarray(frame).shape[1], np.asarray(frame).shape[0])
            )
            size = screen_size(fw, fh)
            if self._codec is None or self._size != size:
                self._codec = _vp8_encoder(
                    *size, self.fps, bitrate=SCREEN_BITRATE, keyframe_s=SCREEN_KEYFRAME_S
                )
                self._size = size
                self._want_keyframe = True
            out = _yuv_frame(frame, *size)
            out.pts = round(tick * VIDEO_CLOCK_RATE / self.fps)
            out.time_base = VIDEO_TIME_BASE
            if self._want_keyframe:
                out.pict_type = av.video.frame.PictureType.I
            packets = self._codec.encode(out)
            self.encodes += 1
            data = b"".join(bytes(packet) for packet in packets)
            keyframe = any(packet.is_keyframe for packet in packets)
            if keyframe:
                self._want_keyframe = False
            self._latest = ScreenPicture(tick, data, keyframe, name, *size)
            return self._latest


class RoomScreenTrack(MediaStreamTrack):
    """What one participant receives of the shared screen: packets while someone shares,
    nothing otherwise (the browser keeps the last picture, the page hides it)."""

    kind = "video"

    def __init__(self, screen: SharedScreen) -> None:
        super().__init__()
        self._screen = screen
        self._last_tick: int | None = None
        self._first_tick: int | None = None
        self._keyframe_seen = False

    async def recv(self) -> av.Packet:
        screen = self._screen
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self._last_tick is None:
                tick = screen.now_tick()
            else:
                tick = max(self._last_tick + 1, screen.now_tick())
                wait = screen.time_of(tick) - screen.clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            if not self._keyframe_seen:
                screen.request_keyframe()
            picture = await asyncio.to_thread(screen.picture, tick)
            self._last_tick = picture.tick
            if not picture.data:
                self._keyframe_seen = False  # the next share starts with a keyframe for us
                continue
            if not (self._keyframe_seen or picture.keyframe):
                continue
            self._keyframe_seen = True
            if self._first_tick is None:
                self._first_tick = picture.tick
            packet = av.Packet(picture.data)
            packet.pts = round((picture.tick - self._first_tick) * VIDEO_CLOCK_RATE / screen.fps)
            packet.time_base = VIDEO_TIME_BASE
            packet.is_keyframe = picture.keyframe
            return packet


# --------------------------------------------------------------------------- screen share


class ScreenReceiver:
    """One presenter's shared screen arriving over its own aiortc connection.

    The room component (``rcp/ui/room_client``) captures with getDisplayMedia on its own
    send-only connection and posts a complete (non-trickle) SDP offer (``rcp.rtc``).
    :meth:`accept` answers it; every incoming video frame goes to :meth:`Room.push_screen`.
    The room shows the screen large from the first frame (``Room.grant_screen``) and goes
    back to the grid when the track ends or on :meth:`close`.
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
