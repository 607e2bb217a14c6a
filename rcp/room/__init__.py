"""The meeting's video room, testable without a browser and without Streamlit.

- :mod:`rcp.room.constants` — clocks, sizes, bit rates;
- :mod:`rcp.room.layout` — where each tile goes (grid, screen share with a strip);
- :mod:`rcp.room.picture` — the picture composed in yuv420p (tiles, names, initials);
- :mod:`rcp.room.audio` — mix-minus, per-participant buffers, the Opus encoder;
- :mod:`rcp.room.core` — :class:`Room` (participants, media, flags) and :class:`RoomRegistry`;
- :mod:`rcp.room.tracks` — aiortc tracks: the picture VP8-encoded once, each listener's mix;
- :mod:`rcp.room.screen` — a presenter's shared screen over its own connection;
- :mod:`rcp.room.hub` — every WebRTC connection of this process (room, screen, equipment check),
  answered from HTTP routes (:mod:`rcp.rtc_web`), outside any Streamlit cache.
"""

from rcp.room.audio import audio_frame_to_mono, mix_minus
from rcp.room.constants import (
    AUDIO_BUFFER_SAMPLES,
    AUDIO_TIME_BASE,
    DEFAULT_FPS,
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    MAX_GRID_TILES,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    STALE_VIDEO_S,
    VIDEO_BITRATE,
    VIDEO_TIME_BASE,
    MeetingId,
    ParticipantKey,
)
from rcp.room.core import NotInRoom, ParticipantInfo, Room, RoomEvent, RoomRegistry
from rcp.room.layout import Rect, Tile, fit_size, grid_layout, screen_layout, strip_capacity
from rcp.room.picture import (
    YuvImage,
    compose_grid,
    compose_with_screen,
    frame_to_rgb,
    frame_to_yuv,
    initials,
)
from rcp.room.screen import ScreenReceiver
from rcp.room.tracks import (
    RoomAudioTrack,
    RoomVideoTrack,
    SharedVideo,
    audio_sink,
    consume_track,
    video_sink,
    vp8_only,
)

__all__ = [
    "AUDIO_BUFFER_SAMPLES",
    "AUDIO_TIME_BASE",
    "DEFAULT_FPS",
    "DEFAULT_HEIGHT",
    "DEFAULT_WIDTH",
    "MAX_GRID_TILES",
    "SAMPLE_RATE",
    "SAMPLES_PER_FRAME",
    "STALE_VIDEO_S",
    "VIDEO_BITRATE",
    "VIDEO_TIME_BASE",
    "MeetingId",
    "NotInRoom",
    "ParticipantInfo",
    "ParticipantKey",
    "Rect",
    "Room",
    "RoomAudioTrack",
    "RoomEvent",
    "RoomRegistry",
    "RoomVideoTrack",
    "ScreenReceiver",
    "SharedVideo",
    "Tile",
    "YuvImage",
    "audio_frame_to_mono",
    "audio_sink",
    "compose_grid",
    "compose_with_screen",
    "consume_track",
    "fit_size",
    "frame_to_rgb",
    "frame_to_yuv",
    "grid_layout",
    "initials",
    "mix_minus",
    "screen_layout",
    "strip_capacity",
    "video_sink",
    "vp8_only",
]
