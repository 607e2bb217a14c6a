"""Tester mon matériel: camera, microphone and speakers, checked through the server before a RCP."""

import streamlit as st

from rcp import media_check
from rcp.ui import keys, prerequisites, webrtc
from rcp.ui.context import current_user

STREAM_KEY = "materiel_preview"
METER_REFRESH_S = 0.3
VIDEO_CONSTRAINTS = {
    "width": {"ideal": 640},
    "height": {"ideal": 480},
    "frameRate": {"ideal": 15},
}


@st.cache_data(show_spinner=False)
def _test_tone() -> bytes:
    return media_check.tone_wav(440.0, 2.0)


def _probe() -> media_check.MediaProbe:
    probe = st.session_state.get(keys.MATERIEL_PROBE)
    if probe is None:
        probe = st.session_state[keys.MATERIEL_PROBE] = media_check.MediaProbe.new()
    return probe


def _is_playing() -> bool:
    context = st.session_state.get(STREAM_KEY)
    return bool(context is not None and context.state.playing)


def _on_stream_change() -> None:
    if not _is_playing():  # a new test starts from a blank meter
        st.session_state[keys.MATERIEL_PROBE] = media_check.MediaProbe.new()


def _meter_html(reading: media_check.LevelReading) -> str:
    percent = round(reading.fraction * 100)
    level = "—" if reading.frames == 0 else f"{reading.level_db:.0f} dB".replace("-", "−")
    # A full-width green→red scale with a grey cover over the part above the current level.
    return f"""
<div role="meter" aria-label="Niveau du micro" aria-valuemin="0" aria-valuemax="100"
     aria-valuenow="{percent}" data-level="{percent}"
     style="position:relative;height:22px;border-radius:11px;overflow:hidden;
            background:linear-gradient(90deg,#2ea043 0%,#2ea043 70%,#e6a014 82%,#d23228 100%);">
  <div style="position:absolute;top:0;right:0;bottom:0;width:{100 - percent}%;
              background:#dcdfe4;"></div>
</div>
<div style="display:flex;justify-content:space-between;font-size:0.85rem;color:#555;
            margin-top:4px;">
  <span>silence</span><span>Niveau : <b>{level}</b></span><span>fort</span>
</div>
"""


def _meter_panel(audio_only: bool) -> None:
    """The microphone level (and the server's frame rate), refreshed while the test runs."""
    probe = _probe()
    reading = probe.level.reading()
    st.markdown(_meter_html(reading), unsafe_allow_html=True)
    if not _is_playing():
        st.caption("Démarrez le test pour mesurer le niveau de votre micro.")
        return
    if not reading.receiving:
        st.info("En attente du son de votre micro…", icon=":material/hourglass_top:")
    elif reading.heard_s_ago is not None and reading.heard_s_ago < 3.0:
        st.success("Votre micro fonctionne : le serveur vous entend.", icon=":material/mic:")
    else:
        st.warning(
            "Parlez : la barre doit monter. Si elle reste au plus bas, vérifiez que le micro "
            "n'est pas coupé (bouton du casque ou du clavier) et qu'il est bien choisi dans "
            "« Choisir la caméra et le micro ».",
            icon=":material/mic_off:",
        )
    if not audio_only:
        fps = probe.video.fps()
        st.caption(f"Images de la caméra reçues par le serveur : {fps:.0f} par seconde.")


def _camera_help() -> None:
    with st.expander("La caméra ou le micro ne fonctionne pas ?", icon=":material/help:"):
        st.markdown(
            "**La caméra est facultative** : vous pouvez participer à la RCP avec le micro "
            "seul. Cochez alors « Je n'ai pas de caméra » ci-dessus et refaites le test.\n\n"
            "**Google Chrome** — cliquez sur l'icône à gauche de l'adresse de la page "
            "(cadenas ou réglages), puis mettez **Caméra** et **Micro** sur « Autoriser ». "
            "Rechargez la page. Vous pouvez aussi ouvrir *Paramètres › Confidentialité et "
            "sécurité › Paramètres des sites › Caméra / Micro*.\n\n"
            "**Mozilla Firefox** — cliquez sur l'icône de caméra barrée ou de micro barré à "
            "gauche de l'adresse, retirez le blocage (« Bloqué temporairement » ou "
            "« Bloqué »), puis rechargez la page et acceptez la demande d'accès. Vous pouvez "
            "aussi ouvrir *Paramètres › Vie privée et sécurité › Permissions › Caméra / "
            "Microphone*.\n\n"
            "**« Caméra ou micro introuvable »** — vérifiez que la caméra ou le casque est "
            "branché, fermez les autres applications qui peuvent l'utiliser (Teams, Zoom, "
            "Skype…), puis cliquez à nouveau sur « Démarrer ». Avec plusieurs micros ou "
            "caméras, choisissez le bon dans « Choisir la caméra et le micro ».\n\n"
            "**Sous Windows ou macOS**, le système peut aussi bloquer l'accès : vérifiez les "
            "paramètres de confidentialité de la caméra et du micro de l'ordinateur."
        )


user = current_user()
st.title("Tester mon matériel")
st.caption(
    "Vérifiez votre caméra, votre micro et vos haut-parleurs avant la RCP. Le test passe par "
    "le serveur de la plateforme, comme la visioconférence ; rien n'est enregistré."
)
prerequisites.browser_warning(confirm_ok=True)

playing = _is_playing()
left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("1. Caméra et micro")
    audio_only = st.toggle(
        "Je n'ai pas de caméra : tester le micro seul",
        key="materiel_audio_only",
        disabled=playing,
        help="Arrêtez le test pour changer ce choix.",
    )
    st.markdown(
        "Cliquez sur **Démarrer**, puis autorisez l'accès "
        + ("au micro." if audio_only else "à la caméra et au micro.")
        + (
            ""
            if audio_only
            else " Votre image revient du serveur, en miroir, avec le niveau "
            "du micro sur le côté droit."
        )
    )
    if not audio_only:
        st.caption(
            "Plusieurs caméras ou micros ? Avant de démarrer, cliquez sur « Choisir la caméra "
            "et le micro » : ce navigateur retient votre choix, et la salle de "
            "visioconférence l'utilise aussi."
        )
    probe = _probe()
    webrtc.streamer(
        STREAM_KEY,
        media_stream_constraints={"video": not audio_only and VIDEO_CONSTRAINTS, "audio": True},
        video_frame_callback=None if audio_only else media_check.video_callback(probe),
        audio_sink=media_check.audio_sink(probe),
        sendback_video=not audio_only,
        sendback_audio=False,  # the user must not hear their own voice come back
        video_html_attrs={
            "autoPlay": True,
            "muted": True,
            "controls": False,
            "style": {"width": "100%", "borderRadius": "8px"},
        },
        on_change=_on_stream_change,
    )
    _camera_help()

with right:
    st.subheader("2. Niveau du micro")
    # Only the meter reruns on a timer; the streamer itself is created in full runs only.
    st.fragment(_meter_panel, run_every=METER_REFRESH_S if playing else None)(audio_only)
    st.subheader("3. Haut-parleurs")
    st.audio(_test_tone(), format="audio/wav")
    st.caption(
        "Lancez le son : vous devez entendre un bip de 2 secondes. Sinon, montez le volume et "
        "vérifiez la sortie audio choisie (haut-parleurs ou casque)."
    )

with st.container(border=True):
    st.markdown("**Un problème persiste ? Contactez avant la RCP :**")
    prerequisites.support_contacts()

if user is None:
    st.page_link("pages/connexion.py", label="Retour à la connexion", icon=":material/login:")
else:
    st.page_link("pages/accueil.py", label="Retour à l'accueil", icon=":material/home:")
