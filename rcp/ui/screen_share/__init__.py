"""Screen sharing for the video room: a tiny custom component that calls getDisplayMedia.

streamlit-webrtc's frontend only calls getUserMedia, so this component (static HTML and
JavaScript in ``frontend/index.html``, no build step; it speaks Streamlit's component protocol
with ``postMessage`` by hand) captures a screen, window or tab, opens its own send-only
RTCPeerConnection, waits for ICE gathering to complete (no trickle) and hands the offer SDP to
Python as the component value: ``{"state": "offer", "sdp": ..., "nonce": ...}``. Python answers
with :class:`rcp.room.ScreenReceiver` and passes ``answer={"nonce": ..., "sdp": ...}`` back as an
argument. Stopping (the button, or the browser's own "stop sharing" bar) sends
``{"state": "stopped", "nonce": ...}``; a refused capture ``{"state": "error", ...}``.

Tests replace :func:`component` (AppTest cannot run custom components).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit.components.v1 as components

FRONTEND = Path(__file__).resolve().parent / "frontend"
_component = components.declare_component("rcp_screen_share", path=str(FRONTEND))

LABELS = {
    "start": "Partager mon écran",
    "stop": "Arrêter le partage",
    "connecting": "Connexion du partage d'écran…",
    "sharing": "Votre écran est partagé avec les participants.",
    "denied": (
        "Le partage d'écran a été refusé ou annulé. Cliquez à nouveau sur « Partager mon écran » "
        "et choisissez l'écran, la fenêtre ou l'onglet à montrer."
    ),
    "unsupported": (
        "Ce navigateur ne permet pas le partage d'écran : utilisez Google Chrome, Microsoft Edge "
        "ou Mozilla Firefox sur un ordinateur."
    ),
    "failed": "La connexion du partage d'écran a échoué. Réessayez.",
}


def component(
    key: str,
    *,
    answer: dict[str, str] | None,
    rtc_configuration: dict[str, Any],
    labels: dict[str, str] = LABELS,
) -> dict[str, Any] | None:
    """Render the share control; returns the last message of the browser (see module doc)."""
    return _component(
        key=key,
        answer=answer,
        rtc_configuration=rtc_configuration,
        labels=labels,
        default=None,
    )
