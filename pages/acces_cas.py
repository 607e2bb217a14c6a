"""Accès aux cas: for an RCP's coordinators, who opened each case of the RCP (from the audit)."""

import streamlit as st

from rcp import audit, directory
from rcp.dates import format_datetime
from rcp.errors import RcpError
from rcp.i18n import _, ngettext
from rcp.ui import paging
from rcp.ui.context import db, require_user, show_error
from rcp.ui.links import query_int
from rcp.ui.text import escape_markdown

PAGE_SIZE = 10

user = require_user()
st.title(_("Accès aux cas"))
st.caption(
    _(
        "Qui a ouvert chaque cas de votre RCP, ou téléchargé ses fichiers et sa fiche, d'après "
        "le journal d'audit."
    )
)
with db() as session:
    rcps = {
        rcp_id: directory.trail(session, rcp_id).rcp.name
        for rcp_id in directory.coordinated_rcp_ids(session, user)
    }
if not rcps:
    st.error(_("Cette page est réservée à l'assistant(e) et aux médecins référents d'une RCP."))
    st.stop()

asked = query_int("rcp")  # from the RCP's page
rcp_id = st.selectbox(
    _("RCP"),
    options=list(rcps),
    index=list(rcps).index(asked) if asked in rcps else 0,
    format_func=lambda i: rcps[i],
    key="acces_cas_rcp",
)
try:
    with db() as session:
        total = audit.count_rcp_cases(session, actor=user, rcp_id=rcp_id)
        page = paging.paginate(total, key="acces_cas", size=PAGE_SIZE, reset_on=rcp_id)
        rows = audit.rcp_case_access(
            session, actor=user, rcp_id=rcp_id, limit=page.limit, offset=page.offset
        )
except RcpError as error:
    show_error(error)
    st.stop()

if not rows:
    st.info(_("Aucun cas n'a encore été soumis à cette RCP."))
for row in rows:
    title = ngettext(
        "Cas n° {number} — {patient} (séance du {when}) — {count} lecteur(s)",
        "Cas n° {number} — {patient} (séance du {when}) — {count} lecteur(s)",
        len(row.readers),
    ).format(
        number=row.case_id,
        patient=escape_markdown(row.patient),
        when=format_datetime(row.meeting_starts_at),
        count=len(row.readers),
    )
    with st.expander(title, key=f"acces_cas_{row.case_id}"):
        if not row.readers:
            st.write(_("Personne n'a encore ouvert ce cas."))
            continue
        # A markdown table, not st.dataframe: a handful of rows, far cheaper to draw.
        st.markdown(
            _("| médecin | ouvertures | téléchargements | première fois | dernière fois |")
            + "\n|---|--:|--:|---|---|\n"
            + "\n".join(
                f"| {escape_markdown(reader.name)} | {reader.views} | {reader.downloads} "
                f"| {format_datetime(reader.first_at)} | {format_datetime(reader.last_at)} |"
                for reader in row.readers
            )
        )
paging.controls(page, key="acces_cas", where="bas")
