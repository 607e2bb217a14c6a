"""Mot de passe oublié: ask for an emailed link, then choose a new password from it."""

import streamlit as st

from rcp import auth
from rcp.errors import RcpError
from rcp.i18n import _
from rcp.ui.context import browser_key, client_ip, db, show_error

st.title(_("Mot de passe oublié"))
token = st.query_params.get("token")

if not token:
    st.markdown(
        _(
            "Indiquez l'adresse e-mail de votre compte : si elle correspond à un compte actif, "
            "vous recevrez un lien pour choisir un nouveau mot de passe (valable une heure, "
            "utilisable une seule fois)."
        )
    )
    with st.form("reset_request_form"):
        email = st.text_input(_("Adresse e-mail professionnelle"), key="reset_email")
        submitted = st.form_submit_button(_("Recevoir le lien"), type="primary")
    if submitted:
        with db() as session:
            auth.request_password_reset(session, email=email, ip_address=client_ip())
        # The same answer whether or not the account exists.
        st.success(
            _(
                "Si un compte actif correspond à cette adresse, un e-mail vient de lui être "
                "envoyé. Pensez à vérifier vos courriers indésirables."
            )
        )
else:
    try:
        with db() as session:
            auth.check_reset_token(session, token=token)
    except RcpError as error:
        show_error(error)
        st.page_link("pages/mot_de_passe_oublie.py", label=_("Faire une nouvelle demande"))
        st.stop()
    with st.form("reset_password_form"):
        st.caption(_("Au moins 12 caractères. Une phrase de passe est idéale."))
        new_password = st.text_input(
            _("Nouveau mot de passe"),
            type="password",
            key="reset_new_password",
            autocomplete="new-password",
        )
        confirm = st.text_input(
            _("Confirmez le nouveau mot de passe"),
            type="password",
            key="reset_confirm_password",
            autocomplete="new-password",
        )
        submitted = st.form_submit_button(_("Enregistrer le nouveau mot de passe"), type="primary")
    if submitted:
        if new_password != confirm:
            st.error(_("Les deux mots de passe saisis sont différents."))
        else:
            try:
                with db() as session:
                    auth.reset_password(
                        session,
                        token=token,
                        new_password=new_password,
                        browser_key=browser_key(),
                    )
            except RcpError as error:
                show_error(error)
            else:
                st.query_params.clear()
                st.success(
                    _(
                        "Votre mot de passe est modifié. Connectez-vous : le code de "
                        "vérification vous sera demandé comme d'habitude."
                    )
                )

st.page_link("pages/connexion.py", label=_("Retour à la connexion"), icon=":material/login:")
