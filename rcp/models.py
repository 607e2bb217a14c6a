"""All tables and enums of the platform (SQLModel); the only place tables are defined."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Column, Field, SQLModel


def utcnow() -> datetime:
    """Now, timezone-aware UTC (the only kind of datetime the services handle)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC in the database, hands back aware UTC datetimes.

    SQLite keeps no time zone and PostgreSQL ``timestamp`` neither; one convention for both
    keeps comparisons identical on the two backends.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _dt(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# --- enums -----------------------------------------------------------------------------------


class UserStatus(StrEnum):
    pending = "pending"
    active = "active"
    rejected = "rejected"
    disabled = "disabled"


class OtpPurpose(StrEnum):
    sign_in = "sign_in"
    phone_change = "phone_change"


class OtpChannel(StrEnum):
    sms = "sms"
    totp = "totp"


class MemberRole(StrEnum):
    doctor = "doctor"
    referent = "referent"
    assistant = "assistant"


COORDINATOR_ROLES = (MemberRole.referent, MemberRole.assistant)


class MembershipStatus(StrEnum):
    active = "active"
    requested = "requested"
    refused = "refused"


class MeetingStatus(StrEnum):
    scheduled = "scheduled"
    open = "open"
    closed = "closed"
    cancelled = "cancelled"


class ParticipationStatus(StrEnum):
    invited = "invited"
    requested = "requested"
    confirmed = "confirmed"
    declined = "declined"
    refused = "refused"


class Sex(StrEnum):
    female = "F"
    male = "M"
    other = "X"


class CaseStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    withdrawn = "withdrawn"
    discussed = "discussed"
    validated = "validated"
    closed = "closed"  # closed without an opinion, with a reason (Case.closed_reason)


class AttachmentKind(StrEnum):
    dicom = "dicom"
    image = "image"
    pdf = "pdf"
    other = "other"


class Profession(StrEnum):
    """What a member of the network does: only physicians are addressed as "Dr"."""

    physician = "physician"
    rcp_secretary = "rcp_secretary"  # secrétaire / assistante de RCP
    research_associate = "research_associate"  # attaché(e) de recherche clinique
    coordination_nurse = "coordination_nurse"  # infirmier(ère) de coordination
    genetic_counsellor = "genetic_counsellor"  # conseiller(ère) en génétique
    pharmacist = "pharmacist"  # pharmacien(ne)
    other = "other"  # not a health profession: the platform's administration, IT


class Civility(StrEnum):
    """How the person wishes to be addressed: the feminine or masculine form of a title
    ("assistante", "référent"); unset, the masculine generic (rcp.roles says why)."""

    madame = "mme"
    monsieur = "m"


class OutboxChannel(StrEnum):
    email = "email"
    sms = "sms"


class OutboxStatus(StrEnum):
    outbox = "outbox"  # kept here for admins: no transport configured (pilot)
    queued = "queued"  # to be handed to SMTP after the request (rcp.notify.send_email)
    sending = "sending"
    sent = "sent"
    failed = "failed"


# --- accounts and sign-in --------------------------------------------------------------------


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    last_name: str = Field(max_length=100)
    first_name: str = Field(max_length=100)
    phone: str = Field(max_length=20)  # E.164
    specialty: str = Field(max_length=60)
    institution: str = Field(max_length=200)
    rpps: str | None = Field(default=None, max_length=11)
    status: UserStatus = Field(default=UserStatus.pending, sa_type=sa.String(20), index=True)
    is_admin: bool = False
    rejection_reason: str | None = Field(default=None, max_length=1000)
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_pending_secret: str | None = Field(default=None, max_length=64)
    totp_last_counter: int | None = None
    failed_attempts: int = 0
    locked_until: datetime | None = _dt()
    terms_accepted_at: datetime | None = _dt()
    created_at: datetime = _created()
    validated_at: datetime | None = _dt()
    validated_by_id: int | None = Field(default=None, foreign_key="user.id")
    password_changed_at: datetime | None = _dt()
    last_sign_in_at: datetime | None = _dt()
    registration_invite_id: int | None = None  # no FK: invites point to users
    profession: Profession = Field(
        default=Profession.physician,
        sa_type=sa.String(30),
        sa_column_kwargs={"server_default": "physician"},
    )
    civility: Civility | None = Field(default=None, sa_type=sa.String(5))
    # "fr" or "en" (rcp.i18n); None: the browser's language for pages, and for messages the
    # language of the RCP they are about.
    language: str | None = Field(default=None, max_length=5)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def display_name(self) -> str:
        """ "Dr Claire Martin" for a physician; other professions by name ("Léa Petit")."""
        if self.profession == Profession.physician:
            return f"Dr {self.first_name} {self.last_name}"
        return self.full_name


class LoginSession(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _created()
    last_seen_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    revoked_at: datetime | None = _dt()
    revoked_reason: str | None = Field(default=None, max_length=100)
    user_agent: str = Field(default="", max_length=300)
    ip_address: str = Field(default="", max_length=64)


class OtpChallenge(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    purpose: OtpPurpose = Field(sa_type=sa.String(20))
    channel: OtpChannel = Field(sa_type=sa.String(10))
    code_hash: str | None = Field(default=None, max_length=64)
    target_phone: str | None = Field(default=None, max_length=20)
    created_at: datetime = _created()
    sent_at: datetime | None = _dt()
    send_count: int = 0
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    attempts: int = 0
    used_at: datetime | None = _dt()
    handoff_hash: str | None = Field(default=None, max_length=64, index=True)
    handoff_expires_at: datetime | None = _dt()
    handoff_used_at: datetime | None = _dt()


class KnownBrowser(SQLModel, table=True):
    """A browser (its ``rcp_browser`` cookie, rcp.browser_key) that has signed in to an account.

    Wrong passwords typed elsewhere lock the account for unknown browsers only; failures in
    a known browser lock that browser only (rcp.auth), so an outsider cannot lock a doctor out.
    """

    __table_args__ = (sa.UniqueConstraint("user_id", "key_hash", name="uq_knownbrowser_user_key"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    key_hash: str = Field(max_length=64, index=True)
    created_at: datetime = _created()
    last_used_at: datetime = _created()
    failed_attempts: int = 0
    locked_until: datetime | None = _dt()


class PasswordResetToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = _dt()


class RegistrationInvite(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    invited_by_id: int = Field(foreign_key="user.id")
    message: str = Field(default="", max_length=1000)
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    used_at: datetime | None = _dt()
    revoked_at: datetime | None = _dt()
    send_count: int = 1


# --- directory ---------------------------------------------------------------------------------


class Network(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=30, unique=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    created_at: datetime = _created()


class RcpFamily(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    network_id: int = Field(foreign_key="network.id", index=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    created_at: datetime = _created()


class Rcp(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    family_id: int = Field(foreign_key="rcpfamily.id", index=True)
    name: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    min_specialties: int = 3  # quorum rule: distinct specialties among attendees
    min_participants: int = 3  # below this, coordinators see the meeting in their to-do
    # The panel's working language ("fr" or "en", rcp.i18n): messages about this RCP to
    # members who chose no language of their own are written in it.
    language: str = Field(default="fr", max_length=5, sa_column_kwargs={"server_default": "fr"})
    created_at: datetime = _created()


class RcpMember(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("rcp_id", "user_id", name="uq_rcpmember_rcp_user"),)

    id: int | None = Field(default=None, primary_key=True)
    rcp_id: int = Field(foreign_key="rcp.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    role: MemberRole = Field(default=MemberRole.doctor, sa_type=sa.String(20))
    status: MembershipStatus = Field(default=MembershipStatus.active, sa_type=sa.String(20))
    created_at: datetime = _created()
    decided_at: datetime | None = _dt()
    decided_by_id: int | None = Field(default=None, foreign_key="user.id")


class Meeting(SQLModel, table=True):
    """An RCP session on a given date (named Meeting so that `session` means the DB session)."""

    id: int | None = Field(default=None, primary_key=True)
    rcp_id: int = Field(foreign_key="rcp.id", index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    ends_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    case_deadline: datetime = Field(sa_type=UTCDateTime, nullable=False)
    description: str = Field(default="", max_length=2000)
    status: MeetingStatus = Field(default=MeetingStatus.scheduled, sa_type=sa.String(20))
    ics_sequence: int = 0
    current_case_id: int | None = None  # no FK: case.meeting_id already points here
    presenter_id: int | None = Field(default=None, foreign_key="user.id")
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created()
    cancelled_at: datetime | None = _dt()
    closed_at: datetime | None = _dt()


class Participation(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("meeting_id", "user_id", name="uq_participation_meeting_user"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    status: ParticipationStatus = Field(sa_type=sa.String(20))
    invited_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _created()
    updated_at: datetime = _created()
    decided_by_id: int | None = Field(default=None, foreign_key="user.id")
    hand_raised_at: datetime | None = _dt()


class Attendance(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    joined_at: datetime = _created()
    left_at: datetime | None = _dt()
    last_seen_at: datetime = _created()


# --- cases ---------------------------------------------------------------------------------------


class Case(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    submitter_id: int = Field(foreign_key="user.id", index=True)
    patient_last_name: str = Field(max_length=100)
    patient_first_name: str = Field(max_length=100)
    patient_birth_date: date
    patient_sex: Sex = Field(sa_type=sa.String(1))
    patient_informed: bool = False
    question: str = Field(default="", max_length=5000)
    summary: str = Field(default="", max_length=20000)
    history: str = Field(default="", max_length=20000)
    treatments: str = Field(default="", max_length=10000)
    histology: str = Field(default="", max_length=10000)
    genetics: str = Field(default="", max_length=10000)
    results: str = Field(default="", max_length=20000)
    labs: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    status: CaseStatus = Field(default=CaseStatus.draft, sa_type=sa.String(20), index=True)
    is_late: bool = False
    position: int = 0
    key_attachment_id: int | None = None
    key_frame_index: int | None = None
    created_at: datetime = _created()
    updated_at: datetime = _created()
    submitted_at: datetime | None = _dt()
    withdrawn_at: datetime | None = _dt()
    # "Reporter à la séance suivante": the meeting the case was moved from (the last move).
    # No FK, like meeting.current_case_id: SQLite would rebuild "case" to add one.
    postponed_from_meeting_id: int | None = None
    postponed_at: datetime | None = _dt()
    # "Clore sans avis": why, and when.
    closed_reason: str | None = Field(default=None, max_length=2000)
    closed_at: datetime | None = _dt()


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    uploaded_by_id: int = Field(foreign_key="user.id")
    original_name: str = Field(max_length=255)
    kind: AttachmentKind = Field(sa_type=sa.String(10))
    stored_path: str = Field(max_length=300)
    sha256: str = Field(max_length=64, index=True)
    size: int
    dicom_summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = _created()


class Opinion(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("case_id", "version", name="uq_opinion_case_version"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    version: int = 1
    proposal: str = Field(default="", max_length=20000)
    rationale: str = Field(default="", max_length=20000)
    references: str = Field(default="", max_length=5000)
    clinical_trial: str = Field(default="", max_length=2000)
    follow_up_doctor: str = Field(default="", max_length=200)
    follows_guidelines: bool | None = None  # None: not answered yet (a draft only)
    author_id: int = Field(foreign_key="user.id")
    validator_id: int | None = Field(default=None, foreign_key="user.id")
    validated_at: datetime | None = _dt()
    quorum_met: bool | None = None
    quorum_reason: str | None = Field(default=None, max_length=2000)
    # The key image's header names another patient: what differed, confirmed by the validator.
    key_image_identity_warning: str | None = Field(default=None, max_length=2000)
    attendees: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    sheet_sha256: str | None = Field(default=None, max_length=64)
    sheet_path: str | None = Field(default=None, max_length=300)
    created_at: datetime = _created()
    updated_at: datetime = _created()


# --- meeting life ------------------------------------------------------------------------------


class ChatMessage(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    body: str = Field(max_length=2000)
    created_at: datetime = _created()


# --- records -----------------------------------------------------------------------------------


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
    actor_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    action: str = Field(max_length=60, index=True)
    target_type: str = Field(default="", max_length=30)
    target_id: int | None = Field(default=None, index=True)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    ip_address: str = Field(default="", max_length=64)


class OutboxMessage(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
    channel: OutboxChannel = Field(sa_type=sa.String(10))
    to: str = Field(max_length=254, index=True)
    subject: str = Field(default="", max_length=300)
    body: str | None = Field(default=None, sa_type=sa.Text)
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    status: OutboxStatus = Field(sa_type=sa.String(10))
    error: str | None = Field(default=None, max_length=500)
    # A queued email's hand-overs to SMTP: when the last one began, and how many there were
    # (one interrupted by a crash is taken up again, then given up: rcp.notify).
    claimed_at: datetime | None = _dt()
    attempts: int = 0
