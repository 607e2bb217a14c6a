"""Soumettre un cas (?meeting= for a new case, ?case= to edit): the form and its files."""

import datetime as dt

import pandas as pd
import streamlit as st

from rcp import attachments, cases, labs, meetings, roles
from rcp.dates import format_datetime, today_paris
from rcp.errors import FormErrors, InvalidInput, RcpError
from rcp.i18n import N_, _, ngettext
from rcp.models import Sex
from rcp.ui import keys
from rcp.ui import uploads as ui_uploads
from rcp.ui.context import db, flash, require_user, show_error, show_flash
from rcp.ui.links import query_int
from rcp.ui.text import escape_markdown

user = require_user()
show_flash()
meeting_id = query_int("meeting")
case_id = query_int("case")

LAB_LABELS = {code: f"{_(test.label)} ({test.unit})" for code, test in labs.LAB_TESTS.items()}
LAB_CODES = {label: code for code, label in LAB_LABELS.items()}


def load() -> tuple:
    """(meeting view, case or None) for this URL, or stop with a French message."""
    try:
        with db() as session:
            case = None
            if case_id is not None:
                case = cases.get_case(session, actor=user, case_id=case_id, audit_view=False)
                if not cases.may_edit(session, actor=user, case=case):
                    st.warning(
                        _(
                            "Ce cas ne peut plus être modifié (date limite passée, cas "
                            "discuté ou retiré, ou vous n'en êtes pas l'auteur)."
                        )
                    )
                    st.page_link(
                        "pages/cas.py",
                        label=_("Voir le cas"),
                        query_params={"id": case.id},
                        icon=":material/visibility:",
                    )
                    st.stop()
            target = case.meeting_id if case is not None else meeting_id
            if target is None:
                st.error(
                    _(
                        "Aucune séance indiquée : ouvrez la page d'une séance et cliquez sur "
                        "« Soumettre un cas »."
                    )
                )
                st.stop()
            view = meetings.meeting_view(session, actor=user, meeting_id=target)
    except RcpError as error:
        show_error(error)
        st.stop()
    return view, case


view, case = load()
st.title(_("Soumettre un cas") if case is None else _("Modifier le cas"))
st.caption(
    _("{meeting} · dépôt des cas jusqu'au {deadline}").format(
        meeting=view.title, deadline=format_datetime(view.meeting.case_deadline)
    )
)
if case is None and "submit_case" not in view.actions:
    if view.is_coordinator and not view.is_past and view.meeting.status != "cancelled":
        st.info(
            roles.by_form(
                user,
                _(
                    "La date limite est passée : en tant que coordinatrice, vous pouvez encore "
                    "ajouter un cas, qui sera marqué « en retard »."
                ),
                _(
                    "La date limite est passée : en tant que coordinateur, vous pouvez encore "
                    "ajouter un cas, qui sera marqué « en retard »."
                ),
            )
        )
    elif view.is_member or view.is_coordinator:
        st.error(
            _(
                "Le dépôt des cas pour cette séance est clos depuis le {deadline}. Contactez "
                "l'assistant(e) de la RCP pour un cas urgent."
            ).format(deadline=format_datetime(view.meeting.case_deadline))
        )
        st.stop()
    else:
        st.error(
            _(
                "Seuls les membres de la RCP peuvent y soumettre des cas. Demandez à en "
                "devenir membre depuis la page de la RCP."
            )
        )
        st.stop()

st.markdown(
    _(
        "Les dossiers doivent être complétés **avant le {deadline}** (heure de Paris), date "
        "limite de dépôt des cas de cette séance. Seuls le nom, le prénom, la date de naissance "
        "et le sexe sont obligatoires."
    ).format(deadline=format_datetime(view.meeting.case_deadline))
)
# The previous submission's mistakes, each shown under its field (all of them at once).
field_errors: dict[str, str] = st.session_state.pop(keys.CASE_FORM_ERRORS, {})


def field_error(*fields: str) -> None:
    for field in fields:
        if field in field_errors:
            st.error(field_errors[field], icon=":material/error:")


def _lab_rows(case) -> list[dict]:
    if case is None or not case.labs:
        return [{"Date": None, "Examen": None, "Valeur": None}]
    return [
        {
            "Date": dt.date.fromisoformat(r["taken_on"]).strftime("%d/%m/%Y"),
            "Examen": LAB_LABELS[r["code"]],
            "Valeur": float(r["value"]),
        }
        for r in case.labs
    ]


UPLOAD_LABEL = N_(
    "DICOM (fichiers, série entière ou .zip / DICOMDIR), images PNG/JPEG, comptes rendus PDF"
)


def add_files(target_case_id: int, files: list) -> tuple[int, list[tuple[str, str]]]:
    """Store the chosen files in the case, one by one with progress; (files added, what to
    tell the user: refused files and why, skipped duplicates)."""
    progress = st.progress(0.0, text=_("Vérification des fichiers…"))
    added, failed, refused, duplicates = 0, [], [], []
    for number, upload in enumerate(files, start=1):
        progress.progress((number - 1) / len(files), text=f"{upload.name} ({number}/{len(files)})…")
        try:
            with db() as session:
                result = attachments.add_upload(
                    session,
                    actor=session.merge(user),
                    case_id=target_case_id,
                    name=upload.name,
                    data=upload.getvalue(),
                )
            added += len(result)
            refused += [(upload.name, r) for r in result.refused]
            duplicates += result.duplicates
        except RcpError as error:
            failed.append(str(error))
        finally:
            ui_uploads.release(upload)  # consumed: its bytes leave the server's memory
    progress.progress(1.0, text=_("Terminé"))
    report = [("error", message) for message in failed]
    if refused:
        report.append(
            (
                "warning",
                ngettext(
                    "{count} fichier(s) des archives n'ont pas été ajoutés (le reste l'a été) :\n",
                    "{count} fichier(s) des archives n'ont pas été ajoutés (le reste l'a été) :\n",
                    len(refused),
                ).format(count=len(refused))
                + "\n".join(
                    f"- {escape_markdown(archive)} › {escape_markdown(r.name)} : "
                    f"{escape_markdown(r.reason)}"
                    for archive, r in refused
                ),
            )
        )
    if duplicates:
        report.append(
            (
                "info",
                ngettext(
                    "{count} image(s) DICOM déjà présente(s) dans le cas (même identifiant "
                    "d'instance SOP) : elles n'ont pas été ajoutées une seconde fois.",
                    "{count} image(s) DICOM déjà présente(s) dans le cas (même identifiant "
                    "d'instance SOP) : elles n'ont pas été ajoutées une seconde fois.",
                    len(duplicates),
                ).format(count=len(duplicates)),
            )
        )
    return added, report


sex_options = [s.value for s in Sex]
with st.form("soumettre_form"):
    st.subheader(_("Patient"))
    c1, c2 = st.columns(2)
    last_name = c1.text_input(
        _("Nom *"),
        value=case.patient_last_name if case else "",
        max_chars=100,
        key="soumettre_last_name",
    )
    with c1:
        field_error("last_name")
    first_name = c2.text_input(
        _("Prénom *"),
        value=case.patient_first_name if case else "",
        max_chars=100,
        key="soumettre_first_name",
    )
    with c2:
        field_error("first_name")
    birth_date = c1.date_input(
        _("Date de naissance *"),
        value=case.patient_birth_date if case else None,
        min_value=dt.date(1900, 1, 1),
        max_value=today_paris(),
        format="DD/MM/YYYY",
        key="soumettre_birth_date",
    )
    with c1:
        field_error("birth_date")
    sex = c2.radio(
        _("Sexe *"),
        sex_options,
        format_func=lambda v: _(cases.SEX_LABELS[Sex(v)]),
        index=sex_options.index(case.patient_sex) if case else None,
        horizontal=True,
        key="soumettre_sex",
    )
    with c2:
        field_error("sex")
    informed = st.checkbox(
        _("Le patient est informé *"),
        value=bool(case and case.patient_informed),
        key="soumettre_informed",
        help=_(
            "Obligation légale : le patient doit être informé que son dossier est discuté en RCP."
        ),
    )
    field_error("patient_informed")
    st.subheader(_("Dossier clinique (facultatif)"))
    texts = {}
    for name, (label, limit) in cases.TEXT_FIELDS.items():
        texts[name] = st.text_area(
            _(label),
            value=getattr(case, name) if case else "",
            max_chars=limit,
            key=f"soumettre_{name}",
            height=100 if name != "summary" else 160,
        )
        field_error(name)
    st.markdown(_("**Résultats biologiques datés**"))
    edited = st.data_editor(
        _lab_rows(case),
        num_rows="dynamic",
        width="stretch",
        key="soumettre_labs",
        column_config={
            # Typed text read day first by rcp.labs, which answers in French when it cannot
            # read it: the grid's date editor is the browser's own, whose order follows the
            # browser's language (mm/dd/yyyy in an English Chrome: "03112026" typed for the
            # 3rd of November was stored as 11 March).
            "Date": st.column_config.TextColumn(
                _("Date (JJ/MM/AAAA)"),
                help=_("Date du prélèvement, par exemple 03/11/2026 pour le 3 novembre 2026."),
            ),
            "Examen": st.column_config.SelectboxColumn(_("Examen"), options=list(LAB_CODES)),
            "Valeur": st.column_config.NumberColumn(_("Valeur")),
        },
    )
    field_error("labs")
    new_files = None
    if case is None:
        # A new case takes its files with its first save: no draft to save before choosing.
        st.markdown(_("**Fichiers complémentaires**"))
        new_files = ui_uploads.file_uploader(
            user, _(UPLOAD_LABEL), accept_multiple_files=True, key="soumettre_files_new"
        )
    b1, b2 = st.columns(2)
    # A submitted case is no draft any more: it is only changed, never saved as a draft.
    is_draft = case is None or case.status == "draft"
    save = is_draft and b1.form_submit_button(_("Enregistrer le brouillon"), width="stretch")
    submit_now = b2.form_submit_button(
        _("Soumettre le cas") if is_draft else _("Enregistrer les modifications"),
        type="primary",
        width="stretch",
    )

if save or submit_now:
    records = edited.to_dict("records") if isinstance(edited, pd.DataFrame) else list(edited)
    rows = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in records]
    form = cases.CaseForm(
        last_name=last_name,
        first_name=first_name,
        birth_date=birth_date,
        sex=sex or "",
        patient_informed=informed,
        labs=[
            {
                "code": LAB_CODES.get(r.get("Examen") or "", r.get("Examen") or ""),
                "value": r.get("Valeur"),
                "taken_on": r.get("Date"),
            }
            for r in rows
            if any(r.get(k) not in (None, "") for k in ("Date", "Examen", "Valeur"))
        ],
        **texts,
    )
    try:
        with db() as session:
            saved = cases.save_draft(
                session,
                actor=session.merge(user),
                meeting_id=view.meeting.id,
                form=form,
                case_id=case.id if case else None,
            )
            if submit_now and saved.status == "draft":
                saved = cases.submit(session, actor=session.merge(user), case_id=saved.id)
    except FormErrors as error:
        st.session_state[keys.CASE_FORM_ERRORS] = error.errors
        st.rerun()
    except InvalidInput as error:
        if error.field:
            st.session_state[keys.CASE_FORM_ERRORS] = {error.field: str(error)}
            st.rerun()
        show_error(error)
    except RcpError as error:
        show_error(error)
    else:
        submitted = submit_now and saved.status != "draft"
        added = 0
        if new_files:
            added, report = add_files(saved.id, new_files)
            st.session_state[keys.CASE_UPLOAD_REPORT] = report
        if added:
            message = (
                ngettext(
                    "Cas soumis à la RCP avec {count} fichier(s) ajouté(s) au cas.",
                    "Cas soumis à la RCP avec {count} fichier(s) ajouté(s) au cas.",
                    added,
                )
                if submitted
                else ngettext(
                    "Brouillon enregistré avec {count} fichier(s) ajouté(s) au cas.",
                    "Brouillon enregistré avec {count} fichier(s) ajouté(s) au cas.",
                    added,
                )
            )
            flash(message.format(count=added))
        else:
            flash(
                _("Cas soumis à la RCP.")
                if submitted
                else _("Brouillon enregistré : ajoutez les fichiers ci-dessous si besoin.")
            )
        st.query_params.clear()
        st.query_params["case"] = str(saved.id)
        st.rerun()

if case is None:
    st.stop()  # the files of a new case are in the form above
st.subheader(_("Fichiers complémentaires"))


def show_upload_report(report: list[tuple[str, str]]) -> None:
    """What the last "Ajouter les fichiers" refused or skipped, and why."""
    shown = {"error": st.error, "warning": st.warning, "info": st.info}
    for level, text in report:
        shown[level](text)


show_upload_report(st.session_state.pop(keys.CASE_UPLOAD_REPORT, []))
with db() as session:
    current = attachments.list_attachments(session, actor=user, case_id=case.id)
for item in current:
    cols = st.columns([5, 1], vertical_alignment="center")
    cols[0].markdown(attachments.describe(item, name=escape_markdown(item.original_name)))
    if cols[1].button(_("Retirer"), key=f"soumettre_remove_{item.id}"):
        try:
            with db() as session:
                attachments.remove(session, actor=session.merge(user), attachment_id=item.id)
        except RcpError as error:
            show_error(error)
        else:
            st.rerun()

round_no = st.session_state.get(keys.CASE_UPLOAD_ROUND, 0)
uploads = ui_uploads.file_uploader(
    user,
    _(UPLOAD_LABEL),
    accept_multiple_files=True,
    key=f"soumettre_files_{round_no}",
)
if uploads and st.button(_("Ajouter les fichiers"), type="primary", key="soumettre_add_files"):
    added, report = add_files(case.id, uploads)
    if added:
        st.session_state[keys.CASE_UPLOAD_ROUND] = round_no + 1
        st.session_state[keys.CASE_UPLOAD_REPORT] = report
        flash(
            ngettext(
                "{count} fichier(s) ajouté(s) au cas.",
                "{count} fichier(s) ajouté(s) au cas.",
                added,
            ).format(count=added)
        )
        st.rerun()
    show_upload_report(report)

st.page_link(
    "pages/cas.py",
    label=_("Voir le cas"),
    query_params={"id": case.id},
    icon=":material/visibility:",
)
