"""The room itself: participants, their media and flags, and the registry of rooms."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeAlias

import av
import numpy as np

from rcp.errors import NotFound
from rcp.i18n import N_
from rcp.room.audio import AudioBuffer, OpusEncoder, audio_frame_to_mono, mix_minus
from rcp.room.constants import (
    DEFAULT_FPS,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    MAX_GRID_TILES,
    MIX_HISTORY_TICKS,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    STALE_VIDEO_S,
    MeetingId,
    ParticipantKey,
)
from rcp.room.layout import Rect, Tile, grid_layout
from rcp.room.picture import (
    YuvImage,
    YuvPicture,
    compose_grid_yuv,
    fitted,
    frame_to_yuv,
    initials,
)
from rcp.room.tracks import RoomAudioTrack, RoomVideoTrack, SharedVideo


class NotInRoom(NotFound):
    """Raised when an action names a participant who is not (or no longer) in the room.

    Typically a stale page acting after its stream stopped: rerun the page, which joins again.
    """

    default_message = N_("Ce participant n'est pas (ou plus) dans la salle de visioconférence.")


class _RoomClosed(Exception):
    """Raised internally when a closed room is joined; the registry then makes a new one."""


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
        self.audio = AudioBuffer()
        self.resampler: av.AudioResampler | None = None
        self.scaled: dict[tuple[int, int], tuple[int, YuvImage]] = {}
        self.tracks: tuple[RoomVideoTrack, RoomAudioTrack] | None = None
        self.seat: str | None = None  # the browser tab holding the seat (None: not tracked)
        self.opus: OpusEncoder | None = None  # their mix-minus stream


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
        self._screen_version = 0
        self._mix_tick = -1
        self._mix_history: deque[tuple[int, dict[ParticipantKey, np.ndarray]]] = deque(
            maxlen=MIX_HISTORY_TICKS
        )
        # Per tick: each participant's packet.
        self._packet_history: deque[tuple[int, dict[ParticipantKey, bytes]]] = deque(
            maxlen=MIX_HISTORY_TICKS
        )
        self._silence = OpusEncoder().encode(np.zeros(SAMPLES_PER_FRAME, dtype=np.int16))
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

    def media_age(self, key: ParticipantKey) -> float | None:
        """Seconds since the participant's last camera or microphone frame (or their join);
        None when they are not in the room."""
        with self._lock:
            participant = self._participants.get(key)
            return None if participant is None else self._clock() - participant.last_media_at

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

    def screen(self) -> tuple[str, av.VideoFrame | np.ndarray | None, int] | None:
        """The shared screen as (presenter's name, latest frame or None yet, frame number), or
        None when nobody shares. The screen travels as its own stream (``SharedScreen``)."""
        with self._lock:
            owner = self._screen_owner
            if owner is None or owner not in self._participants:
                return None
            return self._participants[owner].name, self._screen_frame, self._screen_version

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
            self._screen_version += 1
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
        size = fitted(frame, Rect(0, 0, *box))
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
        """The picture ``viewer`` receives (None: everyone, as the room sends it): the grid of
        the participants. A shared screen is not drawn in it: it travels as its own stream at
        its own size (``rcp.room.screen.SharedScreen``), beside this picture."""
        with self._lock:
            n_others = sum(1 for k in self._participants if k != viewer)
        rects = grid_layout(min(n_others, MAX_GRID_TILES), width=width, height=height)
        size = (rects[0].w, rects[0].h) if rects else None
        return compose_grid_yuv(self.tiles_for(viewer, size=size), width=width, height=height)

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
                participant.opus = OpusEncoder()
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
