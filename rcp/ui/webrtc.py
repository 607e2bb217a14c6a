"""The one place pages call streamlit-webrtc: ICE settings, French labels, a known-bug workaround.

Tests replace :func:`streamer` (AppTest cannot run custom components), so pages must call it as
``webrtc.streamer(...)`` through this module, never import ``webrtc_streamer`` themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import av
import streamlit as st
from streamlit_webrtc import (
    Translations,
    WebRtcMode,
    WebRtcStreamerContext,
    create_audio_sink_track,
    create_video_sink_track,
    webrtc_streamer,
)

from rcp.config import get_settings
from rcp.room import vp8_only

# The room sends everyone the same VP8 packets (rcp.room.SharedVideo): no peer connection of
# this process may negotiate another video codec.
vp8_only()

__all__ = ["WebRtcMode", "FRENCH_LABELS", "rtc_configuration", "run_on_media_loop", "streamer"]

T = TypeVar("T")

FRENCH_LABELS: Translations = {
    "start": "Démarrer",
    "stop": "Arrêter",
    "select_device": "Choisir la caméra et le micro",
    "media_api_not_available": (
        "Ce navigateur ne donne pas accès à la caméra et au micro : utilisez Google Chrome ou "
        "Mozilla Firefox, sur l'adresse https de la plateforme."
    ),
    "device_ask_permission": (
        "Autorisez l'accès à la caméra et au micro dans la fenêtre ouverte par le navigateur."
    ),
    "device_not_available": (
        "Caméra ou micro introuvable, ou déjà utilisé par une autre application"
    ),
    "device_access_denied": "Accès à la caméra ou au micro refusé par le navigateur",
    "turn_camera_on": "Activer la caméra",
    "turn_camera_off": "Couper la caméra",
    "mute_microphone": "Couper le micro",
    "unmute_microphone": "Activer le micro",
    "select_camera": "Caméra",
    "select_microphone": "Micro",
}


def rtc_configuration() -> dict[str, list[dict[str, Any]]]:
    """ICE servers from settings; ``{"iceServers": []}`` when there are none.

    Never ``{}``: streamlit-webrtc treats an empty dict as "not set" and fills in public STUN
    servers (Google's), which a hospital network may block and which we do not want to assume.
    """
    return {"iceServers": [dict(server) for server in get_settings().ice_servers]}


def _keep_context_alive(key: str) -> None:
    """Work around streamlit-webrtc 0.76.3–0.79.0 stopping healthy streams.

    The library resets a context it thinks was "not rendered for N script runs" by comparing a
    run counter that is incremented on the event loop when a run's ``script_finished`` is
    *shipped*; after the quick reruns of an SDP exchange a script thread can read a counter that
    jumped by two and stop a stream that just connected (FIELD-NOTES: 3–5 of 25 starts; with
    this reset, 25 of 25; docs/room-design.md, finding 9). Clearing the private
    ``_last_rendered_run_count`` before each call disables that check. Price: after navigating
    away and back, the library's stop/rerun reconciliation (frontend idle, worker alive) is what
    cleans up, not the stale-context reset. Remove when the library fixes the counter.
    """
    context = st.session_state.get(key)
    if context is not None and hasattr(context, "_last_rendered_run_count"):
        context._last_rendered_run_count = None


def streamer(
    key: str,
    *,
    mode: WebRtcMode = WebRtcMode.SENDRECV,
    media_stream_constraints: dict[str, Any] | None = None,
    audio_sink: Callable[[av.AudioFrame], None] | None = None,
    video_sink: Callable[[av.VideoFrame], None] | None = None,
    on_sink_ended: Callable[[], None] | None = None,
    media_toggle_controls: bool = False,
    **options: Any,
) -> WebRtcStreamerContext:
    """``webrtc_streamer`` with our ICE servers, French labels and the workaround above.

    Parameters
    ----------
    key
        The widget key; it carries the page's name (``materiel_…``, ``salle_…``).
    audio_sink, video_sink
        Callbacks receiving every incoming frame (on aiortc's event loop: keep them short).
        A sink consumes the browser's input without sending it back (no echo of the user's
        own voice); they become streamlit-webrtc sink tracks keyed ``{key}_audio_sink`` /
        ``{key}_video_sink``.
    media_toggle_controls
        Off by default: the component's own mute/camera buttons act in the browser only, so
        the server would not know (docs/room-design.md, finding 6).
    options
        Passed to ``webrtc_streamer`` unchanged (``video_frame_callback``,
        ``source_video_track``, ``desired_playing_state``, ``on_change``, ``sendback_video``, …).
        Only call this during a full script run, never inside an ``st.fragment`` rerun.
    """
    options.setdefault("rtc_configuration", rtc_configuration())
    options.setdefault("translations", FRENCH_LABELS)
    if audio_sink is not None:
        options["sink_audio_track"] = create_audio_sink_track(
            audio_sink, key=f"{key}_audio_sink", on_ended=on_sink_ended
        )
    if video_sink is not None:
        options["sink_video_track"] = create_video_sink_track(
            video_sink, key=f"{key}_video_sink", on_ended=on_sink_ended
        )
    _keep_context_alive(key)
    return webrtc_streamer(
        key=key,
        mode=mode,
        media_stream_constraints=media_stream_constraints,
        media_toggle_controls=media_toggle_controls,
        **options,
    )


def run_on_media_loop(coro: Coroutine[Any, Any, T], *, timeout: float = 20.0) -> T:
    """Run a coroutine on the event loop that drives streamlit-webrtc's aiortc connections.

    That loop is Streamlit's own server loop (streamlit_webrtc.eventloop); our other aiortc
    objects (the screen-share receiver) must live on it too. Call from a script thread only:
    this blocks until the coroutine is done.
    """
    from streamlit_webrtc.eventloop import get_global_event_loop

    return asyncio.run_coroutine_threadsafe(coro, get_global_event_loop()).result(timeout)
