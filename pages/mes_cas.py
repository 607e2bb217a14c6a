"""Mes cas: the cases I submitted, with their meeting and status."""

import streamlit as st

from rcp import cases
from rcp.dates import format_date, format_datetime
from rcp.i18n import _
from rcp.ui import paging
from rcp.ui.context import db, require_user, show_flash
from rcp.ui.text import escape_markdown

PAGE_SIZE = 10

user = require_user()
show_flash()
st.title(_("Mes cas"))
with db() as session:
    total = cases.count_my_cases(session, actor=user)
    page = paging.paginate(total, key="mes_cas", size=PAGE_SIZE)
    rows = cases.my_cases(session, actor=user, limit=page.limit, offset=page.offset)
if not rows:
    st.info(
        _(
            "Vous n'avez soumis aucun cas. Ouvrez une séance d'une RCP dont vous êtes membre et "
            "cliquez sur « Soumettre un cas »."
        )
    )
for row in rows:
    case = row.case
    # One bordered horizontal container per card, not columns: fewer elements per rerun.
    with st.container(
        border=True, key=f"mes_cas_{case.id}", horizontal=True, vertical_alignment="center"
    ):
        st.markdown(
            _("**{last_name} {first_name}** (né(e) le {birth_date}) — *{status}*").format(
                last_name=escape_markdown(case.patient_last_name),
                first_name=escape_markdown(case.patient_first_name),
                birth_date=format_date(case.patient_birth_date),
                status=row.status_label,
            )
            + (_(" · en retard") if case.is_late else "")
            + f"  \n{row.meeting_title} · {format_datetime(row.meeting.starts_at)}",
            width="stretch",
        )
        st.page_link(
            "pages/cas.py",
            label=_("Ouvrir"),
            query_params={"id": case.id},
            icon=":material/open_in_new:",
        )
paging.controls(page, key="mes_cas", where="bas")
