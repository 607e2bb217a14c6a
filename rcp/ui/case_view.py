"""A case's sheet as the case page and the meeting page show it (identity, file, images)."""

from __future__ import annotations

from datetime import date

import streamlit as st

from rcp import attachments, cases, labs
from rcp.dates import format_date, format_datetime
from rcp.errors import RcpError
from rcp.models import AttachmentKind, Case, CaseStatus, User
from rcp.ui import dicom_viewer, failsafe, keys, protected
from rcp.ui.context import db, show_error
from rcp.ui.links import MEETING_PAGE
from rcp.ui.text import escape_markdown


def lab_table(case: Case) -> None:
    if not case.labs:
        st.caption("Aucun résultat biologique saisi.")
        return
    st.dataframe(
        [
            {
                "Date": format_date(date.fromisoformat(r["taken_on"])),
                "Examen": labs.LAB_TESTS[r["code"]].label,
                "Valeur": labs.format_value(r["code"], r["value"]),
                "Unité": labs.LAB_TESTS[r["code"]].unit,
            }
            for r in case.labs
        ],
        hide_index=True,
        width="stretch",
    )
    # Drawn by an authenticated, audited route: a plot of a patient's labs is patient data.
    protected.image(
        protected.labs_url(case.id),  # type: ignore[arg-type]
        alt="Évolution des résultats biologiques",
        caption="Évolution des résultats biologiques",
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
    sex = cases.SEX_LABELS.get(case.patient_sex, case.patient_sex)
    st.markdown(
        f"### {escape_markdown(case.patient_last_name)} {escape_markdown(case.patient_first_name)}"
        f"  \nNé(e) le {format_date(case.patient_birth_date)} · {sex} · "
        f"statut : **{cases.STATUS_LABELS[CaseStatus(case.status)]}**"
        + (" · *cas ajouté après la date limite*" if case.is_late else "")
    )
    if origin is not None:
        st.info(
            f"Cas reporté de la séance du {format_datetime(origin.starts_at)[:10]} "
            f"(reporté le {format_datetime(case.postponed_at)[:10]}).",
            icon=":material/event_repeat:",
        )
    if case.status == CaseStatus.closed:
        st.warning(
            f"Cas clos sans avis le {format_datetime(case.closed_at)[:10]}. Motif : "
            f"{escape_markdown(case.closed_reason or '')}",
            icon=":material/block:",
        )
    for warning in attachments.patient_warnings(case, files):
        st.error(
            "**Attention, images d'un autre patient ?** L'en-tête DICOM ne correspond pas au "
            f"dossier : {escape_markdown(warning.text())}",
            icon=":material/warning:",
        )
    for field, (label, _limit) in cases.TEXT_FIELDS.items():
        value = getattr(case, field)
        if value:
            st.markdown(f"**{label}**")
            st.markdown(escape_markdown(value))
    st.markdown("**Résultats biologiques**")
    with failsafe.section("Le tableau des résultats biologiques"):
        lab_table(case)
    with failsafe.section("La liste des fichiers complémentaires"):
        attached_files(files)
    if any(f.kind == AttachmentKind.dicom for f in files):
        with failsafe.section("Le visualiseur d'images DICOM"):
            st.caption(
                f"{sum(f.kind == AttachmentKind.dicom for f in files)} fichier(s) DICOM en "
                f"{len(series)} série(s)"
            )
            dicom_viewer.render(
                series, case_id=case.id, key_prefix=f"{key_prefix}_dicom", sync=sync
            )
    return case


def attached_files(files: list) -> None:
    """The case's files other than DICOM: open or download them through /files/<id>."""
    others = [f for f in files if f.kind != AttachmentKind.dicom]
    if files:
        st.markdown(f"**Fichiers complémentaires** ({len(files)})")
    for item in others:
        url = f"/files/{item.id}"
        cols = st.columns([4, 1, 1], vertical_alignment="center")
        cols[0].markdown(
            f"{escape_markdown(item.original_name)} · {item.kind} · {item.size // 1024 + 1} Ko"
        )
        cols[1].link_button("Ouvrir", url, width="stretch")
        cols[2].link_button("Télécharger", f"{url}?download=1", width="stretch")
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
        label="Page de la séance",
        query_params={"id": case.meeting_id},
        icon=":material/event:",
    )


def submitted_on(case: Case) -> str:
    return format_datetime(case.submitted_at) if case.submitted_at else "non soumis"
