"""Baseline for bench/room_load.py: per-pair relays, as streamlit-webrtc's own video chat does.

Each browser sends its camera and microphone on one connection (nothing sent back) and opens
one receive-only connection per other participant, fed with that participant's latest camera
frame and microphone: the server decodes N video and N audio streams and encodes N × (N − 1)
of each. ``?audio=0`` relays video only (the cheaper, incomplete variant: nobody hears
anyone). Not part of the app; ``streamlit run bench/relay_app.py`` with ``?name=...``.

Why not hand another session's ``ctx.input_video_track`` to the viewer, as the library's
example does: with ``sendback_video=False`` the receive-only viewers got no frame at all here
(a generated source played at once), so the sender's frames go through a sink instead.
"""

import asyncio
import threading
import time
from collections import deque
from fractions import Fraction

import av
import numpy as np
import streamlit as st
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from rcp.ui import webrtc

FPS = 15


class LatestFrameTrack(MediaStreamTrack):
    """A participant's camera for one viewer: the latest decoded frame, paced at 15 fps."""

    kind = "video"

    def __init__(self, frames: dict, name: str) -> None:
        super().__init__()
        self._frames, self._name = frames, name
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += 90_000 // FPS
            wait = self._start + self._pts / 90_000 - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        latest = self._frames.get(self._name)
        frame = av.VideoFrame(640, 480, "yuv420p") if latest is None else latest
        out = av.VideoFrame.from_ndarray(frame.to_ndarray(format="yuv420p"), format="yuv420p")
        out.pts, out.time_base = self._pts, Fraction(1, 90_000)
        return out


class LatestAudioTrack(MediaStreamTrack):
    """A participant's microphone for one viewer: its decoded 20 ms frames, paced, or silence."""

    kind = "audio"

    def __init__(self, queue: deque) -> None:
        super().__init__()
        self._queue = queue
        self._start: float | None = None
        self._pts = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += 960
            wait = self._start + self._pts / 48_000 - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        try:
            samples = self._queue.popleft().to_ndarray()
        except IndexError:
            samples = np.zeros((1, 1920), dtype=np.int16)
        layout = "stereo" if samples.shape[1] == 1920 else "mono"
        out = av.AudioFrame.from_ndarray(samples, format="s16", layout=layout)
        out.sample_rate, out.pts, out.time_base = 48_000, self._pts, Fraction(1, 48_000)
        return out


@st.cache_resource
def hub() -> dict:
    return {"lock": threading.Lock(), "names": set(), "frames": {}, "tracks": {}, "audio": {}}


name = st.session_state.setdefault("relay_name", st.query_params.get("name", "anonyme"))
relay_audio = st.query_params.get("audio", "1") != "0"
shared = hub()


def _hear(frame: av.AudioFrame) -> None:
    # One queue per (viewer, speaker): every viewer gets each of this speaker's frames.
    for (_viewer, speaker), queue in list(shared["audio"].items()):
        if speaker == name:
            queue.append(frame)


def _store(frame: av.VideoFrame) -> None:
    shared["frames"][name] = frame


webrtc.streamer(
    "relay_self",
    mode=webrtc.WebRtcMode.SENDRECV,
    media_stream_constraints={
        "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 15}},
        "audio": True,
    },
    video_sink=_store,
    audio_sink=_hear,
    sendback_video=False,
    sendback_audio=False,
    desired_playing_state=True,
)
with shared["lock"]:
    shared["names"].add(name)
    others = sorted(k for k in shared["names"] if k != name)
st.session_state["relay_seen"] = others
for other in others:
    st.caption(other)
    with shared["lock"]:
        tracks = shared["tracks"].get((name, other))
        if tracks is None or any(t.readyState != "live" for t in tracks):
            queue = shared["audio"][(name, other)] = deque(maxlen=10)
            tracks = shared["tracks"][(name, other)] = (
                LatestFrameTrack(shared["frames"], other),
                LatestAudioTrack(queue),
            )
    webrtc.streamer(
        f"relay_view_{other}",
        mode=webrtc.WebRtcMode.RECVONLY,
        source_video_track=tracks[0],
        source_audio_track=tracks[1] if relay_audio else None,
        media_stream_constraints={"video": True, "audio": relay_audio},
        desired_playing_state=True,
        video_html_attrs={"autoPlay": True, "controls": False, "muted": True},
    )


@st.fragment(run_every=2)
def _watch() -> None:
    # New participants need new streamers, created in a full run (FIELD-NOTES).
    with shared["lock"]:
        current = sorted(k for k in shared["names"] if k != name)
    if current != st.session_state.get("relay_seen"):
        st.rerun(scope="app")


_watch()
