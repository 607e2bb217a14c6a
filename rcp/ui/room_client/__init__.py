"""The browser side of the video room and of the equipment check: one component of ours.

``frontend/index.html`` (static HTML and JavaScript, no build step; Streamlit's component
protocol spoken with ``postMessage`` by hand) opens the microphone (and the camera, unless the
user chose to go without), creates exactly one RTCPeerConnection per attempt, and posts the
complete offer to the platform's HTTP routes (:mod:`rcp.rtc`): no script rerun between a click
and the answer (docs/room-design.md says why streamlit-webrtc's frontend is no longer used).
It joins by itself when ``active`` (one click from the meeting page), comes back by itself after
a network drop, says goodbye with a beacon when the tab closes, and carries the room's own
controls (micro, caméra, partage d'écran, plein écran, choice of devices, quitter), in the page's
language (:func:`labels`).

Tests replace :func:`room` and :func:`check` (AppTest cannot run custom components).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit.components.v1 as components

from rcp.config import get_settings
from rcp.i18n import N_, _

FRONTEND = Path(__file__).resolve().parent / "frontend"
_component = components.declare_component("rcp_room_client", path=str(FRONTEND))

#: The room's picture is 640×480 for everyone (rcp.room): with two or more people a camera fills
#: at most a 316-pixel-wide tile of it, so a 320×240 capture loses nothing on screen and costs
#: the server a quarter of the decoding and of the incoming packets of 640×480.
ROOM_VIDEO = {"width": {"ideal": 320}, "height": {"ideal": 240}, "frameRate": {"ideal": 15}}
CHECK_VIDEO = {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 15}}

LABELS = {
    "join": N_("Rejoindre la salle"),
    "leave": N_("Quitter la salle"),
    "start_check": N_("Démarrer le test"),
    "stop_check": N_("Arrêter le test"),
    "mute": N_("Couper mon micro"),
    "unmute": N_("Rétablir mon micro"),
    "camera_off": N_("Couper ma caméra"),
    "camera_on": N_("Allumer ma caméra"),
    "share_start": N_("Partager mon écran"),
    "share_stop": N_("Arrêter le partage"),
    "fullscreen": N_("Plein écran"),
    "fullscreen_screen": N_("Écran partagé en plein écran"),
    "shared_by": N_("Écran partagé par"),
    "sound": N_("Activer le son"),
    "devices": N_("Caméra et micro…"),
    "camera_device": N_("Caméra"),
    "microphone_device": N_("Micro"),
    "no_camera": N_("Participer sans caméra (micro seul)"),
    "no_camera_check": N_("Je n'ai pas de caméra : tester le micro seul"),
    "connecting": N_("Connexion à la salle…"),
    "reconnecting": N_("Connexion interrompue : reconnexion à la salle…"),
    "connected": N_("Vous êtes dans la salle."),
    "check_connecting": N_("Connexion au serveur de la plateforme…"),
    "check_connected": N_("Le test est en cours : votre image revient du serveur."),
    "check_stopped": N_("Test arrêté."),
    "left": N_("Vous avez quitté la salle."),
    "replaced": N_(
        "Vous avez rejoint la salle depuis un autre onglet ou appareil : vous y êtes toujours."
    ),
    "take_back": N_("Reprendre ici"),
    "sharing": N_("Votre écran est partagé avec les participants."),
    "share_denied": N_(
        "Le partage d'écran a été refusé ou annulé. Cliquez à nouveau sur « Partager mon écran » "
        "et choisissez l'écran, la fenêtre ou l'onglet à montrer."
    ),
    "share_unsupported": N_(
        "Ce navigateur ne permet pas le partage d'écran : utilisez Google Chrome, Microsoft Edge "
        "ou Mozilla Firefox sur un ordinateur."
    ),
    "share_failed": N_("La connexion du partage d'écran a échoué. Réessayez."),
    "denied": N_(
        "Le navigateur n'a pas donné accès au micro. Autorisez le micro (et la caméra) pour ce "
        "site, puis cliquez à nouveau."
    ),
    "camera_unavailable": N_(
        "Caméra introuvable ou déjà utilisée par une autre application : vous participez avec le "
        "micro seul. Les autres voient vos initiales."
    ),
    "device_failed": N_("Cet appareil n'a pas pu être ouvert : choisissez-en un autre."),
    "unsupported": N_(
        "Ce navigateur ne donne pas accès à la caméra et au micro : utilisez Google Chrome ou "
        "Mozilla Firefox, sur l'adresse https de la plateforme."
    ),
    "failed": N_("La connexion au serveur a échoué. Vérifiez votre réseau et réessayez."),
}


def labels() -> dict[str, str]:
    """The component's words in the page's language (``LABELS`` is marked, not translated)."""
    return {key: _(text) for key, text in LABELS.items()}


def rtc_configuration() -> dict[str, list[dict[str, Any]]]:
    """ICE servers from settings; ``{"iceServers": []}`` when there are none (no public STUN
    is assumed: a hospital network may block it)."""
    return {"iceServers": [dict(server) for server in get_settings().ice_servers]}


def room(
    key: str,
    *,
    meeting_id: int,
    tab: str,
    may_share: bool,
    active: bool = True,
) -> Any:
    """The room's picture, sound and controls; joins at once when ``active``."""
    return _component(
        key=key,
        mode="room",
        endpoint=f"/rtc/room/{meeting_id}",
        tab=tab,
        active=active,
        may_share=may_share,
        video=ROOM_VIDEO,
        rtc_configuration=rtc_configuration(),
        labels=labels(),
        default=None,
    )


def check(key: str, *, tab: str) -> dict[str, Any] | None:
    """The equipment check's preview and controls; returns ``{"state", "check"}`` once the
    browser started or stopped the test (``state`` "connected" while it runs)."""
    return _component(
        key=key,
        mode="check",
        endpoint="/rtc/check",
        tab=tab,
        active=False,
        may_share=False,
        video=CHECK_VIDEO,
        rtc_configuration=rtc_configuration(),
        labels=labels(),
        default=None,
    )
