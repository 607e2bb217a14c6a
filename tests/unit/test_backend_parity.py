"""SQLite and PostgreSQL give the same answers (run on both: see RCP_TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from rcp import accounts, auth, directory
from rcp.db import make_engine
from rcp.errors import RcpError
from rcp.models import LoginSession, OutboxMessage
from tests.factories import (
    PASSWORD,
    last_sms_code,
    make_admin,
    make_coordinator,
    make_rcp,
    make_user,
    mobile,
)


def _scalar(engine: sa.Engine, expression: sa.ColumnElement) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.select(expression)).scalar_one()


def test_lower_knows_accented_capitals(engine: sa.Engine) -> None:
    assert _scalar(engine, sa.func.lower("ÉLUARD Ève")) == "éluard ève"
    assert _scalar(engine, sa.func.lower(sa.null())) is None


def test_like_is_case_sensitive_and_ilike_is_not(engine: sa.Engine) -> None:
    assert _scalar(engine, sa.literal("Case.submitted").like("case.%")) is False
    assert _scalar(engine, sa.literal("case.submitted").like("case.%")) is True
    assert _scalar(engine, sa.literal("Éluard").ilike("%ÉLU%")) is True


def test_admin_search_finds_a_name_typed_with_other_accented_case(session: Session) -> None:
    admin = make_admin(session)
    make_user(session, last_name="Éluard", first_name="Ève", email="eve.eluard@chu.example")
    for term in ("éluard", "ÉLUARD", "ève"):
        found = accounts.list_users(session, actor=admin, search=term)
        assert [u.last_name for u in found] == ["Éluard"], term


def test_coordinator_search_finds_a_doctor_typed_in_lower_case(session: Session) -> None:
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp)
    make_user(session, last_name="Œuvrard", first_name="Élise", email="elise@chu.example")
    found = directory.search_active_doctors(session, actor=coordinator, search="œuvrard")
    assert [u.first_name for u in found] == ["Élise"]
    found = directory.search_active_doctors(session, actor=coordinator, search="élise")
    assert [u.last_name for u in found] == ["Œuvrard"]


# --- single use under concurrency ---------------------------------------------------------------
# SQLite serialises transactions (BEGIN IMMEDIATE); PostgreSQL's READ COMMITTED lets two
# transactions read the same unused code before either marks it used. Each test runs the same
# call twice, the second one while the first has just read the row: exactly one may succeed.


@pytest.fixture
def race_engine(engine: sa.Engine, tmp_path: Path) -> Iterator[sa.Engine]:
    """The test database, or a SQLite file (in-memory SQLite has a single connection)."""
    if engine.dialect.name != "sqlite":
        yield engine
        return
    file_engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    SQLModel.metadata.create_all(file_engine)
    yield file_engine
    file_engine.dispose()


def _race(engine: sa.Engine, marker: str, call: Callable[[Session], object]) -> list[object]:
    """Outcomes (result or RcpError) of ``call`` run twice, interleaved after the first read.

    The second call starts right after the first one's SELECT containing ``marker`` and gets
    5 s to finish before the first goes on; if it is blocked by a lock, it finishes after.
    """
    first_thread = threading.get_ident()
    outcomes: dict[str, object] = {}
    fired = threading.Event()

    def run(name: str) -> None:
        with Session(engine, expire_on_commit=False) as session:
            try:
                outcomes[name] = call(session)
            except RcpError as error:
                outcomes[name] = error

    second = threading.Thread(target=run, args=("second",))

    def pause(_conn, _cursor, statement: str, *_args: object) -> None:
        if (
            threading.get_ident() == first_thread
            and not fired.is_set()
            and statement.lstrip().upper().startswith("SELECT")
            and marker in statement
        ):
            fired.set()
            second.start()
            second.join(timeout=5)

    sa.event.listen(engine, "after_cursor_execute", pause)
    try:
        run("first")
    finally:
        sa.event.remove(engine, "after_cursor_execute", pause)
    assert fired.is_set(), f"no SELECT with {marker!r}"
    second.join(timeout=30)
    return [outcomes["first"], outcomes["second"]]


def _successes(outcomes: list[object]) -> int:
    return sum(not isinstance(outcome, RcpError) for outcome in outcomes)


def _signed_in_up_to_code(engine: sa.Engine) -> tuple[int, str]:
    with Session(engine, expire_on_commit=False) as session:
        user = make_user(session, email="race@chu.example", phone=mobile(40))
        step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
        return step.challenge_id, last_sms_code(session, user.phone)


def test_a_sign_in_code_used_twice_at_once_gives_one_hand_off(race_engine: sa.Engine) -> None:
    challenge_id, code = _signed_in_up_to_code(race_engine)
    outcomes = _race(
        race_engine,
        "FROM otpchallenge",
        lambda s: auth.verify_sign_in_code(s, challenge_id=challenge_id, code=code),
    )
    assert _successes(outcomes) == 1, outcomes


def test_a_hand_off_code_used_twice_at_once_opens_one_session(race_engine: sa.Engine) -> None:
    challenge_id, code = _signed_in_up_to_code(race_engine)
    with Session(race_engine, expire_on_commit=False) as session:
        handoff = auth.verify_sign_in_code(session, challenge_id=challenge_id, code=code)
    outcomes = _race(
        race_engine,
        "otpchallenge.handoff_hash",
        lambda s: auth.complete_sign_in(s, handoff=handoff),
    )
    assert _successes(outcomes) == 1, outcomes
    with Session(race_engine) as session:
        assert len(session.exec(select(LoginSession)).all()) == 1


def test_a_reset_link_used_twice_at_once_sets_one_password(race_engine: sa.Engine) -> None:
    with Session(race_engine, expire_on_commit=False) as session:
        user = make_user(session, email="reset.race@chu.example", phone=mobile(41))
        auth.request_password_reset(session, email=user.email)
        mail = session.exec(select(OutboxMessage).where(OutboxMessage.to == user.email)).all()[-1]
    token = mail.body.split("token=", 1)[1].split()[0]
    passwords = iter(["Nouvelle-Phrase-De-Passe-7", "Encore-Une-Autre-Phrase-8"])
    outcomes = _race(
        race_engine,
        "FROM passwordresettoken",
        lambda s: auth.reset_password(s, token=token, new_password=next(passwords)),
    )
    assert _successes(outcomes) == 1, outcomes
