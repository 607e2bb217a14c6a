"""Accueil: the signed-in user's home page."""

import streamlit as st

from rcp import accounts, meetings, roles
from rcp.i18n import _, ngettext
from rcp.permissions import is_admin
from rcp.ui.context import db, require_user, show_flash
from rcp.ui.links import meeting_label, meeting_link

user = require_user()
show_flash()
st.title(_("Bonjour {name}").format(name=user.display_name))
st.page_link(
    "pages/materiel.py",
    label=_("Tester mon matériel (caméra, micro, haut-parleurs) avant la RCP"),
    icon=":material/videocam:",
)

with db() as session:
    home = meetings.home(session, actor=user)

left, right = st.columns(2, gap="large")
with left:
    st.subheader(_("Mes invitations en attente"))
    if not home.invitations:
        st.caption(_("Aucune invitation en attente."))
    for line in home.invitations:
        with st.container(border=True):
            meeting_link(
                line.meeting.id,
                meeting_label(line.title, line.meeting.starts_at),
                icon=":material/mail:",
            )
            st.caption(_("Ouvrez la séance pour valider ou décliner votre participation."))
    st.subheader(_("Mes prochaines séances"))
    if not home.upcoming:
        st.caption(
            _("Aucune séance à venir. Parcourez l'onglet « RCP » pour demander à participer.")
        )
    for line in home.upcoming:
        label = {
            "confirmed": _("participation confirmée"),
            "requested": _("demande en attente"),
            "coordinator": _("vous coordonnez"),
        }.get(line.status or "", "")
        meeting_link(
            line.meeting.id,
            meeting_label(line.title, line.meeting.starts_at) + (f" ({label})" if label else ""),
        )
with right:
    if home.requests or home.membership_requests or home.understaffed:
        st.subheader(_("À faire (coordination)"))
    for line, row in home.requests:
        with st.container(border=True):
            st.markdown(
                _("**{name}** ({specialty}) demande à participer").format(
                    name=row.user.display_name, specialty=roles.qualification(row.user)
                )
            )
            meeting_link(
                line.meeting.id,
                meeting_label(line.title, line.meeting.starts_at),
                icon=":material/front_hand:",
            )
    for trail, row in home.membership_requests:
        with st.container(border=True):
            st.markdown(
                _("**{name}** demande à devenir membre de {rcp}").format(
                    name=row.user.display_name, rcp=trail.rcp.name
                )
            )
            st.page_link(
                "pages/fiche_rcp.py",
                label=_("Répondre"),
                query_params={"id": trail.rcp.id},
                icon=":material/group_add:",
            )
    for line, confirmed, minimum in home.understaffed:
        with st.container(border=True):
            st.markdown(
                ngettext(
                    "Seulement **{confirmed}** participation(s) confirmée(s) sur {minimum} "
                    "souhaitées",
                    "Seulement **{confirmed}** participation(s) confirmée(s) sur {minimum} "
                    "souhaitées",
                    confirmed,
                ).format(confirmed=confirmed, minimum=minimum)
            )
            meeting_link(
                line.meeting.id,
                meeting_label(line.title, line.meeting.starts_at),
                icon=":material/group_off:",
            )

if is_admin(user):
    with db() as session:
        pending = accounts.count_pending(session, actor=user)
    if pending:
        st.info(
            ngettext(
                "{count} inscription(s) en attente de validation.",
                "{count} inscription(s) en attente de validation.",
                pending,
            ).format(count=pending),
            icon=":material/how_to_reg:",
        )
        st.page_link(
            "pages/admin_inscriptions.py",
            label=_("Valider les inscriptions"),
            icon=":material/how_to_reg:",
        )
    else:
        st.caption(_("Aucune inscription en attente de validation."))

if not user.totp_secret:
    st.caption(
        _(
            "Astuce : vous pouvez utiliser une application d'authentification au lieu du SMS "
            "(page « Mon compte »)."
        )
    )
