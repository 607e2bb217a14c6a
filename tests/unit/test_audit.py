"""The audit log: admins search and export it, coordinators see who opened their cases,
retention purges old events."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from rcp import attachments, audit, cases, opinions
from rcp.dates import to_paris
from rcp.errors import InvalidInput, NotFound, PermissionDenied
from rcp.models import AuditEvent, utcnow
from tests.factories import CaseTeam, attend, make_admin, make_case_team, make_user, mobile
from tests.unit.test_backup import _cli, pdf_bytes


@pytest.fixture
def team(session: Session) -> CaseTeam:
    return make_case_team(session)


def _event(session: Session, action: str, *, days_ago: float = 0, **kwargs) -> AuditEvent:
    event = audit.record(session, action, actor_id=kwargs.pop("actor_id", None), **kwargs)
    event.created_at = utcnow() - timedelta(days=days_ago)
    session.commit()
    return event


# --- search ----------------------------------------------------------------------------------


def test_search_filters_by_action_prefix_user_dates_and_target(session: Session) -> None:
    admin = make_admin(session)
    doctor = make_user(session, last_name="Cherche", phone=mobile(3))
    _event(session, "case.viewed", actor_id=doctor.id, target_type="case", target_id=7)
    _event(session, "case.viewed", actor_id=admin.id, target_type="case", target_id=8)
    _event(session, "auth.signed_in", actor_id=doctor.id, days_ago=40)

    def ids(**spec) -> list[tuple[str, int | None]]:
        page = audit.search(session, actor=admin, spec=audit.AuditFilter(**spec))
        return [(r.action, r.target_id) for r in page.rows]

    assert ids(action="case.", user="cherche") == [("case.viewed", 7)]
    mine = ids(user=doctor.email.upper())
    assert {a for a, _t in mine} == {"account.registered", "case.viewed", "auth.signed_in"}
    assert ("case.viewed", 8) not in mine
    assert ids(target_type="case", target_id=8) == [("case.viewed", 8)]
    # The filter's days are Paris days: near midnight UTC the UTC date is another day.
    old = to_paris(utcnow() - timedelta(days=40)).date()
    assert ids(action="auth.", since=old, until=old) == [("auth.signed_in", None)]
    assert ids(action="auth.", since=date.today() - timedelta(days=5)) == []
    assert ids(action="%") == []  # a prefix, not a pattern


def test_search_pages_newest_first_with_a_total(session: Session) -> None:
    admin = make_admin(session)
    for n in range(7):
        _event(session, "test.event", target_type="x", target_id=n)
    spec = audit.AuditFilter(action="test.")
    first = audit.search(session, actor=admin, spec=spec, page=1, page_size=3)
    last = audit.search(session, actor=admin, spec=spec, page=3, page_size=3)
    beyond = audit.search(session, actor=admin, spec=spec, page=99, page_size=3)
    assert (first.total, first.pages) == (7, 3)
    assert [r.target_id for r in first.rows] == [6, 5, 4]
    assert [r.target_id for r in last.rows] == [0]
    assert beyond.page == 3


def test_search_refuses_an_end_date_before_the_start(session: Session) -> None:
    spec = audit.AuditFilter(since=date(2026, 5, 2), until=date(2026, 5, 1))
    with pytest.raises(InvalidInput, match="date de fin"):
        audit.search(session, actor=make_admin(session), spec=spec)


@pytest.mark.parametrize("who", ["assistant", "submitter", "stranger"])
def test_only_admins_search_or_export_the_log(session: Session, team: CaseTeam, who) -> None:
    with pytest.raises(PermissionDenied):
        audit.search(session, actor=getattr(team, who), spec=audit.AuditFilter())
    with pytest.raises(PermissionDenied):
        audit.export_csv(session, actor=getattr(team, who), spec=audit.AuditFilter())


def test_csv_export_has_every_matching_event_and_is_itself_audited(session: Session) -> None:
    admin = make_admin(session)
    _event(session, "case.viewed", actor_id=admin.id, target_type="case", target_id=3)
    _event(session, "chat.posted", target_type="chatmessage", target_id=1, length=12)
    data = audit.export_csv(session, actor=admin, spec=audit.AuditFilter(action="c"))
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert [(r[3], r[7]) for r in rows[1:]] == [("chat.posted", "1"), ("case.viewed", "3")]
    assert rows[1][8] == "length=12"
    exported = session.exec(select(AuditEvent).where(AuditEvent.action == "audit.exported")).one()
    assert exported.actor_id == admin.id and exported.details["rows"] == 2


def test_csv_cells_cannot_become_spreadsheet_formulas(session: Session) -> None:
    admin = make_admin(session)
    _event(session, "=cmd|' /C calc'!A0", target_type="x")
    data = audit.export_csv(session, actor=admin, spec=audit.AuditFilter(action="="))
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[1][3].startswith("'=")


# --- who opened a case -----------------------------------------------------------------------


def test_coordinator_sees_who_opened_and_downloaded_each_case(
    session: Session, team: CaseTeam
) -> None:
    cases.get_case(session, actor=team.nephrologist, case_id=team.case.id)
    cases.get_case(session, actor=team.nephrologist, case_id=team.case.id)
    cases.get_case(session, actor=team.pathologist, case_id=team.case.id)
    attend(session, team.meeting, team.assistant, team.pathologist, team.geneticist)
    opinions.save_draft(session, actor=team.assistant, case_id=team.case.id, proposal="Avis.")
    opinions.validate(session, actor=team.assistant, case_id=team.case.id)
    opinions.get_sheet(session, actor=team.geneticist, case_id=team.case.id)

    readers = {
        r.user_id: r for r in audit.case_readers(session, actor=team.referent, case_id=team.case.id)
    }
    assert (readers[team.nephrologist.id].views, readers[team.nephrologist.id].downloads) == (2, 0)
    assert readers[team.pathologist.id].views == 1
    assert (readers[team.geneticist.id].views, readers[team.geneticist.id].downloads) == (0, 1)
    assert team.stranger.id not in readers

    (row,) = audit.rcp_case_access(session, actor=team.assistant, rcp_id=team.rcp.id)
    assert row.case_id == team.case.id and row.patient.startswith("LŒVENBRUCK")
    assert {r.user_id for r in row.readers} == set(readers)


def test_file_downloads_count_for_the_case_they_belong_to(session: Session) -> None:
    from tests.factories import make_case, make_coordinator, make_meeting, make_member, make_rcp

    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(10))
    member = make_member(session, rcp, coordinator, phone=mobile(11))
    case = make_case(session, make_meeting(session, rcp, coordinator), member)
    (row,) = attachments.add_upload(
        session, actor=member, case_id=case.id, name="cr.pdf", data=pdf_bytes()
    )
    attachments.open_attachment(session, actor=coordinator, attachment_id=row.id)
    (reader,) = audit.case_readers(session, actor=coordinator, case_id=case.id)
    assert (reader.user_id, reader.views, reader.downloads) == (coordinator.id, 0, 1)


@pytest.mark.parametrize(
    "who", ["other_coordinator", "nephrologist", "submitter", "stranger", "admin"]
)
def test_only_the_case_rcp_coordinators_see_its_readers(
    session: Session, team: CaseTeam, who: str
) -> None:
    with pytest.raises(PermissionDenied):
        audit.case_readers(session, actor=getattr(team, who), case_id=team.case.id)
    with pytest.raises(PermissionDenied):
        audit.rcp_case_access(session, actor=getattr(team, who), rcp_id=team.rcp.id)


def test_readers_of_an_unknown_case_are_not_found(session: Session, team: CaseTeam) -> None:
    with pytest.raises(NotFound):
        audit.case_readers(session, actor=team.assistant, case_id=999_999)


# --- retention -------------------------------------------------------------------------------


def test_purge_removes_only_events_older_than_the_retention_and_records_itself(
    session: Session,
) -> None:
    _event(session, "old.event", days_ago=13 * 31)
    _event(session, "recent.event", days_ago=11 * 31)
    assert audit.purge_older_than(session, 12) == 1
    actions = set(session.exec(select(AuditEvent.action)).all())
    assert actions == {"recent.event", "audit.purged"}


def test_purge_never_keeps_less_than_six_months(session: Session) -> None:
    _event(session, "five.months", days_ago=5 * 30)
    assert audit.purge_older_than(session, 1) == 0


def test_retention_below_six_months_is_refused_by_the_settings(monkeypatch) -> None:
    from pydantic import ValidationError

    from tests.conftest import set_settings

    with pytest.raises(ValidationError, match="less than 6"):
        set_settings(monkeypatch, audit_retention_months=5)


def test_cli_purge_audit_uses_the_retention_setting(tmp_path: Path) -> None:
    from rcp.db import make_engine

    data = tmp_path / "data"
    assert _cli("init", data_dir=data).returncode == 0
    engine = make_engine(f"sqlite:///{data / 'rcp.db'}")
    with Session(engine) as session:
        _event(session, "old.event", days_ago=400)
        _event(session, "recent.event", days_ago=100)
    done = _cli("purge-audit", data_dir=data)
    assert done.returncode == 0, done.stderr
    assert "1 événement(s) de plus de 12 mois" in done.stdout
    refused = _cli("purge-audit", "--months", "3", data_dir=data)
    assert refused.returncode == 2 and "6 mois" in refused.stderr
    with Session(engine) as session:
        assert "old.event" not in session.exec(select(AuditEvent.action)).all()
    engine.dispose()
