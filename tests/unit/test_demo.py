"""The demo data: idempotent, fictitious, and covering every participation state."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from rcp import attachments, attendance, cases, demo, labs, meeting_live
from rcp.models import (
    Case,
    CaseStatus,
    Meeting,
    MembershipStatus,
    Participation,
    ParticipationStatus,
    Rcp,
    RcpFamily,
    RcpMember,
    User,
    utcnow,
)


def test_seed_demo_is_idempotent_and_covers_every_state(session: Session) -> None:
    first = demo.seed_demo(session)
    second = demo.seed_demo(session)
    assert first == second
    families = {f.name for f in session.exec(select(RcpFamily)).all()}
    assert "GEM et SNI (SNLGM, HSF) adulte" in families and len(families) >= 5
    states = {p.status for p in session.exec(select(Participation)).all()}
    assert states == {s.value for s in ParticipationStatus}
    assert session.exec(
        select(RcpMember).where(RcpMember.status == MembershipStatus.requested)
    ).first()


def test_demo_people_use_reserved_domains_and_fiction_phone_numbers(session: Session) -> None:
    demo.seed_demo(session)
    for user in session.exec(select(User)).all():
        assert user.email.endswith("@orkid.example")
        assert user.phone.startswith("+3363998")  # ARCEP range reserved for fiction


# --- the meeting to try now ---------------------------------------------------------------------


def _live(session: Session) -> Meeting:
    rcp = session.exec(select(Rcp).where(Rcp.name == demo.LIVE_RCP)).one()
    meeting = demo._live_meeting(session, rcp.id, utcnow())
    assert meeting is not None, "no GEM meeting with its room and its deposit open"
    return meeting


def _user(session: Session, key: str) -> User:
    return session.exec(select(User).where(User.email == demo.demo_email(key))).one()


def test_seed_opens_a_meeting_room_now_with_its_deposit_still_open(session: Session) -> None:
    demo.seed_demo(session)
    meeting = _live(session)
    now = utcnow()
    assert now < meeting.case_deadline <= meeting.starts_at <= now + timedelta(minutes=12)
    assert meeting_live.phase(meeting, now) == meeting_live.Phase.live
    # Two demo accounts meet in the room: the coordinator and a confirmed doctor.
    for key in ("assistante", "referent", "medecin1", "medecin2"):
        assert (
            attendance.check_can_join(session, actor=_user(session, key), meeting_id=meeting.id).id
            == meeting.id
        )


def test_seeded_cases_are_submitted_editable_with_a_ct_series_and_a_lab_trend(session) -> None:
    demo.seed_demo(session)
    meeting = _live(session)
    listed = cases.list_meeting_cases(
        session, actor=_user(session, "assistante"), meeting_id=meeting.id
    )
    assert len(listed) == len(demo.LIVE_CASES) == 3
    rows = session.exec(select(Case).where(Case.meeting_id == meeting.id)).all()
    assert {c.status for c in rows} == {CaseStatus.submitted}
    assert not any(c.is_late for c in rows)
    with_ct = next(c for c in rows if c.patient_last_name == "DEMOLIN")
    submitter = session.get(User, with_ct.submitter_id)
    assert cases.may_edit(session, actor=submitter, case=with_ct)  # deposit still open
    (series,) = attachments.dicom_series(session, actor=submitter, case_id=with_ct.id)
    assert series.frame_count == 16
    files = attachments.list_attachments(session, actor=submitter, case_id=with_ct.id)
    assert attachments.patient_warnings(with_ct, files) == []  # the header names her
    creatinine = [row for row in with_ct.labs if row["code"] == "creatinine"]
    assert len({row["taken_on"] for row in creatinine}) >= 3  # a trend, not one value
    values = [labs.validate_lab_value(r["code"], r["value"], r["taken_on"]) for r in with_ct.labs]
    assert labs.trend_plot_png(values).startswith(b"\x89PNG")


def test_next_start_after_the_deposit_closed_opens_a_new_meeting(session: Session) -> None:
    demo.seed_demo(session)
    first = _live(session)
    # Time passes: the meeting started, its deposit closed (the room is still open).
    first.starts_at = first.case_deadline = utcnow() - timedelta(minutes=5)
    session.add(first)
    session.commit()
    counts = demo.seed_demo(session)
    second = _live(session)
    assert second.id != first.id
    assert counts["cas"] == 2 * len(demo.LIVE_CASES)
    assert demo.seed_demo(session) == counts  # and again idempotent


def test_demo_patients_and_files_are_fictitious(session: Session) -> None:
    demo.seed_demo(session)
    for case in session.exec(select(Case)).all():
        assert case.patient_last_name in {"DEMOLIN", "FICTIF", "SPECIMEN"}
        assert "fictif" in case.summary
