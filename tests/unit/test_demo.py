"""The demo data: idempotent, fictitious, and covering every participation state."""

from __future__ import annotations

from sqlmodel import Session, select

from rcp import demo
from rcp.models import (
    MembershipStatus,
    Participation,
    ParticipationStatus,
    RcpFamily,
    RcpMember,
    User,
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
