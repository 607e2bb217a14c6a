"""Patient cases submitted to a meeting: drafts, submission, deadline, late cases, who sees what."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, col, func, select

from rcp import audit, labs
from rcp.dates import today_paris
from rcp.errors import Conflict, FormErrors, InvalidInput, NotFound, PermissionDenied
from rcp.i18n import N_, _
from rcp.meetings import is_past, meeting_title
from rcp.models import (
    Case,
    CaseStatus,
    Meeting,
    MeetingStatus,
    Participation,
    ParticipationStatus,
    Rcp,
    Sex,
    User,
    utcnow,
)
from rcp.permissions import is_coordinator, membership, require_active
from rcp.validation import check_birth_date, clean_name, clean_text

SEX_LABELS = {
    Sex.female: N_("Féminin"),
    Sex.male: N_("Masculin"),
    Sex.other: N_("Autre / indéterminé"),
}
STATUS_LABELS = {
    CaseStatus.draft: N_("brouillon"),
    CaseStatus.submitted: N_("à discuter"),
    CaseStatus.withdrawn: N_("retiré"),
    CaseStatus.discussed: N_("discuté"),
    CaseStatus.validated: N_("avis validé"),
    CaseStatus.closed: N_("clos sans avis"),
}
LISTED = (CaseStatus.submitted, CaseStatus.discussed, CaseStatus.validated, CaseStatus.closed)
CASE_NOT_FOUND = N_("Cas introuvable, ou vous n'avez pas accès à ce cas.")
INFORMED_REQUIRED = N_(
    "La loi impose que le patient soit informé avant que son dossier soit discuté en RCP : "
    "cochez « Le patient est informé » pour enregistrer le cas."
)
TEXT_FIELDS: dict[str, tuple[str, int]] = {
    "question": (N_("Question posée à la RCP"), 5000),
    "summary": (N_("Résumé clinique"), 20000),
    "history": (N_("Antécédents"), 20000),
    "treatments": (N_("Traitements en cours"), 10000),
    "histology": (N_("Histologie (biopsie)"), 10000),
    "genetics": (N_("Génétique"), 10000),
    "results": (N_("Autres résultats"), 20000),
}


@dataclass
class CaseForm:
    """What the case form collects; only identity, sex and the informed box are mandatory."""

    last_name: str
    first_name: str
    birth_date: date | None
    sex: str
    patient_informed: bool
    question: str = ""
    summary: str = ""
    history: str = ""
    treatments: str = ""
    histology: str = ""
    genetics: str = ""
    results: str = ""
    labs: list[dict[str, Any]] = field(default_factory=list)


def _clean_form(form: CaseForm) -> dict[str, Any]:
    """The form's values, cleaned; every wrong field is reported at once (``FormErrors``)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"patient_informed": True}

    def check(field: str, clean: Any) -> None:
        try:
            clean()
        except InvalidInput as error:
            errors[error.field or field] = str(error)

    def identity() -> None:
        values["patient_last_name"] = clean_name(
            form.last_name, label=_("Nom du patient"), field="last_name"
        ).upper()

    def first_name() -> None:
        values["patient_first_name"] = clean_name(
            form.first_name, label=_("Prénom du patient"), field="first_name"
        )

    def birth_date() -> None:
        values["patient_birth_date"] = check_birth_date(form.birth_date, today=today_paris())

    def sex() -> None:
        if form.sex not in {s.value for s in Sex}:
            raise InvalidInput(_("Indiquez le sexe du patient."), field="sex")
        values["patient_sex"] = form.sex

    def informed() -> None:
        if not form.patient_informed:
            raise InvalidInput(_(INFORMED_REQUIRED), field="patient_informed")

    check("last_name", identity)
    check("first_name", first_name)
    check("birth_date", birth_date)
    check("sex", sex)
    check("patient_informed", informed)
    for name, (label, limit) in TEXT_FIELDS.items():

        def text(name: str = name, label: str = label, limit: int = limit) -> None:
            values[name] = clean_text(
                getattr(form, name), label=_(label), field=name, max_length=limit, multiline=True
            )

        check(name, text)
    cleaned_labs = []
    for number, row in enumerate(form.labs, start=1):
        if not any(str(row.get(k) or "").strip() for k in ("code", "value", "taken_on")):
            continue  # an empty line of the table
        try:
            value = labs.validate_lab_value(row.get("code"), row.get("value"), row.get("taken_on"))
        except InvalidInput as error:
            errors.setdefault(
                "labs",
                _("Résultats biologiques, ligne {number} : {error}").format(
                    number=number, error=error
                ),
            )
            continue
        cleaned_labs.append(
            {"code": value.code, "value": value.value, "taken_on": value.taken_on.isoformat()}
        )
    if errors:
        if len(errors) == 1:
            field, message = next(iter(errors.items()))
            raise InvalidInput(message, field=field)
        raise FormErrors(errors)
    cleaned_labs.sort(key=lambda r: (r["taken_on"], r["code"]))
    values["labs"] = cleaned_labs
    return values


# --- permissions -----------------------------------------------------------------------------


def _meeting(session: Session, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None:
        raise NotFound(_("Séance introuvable."))
    return meeting


def _confirmed(session: Session, user: User, meeting_id: int) -> bool:
    return (
        session.exec(
            select(Participation.id).where(
                Participation.meeting_id == meeting_id,
                Participation.user_id == user.id,
                Participation.status == ParticipationStatus.confirmed,
            )
        ).first()
        is not None
    )


def can_view(session: Session, user: User | None, case: Case) -> bool:
    """Submitter, the RCP's coordinators, and confirmed participants (submitted cases only).

    An admin who is none of these sees no patient data.
    """
    if user is None or user.status != "active":
        return False
    if case.submitter_id == user.id:
        return True
    meeting = session.get(Meeting, case.meeting_id)
    if meeting is None:
        return False
    if case.status not in LISTED:
        return False
    return is_coordinator(session, user, meeting.rcp_id) or _confirmed(session, user, meeting.id)


def visible_case(session: Session, actor: User, case_id: int) -> Case:
    require_active(actor)
    case = session.get(Case, case_id)
    # Same answer for "does not exist" and "not yours": ids must not reveal cases.
    if case is None or not can_view(session, actor, case):
        raise NotFound(_(CASE_NOT_FOUND))
    return case


def _may_submit_to(session: Session, actor: User, meeting: Meeting) -> tuple[bool, bool]:
    """(allowed, late): members before the deadline; coordinators also after it (late)."""
    coordinator = is_coordinator(session, actor, meeting.rcp_id)
    member = membership(session, actor, meeting.rcp_id) is not None
    if meeting.status == MeetingStatus.cancelled:
        raise Conflict(_("Cette séance est annulée : on ne peut plus y soumettre de cas."))
    if meeting.status == MeetingStatus.closed or is_past(meeting):
        raise Conflict(_("Cette séance est terminée : on ne peut plus y soumettre de cas."))
    if not (member or coordinator):
        raise PermissionDenied(
            _(
                "Seuls les membres de la RCP peuvent y soumettre des cas. Demandez à en devenir "
                "membre depuis la page de la RCP."
            )
        )
    late = utcnow() >= meeting.case_deadline
    if late and not coordinator:
        raise Conflict(
            _(
                "La date limite de dépôt des cas pour cette séance est passée. Contactez "
                "l'assistant(e) de la RCP : il ou elle peut encore ajouter un cas en retard."
            )
        )
    return True, late


def editable_case(session: Session, actor: User, case_id: int) -> tuple[Case, Meeting]:
    """The case if this actor may change it now (its submitter, before the deadline; a
    coordinator for a late case), with a reason otherwise."""
    require_active(actor)
    case = session.get(Case, case_id)
    if case is None or not can_view(session, actor, case):
        raise NotFound(_(CASE_NOT_FOUND))
    meeting = _meeting(session, case.meeting_id)
    if case.status in (CaseStatus.validated, CaseStatus.discussed):
        raise Conflict(_("Ce cas a été discuté en RCP : il ne peut plus être modifié."))
    if case.status == CaseStatus.withdrawn:
        raise Conflict(_("Ce cas a été retiré."))
    if case.status == CaseStatus.closed:
        raise Conflict(_("Ce cas a été clos sans avis : il ne peut plus être modifié."))
    if case.submitter_id != actor.id and not is_coordinator(session, actor, meeting.rcp_id):
        raise PermissionDenied(_("Seul le médecin qui a soumis ce cas peut le modifier."))
    _allowed, late = _may_submit_to(session, actor, meeting)
    if late and not case.is_late and case.status != CaseStatus.draft:
        raise Conflict(_("La date limite est passée : ce cas ne peut plus être modifié."))
    return case, meeting


# --- use cases -------------------------------------------------------------------------------


def save_draft(
    session: Session, *, actor: User, meeting_id: int, form: CaseForm, case_id: int | None = None
) -> Case:
    """Create or update a case kept as a draft (or keep a submitted case submitted)."""
    require_active(actor)
    values = _clean_form(form)
    now = utcnow()
    if case_id is None:
        meeting = _meeting(session, meeting_id)
        _allowed, late = _may_submit_to(session, actor, meeting)
        # A double click (or a rerun before the page learnt the new id) saves the same form
        # twice: the same doctor's open case for the same patient in this meeting is that
        # case, updated, never a second one.
        case_id = _same_patient_case(session, actor, meeting.id, values)  # type: ignore[arg-type]
    if case_id is None:
        case = Case(
            meeting_id=meeting.id,
            submitter_id=actor.id,
            is_late=late,  # type: ignore[arg-type]
            **values,
        )
        case.created_at = case.updated_at = now
        action = "case.created"
    else:
        case, _meeting_row = editable_case(session, actor, case_id)
        for key, value in values.items():
            setattr(case, key, value)
        case.updated_at = now
        action = "case.updated"
    session.add(case)
    session.flush()
    audit.record(
        session,
        action,
        actor_id=actor.id,
        target_type="case",
        target_id=case.id,
        meeting_id=case.meeting_id,
    )
    session.commit()
    return case


def _same_patient_case(
    session: Session, actor: User, meeting_id: int, values: dict[str, Any]
) -> int | None:
    return session.exec(
        select(Case.id).where(
            Case.meeting_id == meeting_id,
            Case.submitter_id == actor.id,
            Case.patient_last_name == values["patient_last_name"],
            Case.patient_first_name == values["patient_first_name"],
            Case.patient_birth_date == values["patient_birth_date"],
            col(Case.status).in_([CaseStatus.draft, CaseStatus.submitted]),
        )
    ).first()


def submit(session: Session, *, actor: User, case_id: int) -> Case:
    """Make a draft visible to the meeting ("Soumettre le cas")."""
    case, meeting = editable_case(session, actor, case_id)
    if case.status != CaseStatus.draft:
        raise Conflict(_("Ce cas est déjà soumis."))
    now = utcnow()
    case.status = CaseStatus.submitted
    case.submitted_at = now
    case.is_late = now >= meeting.case_deadline
    case.position = _next_position(session, meeting.id)
    session.add(case)
    audit.record(
        session,
        "case.submitted",
        actor_id=actor.id,
        target_type="case",
        target_id=case.id,
        meeting_id=meeting.id,
        late=case.is_late,
    )
    session.commit()
    return case


def _next_position(session: Session, meeting_id: int) -> int:
    positions = session.exec(select(Case.position).where(Case.meeting_id == meeting_id)).all()
    return max(positions, default=0) + 1


def withdraw(session: Session, *, actor: User, case_id: int) -> Case:
    case, meeting = editable_case(session, actor, case_id)
    case.status = CaseStatus.withdrawn
    case.withdrawn_at = utcnow()
    session.add(case)
    audit.record(
        session,
        "case.withdrawn",
        actor_id=actor.id,
        target_type="case",
        target_id=case.id,
        meeting_id=meeting.id,
    )
    session.commit()
    return case


def get_case(session: Session, *, actor: User, case_id: int, audit_view: bool = True) -> Case:
    """A case this actor may see; the read is audited."""
    case = visible_case(session, actor, case_id)
    if audit_view:
        audit.record(
            session, "case.viewed", actor_id=actor.id, target_type="case", target_id=case.id
        )
        session.commit()
    return case


def labs_plot(session: Session, *, actor: User, case_id: int, viewer: str) -> bytes | None:
    """PNG of the case's lab trends (None without labs); a read, audited once a day."""
    case = visible_case(session, actor, case_id)
    audit.record_once_a_day(
        session,
        "case.viewed",
        actor_id=actor.id,  # type: ignore[arg-type]
        target_type="case",
        target_id=case.id,  # type: ignore[arg-type]
        viewer=viewer,
        part="labs",
    )
    if not case.labs:
        return None
    values = [labs.validate_lab_value(r["code"], r["value"], r["taken_on"]) for r in case.labs]
    return labs.trend_plot_cached(tuple(values))


def may_edit(session: Session, *, actor: User, case: Case) -> bool:
    try:
        editable_case(session, actor, case.id)  # type: ignore[arg-type]
    except (Conflict, PermissionDenied, NotFound):
        return False
    return True


@dataclass(frozen=True)
class CaseSummary:
    case: Case
    submitter: User

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[CaseStatus(self.case.status)]


def list_meeting_cases(session: Session, *, actor: User, meeting_id: int) -> list[CaseSummary]:
    """The meeting's cases this actor may see, in their order of discussion."""
    require_active(actor)
    meeting = _meeting(session, meeting_id)
    everything = is_coordinator(session, actor, meeting.rcp_id) or _confirmed(
        session, actor, meeting.id
    )
    query = (
        select(Case, User)
        .join(User, col(User.id) == Case.submitter_id)
        .where(Case.meeting_id == meeting.id)
    )
    if everything:
        query = query.where(col(Case.status).in_([str(s) for s in LISTED]))
    else:
        query = query.where(
            Case.submitter_id == actor.id, col(Case.status).in_([str(s) for s in LISTED])
        )
    rows = session.exec(query.order_by(col(Case.position), col(Case.id))).all()
    return [CaseSummary(case=c, submitter=u) for c, u in rows]


@dataclass(frozen=True)
class MyCase:
    case: Case
    meeting: Meeting
    meeting_title: str

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[CaseStatus(self.case.status)]


def my_cases(session: Session, *, actor: User, limit: int = 200, offset: int = 0) -> list[MyCase]:
    """ "Mes cas": the cases I submitted, newest meeting first (``offset``: for paging)."""
    require_active(actor)
    rows = session.exec(
        select(Case, Meeting)
        .join(Meeting, col(Meeting.id) == Case.meeting_id)
        .where(Case.submitter_id == actor.id)
        .order_by(col(Meeting.starts_at).desc(), col(Case.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    titles: dict[int, str] = {}
    # The RCPs of the page in one query (not a directory trail per RCP or per meeting).
    rcp_ids = {meeting.rcp_id for _case, meeting in rows}
    rcps: dict[int, Rcp] = {
        rcp.id: rcp  # type: ignore[misc]
        for rcp in session.exec(select(Rcp).where(col(Rcp.id).in_(rcp_ids))).all()
    }
    result = []
    for case, meeting in rows:
        if meeting.id not in titles:
            titles[meeting.id] = meeting_title(rcps[meeting.rcp_id], meeting)
        result.append(MyCase(case=case, meeting=meeting, meeting_title=titles[meeting.id]))
    return result


def count_my_cases(session: Session, *, actor: User) -> int:
    """How many cases ``my_cases`` pages through (every case I submitted)."""
    require_active(actor)
    return session.exec(
        select(func.count()).select_from(Case).where(Case.submitter_id == actor.id)
    ).one()


def meeting_of(session: Session, case: Case) -> Meeting:
    return _meeting(session, case.meeting_id)


def postponed_from(session: Session, case: Case) -> Meeting | None:
    """The meeting a (visible) case was postponed from, if it was."""
    if case.postponed_from_meeting_id is None:
        return None
    return session.get(Meeting, case.postponed_from_meeting_id)
