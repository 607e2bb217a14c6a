"""Mon compte: profile, password, mobile number, authenticator app and active sessions."""

import html

import segno
import streamlit as st

from rcp import accounts, auth, browsers, i18n, roles
from rcp.dates import format_datetime
from rcp.errors import RcpError
from rcp.i18n import _
from rcp.ui import keys, language
from rcp.ui.context import db, flash, require_user, session_token, show_error, show_flash
from rcp.ui.redirect import browser_redirect
from rcp.ui.text import escape_markdown
from rcp.validation import mask_phone

user = require_user()
show_flash()
st.title(_("Mon compte"))

profile, security, sessions_tab = st.tabs([_("Profil"), _("Sécurité"), _("Sessions actives")])

with profile:
    st.markdown(
        f"**{user.display_name}** — {escape_markdown(roles.qualification(user))}  \n"
        f"{escape_markdown(user.email)}  \n"
        + _("Portable : {phone}").format(phone=mask_phone(user.phone))
    )
    with st.form("compte_profile_form"):
        civilities = list(roles.CIVILITY_CHOICES)
        civility = st.selectbox(
            _("Forme d'adresse (facultatif)"),
            civilities,
            index=civilities.index(user.civility or None),
            format_func=lambda c: _(roles.CIVILITY_CHOICES[c]),
            key="compte_civility",
            help=_(
                "Pour écrire votre fonction au féminin ou au masculin (« assistante », "
                "« assistant ») ; sinon le masculin générique."
            ),
        )
        specialty = st.selectbox(
            _("Spécialité"),
            accounts.SPECIALTIES,
            format_func=_,  # the stored value stays the French name
            index=accounts.SPECIALTIES.index(user.specialty)
            if user.specialty in accounts.SPECIALTIES
            else None,
            key="compte_specialty",
        )
        institution = st.text_input(
            _("Établissement"), value=user.institution, key="compte_institution", max_chars=200
        )
        rpps = st.text_input(
            _("Numéro RPPS (facultatif)"), value=user.rpps or "", key="compte_rpps", max_chars=15
        )
        if st.form_submit_button(_("Enregistrer")):
            try:
                with db() as session:
                    me = session.merge(user)
                    accounts.update_profile(
                        session,
                        actor=me,
                        specialty=specialty or "",
                        institution=institution,
                        rpps=rpps,
                        civility=civility,
                    )
            except RcpError as error:
                show_error(error)
            else:
                flash(_("Profil enregistré."))
                st.rerun()
    st.caption(
        _(
            "Pour modifier votre nom, votre adresse e-mail ou votre profession, contactez un "
            "administrateur."
        )
    )

    st.subheader(_("Langue"))
    choices: list[str | None] = [None, *i18n.LANGUAGES]
    browser = language.browser_language()
    with st.form("compte_language_form"):
        chosen = st.selectbox(
            _("Langue des pages et des messages (e-mails, SMS, fiches)"),
            choices,
            index=choices.index(i18n.normalize(user.language)),
            format_func=lambda code: (
                _("Celle du navigateur ({language})").format(language=i18n.NAMES[browser])
                if code is None
                else i18n.NAMES[code]
            ),
            key="compte_language",
        )
        if st.form_submit_button(_("Enregistrer la langue")):
            with db() as session:
                accounts.set_language(session, actor=session.merge(user), language=chosen)
            # The whole document follows (its lang attribute, Streamlit's own words).
            browser_redirect("/mon-compte")  # i18n: exempt (a URL)
            st.stop()

with security:
    st.subheader(_("Changer de mot de passe"))
    with st.form("compte_password_form", clear_on_submit=True):
        current = st.text_input(_("Mot de passe actuel"), type="password", key="compte_pw_current")
        new = st.text_input(
            _("Nouveau mot de passe (12 caractères au moins)"),
            type="password",
            key="compte_pw_new",
            autocomplete="new-password",
        )
        confirm = st.text_input(
            _("Confirmez le nouveau mot de passe"),
            type="password",
            key="compte_pw_confirm",
            autocomplete="new-password",
        )
        if st.form_submit_button(_("Changer le mot de passe")):
            if new != confirm:
                st.error(_("Les deux nouveaux mots de passe sont différents."))
            else:
                try:
                    with db() as session:
                        me = session.merge(user)
                        auth.change_password(
                            session,
                            actor=me,
                            current_password=current,
                            new_password=new,
                            keep_token=session_token(),
                        )
                except RcpError as error:
                    show_error(error)
                else:
                    flash(_("Mot de passe modifié. Vos autres sessions ont été fermées."))
                    st.rerun()

    st.subheader(_("Changer de numéro de portable"))
    if keys.PHONE_CHALLENGE not in st.session_state:
        with st.form("compte_phone_form"):
            new_phone = st.text_input(_("Nouveau numéro de portable"), key="compte_new_phone")
            password = st.text_input(_("Mot de passe"), type="password", key="compte_phone_pw")
            if st.form_submit_button(_("Recevoir un code sur ce numéro")):
                try:
                    with db() as session:
                        me = session.merge(user)
                        step = auth.request_phone_change(
                            session, actor=me, new_phone=new_phone, password=password
                        )
                except RcpError as error:
                    show_error(error)
                else:
                    st.session_state[keys.PHONE_CHALLENGE] = step.challenge_id
                    st.rerun()
    else:
        st.info(_("Un code a été envoyé par SMS au nouveau numéro. Saisissez-le pour confirmer."))
        with st.form("compte_phone_code_form"):
            code = st.text_input(_("Code reçu"), key="compte_phone_code", max_chars=7)
            ok = st.form_submit_button(_("Confirmer le nouveau numéro"))
        if ok:
            try:
                with db() as session:
                    me = session.merge(user)
                    auth.confirm_phone_change(
                        session,
                        actor=me,
                        challenge_id=st.session_state[keys.PHONE_CHALLENGE],
                        code=code,
                    )
            except RcpError as error:
                show_error(error)
            else:
                st.session_state.pop(keys.PHONE_CHALLENGE, None)
                flash(_("Numéro de portable modifié."))
                st.rerun()
        if st.button(_("Annuler le changement de numéro"), key="compte_phone_cancel"):
            st.session_state.pop(keys.PHONE_CHALLENGE, None)
            st.rerun()

    st.subheader(_("Application d'authentification"))
    if user.totp_secret:
        st.success(
            _(
                "Une application d'authentification est active : elle peut remplacer le SMS "
                "à la connexion."
            ),
            icon=":material/phonelink_lock:",
        )
        with st.form("compte_totp_disable_form"):
            password = st.text_input(_("Mot de passe"), type="password", key="compte_totp_pw")
            if st.form_submit_button(_("Retirer l'application (revenir au SMS)")):
                try:
                    with db() as session:
                        auth.disable_totp(session, actor=session.merge(user), password=password)
                except RcpError as error:
                    show_error(error)
                else:
                    flash(_("Application retirée : les codes arriveront de nouveau par SMS."))
                    st.rerun()
    else:
        st.caption(
            _(
                "Avec une application (FreeOTP, Google Authenticator, Microsoft "
                "Authenticator…), vous pouvez vous connecter sans attendre de SMS."
            )
        )
        if keys.TOTP_URI not in st.session_state:
            if st.button(_("Configurer une application"), key="compte_totp_begin"):
                with db() as session:
                    st.session_state[keys.TOTP_URI] = auth.begin_totp_enrolment(
                        session, actor=session.merge(user)
                    )
                st.rerun()
        else:
            uri = st.session_state[keys.TOTP_URI]
            # Inline (data: URI) rather than st.image: st.image would put the code, which holds
            # the account's secret, under /media where any holder of the URL could fetch it.
            data_uri = segno.make(uri, error="m").png_data_uri(scale=5, border=2)
            qr_alt = _("QR code de l'application d'authentification")
            st.html(
                f'<img src="{data_uri}" alt="{html.escape(qr_alt)}"'
                ' style="width:220px;height:auto;display:block;">'
            )
            st.caption(_("Scannez ce QR code avec l'application."))
            with st.expander(_("Impossible de scanner ? Saisir la clé à la main")):
                st.code(uri.split("secret=", 1)[1].split("&", 1)[0])
            with st.form("compte_totp_confirm_form"):
                code = st.text_input(
                    _("Code affiché par l'application"), key="compte_totp_code", max_chars=7
                )
                if st.form_submit_button(_("Activer")):
                    try:
                        with db() as session:
                            auth.confirm_totp_enrolment(
                                session, actor=session.merge(user), code=code
                            )
                    except RcpError as error:
                        show_error(error)
                    else:
                        st.session_state.pop(keys.TOTP_URI, None)
                        flash(_("Application d'authentification activée."))
                        st.rerun()

with sessions_tab:
    with db() as session:
        mine = auth.list_sessions(session, actor=user)
        current = auth.current_login(session, token=session_token())
    st.caption(
        _(
            "Les sessions ouvertes avec votre compte. Mettez fin à celles que vous ne "
            "reconnaissez pas."
        )
    )
    for login in mine:
        with st.container(border=True):
            this = current is not None and login.id == current.id
            label = _(" (cette session)") if this else ""
            agent = browsers.describe(login.user_agent)
            st.markdown(
                f"**{agent}**{label}  \n"
                + _("Ouverte le {opened} · dernière activité {seen} · adresse {address}").format(
                    opened=format_datetime(login.created_at),
                    seen=format_datetime(login.last_seen_at),
                    address=login.ip_address or "—",
                )
            )
            if st.button(_("Mettre fin à cette session"), key=f"compte_end_session_{login.id}"):
                with db() as session:
                    auth.end_session(session, actor=session.merge(user), login_session_id=login.id)
                if this:
                    st.rerun()
                flash(_("Session fermée."))
                st.rerun()
