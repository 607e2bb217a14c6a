"""No patient data leaves the platform in logs, emails, SMS or the admins' audit log.

A full meeting is driven through the services (invitations, requests, cases with DICOM and
PDF files, chat, an opinion validated and its sheet sent for, a correction) while every log
record is captured; then the logs, every OutboxMessage (subject, body, attachments such as
.ics files) and the audit log an admin exports are searched for the patients' names and birth
dates in every usual spelling.
"""

from __future__ import annotations

import base64
import logging
import unicodedata
from datetime import date, time, timedelta

import pytest
from sqlmodel import Session, select

from rcp import audit, cases, meeting_live, meetings, opinions
from rcp.dates import format_date, format_date_long
from rcp.models import AuditEvent, Meeting, OutboxMessage, User
from tests.factories import make_admin, make_user, mobile
from tests.unit.test_backup import PATIENTS, populate


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c)).replace("œ", "oe")


def _needles() -> list[str]:
    found: list[str] = []
    for last, first, born in PATIENTS:
        day = date.fromisoformat(born)
        found += [
            last,
            first,
            born,
            format_date(day),
            format_date_long(day),
            day.strftime("%d%m%Y"),
        ]
    return [_fold(n) for n in found]


def _leaks(text: str) -> list[str]:
    folded = _fold(text)
    return [needle for needle in _needles() if needle in folded]


def _outbox_text(message: OutboxMessage) -> str:
    parts = [message.to, message.subject or "", message.body or ""]
    for attachment in message.attachments or []:
        parts.append(str(attachment.get("filename", "")))
        content = attachment.get("content") or attachment.get("data") or ""
        if isinstance(content, str):
            parts.append(content)
            try:
                parts.append(base64.b64decode(content, validate=True).decode("utf-8", "ignore"))
            except ValueError:
                pass
    return "\n".join(parts)


def test_the_needles_find_a_patient_in_any_spelling() -> None:
    """The control: the search itself recognises the names and dates it looks for."""
    assert _leaks("Dossier de Mme LOEVENBRUCK Eloise, née le 09/03/1974")
    assert _leaks("né le 23 novembre 1961")


def test_a_full_meeting_writes_no_patient_data_in_logs_outbox_or_audit(
    session: Session, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    platform = populate(session)
    coordinator = session.get(User, platform.coordinator_id)
    submitter = session.get(User, platform.submitter_id)
    # More mail: a participation request, an invitation and its answer, a correction.
    doctor = make_user(session, phone=mobile(90))
    later = meetings.schedule_meeting(
        session,
        actor=coordinator,
        rcp_id=session.get(Meeting, platform.meeting_id).rcp_id,
        day=date.today() + timedelta(days=60),
        start=time(14),
        end=time(16),
    )
    meetings.invite(session, actor=coordinator, meeting_id=later.id, user_id=doctor.id)
    meetings.respond(session, actor=doctor, meeting_id=later.id, accept=True)
    meetings.request_participation(session, actor=submitter, meeting_id=later.id)
    for case_id in platform.case_ids:
        cases.get_case(session, actor=coordinator, case_id=case_id)
    opinions.get_sheet(session, actor=submitter, case_id=platform.case_ids[0])
    opinions.correct(session, actor=coordinator, case_id=platform.case_ids[0], proposal="Suite.")
    opinions.validate(session, actor=coordinator, case_id=platform.case_ids[0])
    # The other case: postponed to the next meeting, then closed there without opinion.
    meeting_live.postpone_case(session, actor=coordinator, case_id=platform.case_ids[1])
    meeting_live.close_case_without_opinion(
        session, actor=coordinator, case_id=platform.case_ids[1], reason="Bilan à compléter."
    )

    outbox = session.exec(select(OutboxMessage)).all()
    assert len(outbox) >= 5  # the scan below has material: invitations, requests, opinions
    assert any("Avis de la RCP" in (m.subject or "") for m in outbox)
    for message in outbox:
        assert _leaks(_outbox_text(message)) == [], (message.subject, message.body)

    assert caplog.records  # the capture works (the services and libraries do log)
    assert _leaks(caplog.text) == []
    captured = capsys.readouterr()
    assert _leaks(captured.out + captured.err) == []

    # The audit log is read by admins, who must not see patient data either.
    details = " ".join(str(e.details) for e in session.exec(select(AuditEvent)).all())
    assert _leaks(details) == []
    csv = audit.export_csv(session, actor=make_admin(session), spec=audit.AuditFilter())
    assert _leaks(csv.decode("utf-8-sig")) == []
