"""Tester mon matériel: camera, microphone and speakers, checked through the server before a RCP."""

import html
import secrets

import streamlit as st

from rcp import media_check
from rcp.i18n import _
from rcp.rtc import media_hub
from rcp.ui import keys, prerequisites, room_client
from rcp.ui.context import current_user

CHECK_KEY = "materiel_check"
METER_REFRESH_S = 0.3
EMPTY_PROBE = media_check.MediaProbe.new()  # what the meter shows before a test starts


@st.cache_data(show_spinner=False)
def _test_tone() -> bytes:
    return media_check.tone_wav(440.0, 2.0)


def _check_id() -> str:
    return st.session_state.setdefault(keys.MATERIEL_CHECK, secrets.token_urlsafe(12))


def _probe() -> media_check.MediaProbe:
    return media_hub().check_probe(_check_id()) or EMPTY_PROBE


def _is_playing(value: object) -> bool:
    return isinstance(value, dict) and value.get("state") == "connected"


def _meter_html(reading: media_check.LevelReading) -> str:
    percent = round(reading.fraction * 100)
    level = "—" if reading.frames == 0 else f"{reading.level_db:.0f} dB".replace("-", "−")
    label = html.escape(_("Niveau du micro"))
    quiet, loud = html.escape(_("silence")), html.escape(_("fort"))
    shown = _("Niveau : <b>{level}</b>").format(level=html.escape(level))
    # A full-width green→red scale with a grey cover over the part above the current level.
    return f"""
<div role="meter" aria-label="{label}" aria-valuemin="0" aria-valuemax="100"
     aria-valuenow="{percent}" data-level="{percent}"
     style="position:relative;height:22px;border-radius:11px;overflow:hidden;
            background:linear-gradient(90deg,#2ea043 0%,#2ea043 70%,#e6a014 82%,#d23228 100%);">
  <div style="position:absolute;top:0;right:0;bottom:0;width:{100 - percent}%;
              background:#dcdfe4;"></div>
</div>
<div style="display:flex;justify-content:space-between;font-size:0.85rem;color:#555;
            margin-top:4px;">
  <span>{quiet}</span><span>{shown}</span><span>{loud}</span>
</div>
"""


def _meter_panel(playing: bool) -> None:
    """The microphone level (and the server's frame rate), refreshed while the test runs."""
    probe = _probe()
    reading = probe.level.reading()
    st.markdown(_meter_html(reading), unsafe_allow_html=True)
    if not playing:
        st.caption(_("Démarrez le test pour mesurer le niveau de votre micro."))
        return
    if not reading.receiving:
        st.info(_("En attente du son de votre micro…"), icon=":material/hourglass_top:")
    elif reading.heard_s_ago is not None and reading.heard_s_ago < 3.0:
        st.success(_("Votre micro fonctionne : le serveur vous entend."), icon=":material/mic:")
    else:
        st.warning(
            _(
                "Parlez : la barre doit monter. Si elle reste au plus bas, vérifiez que le "
                "micro n'est pas coupé (bouton du casque ou du clavier) et qu'il est bien choisi "
                "dans « Caméra et micro… »."
            ),
            icon=":material/mic_off:",
        )
    fps = probe.video.fps()
    if fps > 0:
        st.caption(
            _("Images de la caméra reçues par le serveur : {fps} par seconde.").format(
                fps=f"{fps:.0f}"
            )
        )


def _camera_help() -> None:
    with st.expander(_("La caméra ou le micro ne fonctionne pas ?"), icon=":material/help:"):
        st.markdown(
            _(
                "**La caméra est facultative** : vous pouvez participer à la RCP avec le micro "
                "seul. Cochez alors « Je n'ai pas de caméra » dans « Caméra et micro… » et "
                "refaites le test.\n\n"
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
                "Skype…), puis cliquez à nouveau sur « Démarrer le test ». Avec plusieurs micros "
                "ou "
                "caméras, choisissez le bon dans « Caméra et micro… ».\n\n"
                "**Sous Windows ou macOS**, le système peut aussi bloquer l'accès : vérifiez les "
                "paramètres de confidentialité de la caméra et du micro de l'ordinateur."
            )
        )


user = current_user()
st.title(_("Tester mon matériel"))
st.caption(
    _(
        "Vérifiez votre caméra, votre micro et vos haut-parleurs avant la RCP. Le test passe "
        "par le serveur de la plateforme, comme la visioconférence ; rien n'est enregistré."
    )
)
prerequisites.browser_warning(confirm_ok=True)

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader(_("1. Caméra et micro"))
    st.markdown(
        _(
            "Cliquez sur **Démarrer le test**, puis autorisez l'accès à la caméra et au micro. "
            "Votre image revient du serveur, en miroir, avec le niveau du micro sur le côté "
            "droit. Sans caméra, ouvrez « Caméra et micro… » et cochez « Je n'ai pas de "
            "caméra »."
        )
    )
    st.caption(
        _(
            "Plusieurs caméras ou micros ? Choisissez-les dans « Caméra et micro… » : ce "
            "navigateur retient votre choix, et la salle de visioconférence l'utilise aussi."
        )
    )
    playing = _is_playing(room_client.check(CHECK_KEY, tab=_check_id()))
    _camera_help()

with right:
    st.subheader(_("2. Niveau du micro"))
    # Only the meter reruns on a timer; the streamer itself is created in full runs only.
    st.fragment(_meter_panel, run_every=METER_REFRESH_S if playing else None)(playing)
    st.subheader(_("3. Haut-parleurs"))
    st.audio(_test_tone(), format="audio/wav")
    st.caption(
        _(
            "Lancez le son : vous devez entendre un bip de 2 secondes. Sinon, montez le volume "
            "et vérifiez la sortie audio choisie (haut-parleurs ou casque)."
        )
    )

with st.container(border=True):
    st.markdown(_("**Un problème persiste ? Contactez avant la RCP :**"))
    prerequisites.support_contacts()

if user is None:
    st.page_link("pages/connexion.py", label=_("Retour à la connexion"), icon=":material/login:")
else:
    st.page_link("pages/accueil.py", label=_("Retour à l'accueil"), icon=":material/home:")
