"""Inscription: a doctor asks for an account; an admin validates it."""

import streamlit as st

from rcp import accounts, invites, roles
from rcp.errors import RcpError
from rcp.i18n import _
from rcp.ui import keys
from rcp.ui.context import db, show_error
from rcp.ui.text import escape_markdown

st.title(_("Inscription"))

if keys.REGISTERED_EMAIL in st.session_state:
    st.success(
        _(
            "Votre demande d'inscription est enregistrée. Un administrateur va la vérifier : "
            "vous recevrez un e-mail à l'adresse **{email}** dès qu'elle sera validée. Vous "
            "pourrez alors vous connecter."
        ).format(email=escape_markdown(st.session_state[keys.REGISTERED_EMAIL])),
        icon=":material/mark_email_read:",
    )
    st.page_link("pages/connexion.py", label=_("Retour à la connexion"), icon=":material/login:")
    st.stop()

invite_token = st.query_params.get("invitation") or st.session_state.get(keys.REGISTER_INVITE)
invited_email: str | None = None
if invite_token:
    try:
        with db() as session:
            invite = invites.find_valid(session, token=invite_token)
            invited_email = invite.email
            inviter = invites.inviter_name(session, invite)
    except RcpError as error:
        # A dead link still leaves the ordinary registration open.
        show_error(error)
        invite_token = None
        st.session_state.pop(keys.REGISTER_INVITE, None)
    else:
        st.session_state[keys.REGISTER_INVITE] = invite_token
        st.info(
            _(
                "Vous avez été invité par **{inviter}**. Votre adresse e-mail est celle à "
                "laquelle l'invitation a été envoyée ; votre inscription sera ensuite validée "
                "par un administrateur."
            ).format(inviter=inviter),
            icon=":material/forward_to_inbox:",
        )

st.markdown(
    _(
        "Toutes les informations sont requises, sauf le numéro RPPS. Le **numéro de portable** "
        "est obligatoire : il reçoit le code de la double authentification, exigée pour le "
        "partage de données de santé."
    )
)

with st.form("inscription_form"):
    c1, c2 = st.columns(2)
    last_name = c1.text_input(_("Nom"), key="inscription_last_name", max_chars=100)
    first_name = c2.text_input(_("Prénom"), key="inscription_first_name", max_chars=100)
    if invited_email is not None:
        # Locked: the account takes the invited address (the service enforces it as well).
        email = c1.text_input(
            _("Adresse e-mail professionnelle"),
            value=invited_email,
            key="inscription_email_invited",
            disabled=True,
            help=_("L'adresse à laquelle vous avez reçu l'invitation."),
        )
    else:
        email = c1.text_input(
            _("Adresse e-mail professionnelle"), key="inscription_email", max_chars=254
        )
    phone = c2.text_input(
        _("Téléphone portable"), key="inscription_phone", placeholder="06 12 34 56 78", max_chars=25
    )
    profession = c1.selectbox(
        _("Profession"),
        list(roles.PROFESSION_CHOICES),
        index=0,  # physicians, most of the network
        format_func=lambda p: _(roles.PROFESSION_CHOICES[p]),
        key="inscription_profession",
    )
    civility = c2.selectbox(
        _("Forme d'adresse (facultatif)"),
        list(roles.CIVILITY_CHOICES),
        index=0,
        format_func=lambda c: _(roles.CIVILITY_CHOICES[c]),
        key="inscription_civility",
        help=_(
            "Pour écrire votre fonction au féminin ou au masculin (« assistante », "
            "« assistant ») ; sinon le masculin générique."
        ),
    )
    specialty = c1.selectbox(
        _("Spécialité"),
        accounts.SPECIALTIES,
        index=None,
        format_func=_,  # the stored value stays the French name
        placeholder=_("Choisissez…"),
        key="inscription_specialty",
    )
    institution = c2.text_input(
        _("Établissement"),
        key="inscription_institution",
        max_chars=200,
        placeholder=_("CHU, service"),
    )
    rpps = c1.text_input(
        _("Numéro RPPS (facultatif)"),
        key="inscription_rpps",
        max_chars=15,
        help=_("11 chiffres, figure sur votre carte CPS."),
    )
    st.caption(_("Mot de passe : au moins 12 caractères. Une phrase de passe est idéale."))
    p1, p2 = st.columns(2)
    password = p1.text_input(
        _("Mot de passe"), type="password", key="inscription_password", autocomplete="new-password"
    )
    password_confirm = p2.text_input(
        _("Confirmez le mot de passe"),
        type="password",
        key="inscription_password_confirm",
        autocomplete="new-password",
    )
    terms = st.checkbox(
        _(
            "J'accepte les conditions d'utilisation de la plateforme, notamment la "
            "confidentialité des données de santé échangées."
        ),
        key="inscription_terms",
    )
    submitted = st.form_submit_button(_("Envoyer ma demande d'inscription"), type="primary")

if submitted:
    form = accounts.Registration(
        last_name=last_name,
        first_name=first_name,
        email=email,
        phone=phone,
        specialty=specialty or "",
        institution=institution,
        rpps=rpps,
        profession=profession,
        civility=civility,
        password=password,
        password_confirm=password_confirm,
        terms_accepted=terms,
    )
    try:
        with db() as session:
            # The same answer whether or not the address already has an account.
            email = accounts.request_registration(session, form=form, invite_token=invite_token)
    except RcpError as error:
        show_error(error)
    else:
        st.session_state[keys.REGISTERED_EMAIL] = email
        st.session_state.pop(keys.REGISTER_INVITE, None)
        st.rerun()

st.page_link(
    "pages/connexion.py", label=_("J'ai déjà un compte : me connecter"), icon=":material/login:"
)
