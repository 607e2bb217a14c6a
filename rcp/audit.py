"""Audit trail: who did what, when, to what (added to the caller's transaction).

Admins search the log and export it as CSV; a coordinator sees who opened each case of their
RCP; events older than the retention period (a setting, 12 months by default and never less
than 6) are purged by ``python -m rcp purge-audit``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, delete, func, or_, select

from rcp import i18n
from rcp.dates import PARIS, format_datetime, today_paris
from rcp.errors import InvalidInput, NotFound
from rcp.i18n import N_, _
from rcp.models import Attachment, AuditEvent, Case, CaseStatus, Meeting, Opinion, User, utcnow
from rcp.permissions import require_admin, require_coordinator

MIN_RETENTION_MONTHS = 6
EXPORT_MAX_ROWS = 100_000
# Reads of a patient's file: what a coordinator's "Accès aux cas" counts as views, and as
# downloads (a file or sheet that left the platform).
CASE_VIEW_ACTIONS = ("case.viewed", "file.viewed", "opinion.viewed")
CASE_DOWNLOAD_ACTIONS = ("file.downloaded", "opinion.sheet_downloaded")
CASE_READ_ACTIONS = CASE_VIEW_ACTIONS + CASE_DOWNLOAD_ACTIONS


# What each recorded action and target type means, for the journal (an internal code is never
# the only thing shown). tests/unit/test_audit_labels.py fails on an action recorded anywhere
# in rcp/ that has no label here.
ACTION_LABELS: dict[str, str] = {
    "account.admin_created": N_("Compte administrateur créé"),
    "account.approved": N_("Inscription validée"),
    "account.disabled": N_("Compte désactivé"),
    "account.language_changed": N_("Langue du compte modifiée"),
    "account.phone_changed": N_("Numéro de portable modifié"),
    "account.profession_changed": N_("Profession du compte modifiée"),
    "account.profile_updated": N_("Profil modifié"),
    "account.reactivated": N_("Compte réactivé"),
    "account.registered": N_("Demande d'inscription"),
    "account.registration_duplicate": N_("Inscription en double (adresse déjà connue)"),
    "account.rejected": N_("Inscription refusée"),
    "account.second_factor_reset": N_("Second facteur réinitialisé"),
    "account.totp_disabled": N_("Application d'authentification retirée"),
    "account.totp_enrolled": N_("Application d'authentification activée"),
    "account.unlocked": N_("Compte débloqué"),
    "audit.exported": N_("Journal exporté en CSV"),
    "audit.purged": N_("Journal purgé (durée de conservation)"),
    "auth.address_throttled": N_("Adresse IP freinée (trop d'échecs)"),
    "auth.code_failed": N_("Code de connexion erroné"),
    "auth.code_resent": N_("Code de connexion renvoyé"),
    "auth.locked": N_("Connexion bloquée (trop d'échecs)"),
    "auth.locked_attempt": N_("Tentative de connexion pendant un blocage"),
    "auth.password_changed": N_("Mot de passe changé"),
    "auth.password_ok": N_("Mot de passe correct (code demandé)"),
    "auth.password_reset": N_("Mot de passe réinitialisé"),
    "auth.reset_requested": N_("Réinitialisation du mot de passe demandée"),
    "auth.reset_requested_unknown": N_("Réinitialisation demandée pour une adresse inconnue"),
    "auth.second_factor_ok": N_("Second facteur validé"),
    "auth.session_account_inactive": N_("Session close (compte inactif)"),
    "auth.session_ended": N_("Session close"),
    "auth.session_expired": N_("Session expirée"),
    "auth.session_idle": N_("Session close pour inactivité"),
    "auth.sessions_ended": N_("Toutes les sessions closes"),
    "auth.sign_in": N_("Connexion"),
    "auth.sign_in_failed": N_("Échec de connexion"),
    "auth.sign_out": N_("Déconnexion"),
    "case.closed_without_opinion": N_("Cas clos sans avis"),
    "case.created": N_("Cas créé"),
    "case.discussed": N_("Cas discuté"),
    "case.postponed": N_("Cas reporté"),
    "case.submitted": N_("Cas soumis"),
    "case.updated": N_("Cas modifié"),
    "case.viewed": N_("Cas consulté"),
    "case.withdrawn": N_("Cas retiré"),
    "chat.posted": N_("Message de discussion publié"),
    "directory.family_created": N_("Famille de RCP créée"),
    "directory.member_added": N_("Membre ajouté à une RCP"),
    "directory.member_removed": N_("Membre retiré d'une RCP"),
    "directory.membership_accepted": N_("Demande d'adhésion acceptée"),
    "directory.membership_refused": N_("Demande d'adhésion refusée"),
    "directory.membership_requested": N_("Adhésion à une RCP demandée"),
    "directory.network_created": N_("Réseau créé"),
    "directory.rcp_created": N_("RCP créée"),
    "directory.rcp_updated": N_("RCP modifiée"),
    "directory.role_set": N_("Rôle attribué"),
    "file.downloaded": N_("Fichier téléchargé"),
    "file.removed": N_("Fichier retiré"),
    "file.series_downloaded": N_("Série DICOM téléchargée (anonymisée)"),
    "file.uploaded": N_("Fichier ajouté"),
    "file.viewed": N_("Fichier consulté"),
    "invite.created": N_("Invitation envoyée"),
    "invite.resent": N_("Invitation renvoyée"),
    "invite.revoked": N_("Invitation révoquée"),
    "meeting.cancelled": N_("Séance annulée"),
    "meeting.closed": N_("Séance clôturée"),
    "meeting.current_case_set": N_("Cas en cours changé"),
    "meeting.hand_cleared": N_("Main baissée par l'animateur"),
    "meeting.hand_lowered": N_("Main baissée"),
    "meeting.hand_raised": N_("Main levée"),
    "meeting.invitation_confirmed": N_("Participation confirmée"),
    "meeting.invitation_declined": N_("Participation déclinée"),
    "meeting.invited": N_("Invitation à une séance"),
    "meeting.participation_requested": N_("Participation à une séance demandée"),
    "meeting.reopened": N_("Séance rouverte"),
    "meeting.request_accepted": N_("Demande de participation acceptée"),
    "meeting.request_refused": N_("Demande de participation refusée"),
    "meeting.scheduled": N_("Séance programmée"),
    "meeting.updated": N_("Séance modifiée"),
    "opinion.correction_opened": N_("Correction d'avis ouverte"),
    "opinion.draft_created": N_("Brouillon d'avis créé"),
    "opinion.draft_saved": N_("Brouillon d'avis enregistré"),
    "opinion.key_image_chosen": N_("Image clé choisie"),
    "opinion.sheet_downloaded": N_("Fiche RCP téléchargée"),
    "opinion.validated": N_("Avis validé"),
    "opinion.viewed": N_("Avis consulté"),
    "room.joined": N_("Entrée dans la salle"),
    "room.left": N_("Sortie de la salle"),
    "room.screen_granted": N_("Partage d'écran accordé"),
    "room.screen_withdrawn": N_("Partage d'écran retiré"),
    "system.fsck_repaired": N_("Fichiers réparés (vérification du stockage)"),
}
TARGET_LABELS: dict[str, str] = {
    "attachment": N_("Fichier"),
    "attendance": N_("Présence"),
    "case": N_("Cas"),
    "chatmessage": N_("Message"),
    "family": N_("Famille de RCP"),
    "invite": N_("Invitation"),
    "loginsession": N_("Session"),
    "meeting": N_("Séance"),
    "network": N_("Réseau"),
    "opinion": N_("Avis"),
    "participation": N_("Participation"),
    "rcp": N_("RCP"),
    "rcpmember": N_("Membre de RCP"),
    "user": N_("Compte"),
}


def action_label(action: str) -> str:
    """What ``action`` means, in the current language (an unknown code: the code itself)."""
    return i18n.label(ACTION_LABELS, action)


def target_label(target_type: str, target_id: int | None = None) -> str:
    """ "Cas 41" / "Case 41"; "" when the event has no target."""
    if not target_type:
        return ""
    kind = i18n.label(TARGET_LABELS, target_type)
    return f"{kind} {target_id}" if target_id is not None else kind


# The client address of the request being served: set by the HTTP middleware for the
# routes (rcp.web), or read from the Streamlit script's context (rcp.ui.context installs the
# provider). Behind the proxy it is the browser's address, as the app server (uvicorn) takes
# it from X-Forwarded-For only for connections from FORWARDED_ALLOW_IPS.
_client_address: ContextVar[str] = ContextVar("rcp_client_address", default="")
_address_provider: Callable[[], str] | None = None


def set_client_address(address: str) -> Token[str]:
    """The address of the request this context serves (reset with ``reset_client_address``)."""
    return _client_address.set(address or "")


def reset_client_address(token: Token[str]) -> None:
    _client_address.reset(token)


def set_address_provider(provider: Callable[[], str] | None) -> None:
    """Where to read the address when no request set one (a Streamlit script run)."""
    global _address_provider
    _address_provider = provider


def client_address() -> str:
    """The client address of the current request or script run, or "" when unknown."""
    address = _client_address.get()
    if not address and _address_provider is not None:
        try:
            address = _address_provider() or ""
        except Exception:  # noqa: BLE001 - an address is a detail: never fail the use case
            address = ""
    return address[:64]


def record(
    session: Session,
    action: str,
    *,
    actor_id: int | None,
    target_type: str = "",
    target_id: int | None = None,
    ip_address: str = "",
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the session; it is committed with the caller's use case.

    ``ip_address`` defaults to the client address of the request being served.
    """
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        ip_address=(ip_address or client_address())[:64],
    )
    session.add(event)
    return event


_seen_today: set[tuple[str, int, str, int, str, str]] = set()


def record_once_a_day(
    session: Session,
    action: str,
    *,
    actor_id: int,
    target_type: str,
    target_id: int,
    viewer: str,
    **details: Any,
) -> None:
    """Record ``action`` once per actor, target, viewer (login session) and Paris day.

    For reads repeated many times a minute (slices of a DICOM file, an image on a page that
    redraws): the log says who saw what and when, without one row per request. Commits.
    """
    day = today_paris()
    memo = (action, actor_id, target_type, target_id or 0, viewer, day.isoformat())
    if memo in _seen_today:
        return
    start = datetime.combine(day, time.min, tzinfo=PARIS).astimezone(UTC)
    earlier = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == action,
            AuditEvent.actor_id == actor_id,
            AuditEvent.target_type == target_type,
            AuditEvent.target_id == target_id,
            AuditEvent.created_at >= start,
        )
    ).all()
    if not any(event.details.get("viewer") == viewer for event in earlier):
        record(
            session,
            action,
            actor_id=actor_id,
            target_type=target_type,
            target_id=target_id,
            viewer=viewer,
            **details,
        )
    session.commit()
    if len(_seen_today) > 50_000:
        _seen_today.clear()
    _seen_today.add(memo)


def forget_recorded_views() -> None:
    """Forget which once-a-day reads this process recorded (tests start a new database)."""
    _seen_today.clear()


def count_since(session: Session, action: str, since: datetime, **detail_match: str) -> int:
    """How many events of ``action`` since ``since`` match the given detail values."""
    events = session.exec(
        select(AuditEvent).where(AuditEvent.action == action, AuditEvent.created_at >= since)
    ).all()
    return sum(1 for e in events if all(e.details.get(k) == v for k, v in detail_match.items()))


def list_events(
    session: Session,
    *,
    actor: User,
    action: str | None = None,
    actor_id: int | None = None,
    target_type: str | None = None,
    target_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AuditEvent]:
    """The audit log, newest first, for admins."""
    require_admin(actor)
    query = select(AuditEvent)
    if action:
        query = query.where(col(AuditEvent.action).startswith(action))
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if target_type:
        query = query.where(AuditEvent.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    query = query.order_by(col(AuditEvent.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query).all())


def count_events(session: Session) -> int:
    return session.exec(select(func.count()).select_from(AuditEvent)).one()


def purge_older_than(session: Session, months: int) -> int:
    """Delete events older than the retention period (never less than six months).

    The purge itself is recorded (how many events, the cutoff): the log says it was trimmed.
    """
    months = max(months, MIN_RETENTION_MONTHS)
    cutoff = utcnow() - timedelta(days=months * 31)
    result = session.exec(delete(AuditEvent).where(AuditEvent.created_at < cutoff))
    removed = result.rowcount or 0
    record(
        session,
        "audit.purged",
        actor_id=None,
        removed=removed,
        months=months,
        cutoff=cutoff.isoformat(),
    )
    session.commit()
    return removed


# --- search and export (admins) --------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What the admin asks for; every field is optional.

    ``action`` is a prefix ("auth." or "case.viewed"); ``user`` matches the actor's e-mail or
    last name (part of it, any case); ``since``/``until`` are days in Paris time, both
    included; ``target_type`` is exact and ``target_id`` an id.
    """

    action: str = ""
    user: str = ""
    since: date | None = None
    until: date | None = None
    target_type: str = ""
    target_id: int | None = None

    def to_query(self) -> dict[str, str]:
        """The filter as URL parameters (the export link carries it); empty fields left out."""
        values = {
            "action": self.action,
            "user": self.user,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "target_type": self.target_type,
            "target_id": str(self.target_id) if self.target_id is not None else "",
        }
        return {k: v for k, v in values.items() if v}

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> AuditFilter:
        """The filter of an export link; a malformed date or number is refused."""

        def day(name: str) -> date | None:
            text = params.get(name, "").strip()
            if not text:
                return None
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise InvalidInput(
                    _("Date de filtre illisible : {text}.").format(text=text)
                ) from None

        target = params.get("target_id", "").strip()
        if target and not target.isdigit():
            raise InvalidInput(_("N° de cible illisible : {text}.").format(text=target))
        return cls(
            action=params.get("action", "").strip()[:100],
            user=params.get("user", "").strip()[:200],
            since=day("since"),
            until=day("until"),
            target_type=params.get("target_type", "").strip()[:50],
            target_id=int(target) if target else None,
        )


@dataclass(frozen=True)
class AuditRow:
    """One event as the journal shows it (plain values)."""

    id: int
    created_at: datetime
    action: str
    actor_id: int | None
    actor: str
    target_type: str
    target_id: int | None
    details: dict[str, Any]
    ip_address: str

    @property
    def details_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in sorted(self.details.items()))


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _paris_bound(day: date, *, end: bool) -> datetime:
    return datetime.combine(day + timedelta(days=1) if end else day, time(0, 0), PARIS)


def _filtered(session: Session, spec: AuditFilter, *, count_only: bool = False) -> Any:
    if spec.since and spec.until and spec.until < spec.since:
        raise InvalidInput(_("La date de fin est avant la date de début."), field="until")
    who = spec.user.strip().casefold()
    if count_only and not who:
        # Counting needs no actor: without the join SQLite counts an index (3x faster).
        query = select(AuditEvent.id)
    else:
        query = select(AuditEvent, User).join(
            User, col(User.id) == col(AuditEvent.actor_id), isouter=True
        )
    action = spec.action.strip()
    if action:
        query = query.where(col(AuditEvent.action).startswith(action, autoescape=True))
    if who:
        escaped = who.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                col(User.email).ilike(pattern, escape="\\"),
                col(User.last_name).ilike(pattern, escape="\\"),
            )
        )
    if spec.since:
        query = query.where(AuditEvent.created_at >= _paris_bound(spec.since, end=False))
    if spec.until:
        query = query.where(AuditEvent.created_at < _paris_bound(spec.until, end=True))
    if spec.target_type.strip():
        query = query.where(AuditEvent.target_type == spec.target_type.strip())
    if spec.target_id is not None:
        query = query.where(AuditEvent.target_id == spec.target_id)
    return query


def _row(event: AuditEvent, user: User | None) -> AuditRow:
    return AuditRow(
        id=event.id,  # type: ignore[arg-type]
        created_at=event.created_at,
        action=event.action,
        actor_id=event.actor_id,
        actor=f"{user.full_name} <{user.email}>" if user else _("système"),
        target_type=event.target_type,
        target_id=event.target_id,
        details=dict(event.details or {}),
        ip_address=event.ip_address,
    )


def search(
    session: Session, *, actor: User, spec: AuditFilter, page: int = 1, page_size: int = 50
) -> AuditPage:
    """One page of the filtered log, newest first, with the total count (admins only)."""
    require_admin(actor)
    page_size = max(1, min(page_size, 500))
    query = _filtered(session, spec)
    counted = _filtered(session, spec, count_only=True)
    total = session.exec(select(func.count()).select_from(counted.subquery())).one()
    pages = max(1, -(-total // page_size))
    page = max(1, min(page, pages))
    rows = session.exec(
        query.order_by(col(AuditEvent.id).desc()).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return AuditPage(
        rows=[_row(e, u) for e, u in rows], total=total, page=page, page_size=page_size
    )


CSV_COLUMNS = (
    "id",
    "date (UTC)",
    "date (Paris)",
    "action",
    "acteur_id",
    "acteur",
    "cible_type",
    "cible_id",
    "details",
    "ip",
)


def _csv_cell(value: Any) -> str:
    # A cell starting with = + - @ is a formula to spreadsheet software: neutralise it.
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(session: Session, *, actor: User, spec: AuditFilter) -> bytes:
    """The filtered log as CSV (UTF-8 with BOM, ';'-separated for French spreadsheets).

    Admins only; the export itself is recorded in the log.
    """
    require_admin(actor)
    rows = session.exec(
        _filtered(session, spec).order_by(col(AuditEvent.id).desc()).limit(EXPORT_MAX_ROWS)
    ).all()
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for event, user in rows:
        row = _row(event, user)
        writer.writerow(
            _csv_cell(v)
            for v in (
                row.id,
                row.created_at.isoformat(),
                format_datetime(row.created_at),
                row.action,
                row.actor_id,
                row.actor,
                row.target_type,
                row.target_id,
                row.details_text,
                row.ip_address,
            )
        )
    record(
        session,
        "audit.exported",
        actor_id=actor.id,
        rows=len(rows),
        filter={k: str(v) for k, v in spec.__dict__.items() if v not in (None, "")},
    )
    session.commit()
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# --- who opened a case (coordinators) ----------------------------------------------------------


@dataclass(frozen=True)
class CaseReader:
    """One person who opened a case or downloaded one of its files or sheets."""

    user_id: int | None
    name: str
    views: int
    downloads: int
    first_at: datetime
    last_at: datetime


def _case_id_of(event: AuditEvent) -> int | None:
    if event.target_type == "case":
        return event.target_id
    value = (event.details or {}).get("case_id")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _read_targets(session: Session, case_ids: list[int]) -> list[tuple[str, list[int]]]:
    """What a read of these cases is recorded against: the cases, their files, their sheets.

    Files removed since are found through their ``file.removed`` event. Looking the events up
    by target (indexed) instead of by the ``case_id`` in their JSON details keeps the lookup
    proportional to the cases asked for, not to the size of the log.
    """
    attachment_ids = set(
        session.exec(select(Attachment.id).where(col(Attachment.case_id).in_(case_ids))).all()
    )
    for details in session.exec(
        select(AuditEvent.details).where(
            AuditEvent.action == "file.removed",
            AuditEvent.target_type == "case",
            col(AuditEvent.target_id).in_(case_ids),
        )
    ).all():
        value = (details or {}).get("attachment_id")
        if isinstance(value, int | str) and str(value).isdigit():
            attachment_ids.add(int(value))
    opinion_ids = set(
        session.exec(select(Opinion.id).where(col(Opinion.case_id).in_(case_ids))).all()
    )
    targets = (
        ("case", list(case_ids)),
        ("attachment", sorted(i for i in attachment_ids if i is not None)),
        ("opinion", sorted(i for i in opinion_ids if i is not None)),
    )
    return [(kind, ids) for kind, ids in targets if ids]


def _readers_by_case(session: Session, case_ids: list[int]) -> dict[int, list[CaseReader]]:
    if not case_ids:
        return {}
    events = session.exec(
        select(AuditEvent).where(
            col(AuditEvent.action).in_(CASE_READ_ACTIONS),
            or_(
                *(
                    sa.and_(AuditEvent.target_type == kind, col(AuditEvent.target_id).in_(ids))
                    for kind, ids in _read_targets(session, case_ids)
                )
            ),
        )
    ).all()
    users = {
        u.id: u
        for u in session.exec(
            select(User).where(col(User.id).in_({e.actor_id for e in events if e.actor_id}))
        ).all()
    }
    grouped: dict[tuple[int, int | None], list[AuditEvent]] = {}
    for event in events:
        case_id = _case_id_of(event)
        if case_id in case_ids:
            grouped.setdefault((case_id, event.actor_id), []).append(event)  # type: ignore[arg-type]
    result: dict[int, list[CaseReader]] = {case_id: [] for case_id in case_ids}
    for (case_id, user_id), items in grouped.items():
        user = users.get(user_id)
        result[case_id].append(
            CaseReader(
                user_id=user_id,
                name=user.display_name if user else "—",
                views=sum(1 for e in items if e.action in CASE_VIEW_ACTIONS),
                downloads=sum(1 for e in items if e.action in CASE_DOWNLOAD_ACTIONS),
                first_at=min(e.created_at for e in items),
                last_at=max(e.created_at for e in items),
            )
        )
    for readers in result.values():
        readers.sort(key=lambda r: r.last_at, reverse=True)
    return result


def case_readers(session: Session, *, actor: User, case_id: int) -> list[CaseReader]:
    """Who opened this case or downloaded its files or sheets, most recent first.

    For the coordinators of the case's RCP only (an admin who is not one is refused: the
    answer names the doctors who saw a patient's file).
    """
    case = session.get(Case, case_id)
    meeting = session.get(Meeting, case.meeting_id) if case else None
    if case is None or meeting is None:
        raise NotFound(_("Cas introuvable."))
    require_coordinator(session, actor, meeting.rcp_id)
    return _readers_by_case(session, [case_id])[case_id]


@dataclass(frozen=True)
class CaseAccess:
    """A case of the RCP and the people who opened it."""

    case_id: int
    patient: str
    meeting_starts_at: datetime
    status: str
    readers: list[CaseReader]


def rcp_case_access(
    session: Session, *, actor: User, rcp_id: int, limit: int = 200, offset: int = 0
) -> list[CaseAccess]:
    """Every case put to this RCP (drafts excepted), newest meeting first, with its readers.

    For the RCP's coordinators only. ``limit`` and ``offset`` page through the cases: readers
    are read for the cases returned only.
    """
    require_coordinator(session, actor, rcp_id)
    # The page's case ids first (SQLite sorts narrow rows), then those cases only.
    page_ids = session.exec(
        select(Case.id)
        .join(Meeting, col(Meeting.id) == Case.meeting_id)
        .where(Meeting.rcp_id == rcp_id, Case.status != CaseStatus.draft)
        .order_by(col(Meeting.starts_at).desc(), col(Case.position), col(Case.id))
        .offset(offset)
        .limit(limit)
    ).all()
    found = {
        c.id: (c, m)
        for c, m in session.exec(
            select(Case, Meeting)
            .join(Meeting, col(Meeting.id) == Case.meeting_id)
            .where(col(Case.id).in_(page_ids))
        ).all()
    }
    rows = [found[case_id] for case_id in page_ids if case_id in found]
    readers = _readers_by_case(session, [c.id for c, _m in rows])  # type: ignore[misc]
    return [
        CaseAccess(
            case_id=c.id,  # type: ignore[arg-type]
            patient=f"{c.patient_last_name} {c.patient_first_name}",
            meeting_starts_at=m.starts_at,
            status=str(c.status),
            readers=readers.get(c.id, []),  # type: ignore[arg-type]
        )
        for c, m in rows
    ]


def count_rcp_cases(session: Session, *, actor: User, rcp_id: int) -> int:
    """How many cases ``rcp_case_access`` pages through; for the RCP's coordinators only."""
    require_coordinator(session, actor, rcp_id)
    meeting_ids = select(Meeting.id).where(Meeting.rcp_id == rcp_id)
    return session.exec(
        select(func.count())
        .select_from(Case)
        .where(col(Case.meeting_id).in_(meeting_ids), Case.status != CaseStatus.draft)
    ).one()
