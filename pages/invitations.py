"""Invitations: admins and RCP coordinators invite colleagues to register."""

import re

import streamlit as st

from rcp import i18n, invites
from rcp.config import get_settings
from rcp.dates import format_datetime
from rcp.errors import RcpError
from rcp.i18n import N_, _, ngettext
from rcp.ui import keys
from rcp.ui.context import current_user, db, flash, require_user, show_error, show_flash

STATE_LABELS = {
    invites.InviteState.pending: N_(":orange-badge[En attente]"),
    invites.InviteState.used: N_(":green-badge[Utilisée]"),
    invites.InviteState.expired: N_(":gray-badge[Expirée]"),
    invites.InviteState.revoked: N_(":red-badge[Révoquée]"),
}


def _md(text: str) -> str:
    """User text shown inside markdown as typed: no emphasis, no markdown link or image."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~<>:$])", r"\\\1", text)


user = require_user()
with db() as session:
    allowed = invites.may_invite(session, user)
if not allowed:
    st.error(
        _("Cette page est réservée aux administrateurs et aux coordinateurs de RCP."),
        icon=":material/block:",
    )
    st.stop()

show_flash()
st.title(_("Invitations"))
ttl = get_settings().invite_ttl_days
st.markdown(
    _(
        "Invitez un confrère à s'inscrire sur la plateforme. Il recevra un e-mail avec un lien "
        "personnel, valable **{days} jours** et utilisable une seule fois, vers le formulaire "
        "d'inscription où son adresse sera déjà renseignée. Son inscription devra ensuite être "
        "validée par un administrateur, qui verra votre invitation et votre message."
    ).format(days=ttl)
)


def _send() -> None:
    """Runs before the rerun, so it may empty the form's widgets once the invitation is sent."""
    st.session_state.pop(keys.INVITATIONS_ERROR, None)
    # Checked again here: the session may have ended since the form was shown.
    inviter = current_user()
    if inviter is None:
        return  # the page's own guard then asks to sign in again
    try:
        with db() as session:
            invite = invites.create_invite(
                session,
                actor=session.merge(inviter),
                email=st.session_state.get("invitations_email", ""),
                message=st.session_state.get("invitations_message", ""),
            )
    except RcpError as error:
        st.session_state[keys.INVITATIONS_ERROR] = str(error)
    else:
        flash(_("Invitation envoyée à {email}.").format(email=_md(invite.email)))
        st.session_state["invitations_email"] = ""
        st.session_state["invitations_message"] = ""


with st.form("invitations_form"):
    st.text_input(
        _("Adresse e-mail professionnelle du confrère"),
        key="invitations_email",
        max_chars=254,
        placeholder=_("prenom.nom@chu-exemple.fr"),
    )
    st.text_area(
        _("Message personnel (facultatif)"),
        key="invitations_message",
        max_chars=1000,
        help=_("Il figure dans l'e-mail d'invitation. N'y mettez aucune donnée de patient."),
    )
    st.form_submit_button(
        _("Envoyer l'invitation"),
        type="primary",
        icon=":material/forward_to_inbox:",
        on_click=_send,
    )
if keys.INVITATIONS_ERROR in st.session_state:
    show_error(RcpError(st.session_state.pop(keys.INVITATIONS_ERROR)))

st.subheader(_("Toutes les invitations") if user.is_admin else _("Mes invitations"))
with db() as session:
    rows = invites.list_invite_rows(session, actor=session.merge(user))

if not rows:
    st.info(_("Aucune invitation envoyée pour l'instant."), icon=":material/inbox:")

for row in rows:
    invite = row.invite
    with st.container(border=True, key=f"invitations_card_{invite.id}"):
        info_col, resend_col, revoke_col = st.columns([6, 1.2, 1.2], vertical_alignment="center")
        alert = st.container()  # errors span the card, not a button's narrow column
        sent_times = ngettext("{count} envoi", "{count} envois", invite.send_count).format(
            count=invite.send_count
        )
        details = [_("envoyée le {when}").format(when=format_datetime(invite.created_at))]
        if user.is_admin:
            details.append(_("par {name}").format(name=row.inviter_name))
        if row.state == invites.InviteState.used:
            details.append(_("inscription le {when}").format(when=format_datetime(invite.used_at)))
        elif row.state == invites.InviteState.revoked:
            details.append(_("révoquée le {when}").format(when=format_datetime(invite.revoked_at)))
        elif row.state == invites.InviteState.expired:
            details.append(_("expirée le {when}").format(when=format_datetime(invite.expires_at)))
        else:
            details.append(
                _("valable jusqu'au {when}").format(when=format_datetime(invite.expires_at))
            )
        details.append(sent_times)
        info_col.markdown(
            f"**{_md(invite.email)}** {i18n.label(STATE_LABELS, row.state)}  \n"
            + " · ".join(details)
        )
        if invite.message:
            info_col.caption(_("Message : « {message} »").format(message=_md(invite.message)))
        if row.state in (invites.InviteState.pending, invites.InviteState.expired):
            if resend_col.button(
                _("Renvoyer"),
                key=f"invitations_resend_{invite.id}",
                icon=":material/send:",
                help=_("Envoie un nouveau lien ; l'ancien ne fonctionne plus."),
                width="stretch",
            ):
                try:
                    with db() as session:
                        invites.resend_invite(
                            session, actor=session.merge(user), invite_id=invite.id
                        )
                except RcpError as error:
                    with alert:
                        show_error(error)
                else:
                    flash(
                        _("Nouveau lien envoyé à {email}, valable {days} jours.").format(
                            email=_md(invite.email), days=ttl
                        )
                    )
                    st.rerun()
            if revoke_col.button(
                _("Révoquer"),
                key=f"invitations_revoke_{invite.id}",
                icon=":material/link_off:",
                help=_("Le lien ne permettra plus de s'inscrire."),
                width="stretch",
            ):
                try:
                    with db() as session:
                        invites.revoke_invite(
                            session, actor=session.merge(user), invite_id=invite.id
                        )
                except RcpError as error:
                    with alert:
                        show_error(error)
                else:
                    flash(
                        _("Invitation de {email} révoquée : le lien ne fonctionne plus.").format(
                            email=_md(invite.email)
                        )
                    )
                    st.rerun()
