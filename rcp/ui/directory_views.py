"""The directory levels (network, family, RCP) rendered for the RCP pages."""

import datetime as dt

import streamlit as st

from rcp import directory, meetings, roles
from rcp.dates import PARIS, format_datetime, today_paris
from rcp.errors import RcpError
from rcp.i18n import _, ngettext
from rcp.models import MembershipStatus, User
from rcp.ui import paging
from rcp.ui.context import db, flash, require_user, show_error, show_flash
from rcp.ui.links import (
    DIRECTORY_PAGE,
    FAMILY_PAGE,
    NETWORK_PAGE,
    RCP_PAGE,
    breadcrumbs,
    meeting_label,
    meeting_link,
    query_int,
)
from rcp.ui.text import escape_markdown

MEMBERS_PER_PAGE = 10


def networks_level(user: User) -> None:
    breadcrumbs()
    st.title(_("RCP"))
    st.caption(_("Choisissez votre filière pour accéder à ses familles de RCP."))
    with db() as session:
        networks = directory.list_networks(session, actor=user)
    if not networks:
        st.info(_("Aucune filière n'est encore configurée."))
    for network in networks:
        with st.container(border=True):
            st.page_link(
                NETWORK_PAGE,
                label=f"**{network.code}** — {network.name}",
                query_params={"id": network.id},
                icon=":material/hub:",
            )
            if network.description:
                st.caption(network.description)


def families_level(user: User, network_id: int) -> None:
    with db() as session:
        network = directory.get_network(session, actor=user, network_id=network_id)
        families = directory.list_families(session, actor=user, network_id=network_id)
    breadcrumbs(network=network)
    st.title(network.code)
    st.caption(_("{network} — familles de RCP").format(network=network.name))
    if not families:
        st.info(_("Aucune famille de RCP dans cette filière."))
    for family in families:
        with st.container(border=True):
            st.page_link(
                FAMILY_PAGE,
                label=f"**{family.name}**",
                query_params={"id": family.id},
                icon=":material/folder:",
            )
            if family.description:
                st.caption(family.description)


def rcps_level(user: User, family_id: int) -> None:
    with db() as session:
        network, family = directory.get_family(session, actor=user, family_id=family_id)
        rcps = directory.list_rcps(session, actor=user, family_id=family_id)
    breadcrumbs(network=network, family=family)
    st.title(family.name)
    st.caption(_("Famille de RCP — choisissez votre RCP."))
    if not rcps:
        st.info(_("Aucune RCP dans cette famille."))
    for rcp in rcps:
        with st.container(border=True):
            st.page_link(
                RCP_PAGE,
                label=f"**{rcp.name}**",
                query_params={"id": rcp.id},
                icon=":material/groups:",
            )
            if rcp.description:
                st.caption(rcp.description)


def _meeting_lines(rcp, items, empty: str) -> None:
    if not items:
        st.caption(empty)
    for meeting in items:
        label = meeting_label(meetings.meeting_title(rcp, meeting), meeting.starts_at)
        suffix = _(" — annulée") if meeting.status == "cancelled" else ""
        meeting_link(meeting.id, f"{label}{suffix}")


def _schedule_form(user: User, rcp_id: int) -> None:
    with st.expander(_("Programmer une séance"), icon=":material/add:"):
        with st.form("rcp_schedule_form", clear_on_submit=False):
            today = today_paris()
            c1, c2, c3 = st.columns(3)
            day = c1.date_input(
                _("Date"),
                value=today + dt.timedelta(days=14),
                min_value=today,
                format="DD/MM/YYYY",
                key="rcp_schedule_day",
            )
            start = c2.time_input(
                _("Début (heure de Paris)"), value=dt.time(14, 0), key="rcp_schedule_start"
            )
            end = c3.time_input(_("Fin"), value=dt.time(16, 0), key="rcp_schedule_end")
            early = st.checkbox(
                _("Date limite de dépôt des cas avant le début de la séance"),
                key="rcp_schedule_early",
            )
            d1, d2 = st.columns(2)
            deadline_day = d1.date_input(
                _("Date limite"),
                value=today + dt.timedelta(days=12),
                format="DD/MM/YYYY",
                key="rcp_schedule_deadline_day",
            )
            deadline_time = d2.time_input(
                _("Heure limite"), value=dt.time(18, 0), key="rcp_schedule_deadline_time"
            )
            description = st.text_area(
                _("Description courte (facultatif)"),
                max_chars=2000,
                key="rcp_schedule_description",
            )
            submitted = st.form_submit_button(_("Programmer"), type="primary")
        if submitted:
            deadline = (
                dt.datetime.combine(deadline_day, deadline_time, tzinfo=PARIS) if early else None
            )
            try:
                with db() as session:
                    meeting = meetings.schedule_meeting(
                        session,
                        actor=session.merge(user),
                        rcp_id=rcp_id,
                        day=day,
                        start=start,
                        end=end,
                        deadline=deadline,
                        description=description,
                    )
            except RcpError as error:
                show_error(error)
            else:
                flash(
                    _("Séance du {when} programmée.").format(
                        when=format_datetime(meeting.starts_at)
                    )
                )
                st.rerun()


def _members_admin(user: User, rcp_id: int) -> None:
    with db() as session:
        members = directory.list_members(session, actor=user, rcp_id=rcp_id)
    requested = [r for r in members if r.member.status == MembershipStatus.requested]
    active = [r for r in members if r.member.status == MembershipStatus.active]
    with st.expander(
        _("Membres ({count})").format(count=len(active))
        + (
            ngettext(" · {count} demande(s)", " · {count} demande(s)", len(requested)).format(
                count=len(requested)
            )
            if requested
            else ""
        ),
        icon=":material/group:",
        expanded=bool(requested),
    ):
        for row in requested:
            c1, c2, c3 = st.columns([4, 1, 1], vertical_alignment="center")
            c1.markdown(
                _("**{name}** ({specialty}, {institution}) demande à devenir membre").format(
                    name=row.user.display_name,
                    specialty=roles.qualification(row.user),
                    institution=escape_markdown(row.user.institution),
                )
            )
            for col, accept, label in ((c2, True, _("Accepter")), (c3, False, _("Refuser"))):
                if col.button(label, key=f"rcp_member_{'ok' if accept else 'no'}_{row.member.id}"):
                    try:
                        with db() as session:
                            directory.decide_membership(
                                session,
                                actor=session.merge(user),
                                member_id=row.member.id,
                                accept=accept,
                            )
                    except RcpError as error:
                        show_error(error)
                    else:
                        flash(
                            (
                                _("Demande de {name} acceptée.")
                                if accept
                                else _("Demande de {name} refusée.")
                            ).format(name=row.user.display_name)
                        )
                        st.rerun()
        # An RCP's size, not years, bounds this list; still, ten rows at a time keep the
        # page's rerun cost flat for large RCPs (bench/pages.py, fiche_rcp).
        page = paging.current_page(len(active), key="rcp_members", size=MEMBERS_PER_PAGE)
        paging.controls(page, key="rcp_members")
        for row in active[page.offset : page.offset + page.limit]:
            c1, c2 = st.columns([5, 1], vertical_alignment="center")
            c1.markdown(
                f"{row.user.display_name} — {roles.role_label(row.member.role, row.user)}, "
                f"{roles.qualification(row.user)}"
            )
            if row.member.role == "doctor" and c2.button(
                _("Retirer"), key=f"rcp_member_rm_{row.member.id}"
            ):
                try:
                    with db() as session:
                        directory.remove_member(
                            session, actor=session.merge(user), member_id=row.member.id
                        )
                except RcpError as error:  # e.g. removed meanwhile by another coordinator
                    show_error(error)
                else:
                    flash(_("{name} n'est plus membre.").format(name=row.user.display_name))
                    st.rerun()
        paging.controls(page, key="rcp_members", where="bas")
        search = st.text_input(_("Ajouter un membre (nom ou e-mail)"), key="rcp_member_search")
        if search.strip():
            with db() as session:
                found = directory.search_active_doctors(session, actor=user, search=search)
            known = {r.user.id for r in active}
            for doctor in [d for d in found if d.id not in known][:10]:
                c1, c2 = st.columns([5, 1], vertical_alignment="center")
                c1.markdown(
                    f"{doctor.display_name} — {roles.qualification(doctor)}, "
                    f"{escape_markdown(doctor.institution)}"
                )
                if c2.button(_("Ajouter"), key=f"rcp_member_add_{doctor.id}"):
                    try:
                        with db() as session:
                            directory.add_member(
                                session, actor=session.merge(user), rcp_id=rcp_id, user_id=doctor.id
                            )
                    except RcpError as error:
                        show_error(error)
                    else:
                        flash(_("{name} est maintenant membre.").format(name=doctor.display_name))
                        st.rerun()


def rcp_level(user: User, rcp_id: int) -> None:
    with db() as session:
        trail = directory.get_rcp(session, actor=user, rcp_id=rcp_id)
        coordinators = directory.coordinators(session, rcp_id)
        mine = directory.my_membership(session, actor=user, rcp_id=rcp_id)
        manage = directory.can_manage(session, actor=user, rcp_id=rcp_id)
        coordinates = rcp_id in directory.coordinated_rcp_ids(session, user)
        upcoming = meetings.list_meetings(session, actor=user, rcp_id=rcp_id, upcoming=True)
        past = meetings.list_meetings(session, actor=user, rcp_id=rcp_id, upcoming=False, limit=24)
    breadcrumbs(network=trail.network, family=trail.family)
    st.title(trail.rcp.name)
    if trail.rcp.description:
        st.caption(trail.rcp.description)
    st.markdown(
        _("**Coordination :** {coordinators}").format(
            coordinators=", ".join(
                f"{c.user.display_name} ({roles.role_label(c.member.role, c.user)})"
                for c in coordinators
            )
            or _("aucun coordinateur nommé")
        )
    )
    if mine is None or mine.status == MembershipStatus.refused:
        st.caption(
            _("Vous n'êtes pas membre de cette RCP : les membres peuvent y soumettre des cas.")
        )
        if st.button(_("Demander à devenir membre"), key="rcp_request_membership"):
            try:
                with db() as session:
                    directory.request_membership(session, actor=session.merge(user), rcp_id=rcp_id)
            except RcpError as error:
                show_error(error)
            else:
                flash(_("Demande envoyée aux coordinateurs de la RCP."))
                st.rerun()
    elif mine.status == MembershipStatus.requested:
        st.info(_("Votre demande d'adhésion attend la réponse des coordinateurs."))
    else:
        st.caption(
            _("Vous êtes {role} de cette RCP.").format(role=roles.role_label(mine.role, user))
        )
    if manage:
        _schedule_form(user, rcp_id)
        _members_admin(user, rcp_id)
    if coordinates:
        st.page_link(
            "pages/acces_cas.py",
            label=_("Accès aux cas : qui a ouvert les dossiers de cette RCP"),
            query_params={"rcp": rcp_id},
            icon=":material/visibility:",
        )
    st.subheader(_("Séances à venir"))
    _meeting_lines(trail.rcp, upcoming, _("Aucune séance programmée."))
    st.subheader(_("Séances passées"))
    _meeting_lines(trail.rcp, past, _("Aucune séance passée."))


def run_level(level, *, needs_id: bool = True) -> None:
    """Run one directory level for the signed-in user, with the ?id= of the URL if needed."""
    user = require_user()
    show_flash()
    level_id = query_int("id")
    if needs_id and level_id is None:
        st.error(_("Lien incomplet : aucun identifiant indiqué."))
        st.page_link(DIRECTORY_PAGE, label=_("Parcourir les RCP"), icon=":material/account_tree:")
        return
    try:
        if needs_id:
            level(user, level_id)
        else:
            level(user)
    except RcpError as error:
        show_error(error)
        st.page_link(DIRECTORY_PAGE, label=_("Parcourir les RCP"), icon=":material/account_tree:")
