"""A case's sheet as the case page and the meeting page show it (identity, file, images)."""

from __future__ import annotations

from datetime import date

import streamlit as st

from rcp import attachments, cases, labs
from rcp.dates import format_date, format_datetime
from rcp.errors import RcpError
from rcp.i18n import N_, _, ngettext
from rcp.models import AttachmentKind, Case, CaseStatus, User
from rcp.ui import dicom_viewer, failsafe, keys, protected
from rcp.ui.context import db, show_error
from rcp.ui.links import MEETING_PAGE
from rcp.ui.text import escape_markdown


def lab_table(case: Case) -> None:
    if not case.labs:
        st.caption(_("Aucun résultat biologique saisi."))
        return
    st.dataframe(
        [
            {
                _("Date"): format_date(date.fromisoformat(r["taken_on"])),
                _("Examen"): _(labs.LAB_TESTS[r["code"]].label),
                _("Valeur"): labs.format_value(r["code"], r["value"]),
                _("Unité"): labs.LAB_TESTS[r["code"]].unit,
            }
            for r in case.labs
        ],
        hide_index=True,
        width="stretch",
    )
    # Drawn by an authenticated, audited route: a plot of a patient's labs is patient data.
    protected.image(
        protected.labs_url(case.id),  # type: ignore[arg-type]
        alt=_("Évolution des résultats biologiques"),
        caption=_("Évolution des résultats biologiques"),
    )


def _viewed_once(case_id: int) -> bool:
    """True the first time this browser session opens the case (the read is audited then)."""
    seen = st.session_state.setdefault(keys.CASES_VIEWED, set())
    first = case_id not in seen
    seen.add(case_id)
    return first


def render_case(
    user: User, case_id: int, *, key_prefix: str, sync: dict | None = None
) -> Case | None:
    """Render a case this user may see; returns it, or None after showing why not.

    ``sync`` shares the DICOM viewer in a meeting (see ``pages/seance.py``).
    """
    try:
        with db() as session:
            case = cases.get_case(
                session, actor=user, case_id=case_id, audit_view=_viewed_once(case_id)
            )
            files = attachments.list_attachments(session, actor=user, case_id=case_id)
            series = attachments.dicom_series(session, actor=user, case_id=case_id)
            origin = cases.postponed_from(session, case)
    except RcpError as error:
        show_error(error)
        return None
    sex = _(cases.SEX_LABELS.get(case.patient_sex, case.patient_sex))
    st.markdown(
        f"### {escape_markdown(case.patient_last_name)} {escape_markdown(case.patient_first_name)}"
        + "  \n"
        + _("Né(e) le {birth_date} · {sex} · statut : **{status}**").format(
            birth_date=format_date(case.patient_birth_date),
            sex=sex,
            status=_(cases.STATUS_LABELS[CaseStatus(case.status)]),
        )
        + (_(" · *cas ajouté après la date limite*") if case.is_late else "")
    )
    if origin is not None:
        st.info(
            _("Cas reporté de la séance du {day} (reporté le {postponed}).").format(
                day=format_date(origin.starts_at), postponed=format_date(case.postponed_at)
            ),
            icon=":material/event_repeat:",
        )
    if case.status == CaseStatus.closed:
        st.warning(
            _("Cas clos sans avis le {day}. Motif : {reason}").format(
                day=format_date(case.closed_at), reason=escape_markdown(case.closed_reason or "")
            ),
            icon=":material/block:",
        )
    for warning in attachments.patient_warnings(case, files):
        st.error(
            _(
                "**Attention, images d'un autre patient ?** L'en-tête DICOM ne correspond pas "
                "au dossier : {mismatch}"
            ).format(mismatch=escape_markdown(warning.text())),
            icon=":material/warning:",
        )
    for field, (label, _limit) in cases.TEXT_FIELDS.items():
        value = getattr(case, field)
        if value:
            st.markdown(f"**{_(label)}**")
            st.markdown(escape_markdown(value))
    st.markdown(_("**Résultats biologiques**"))
    with failsafe.section(N_("Le tableau des résultats biologiques")):
        lab_table(case)
    with failsafe.section(N_("La liste des fichiers complémentaires")):
        attached_files(files)
    if any(f.kind == AttachmentKind.dicom for f in files):
        with failsafe.section(N_("Le visualiseur d'images DICOM")):
            dicom_count = sum(f.kind == AttachmentKind.dicom for f in files)
            st.caption(
                ngettext(
                    "{count} fichier(s) DICOM en {series} série(s)",
                    "{count} fichier(s) DICOM en {series} série(s)",
                    dicom_count,
                ).format(count=dicom_count, series=len(series))
            )
            dicom_viewer.render(
                series, case_id=case.id, key_prefix=f"{key_prefix}_dicom", sync=sync
            )
    return case


def attached_files(files: list) -> None:
    """The case's files other than DICOM: open or download them through /files/<id>."""
    others = [f for f in files if f.kind != AttachmentKind.dicom]
    if files:
        st.markdown(_("**Fichiers complémentaires** ({count})").format(count=len(files)))
    for item in others:
        url = f"/files/{item.id}"
        cols = st.columns([4, 1, 1], vertical_alignment="center")
        cols[0].markdown(attachments.describe(item, name=escape_markdown(item.original_name)))
        cols[1].link_button(_("Ouvrir"), url, width="stretch")
        cols[2].link_button(_("Télécharger"), f"{url}?download=1", width="stretch")
        if item.kind == AttachmentKind.image:
            protected.image(
                protected.image_url(item.id),
                alt=item.original_name,
                caption=item.original_name,
                max_width=480,
            )


def meeting_link(case: Case) -> None:
    st.page_link(
        MEETING_PAGE,
        label=_("Page de la séance"),
        query_params={"id": case.meeting_id},
        icon=":material/event:",
    )


def submitted_on(case: Case) -> str:
    return format_datetime(case.submitted_at) if case.submitted_at else _("non soumis")
