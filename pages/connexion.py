"""Connexion: password, then the one-time code (SMS or authenticator app)."""

from urllib.parse import quote

import streamlit as st

from rcp import auth
from rcp.config import get_settings
from rcp.errors import RcpError
from rcp.i18n import _
from rcp.models import OtpChannel
from rcp.ui import keys, prerequisites
from rcp.ui.context import browser_key, client_ip, db, show_error
from rcp.ui.redirect import browser_redirect

settings = get_settings()


def _reset_step() -> None:
    for key in (
        keys.SIGNIN_CHALLENGE,
        keys.SIGNIN_CHANNEL,
        keys.SIGNIN_MASKED_PHONE,
        keys.SIGNIN_TOTP,
    ):
        st.session_state.pop(key, None)


def _remember(step: auth.SignInStep) -> None:
    st.session_state[keys.SIGNIN_CHALLENGE] = step.challenge_id
    st.session_state[keys.SIGNIN_CHANNEL] = str(step.channel)
    st.session_state[keys.SIGNIN_MASKED_PHONE] = step.masked_phone
    st.session_state[keys.SIGNIN_TOTP] = step.totp_available


def password_step() -> None:
    with st.form("connexion_password_form"):
        email = st.text_input(
            _("Adresse e-mail professionnelle"), key="connexion_email", autocomplete="username"
        )
        password = st.text_input(
            _("Mot de passe"),
            type="password",
            key="connexion_password",
            autocomplete="current-password",
        )
        submitted = st.form_submit_button(_("Se connecter"), type="primary", width="stretch")
    if submitted:
        try:
            with db() as session:
                step = auth.begin_sign_in(
                    session,
                    email=email,
                    password=password,
                    ip_address=client_ip(),
                    browser_key=browser_key(),
                )
        except RcpError as error:
            show_error(error)
        else:
            _remember(step)
            st.rerun()
    left, right = st.columns(2)
    left.page_link("pages/inscription.py", label=_("Créer un compte"), icon=":material/person_add:")
    right.page_link(
        "pages/mot_de_passe_oublie.py", label=_("Mot de passe oublié ?"), icon=":material/key:"
    )


def code_step() -> None:
    challenge_id = st.session_state[keys.SIGNIN_CHALLENGE]
    channel = st.session_state[keys.SIGNIN_CHANNEL]
    if channel == OtpChannel.sms:
        st.info(
            _(
                "Un code à 6 chiffres vient d'être envoyé par SMS au **{phone}**. "
                "Il est valable {minutes} minutes."
            ).format(
                phone=st.session_state[keys.SIGNIN_MASKED_PHONE],
                minutes=settings.sms_code_ttl_minutes,
            ),
            icon=":material/sms:",
        )
    else:
        st.info(
            _("Saisissez le code à 6 chiffres affiché par votre application d'authentification."),
            icon=":material/phonelink_lock:",
        )
    if settings.demo_mode and channel == OtpChannel.sms:
        with db() as session:
            sms = auth.demo_last_sms(session, challenge_id=challenge_id)
        if sms:
            st.caption(_("Démonstration, SMS reçu : « {sms} »").format(sms=sms))
    with st.form("connexion_code_form"):
        code = st.text_input(
            _("Code de vérification"),
            max_chars=7,
            key="connexion_code",
            autocomplete="one-time-code",
            placeholder="123456",
        )
        submitted = st.form_submit_button(_("Valider"), type="primary", width="stretch")
    if submitted:
        try:
            with db() as session:
                handoff = auth.verify_sign_in_code(
                    session, challenge_id=challenge_id, code=code, browser_key=browser_key()
                )
        except RcpError as error:
            show_error(error)
            if isinstance(error, auth.AccountLocked):
                _reset_step()
        else:
            _reset_step()
            target = st.session_state.pop(keys.NEXT_URL, "/")
            st.session_state[keys.SIGNIN_REDIRECT] = (
                f"/auth/complete?h={quote(handoff)}&next={quote(target)}"
            )
            st.rerun()
    resend_label = (
        _("Renvoyer le code") if channel == OtpChannel.sms else _("Recevoir plutôt un code par SMS")
    )
    left, right = st.columns(2)
    if left.button(resend_label, key="connexion_resend", icon=":material/refresh:"):
        try:
            with db() as session:
                step = auth.resend_code(
                    session, challenge_id=challenge_id, browser_key=browser_key()
                )
        except RcpError as error:
            show_error(error)
        else:
            _remember(step)
            st.success(
                _("Un nouveau code a été envoyé au {phone}.").format(phone=step.masked_phone)
            )
    if right.button(_("Annuler"), key="connexion_cancel"):
        _reset_step()
        st.rerun()


st.title(settings.platform_name)
st.caption(_("Réunions de concertation pluridisciplinaire — filière maladies rénales rares"))
prerequisites.browser_warning()

params = st.query_params
if params.get("auth") == "expired":
    st.warning(_("Le lien de connexion a expiré. Connectez-vous à nouveau."))
if params.get("signed_out"):
    st.success(_("Vous êtes déconnecté."), icon=":material/logout:")

main, side = st.columns([3, 2], gap="large")
with main:
    st.subheader(_("Connexion"))
    if keys.SIGNIN_REDIRECT in st.session_state:
        st.success(_("Code accepté. Ouverture de votre session…"))
        browser_redirect(st.session_state.pop(keys.SIGNIN_REDIRECT))
    elif keys.SIGNIN_CHALLENGE in st.session_state:
        code_step()
    else:
        if keys.NEXT_URL in st.session_state:
            st.info(_("Connectez-vous pour accéder à la page demandée."), icon=":material/lock:")
        password_step()
    if settings.demo_mode:
        with st.expander(_("Comptes de démonstration")):
            st.markdown(
                _(
                    "Mot de passe commun : `Demo-RCP-2026!`\n\n"
                    "- administrateur : `admin@orkid.example`\n"
                    "- assistante RCP : `assistante@orkid.example`\n"
                    "- médecin référent : `referent@orkid.example`\n"
                    "- médecins : `medecin1@orkid.example`, `medecin2@orkid.example`, "
                    "`medecin3@orkid.example`\n\n"
                    "Les codes SMS sont dans la « Boîte d'envoi » (administrateur) ou via "
                    "`python -m rcp outbox`."
                )
            )
with side:
    prerequisites.equipment_box()
