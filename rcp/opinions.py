"""The RCP opinion on a case: drafts, quorum, validation and its PDF sheet, corrections."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from rcp import attendance, audit, dicom, i18n, notify
from rcp.cases import CASE_NOT_FOUND, LISTED, can_view
from rcp.config import get_settings
from rcp.dates import format_datetime
from rcp.directory import Trail, trail
from rcp.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StorageError
from rcp.i18n import N_, _
from rcp.meetings import meeting_title
from rcp.models import (
    Attachment,
    AttachmentKind,
    Case,
    CaseStatus,
    Meeting,
    MeetingStatus,
    Opinion,
    Participation,
    ParticipationStatus,
    Rcp,
    User,
    utcnow,
)
from rcp.permissions import is_active, is_coordinator, require_active, require_coordinator
from rcp.sheet_data import (
    build_sheet_data,
    file_store,
    key_image_attachment,
    key_image_differences,
    render_key_image,
    sheet_language,
)
from rcp.sheets import build_sheet_pdf, fingerprint
from rcp.validation import clean_text

# --- reading helpers -------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseContext:
    case: Case
    meeting: Meeting
    trail: Trail

    @property
    def rcp(self) -> Rcp:
        return self.trail.rcp


def _context(session: Session, case_id: int) -> CaseContext:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(_("Cas introuvable."))
    meeting = session.get(Meeting, case.meeting_id)
    if meeting is None:
        raise NotFound(_("Séance introuvable."))
    return CaseContext(case=case, meeting=meeting, trail=trail(session, meeting.rcp_id))


def _versions(session: Session, case_id: int) -> list[Opinion]:
    """Every version of the opinion on a case, oldest first."""
    return list(
        session.exec(
            select(Opinion).where(Opinion.case_id == case_id).order_by(col(Opinion.version))
        ).all()
    )


def _latest(session: Session, case_id: int) -> Opinion | None:
    return session.exec(
        select(Opinion).where(Opinion.case_id == case_id).order_by(col(Opinion.version).desc())
    ).first()


def latest_validated(session: Session, case_id: int) -> Opinion | None:
    """The newest validated version of the opinion on a case (no permission check)."""
    return session.exec(
        select(Opinion)
        .where(Opinion.case_id == case_id, col(Opinion.validated_at).is_not(None))
        .order_by(col(Opinion.version).desc())
    ).first()


def validation_line(session: Session, opinion: Opinion) -> str:
    """'Avis validé le 03/12/2026 à 16:12 par Dr Hélène Dubois' (for the case page)."""
    validator = session.get(User, opinion.validator_id) if opinion.validator_id else None
    who = validator.display_name if validator else "—"
    return _("Avis validé le {when} par {who}").format(
        when=format_datetime(opinion.validated_at), who=who
    )


# --- permissions -----------------------------------------------------------------------------


def _is_confirmed_participant(session: Session, user: User, meeting_id: int) -> bool:
    return (
        session.exec(
            select(Participation).where(
                Participation.meeting_id == meeting_id,
                Participation.user_id == user.id,
                Participation.status == ParticipationStatus.confirmed,
            )
        ).first()
        is not None
    )


def may_read(session: Session, user: User | None, ctx: CaseContext) -> bool:
    """Confirmed participants of the meeting, the RCP's coordinators and the submitter.

    The case's own visibility comes first (``cases.can_view``): a draft or a withdrawn case
    is its submitter's alone, here as on every other page. Admins are not in this list by
    virtue of being admins: they do not see patient data.
    """
    if user is None or not is_active(user):
        return False
    if not can_view(session, user, ctx.case):
        return False
    return (
        user.id == ctx.case.submitter_id
        or is_coordinator(session, user, ctx.meeting.rcp_id)
        or _is_confirmed_participant(session, user, ctx.meeting.id)  # type: ignore[arg-type]
    )


_READ_REFUSED = N_(
    "Seuls les participants confirmés de la séance, les coordinateurs de la RCP et le médecin "
    "demandeur ont accès à l'avis et à la fiche de ce cas."
)


def _require_reader(session: Session, actor: User | None, case_id: int) -> CaseContext:
    require_active(actor)
    ctx = _context(session, case_id)
    if ctx.case.status not in LISTED and ctx.case.submitter_id != actor.id:  # type: ignore[union-attr]
        # Someone else's draft or withdrawn case: answered like an id that does not exist.
        raise NotFound(_(CASE_NOT_FOUND))
    if not may_read(session, actor, ctx):
        raise PermissionDenied(_(_READ_REFUSED))
    return ctx


def _require_coordinator(session: Session, actor: User | None, case_id: int) -> CaseContext:
    require_active(actor)
    ctx = _context(session, case_id)
    require_coordinator(session, actor, ctx.meeting.rcp_id)
    if ctx.case.status not in LISTED:
        # A draft or a withdrawn case is its submitter's alone, coordinators included.
        raise NotFound(_(CASE_NOT_FOUND))
    return ctx


def _check_case_open_for_opinion(ctx: CaseContext) -> None:
    if ctx.case.status in (CaseStatus.draft, CaseStatus.withdrawn):
        raise Conflict(_("Ce cas n'est pas soumis à la RCP : aucun avis ne peut être rédigé."))
    if ctx.case.status == CaseStatus.closed:
        raise Conflict(_("Ce cas a été clos sans avis : aucun avis ne peut être rédigé."))
    if ctx.meeting.status == MeetingStatus.cancelled:
        raise Conflict(_("La séance de ce cas est annulée : aucun avis ne peut être rédigé."))


# --- drafts ----------------------------------------------------------------------------------


# The opinion's text fields: label shown in French messages, maximum length, several lines.
OPINION_TEXT_FIELDS: dict[str, tuple[str, int, bool]] = {
    "proposal": (N_("Proposition de la RCP"), 20000, True),
    "rationale": (N_("Argumentaire"), 20000, True),
    "references": (N_("Références"), 5000, True),
    "clinical_trial": (N_("Essai clinique proposé"), 2000, True),
    "follow_up_doctor": (N_("Médecin responsable du suivi"), 200, False),
}


@dataclass(frozen=True)
class OpinionFields:
    """What the coordinator writes; lengths follow the Opinion table."""

    proposal: str = ""
    rationale: str = ""
    references: str = ""
    clinical_trial: str = ""
    follow_up_doctor: str = ""
    # None: not answered yet (the page asks; validation requires an answer).
    follows_guidelines: bool | None = True

    def cleaned(self) -> OpinionFields:
        texts = {
            name: clean_text(
                getattr(self, name), label=_(label), field=name, max_length=limit, multiline=multi
            )
            for name, (label, limit, multi) in OPINION_TEXT_FIELDS.items()
        }
        follows = None if self.follows_guidelines is None else bool(self.follows_guidelines)
        return OpinionFields(**texts, follows_guidelines=follows)

    def apply(self, opinion: Opinion) -> None:
        for name in (*OPINION_TEXT_FIELDS, "follows_guidelines"):
            setattr(opinion, name, getattr(self, name))


def fields_of(opinion: Opinion) -> OpinionFields:
    return OpinionFields(
        **{name: getattr(opinion, name) for name in (*OPINION_TEXT_FIELDS, "follows_guidelines")}
    )


def save_draft(
    session: Session,
    *,
    actor: User,
    case_id: int,
    proposal: str = "",
    rationale: str = "",
    references: str = "",
    clinical_trial: str = "",
    follow_up_doctor: str = "",
    follows_guidelines: bool | None = True,
    quorum_reason: str | None = None,
) -> Opinion:
    """Create or update the draft opinion on a case (coordinators of the case's RCP only).

    The draft is version 1, or the correction opened by ``correct``. A validated version is
    locked: saving over it raises Conflict. ``follows_guidelines=None`` records that the
    question is not answered yet; ``quorum_reason`` (the reason to validate below the
    quorum) is kept with the draft like the other fields.
    """
    ctx = _require_coordinator(session, actor, case_id)
    _check_case_open_for_opinion(ctx)
    values = OpinionFields(
        proposal, rationale, references, clinical_trial, follow_up_doctor, follows_guidelines
    ).cleaned()
    reason = clean_text(
        quorum_reason,
        label=_("Motif de validation sans quorum"),
        field="quorum_reason",
        max_length=2000,
        multiline=True,
    )
    opinion = _latest(session, case_id)
    if opinion is not None and opinion.validated_at is not None:
        raise Conflict(
            _(
                "L'avis est validé et verrouillé. Pour le modifier, ouvrez une correction "
                "(nouvelle version)."
            )
        )
    created = opinion is None
    if opinion is None:
        opinion = Opinion(case_id=case_id, version=1, author_id=actor.id)  # type: ignore[arg-type]
    values.apply(opinion)
    opinion.quorum_reason = reason or None
    opinion.author_id = actor.id  # type: ignore[assignment]
    opinion.updated_at = utcnow()
    session.add(opinion)
    session.flush()
    audit.record(
        session,
        "opinion.draft_created" if created else "opinion.draft_saved",
        actor_id=actor.id,
        target_type="opinion",
        target_id=opinion.id,
        case_id=case_id,
        version=opinion.version,
    )
    session.commit()
    return opinion


# --- quorum ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttendeeRow:
    user_id: int
    name: str
    specialty: str
    institution: str


@dataclass(frozen=True)
class QuorumView:
    """Who attended the meeting (from the room's attendance) and whether that makes a quorum."""

    attendees: tuple[AttendeeRow, ...]
    specialties: tuple[str, ...]
    required: int
    met: bool

    @property
    def missing(self) -> int:
        return max(self.required - len(self.specialties), 0)

    def summary(self) -> str:
        return _(
            "{attendees} participant(s), {specialties} spécialité(s) distincte(s) sur "
            "{required} requise(s)"
        ).format(
            attendees=len(self.attendees),
            specialties=len(self.specialties),
            required=self.required,
        )


def _specialty_key(specialty: str) -> str:
    # "Néphrologie", "néphrologie " and "NEPHROLOGIE" are one specialty.
    text = unicodedata.normalize("NFKD", specialty.strip().casefold())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def _quorum(session: Session, ctx: CaseContext) -> QuorumView:
    # The room's real attendance: distinct users with an Attendance row for the meeting.
    present = attendance.attendees(session, ctx.meeting.id)  # type: ignore[arg-type]
    attendees = [
        AttendeeRow(
            user_id=a.user_id, name=a.name, specialty=a.specialty.strip(), institution=a.institution
        )
        for a in present
    ]
    specialties: dict[str, str] = {}
    # A quorum is of medical specialties: the secretary or a pharmacist attends, not counts.
    for row in (r for r, a in zip(attendees, present, strict=True) if a.physician):
        key = _specialty_key(row.specialty)
        if key and key not in specialties:
            specialties[key] = row.specialty
    required = ctx.rcp.min_specialties
    return QuorumView(
        attendees=tuple(attendees),
        specialties=tuple(specialties.values()),
        required=required,
        met=len(specialties) >= required,
    )


def quorum(session: Session, *, actor: User, case_id: int) -> QuorumView:
    """The quorum a validation of this case's opinion would record (coordinators only)."""
    ctx = _require_coordinator(session, actor, case_id)
    return _quorum(session, ctx)


# --- validation ------------------------------------------------------------------------------


def _case_link(case_id: int) -> str:
    return f"{get_settings().base_url.rstrip('/')}/cas?id={case_id}"  # i18n: exempt (a URL)


def _notify_submitter(session: Session, ctx: CaseContext, opinion: Opinion) -> None:
    """A link to the case page; never the patient's name or any clinical content."""
    submitter = session.get(User, ctx.case.submitter_id)
    if submitter is None or not is_active(submitter):
        return
    with i18n.using(i18n.recipient_language(submitter, rcp=ctx.rcp)):
        title = meeting_title(ctx.rcp, ctx.meeting)
        what = (
            _("validé")
            if opinion.version == 1
            else _("corrigé (version {version})").format(version=opinion.version)
        )
        notify.send_email(
            session,
            to=submitter.email,
            subject=_("Avis de la RCP {what} : cas n° {case}").format(what=what, case=ctx.case.id),
            body=_(
                "Bonjour {name},\n\n"
                "L'avis de la {title} sur le cas n° {case} que vous avez soumis est {what}.\n\n"
                "Pour le lire et télécharger la fiche RCP (connexion avec mot de passe et code "
                "SMS) : {link}\n\n"
                "Par confidentialité, ce message ne contient aucune donnée du patient.\n"
            ).format(
                name=submitter.display_name,
                title=title,
                case=ctx.case.id,
                what=what,
                link=_case_link(ctx.case.id),
            ),
        )


def key_image_identity_warning(session: Session, case: Case) -> str | None:
    """The fields on which the chosen key image's DICOM header names another patient."""
    attachment = key_image_attachment(session, case)
    if attachment is None:
        return None
    differences = key_image_differences(case, attachment)
    return dicom.describe_differences(differences) if differences else None


def validate(
    session: Session,
    *,
    actor: User,
    case_id: int,
    quorum_reason: str | None = None,
    confirm_key_image_identity: bool = False,
) -> Opinion:
    """Validate the draft: lock it and the case, snapshot attendees, store the PDF sheet.

    Below the RCP's quorum (distinct specialties among attendees), a reason is required and
    recorded. A key image whose DICOM header names another patient needs
    ``confirm_key_image_identity``: the differing fields are recorded with the opinion and
    printed on the sheet with the validator's name. The sheet is built outside any write
    transaction (a PDF takes a few hundred milliseconds): the draft is read, the database
    released, the PDF built and stored, then the validation written in one commit if the
    draft did not change meanwhile.

    Raises
    ------
    PermissionDenied
        The actor does not coordinate the case's RCP.
    Conflict
        No draft, already validated, meeting not started or cancelled, draft changed meanwhile.
    InvalidInput
        Empty proposal, or quorum not met without a reason.
    """
    ctx = _require_coordinator(session, actor, case_id)
    _check_case_open_for_opinion(ctx)
    opinion = _latest(session, case_id)
    if opinion is None:
        raise Conflict(_("Aucun avis à valider : enregistrez d'abord la proposition de la RCP."))
    if opinion.validated_at is not None:
        raise Conflict(_("Cet avis est déjà validé."))
    if not opinion.proposal.strip():
        raise InvalidInput(
            _("La proposition de la RCP est obligatoire pour valider l'avis."), field="proposal"
        )
    if opinion.follows_guidelines is None:
        raise InvalidInput(
            _(
                "Indiquez si la proposition suit les recommandations en vigueur (oui ou non) : "
                "la fiche le dit."
            ),
            field="follows_guidelines",
        )
    now = utcnow()
    if ctx.meeting.starts_at > now:
        raise Conflict(_("L'avis ne peut être validé qu'à partir du début de la séance."))
    view = _quorum(session, ctx)
    reason = clean_text(
        quorum_reason if quorum_reason is not None else opinion.quorum_reason,
        label=_("Motif de validation sans quorum"),
        field="quorum_reason",
        max_length=2000,
        multiline=True,
    )
    if not view.met and not reason:
        raise InvalidInput(
            _(
                "Quorum non atteint ({summary}) : indiquez le motif pour lequel l'avis est "
                "validé malgré tout."
            ).format(summary=view.summary()),
            field="quorum_reason",
        )
    recorded_reason = reason if not view.met else None
    identity_warning = key_image_identity_warning(session, ctx.case)
    if identity_warning and not confirm_key_image_identity:
        raise InvalidInput(
            _(
                "L'image clé choisie porte dans son en-tête DICOM l'identité d'un autre patient "
                "({differences}). Choisissez une autre image, ou confirmez explicitement "
                "qu'elle appartient bien à ce patient : la confirmation sera consignée sur la "
                "fiche."
            ).format(differences=identity_warning),
            field="key_image_identity",
        )
    snapshot = [
        {"user_id": a.user_id, "name": a.name, "specialty": a.specialty} for a in view.attendees
    ]
    previous = None
    if opinion.version > 1:
        previous = session.exec(
            select(Opinion).where(
                Opinion.case_id == case_id, Opinion.version == opinion.version - 1
            )
        ).one()
    with i18n.using(sheet_language(session, ctx.case)):
        data = build_sheet_data(
            session,
            case=ctx.case,
            opinion=opinion,
            validator=actor,
            validated_at=now,
            quorum_met=view.met,
            quorum_reason=recorded_reason,
            attendees=snapshot,
            replaces=previous.validated_at if previous else None,
            key_image_confirmed=bool(identity_warning),
        )
    draft_stamp = opinion.updated_at
    opinion_id = opinion.id
    session.commit()  # nothing written yet: releases the database during the PDF build

    pdf = build_sheet_pdf(data)
    blob = file_store().put(pdf)

    opinion = session.get(Opinion, opinion_id, populate_existing=True)
    if opinion is None or opinion.validated_at is not None or opinion.updated_at != draft_stamp:
        session.rollback()
        raise Conflict(
            _("L'avis a été modifié ou validé pendant la validation : relisez-le puis validez.")
        )
    opinion.validator_id = actor.id
    opinion.validated_at = now
    opinion.quorum_met = view.met
    opinion.quorum_reason = recorded_reason
    opinion.key_image_identity_warning = identity_warning
    opinion.attendees = snapshot
    opinion.sheet_sha256 = blob.sha256
    opinion.sheet_path = blob.relpath
    opinion.updated_at = now
    case = session.get(Case, case_id, populate_existing=True)
    assert case is not None
    case.status = CaseStatus.validated
    case.updated_at = now
    session.add(opinion)
    session.add(case)
    _notify_submitter(session, ctx, opinion)
    audit.record(
        session,
        "opinion.validated",
        actor_id=actor.id,
        target_type="opinion",
        target_id=opinion.id,
        case_id=case_id,
        version=opinion.version,
        quorum_met=view.met,
        key_image_identity_confirmed=bool(identity_warning),
        attendees=len(snapshot),
        specialties=len(view.specialties),
        sheet_sha256=blob.sha256,
    )
    session.commit()
    return opinion


def correct(
    session: Session,
    *,
    actor: User,
    case_id: int,
    proposal: str | None = None,
    rationale: str | None = None,
    references: str | None = None,
    clinical_trial: str | None = None,
    follow_up_doctor: str | None = None,
    follows_guidelines: bool | None = None,
) -> Opinion:
    """Open a correction of the validated opinion: a new draft version, the old one kept.

    The draft starts from the last validated text; fields given here replace it. The case
    stays validated (its file cannot change); the new version is validated with ``validate``.
    """
    ctx = _require_coordinator(session, actor, case_id)
    latest = _latest(session, case_id)
    if latest is None or latest.validated_at is None:
        raise Conflict(_("L'avis n'est pas encore validé : modifiez directement le brouillon."))
    base = fields_of(latest)
    values = OpinionFields(
        proposal=base.proposal if proposal is None else proposal,
        rationale=base.rationale if rationale is None else rationale,
        references=base.references if references is None else references,
        clinical_trial=base.clinical_trial if clinical_trial is None else clinical_trial,
        follow_up_doctor=base.follow_up_doctor if follow_up_doctor is None else follow_up_doctor,
        follows_guidelines=(
            base.follows_guidelines if follows_guidelines is None else follows_guidelines
        ),
    ).cleaned()
    draft = Opinion(case_id=case_id, version=latest.version + 1, author_id=actor.id)  # type: ignore[arg-type]
    values.apply(draft)
    session.add(draft)
    session.flush()
    audit.record(
        session,
        "opinion.correction_opened",
        actor_id=actor.id,
        target_type="opinion",
        target_id=draft.id,
        case_id=ctx.case.id,
        version=draft.version,
        replaces_version=latest.version,
    )
    session.commit()
    return draft


# --- key image -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeySlice:
    attachment_id: int
    frame_index: int


@dataclass(frozen=True)
class KeySeries:
    """One DICOM series of the case, its slices in anatomical order (for the picker)."""

    label: str
    keys: tuple[str, ...]  # sha256s for dicom.load_volume
    slices: tuple[KeySlice, ...] = field(default=())
    # Non-empty when the headers of the series name another patient than the case: the
    # differing fields (e.g. « nom (en-tête « X », dossier « Y ») »).
    identity_warning: str = ""

    def index_of(self, attachment_id: int | None, frame_index: int | None) -> int | None:
        for i, item in enumerate(self.slices):
            if item.attachment_id == attachment_id and item.frame_index == (frame_index or 0):
                return i
        return None


def key_image_candidates(session: Session, *, actor: User, case_id: int) -> list[KeySeries]:
    """The case's DICOM images grouped in series, for the coordinator's key image picker."""
    case = _require_coordinator(session, actor, case_id).case
    attachments = session.exec(
        select(Attachment)
        .where(Attachment.case_id == case_id, Attachment.kind == AttachmentKind.dicom)
        .order_by(col(Attachment.id))
    ).all()
    by_key = {f"{a.id}:{a.sha256}": a for a in attachments}
    series_list = dicom.group_series((k, a.dicom_summary or {}) for k, a in by_key.items())
    result: list[KeySeries] = []
    for series in series_list:
        slices: list[KeySlice] = []
        for member in series.members:
            attachment = by_key[member.key]
            frames = int(member.summary.get("frames") or 1)
            slices.extend(KeySlice(attachment.id, i) for i in range(frames))  # type: ignore[arg-type]
        label = " — ".join(p for p in (series.modality, series.description) if p) or (
            by_key[series.members[0].key].original_name
        )
        differences = next(
            (
                found
                for member in series.members
                if (found := key_image_differences(case, by_key[member.key]))
            ),
            [],
        )
        result.append(
            KeySeries(
                label=_("{label} ({count} image(s))").format(label=label, count=len(slices))
                + (_(" — ⚠ autre patient ?") if differences else ""),
                keys=tuple(by_key[m.key].sha256 for m in series.members),
                slices=tuple(slices),
                identity_warning=dicom.describe_differences(differences),
            )
        )
    return result


def _key_attachment(session: Session, case_id: int, attachment_id: int) -> Attachment:
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.case_id != case_id:
        raise NotFound(_("Pièce jointe introuvable dans ce cas."))
    if attachment.kind != AttachmentKind.dicom:
        raise InvalidInput(
            _("L'image clé doit être une image DICOM du dossier."), field="key_image"
        )
    return attachment


def key_image_preview(
    session: Session, *, actor: User, case_id: int, attachment_id: int, frame_index: int = 0
) -> bytes:
    """PNG of one DICOM frame of the case, as the sheet will print it (coordinators only)."""
    _require_coordinator(session, actor, case_id)
    attachment = _key_attachment(session, case_id, attachment_id)
    return render_key_image(file_store(), attachment, frame_index)


def choose_key_image(
    session: Session,
    *,
    actor: User,
    case_id: int,
    attachment_id: int | None,
    frame_index: int = 0,
) -> Case:
    """Pick the DICOM frame printed on the sheet, or none (``attachment_id=None``)."""
    ctx = _require_coordinator(session, actor, case_id)
    latest = _latest(session, case_id)
    if latest is not None and latest.validated_at is not None:
        raise Conflict(_("L'avis est validé : ouvrez une correction pour changer l'image clé."))
    case = ctx.case
    if attachment_id is None:
        case.key_attachment_id = None
        case.key_frame_index = None
    else:
        attachment = _key_attachment(session, case_id, attachment_id)
        frames = int((attachment.dicom_summary or {}).get("frames") or 1)
        if not 0 <= frame_index < frames:
            raise InvalidInput(
                _("Cette image n'existe pas dans le fichier (1 à {frames}).").format(frames=frames),
                field="key_image",
            )
        case.key_attachment_id = attachment.id
        case.key_frame_index = frame_index
    case.updated_at = utcnow()
    session.add(case)
    audit.record(
        session,
        "opinion.key_image_chosen",
        actor_id=actor.id,
        target_type="case",
        target_id=case_id,
        attachment_id=attachment_id,
        frame_index=frame_index if attachment_id is not None else None,
    )
    session.commit()
    return case


# --- reading: page, history, download --------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    """One version of the opinion as listed to readers."""

    opinion: Opinion
    validator_name: str
    author_name: str

    @property
    def validated(self) -> bool:
        return self.opinion.validated_at is not None

    @property
    def label(self) -> str:
        if self.opinion.validated_at is None:
            return _("Version {version} — brouillon").format(version=self.opinion.version)
        return _("Version {version} — validée le {when} par {who}").format(
            version=self.opinion.version,
            when=format_datetime(self.opinion.validated_at),
            who=self.validator_name,
        )


def _rows(session: Session, opinions: list[Opinion]) -> list[VersionRow]:
    ids = {o.validator_id for o in opinions} | {o.author_id for o in opinions}
    users = {
        u.id: u
        for u in session.exec(select(User).where(col(User.id).in_([i for i in ids if i]))).all()
    }

    def name(user_id: int | None) -> str:
        user = users.get(user_id)
        return user.display_name if user else "—"

    return [VersionRow(o, name(o.validator_id), name(o.author_id)) for o in opinions]


def history(session: Session, *, actor: User, case_id: int) -> list[VersionRow]:
    """Versions of the opinion, oldest first: validated ones for every reader, drafts too for
    the RCP's coordinators."""
    ctx = _require_reader(session, actor, case_id)
    opinions = _versions(session, case_id)
    if not is_coordinator(session, actor, ctx.meeting.rcp_id):
        opinions = [o for o in opinions if o.validated_at is not None]
    return _rows(session, opinions)


@dataclass(frozen=True)
class OpinionPage:
    """What the "Avis RCP" page shows to one reader."""

    case: Case
    meeting: Meeting
    trail: Trail
    submitter: User
    is_coordinator: bool
    versions: list[VersionRow]
    draft: Opinion | None  # coordinators only: the version being written
    validated: VersionRow | None  # newest validated version
    # Coordinators only: the chosen key image's header names another patient (the fields).
    key_image_identity_warning: str | None = None

    @property
    def title(self) -> str:
        return meeting_title(self.trail.rcp, self.meeting)

    @property
    def locked(self) -> bool:
        return self.case.status == CaseStatus.validated and self.draft is None


def opinion_page(
    session: Session, *, actor: User, case_id: int, audit_view: bool = True
) -> OpinionPage:
    """The case, its opinion versions and what the actor may do (readers only).

    The page shows the patient's identity and the opinion: the read is audited
    ("opinion.viewed"), unless the caller already recorded this browser session's view.
    """
    ctx = _require_reader(session, actor, case_id)
    if audit_view:
        audit.record(
            session, "opinion.viewed", actor_id=actor.id, target_type="case", target_id=case_id
        )
        session.commit()
    coordinator = is_coordinator(session, actor, ctx.meeting.rcp_id)
    rows = _rows(session, _versions(session, case_id))
    draft = rows[-1].opinion if rows and not rows[-1].validated and coordinator else None
    validated = [r for r in rows if r.validated]
    submitter = session.get(User, ctx.case.submitter_id)
    assert submitter is not None
    return OpinionPage(
        case=ctx.case,
        meeting=ctx.meeting,
        trail=ctx.trail,
        submitter=submitter,
        is_coordinator=coordinator,
        versions=rows if coordinator else validated,
        draft=draft,
        validated=validated[-1] if validated else None,
        key_image_identity_warning=(
            key_image_identity_warning(session, ctx.case) if coordinator else None
        ),
    )


def sheet_filename(case_id: int, version: int) -> str:
    """A neutral name: a downloaded file's name must not reveal the patient."""
    return _("fiche-rcp-cas-{case}-v{version}.pdf").format(case=case_id, version=version)


def get_sheet(
    session: Session, *, actor: User, case_id: int, version: int | None = None
) -> tuple[str, bytes]:
    """The PDF sheet of a validated version (default: the newest), audited.

    For confirmed participants of the meeting, the RCP's coordinators and the submitter; an
    admin who is none of these is refused like anyone else.

    Raises
    ------
    PermissionDenied, NotFound
        Not a reader; no validated version (or not that one).
    StorageError
        The stored file is missing or no longer matches its recorded fingerprint.
    """
    _require_reader(session, actor, case_id)
    if version is None:
        opinion = latest_validated(session, case_id)
    else:
        opinion = session.exec(
            select(Opinion).where(Opinion.case_id == case_id, Opinion.version == version)
        ).first()
    if opinion is None or opinion.validated_at is None or not opinion.sheet_sha256:
        raise NotFound(_("Aucune fiche validée pour ce cas."))
    data = file_store().read(opinion.sheet_sha256)
    if fingerprint(data) != opinion.sheet_sha256:
        raise StorageError(
            _("La fiche stockée ne correspond plus à son empreinte : contactez le support.")
        )
    audit.record(
        session,
        "opinion.sheet_downloaded",
        actor_id=actor.id,
        target_type="opinion",
        target_id=opinion.id,
        case_id=case_id,
        version=opinion.version,
    )
    session.commit()
    return sheet_filename(case_id, opinion.version), data


def preview_sheet(session: Session, *, actor: User, case_id: int) -> tuple[str, bytes]:
    """The draft's sheet marked "avis non validé", for the coordinator to proofread."""
    ctx = _require_coordinator(session, actor, case_id)
    opinion = _latest(session, case_id)
    if opinion is None or opinion.validated_at is not None:
        raise Conflict(_("Aucun brouillon d'avis à prévisualiser."))
    view = _quorum(session, ctx)
    previous = None
    if opinion.version > 1:
        previous = session.exec(
            select(Opinion).where(
                Opinion.case_id == case_id, Opinion.version == opinion.version - 1
            )
        ).one()
    # The preview is in the language the validated sheet will be printed in.
    with i18n.using(sheet_language(session, ctx.case)):
        data = build_sheet_data(
            session,
            case=ctx.case,
            opinion=opinion,
            validator=None,
            validated_at=None,
            quorum_met=view.met,
            quorum_reason=None,
            attendees=[{"name": a.name, "specialty": a.specialty} for a in view.attendees],
            replaces=previous.validated_at if previous else None,
        )
    session.commit()  # end the read transaction before the PDF build
    name = _("projet-fiche-rcp-cas-{case}-v{version}.pdf").format(
        case=case_id, version=opinion.version
    )
    return name, build_sheet_pdf(data)
