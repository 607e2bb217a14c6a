"""Administration: the audit log, filtered, paged and exported as CSV."""

import datetime as dt

import streamlit as st

from rcp import audit
from rcp.dates import format_datetime
from rcp.errors import RcpError
from rcp.i18n import _, ngettext
from rcp.ui import protected
from rcp.ui.context import db, require_admin_page, show_error

PAGE_SIZE = 50

admin = require_admin_page()
st.title(_("Journal d'audit"))
st.caption(
    _(
        "Chaque lecture d'un cas, téléchargement de fichier ou de fiche et chaque changement "
        "d'état est enregistré : qui, quand, quoi. Le journal est conservé selon le réglage de "
        "conservation (12 mois par défaut, jamais moins de 6)."
    )
)

with st.form("journal_filters"):
    c1, c2, c3 = st.columns(3)
    action = c1.text_input(_("Action (début du nom, ex. « auth. »)"), key="journal_action")
    who = c2.text_input(_("Utilisateur (e-mail ou nom)"), key="journal_user")
    # The target types by their names in the page's language (the code is what is searched).
    target_type = c3.selectbox(
        _("Type de cible"),
        ["", *sorted(audit.TARGET_LABELS, key=audit.target_label)],
        format_func=lambda code: audit.target_label(code) if code else _("tous"),
        key="journal_target_type",
    )
    c4, c5, c6 = st.columns(3)
    since = c4.date_input(_("Du"), value=None, key="journal_since", format="DD/MM/YYYY")
    until = c5.date_input(_("Au (inclus)"), value=None, key="journal_until", format="DD/MM/YYYY")
    target_id = c6.number_input(
        _("N° de la cible"), min_value=0, value=None, step=1, key="journal_target_id"
    )
    st.form_submit_button(_("Filtrer"), icon=":material/filter_alt:")

spec = audit.AuditFilter(
    action=action,
    user=who,
    since=since if isinstance(since, dt.date) else None,
    until=until if isinstance(until, dt.date) else None,
    target_type=target_type,
    target_id=int(target_id) if target_id is not None else None,
)
page_number = int(st.session_state.get("journal_page") or 1)
try:
    with db() as session:
        result = audit.search(
            session, actor=admin, spec=spec, page=page_number, page_size=PAGE_SIZE
        )
except RcpError as error:
    show_error(error)
    st.stop()

st.write(
    ngettext(
        "**{count}** événement(s) — page {page} sur {pages}",
        "**{count}** événement(s) — page {page} sur {pages}",
        result.total,
    ).format(count=result.total, page=result.page, pages=result.pages)
)
# The columns' names in the page's language (the CSV export keeps its own, fixed ones).
st.dataframe(
    [
        {
            _("n°"): row.id,
            _("date"): format_datetime(row.created_at),
            _("action"): audit.action_label(row.action),
            # The code as recorded (what the action filter and the CSV export use).
            _("code"): row.action,
            _("acteur"): row.actor,
            _("cible"): audit.target_label(row.target_type, row.target_id),
            _("détails"): row.details_text,
            _("IP"): row.ip_address,
        }
        for row in result.rows
    ],
    width="stretch",
    hide_index=True,
)

if st.session_state.get("journal_page") != result.page:
    st.session_state["journal_page"] = result.page  # the filter may have fewer pages now
with st.container(horizontal=True, vertical_alignment="bottom"):
    st.number_input(_("Page"), min_value=1, max_value=result.pages, step=1, key="journal_page")
    # An authenticated, audited route (rcp/web_admin.py), never /media: the export names
    # people and what they read.
    st.link_button(
        _("Exporter en CSV"),
        protected.journal_csv_url(spec.to_query()),
        icon=":material/download:",
    )
