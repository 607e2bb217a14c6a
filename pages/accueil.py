"""Accueil: the signed-in user's home page."""

import streamlit as st

from rcp import accounts, meetings
from rcp.dates import format_datetime
from rcp.permissions import is_admin
from rcp.ui.context import db, require_user, show_flash
from rcp.ui.links import meeting_link

user = require_user()
show_flash()
st.title(f"Bonjour {user.display_name}")
st.page_link(
    "pages/materiel.py",
    label="Tester mon matériel (caméra, micro, haut-parleurs) avant la RCP",
    icon=":material/videocam:",
)

with db() as session:
    home = meetings.home(session, actor=user)

left, right = st.columns(2, gap="large")
with left:
    st.subheader("Mes invitations en attente")
    if not home.invitations:
        st.caption("Aucune invitation en attente.")
    for line in home.invitations:
        with st.container(border=True):
            meeting_link(line.meeting.id, line.title, icon=":material/mail:")
            st.caption(
                f"{format_datetime(line.meeting.starts_at)} — ouvrez la séance pour "
                "valider ou décliner votre participation."
            )
    st.subheader("Mes prochaines séances")
    if not home.upcoming:
        st.caption("Aucune séance à venir. Parcourez l'onglet « RCP » pour demander à participer.")
    for line in home.upcoming:
        label = {
            "confirmed": "participation confirmée",
            "requested": "demande en attente",
            "coordinator": "vous coordonnez",
        }.get(line.status or "", "")
        meeting_link(
            line.meeting.id,
            f"{line.title} — {format_datetime(line.meeting.starts_at)}"
            + (f" ({label})" if label else ""),
        )
with right:
    if home.requests or home.membership_requests or home.understaffed:
        st.subheader("À faire (coordination)")
    for line, row in home.requests:
        with st.container(border=True):
            st.markdown(f"**{row.user.display_name}** ({row.user.specialty}) demande à participer")
            meeting_link(line.meeting.id, line.title, icon=":material/front_hand:")
    for trail, row in home.membership_requests:
        with st.container(border=True):
            st.markdown(f"**{row.user.display_name}** demande à devenir membre de {trail.rcp.name}")
            st.page_link(
                "pages/fiche_rcp.py",
                label="Répondre",
                query_params={"id": trail.rcp.id},
                icon=":material/group_add:",
            )
    for line, confirmed, minimum in home.understaffed:
        with st.container(border=True):
            st.markdown(
                f"Seulement **{confirmed}** participation(s) confirmée(s) sur {minimum} souhaitées"
            )
            meeting_link(line.meeting.id, line.title, icon=":material/group_off:")

if is_admin(user):
    with db() as session:
        pending = accounts.count_pending(session, actor=user)
    if pending:
        st.info(f"{pending} inscription(s) en attente de validation.", icon=":material/how_to_reg:")
        st.page_link(
            "pages/admin_inscriptions.py",
            label="Valider les inscriptions",
            icon=":material/how_to_reg:",
        )
    else:
        st.caption("Aucune inscription en attente de validation.")

if not user.totp_secret:
    st.caption(
        "Astuce : vous pouvez utiliser une application d'authentification au lieu du SMS "
        "(page « Mon compte »)."
    )
