"""Media constants of the video room: audio and video clocks, sizes, bit rates."""

from __future__ import annotations

from fractions import Fraction
from typing import TypeAlias

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
