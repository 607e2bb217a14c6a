"""What every page shows around its content: header, sign-out, pilot banner, session watch."""

from __future__ import annotations

import streamlit as st

from rcp import auth, roles
from rcp.config import get_settings
from rcp.i18n import _
from rcp.models import User
from rcp.permissions import is_admin
from rcp.ui import keys
from rcp.ui.context import current_user, db, session_token
from rcp.ui.redirect import browser_redirect


def public_header() -> None:
    settings = get_settings()
    if settings.demo_mode:
        st.info(
            _("Plateforme de démonstration : toutes les données sont fictives."),
            icon=":material/science:",
        )


def finish_sign_out() -> None:
    """After "Se déconnecter": send the browser to the route that clears the cookie."""
    if keys.SIGNOUT_REDIRECT in st.session_state:
        st.info(_("Vous êtes déconnecté."), icon=":material/logout:")
        browser_redirect(st.session_state.pop(keys.SIGNOUT_REDIRECT))
        st.stop()


def _sign_out() -> None:
    with db() as session:
        auth.sign_out(session, token=session_token())
    st.session_state.pop(keys.TEST_TOKEN, None)
    st.session_state[keys.SIGNOUT_REDIRECT] = "/auth/logout"


def signed_in_header(user: User) -> None:
    settings = get_settings()
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.caption(
        _("{platform} · connecté : {name} ({specialty})").format(
            platform=settings.platform_name,
            name=user.display_name,
            specialty=roles.qualification(user),
        )
    )
    right.button(
        _("Se déconnecter"),
        key="chrome_sign_out",
        on_click=_sign_out,
        icon=":material/logout:",
        width="stretch",
    )
    if is_admin(user) and not settings.sms_configured:
        st.warning(
            _(
                "Mode pilote : aucune passerelle SMS n'est configurée. Les messages sont "
                "conservés dans la « Boîte d'envoi », codes et liens personnels masqués ; les "
                "médecins se connectent avec une application d'authentification (voir le "
                "README, « Pilote sans passerelle SMS »)."
            ),
            icon=":material/science:",
        )
    if not settings.sms_configured and not settings.demo_mode and not user.totp_secret:
        # Without an SMS gateway a code reaches a doctor only through the server's operator:
        # an authenticator app makes every later sign-in independent of that channel.
        st.warning(
            _(
                "Cette plateforme n'envoie pas encore de SMS : configurez dès maintenant une "
                "application d'authentification (Google Authenticator, FreeOTP, Microsoft "
                "Authenticator…) dans « Mon compte ». Vos prochains codes de connexion y "
                "s'afficheront, sans attendre de SMS."
            ),
            icon=":material/phonelink_lock:",
        )
        st.page_link(
            "pages/mon_compte.py",
            label=_("Configurer l'application dans « Mon compte »"),
            icon=":material/qr_code_2:",
        )
    _session_watch()


@st.fragment(run_every=30)
def _session_watch() -> None:
    """Notice sign-out elsewhere and expiry without touching the idle clock."""
    if current_user(touch=False) is None:
        st.rerun(scope="app")
