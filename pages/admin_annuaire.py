"""Administration: networks, RCP families, RCPs and their coordinators.

One network and one of its families at a time (chosen above), so that the page stays the same
size however many RCPs the platform has; a family with many RCPs is paged.
"""

import streamlit as st

from rcp import directory, roles
from rcp.errors import RcpError
from rcp.i18n import _
from rcp.models import MemberRole
from rcp.ui import paging
from rcp.ui.context import db, flash, require_admin_page, show_error, show_flash

RCPS_PER_PAGE = 10

admin = require_admin_page()
show_flash()
st.title(_("Filières et RCP"))


def act(call, success: str, **kwargs) -> None:
    try:
        with db() as session:
            call(session, actor=session.merge(admin), **kwargs)
    except RcpError as error:
        show_error(error)
    else:
        flash(success)
        st.rerun()


with db() as session:
    networks = {n.id: n for n in directory.list_networks(session, actor=admin)}

with st.expander(_("Nouvelle filière"), icon=":material/add:"):
    with st.form("annuaire_network_form"):
        code = st.text_input(_("Sigle (ex. ORKID)"), key="annuaire_network_code", max_chars=30)
        name = st.text_input(_("Nom"), key="annuaire_network_name", max_chars=200)
        if st.form_submit_button(_("Créer la filière")):
            act(directory.create_network, _("Filière créée."), code=code, name=name)

if not networks:
    st.info(_("Aucune filière : créez la première ci-dessus."))
    st.stop()

network_id = st.selectbox(
    _("Filière"),
    list(networks),
    format_func=lambda i: f"{networks[i].code} — {networks[i].name}",
    key="annuaire_network",
)
network = networks[network_id]
with db() as session:
    families = {
        f.id: f for f in directory.list_families(session, actor=admin, network_id=network.id)
    }

st.header(f"{network.code} — {network.name}")
with st.expander(_("Nouvelle famille de RCP"), icon=":material/add:"):
    with st.form(f"annuaire_family_form_{network.id}"):
        name = st.text_input(_("Nom de la famille"), key=f"annuaire_family_name_{network.id}")
        if st.form_submit_button(_("Créer la famille")):
            act(directory.create_family, _("Famille créée."), network_id=network.id, name=name)

if not families:
    st.info(_("Aucune famille de RCP dans cette filière : créez la première ci-dessus."))
    st.stop()

family_id = st.selectbox(
    _("Famille de RCP"),
    list(families),
    format_func=lambda i: families[i].name,
    key=f"annuaire_family_{network.id}",
)
family = families[family_id]
st.subheader(family.name)
with st.expander(_("Nouvelle RCP dans cette famille"), icon=":material/add:"):
    with st.form(f"annuaire_rcp_form_{family.id}"):
        name = st.text_input(_("Nom de la RCP"), key=f"annuaire_rcp_name_{family.id}")
        quorum = st.number_input(
            _("Quorum : spécialités distinctes"),
            1,
            10,
            3,
            key=f"annuaire_rcp_quorum_{family.id}",
        )
        if st.form_submit_button(_("Créer la RCP")):
            act(
                directory.create_rcp,
                _("RCP créée."),
                family_id=family.id,
                name=name,
                min_specialties=int(quorum),
            )

with db() as session:
    rcps = directory.list_rcps(session, actor=admin, family_id=family.id)
    page = paging.current_page(len(rcps), key=f"annuaire_rcps_{family.id}", size=RCPS_PER_PAGE)
    shown = rcps[page.offset : page.offset + page.limit]
    # One query for the coordinators of every RCP shown, not one per RCP.
    coordinators = directory.coordinators_by_rcp(session, [r.id for r in shown])

if not rcps:
    st.info(_("Aucune RCP dans cette famille."))
paging.controls(page, key=f"annuaire_rcps_{family.id}")
for rcp in shown:
    with st.container(border=True, key=f"annuaire_rcp_{rcp.id}"):
        names = ", ".join(
            f"{c.user.display_name} ({roles.role_label(c.member.role, c.user)})"
            for c in coordinators[rcp.id]
        ) or _("aucun coordinateur")
        st.markdown(
            f"**{rcp.name}** · "
            + _("quorum {count} spécialités  \nCoordination : {names}").format(
                count=rcp.min_specialties, names=names
            )
        )
        # Admins name coordinators and are the only ones to remove one (its members
        # are managed by the coordinators on the RCP's page).
        for c in coordinators[rcp.id]:
            if st.button(
                _("Retirer {name} de la RCP").format(name=c.user.display_name),
                key=f"annuaire_rm_{c.member.id}",
            ):
                act(
                    directory.remove_member,
                    _("{name} ne fait plus partie de la RCP.").format(name=c.user.display_name),
                    member_id=c.member.id,
                )
        search = st.text_input(
            _("Nommer un coordinateur (nom ou e-mail)"), key=f"annuaire_coord_search_{rcp.id}"
        )
        if search.strip():
            with db() as session:
                found = directory.search_active_doctors(
                    session, actor=admin, search=search, limit=10
                )
            for doctor in found:
                c1, c2, c3 = st.columns([4, 1, 1], vertical_alignment="center")
                c1.markdown(f"{doctor.display_name} — {roles.qualification(doctor)}")
                if c2.button(_("Assistant(e)"), key=f"annuaire_as_{rcp.id}_{doctor.id}"):
                    act(
                        directory.set_role,
                        roles.by_form(
                            doctor,
                            _("{name} est assistante de la RCP."),
                            _("{name} est assistant de la RCP."),
                        ).format(name=doctor.display_name),
                        rcp_id=rcp.id,
                        user_id=doctor.id,
                        role=MemberRole.assistant,
                    )
                if c3.button(_("Référent"), key=f"annuaire_ref_{rcp.id}_{doctor.id}"):
                    act(
                        directory.set_role,
                        roles.by_form(
                            doctor,
                            _("{name} est médecin référente de la RCP."),
                            _("{name} est médecin référent de la RCP."),
                        ).format(name=doctor.display_name),
                        rcp_id=rcp.id,
                        user_id=doctor.id,
                        role=MemberRole.referent,
                    )

paging.controls(page, key=f"annuaire_rcps_{family.id}", where="bas")
