"""Email (SMTP or outbox) and SMS (HTTP gateway or outbox); messages never carry patient data."""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import httpx
from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, or_, select

from rcp.config import Settings, get_settings
from rcp.errors import RcpError
from rcp.i18n import N_, _
from rcp.models import OutboxChannel, OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content: bytes
    mime_type: str  # e.g. "text/calendar; method=REQUEST"


class DeliveryFailed(RcpError):
    """Raised when a message could not be handed to the SMTP server or the SMS gateway."""

    default_message = N_(
        "Le message n'a pas pu être envoyé. Réessayez dans un instant ; si le problème "
        "persiste, contactez le support."
    )


def send_email(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    attachments: tuple[MailAttachment, ...] = (),
    settings: Settings | None = None,
    deferred: bool = False,
) -> OutboxMessage:
    """Send an email through SMTP, or keep it in the outbox when no SMTP server is set.

    The returned row is added to ``session``; the caller commits it with its use case. A
    failing SMTP server does not undo the use case: the row is marked failed and logged.
    ``deferred`` hands the message to SMTP from a thread after the caller's commit (for the
    answers that must not take longer when a message is due).
    """
    settings = settings or get_settings()
    row = OutboxMessage(channel=OutboxChannel.email, to=to, subject=subject, body=body)
    if deferred and settings.smtp_configured and not attachments:
        # Sent by a thread once the caller's transaction is committed: the request answers
        # in the same time whether or not a message was due (no account enumeration).
        row.status = OutboxStatus.queued
        session.add(row)
        bind = session.get_bind()
        event.listen(
            session,
            "after_commit",
            lambda _session: _start_delivery(bind, settings),  # type: ignore[arg-type]
            once=True,
        )
        return row
    row.attachments = [
        {
            "filename": a.filename,
            "mime_type": a.mime_type,
            "content": a.content.decode("utf-8", errors="replace"),
        }
        for a in attachments
        if a.mime_type.startswith("text/")
    ]
    if not settings.smtp_configured:
        row.status = OutboxStatus.outbox
    else:
        try:
            _smtp_send(settings, to=to, subject=subject, body=body, attachments=attachments)
            row.status = OutboxStatus.sent
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("SMTP delivery to a user failed: %s", type(exc).__name__)
            row.status = OutboxStatus.failed
            row.error = f"{type(exc).__name__}: {exc}"[:500]
        # Sent messages are not kept in full once a real transport has them.
        row.body = None
        row.attachments = []
    session.add(row)
    return row


def _start_delivery(bind: Engine, settings: Settings) -> None:
    def run() -> None:
        try:
            deliver_queued(bind, settings)
        except Exception:  # noqa: BLE001 - the message stays queued for the next delivery
            log.exception("Queued email delivery failed; it is retried with the next one")

    threading.Thread(target=run, name="rcp-mail", daemon=True).start()


GIVEN_UP = (
    # i18n: exempt (stored as the outbox row's error, shown as is in "Boîte d'envoi")
    "Envoi interrompu {attempts} fois (arrêt ou redémarrage du serveur pendant l'envoi) : "
    "message abandonné, non remis. Prévenez le destinataire si nécessaire."
)


def recover_interrupted(session: Session, settings: Settings | None = None) -> tuple[int, int]:
    """Take up the queued emails whose hand-over to SMTP was interrupted; (requeued, failed).

    A row stays "sending" only while a worker holds it; one still "sending" after
    ``outbox_sending_timeout_minutes`` lost its worker (the process was killed or restarted
    mid-send). It is queued again while it has had fewer than ``outbox_max_attempts``
    hand-overs, and marked failed otherwise, with the reason shown in "Boîte d'envoi". An
    interruption after the SMTP server accepted the message but before the row said so can
    send it twice: at least once, never silently lost.
    """
    settings = settings or get_settings()
    cutoff = utcnow() - timedelta(minutes=settings.outbox_sending_timeout_minutes)
    stale = (
        col(OutboxMessage.status) == OutboxStatus.sending,
        or_(col(OutboxMessage.claimed_at).is_(None), col(OutboxMessage.claimed_at) < cutoff),
    )
    failed_ids = session.exec(
        select(OutboxMessage.id).where(
            *stale, col(OutboxMessage.attempts) >= settings.outbox_max_attempts
        )
    ).all()
    for message_id in failed_ids:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        row.status = OutboxStatus.failed
        row.error = GIVEN_UP.format(attempts=row.attempts)
        row.body = None  # like any message a transport had: not kept in full
        session.add(row)
    requeued = session.exec(
        update(OutboxMessage)
        .where(*stale, col(OutboxMessage.attempts) < settings.outbox_max_attempts)
        .values(status=OutboxStatus.queued)
    ).rowcount
    session.commit()
    if requeued or failed_ids:
        log.warning(
            "Interrupted email deliveries: %d queued again, %d given up", requeued, len(failed_ids)
        )
    return requeued, len(failed_ids)


def deliver_queued(bind: Engine, settings: Settings | None = None) -> int:
    """Hand every queued email to SMTP (each claimed once, also across processes).

    Interrupted hand-overs are taken up first (``recover_interrupted``).
    """
    settings = settings or get_settings()
    delivered = 0
    with Session(bind) as session:
        recover_interrupted(session, settings)
        ids = session.exec(
            select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.queued)
        ).all()
        session.commit()
        for message_id in ids:
            claimed = session.exec(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id) == message_id,
                    col(OutboxMessage.status) == OutboxStatus.queued,
                )
                .values(
                    status=OutboxStatus.sending,
                    claimed_at=utcnow(),
                    attempts=col(OutboxMessage.attempts) + 1,
                )
            )
            session.commit()
            if claimed.rowcount != 1:
                continue  # another worker has it
            row = session.get(OutboxMessage, message_id)
            assert row is not None
            try:
                _smtp_send(
                    settings, to=row.to, subject=row.subject, body=row.body or "", attachments=()
                )
                row.status = OutboxStatus.sent
                delivered += 1
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("SMTP delivery to a user failed: %s", type(exc).__name__)
                row.status = OutboxStatus.failed
                row.error = f"{type(exc).__name__}: {exc}"[:500]
            row.body = None
            session.add(row)
            session.commit()
    return delivered


def _smtp_send(
    settings: Settings,
    *,
    to: str,
    subject: str,
    body: str,
    attachments: tuple[MailAttachment, ...],
) -> None:
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="rcp.invalid")
    msg.set_content(body)
    for att in attachments:
        maintype, _, rest = att.mime_type.partition("/")
        subtype, *params = [p.strip() for p in rest.split(";")]
        extra = dict(p.split("=", 1) for p in params if "=" in p)
        msg.add_attachment(
            att.content, maintype=maintype, subtype=subtype, filename=att.filename, params=extra
        )
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=settings.smtp_ca_file or None))
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(msg)


def send_sms(
    session: Session, *, to: str, body: str, settings: Settings | None = None
) -> OutboxMessage:
    """Send an SMS through the HTTP gateway, or keep it in the outbox (pilot mode).

    Raises ``DeliveryFailed`` when the gateway refuses: a sign-in code that never arrives
    must be reported to the user at once.
    """
    settings = settings or get_settings()
    row = OutboxMessage(channel=OutboxChannel.sms, to=to, body=body)
    if not settings.sms_configured:
        row.status = OutboxStatus.outbox
        session.add(row)
        return row
    payload = {"to": to, "from": settings.sms_sender, "text": body}
    headers = {}
    if settings.sms_gateway_token:
        headers["Authorization"] = f"Bearer {settings.sms_gateway_token}"
    auth = (
        (settings.sms_gateway_user, settings.sms_gateway_password)
        if settings.sms_gateway_user
        else None
    )
    try:
        response = httpx.post(
            settings.sms_gateway_url,
            json=payload,
            headers=headers,
            auth=auth,
            timeout=settings.sms_timeout_seconds,
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("SMS gateway failed: %s", type(exc).__name__)
        raise DeliveryFailed(
            _(
                "Le SMS n'a pas pu être envoyé. Réessayez dans un instant ou utilisez votre "
                "application d'authentification ; si le problème persiste, contactez le support."
            )
        ) from exc
    row.status = OutboxStatus.sent
    row.body = None  # the code must not stay readable once the gateway has it
    session.add(row)
    return row


REDACTED = "••••••"
_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")
_LINK_SECRET = re.compile(r"([?&](?:token|invitation|h)=)[^&\s]+")


def redact(text: str | None, *, codes: bool = False) -> str | None:
    """A message as an administrator may read it: single-use links (and, with ``codes``, the
    six-digit one-time codes of SMS) masked.

    What was sent, to whom and when stays readable; what would let the reader act as the
    recipient (a sign-in or phone code, a password-reset or registration link) does not.
    """
    if text is None:
        return None
    text = _LINK_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    return _CODE.sub(REDACTED, text) if codes else text


def list_outbox(
    session: Session, *, to: str | None = None, limit: int = 100, offset: int = 0
) -> list[OutboxMessage]:
    """Latest first; ``to`` filters on the recipient (email or phone)."""
    query = select(OutboxMessage)
    if to:
        query = query.where(OutboxMessage.to == to)
    query = query.order_by(col(OutboxMessage.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query).all())


def count_outbox(session: Session, *, to: str | None = None) -> int:
    """How many messages ``list_outbox`` pages through for the same recipient."""
    query = select(func.count()).select_from(OutboxMessage)
    if to:
        query = query.where(OutboxMessage.to == to)
    return session.exec(query).one()
