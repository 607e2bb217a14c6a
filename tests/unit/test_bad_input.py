"""Bad input, one behaviour per test: a French message and nothing stored half-way.

Every free-text field of every service is tried with text one character too long (refused,
nothing stored) and with control and bidirectional-override characters (removed before
storing). Markup stays text (chat, PDF sheet); names refuse it. Dates that do not exist,
time zones, a double click on "save", and a form sent after the deadline.
"""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlmodel import Session, SQLModel, select

from rcp import accounts, cases, chat, directory, invites, labs, meetings, opinions
from rcp.dates import PARIS, today_paris
from rcp.db import make_engine
from rcp.errors import Conflict, InvalidInput
from rcp.models import (
    Case,
    ChatMessage,
    Meeting,
    Network,
    Opinion,
    RegistrationInvite,
    User,
)
from rcp.ui.chat_panel import _literal
from tests.factories import (
    CaseTeam,
    case_form,
    make_admin,
    make_case,
    make_case_team,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    pass_deadline,
    registration,
)

CONTROL = "\x00\x07\x1b\u200b\u202e\u2066"
DIRTY = f"Texte{CONTROL[0]} avec{CONTROL[1]} des caractères{CONTROL[2:]} de contrôle"


@dataclass
class Field:
    """One free-text field: how to send a value, how to read back what was stored."""

    name: str
    limit: int
    send: Callable[[Session, CaseTeam, str], Any]
    read: Callable[[Session, CaseTeam], str | None]
    needs_coordinator_case: bool = False


def _case_text(field: str) -> Callable[[Session, CaseTeam, str], Any]:
    def send(s: Session, t: CaseTeam, value: str) -> Any:
        meeting = make_meeting(s, t.rcp, t.assistant, days_ahead=30)
        return cases.save_draft(
            s, actor=t.submitter, meeting_id=meeting.id, form=case_form(**{field: value})
        )

    return send


def _last_case(field: str) -> Callable[[Session, CaseTeam], str | None]:
    def read(s: Session, t: CaseTeam) -> str | None:
        s.expire_all()
        row = s.exec(
            select(Case).where(Case.id != t.case.id).order_by(Case.id.desc())  # type: ignore[union-attr]
        ).first()
        return getattr(row, field) if row else None

    return read


def _opinion_text(field: str) -> Callable[[Session, CaseTeam, str], Any]:
    return lambda s, t, v: opinions.save_draft(
        s, actor=t.assistant, case_id=t.case.id, **{field: v}
    )


def _opinion_read(field: str) -> Callable[[Session, CaseTeam], str | None]:
    def read(s: Session, t: CaseTeam) -> str | None:
        s.expire_all()
        row = s.exec(select(Opinion)).first()
        return getattr(row, field) if row else None

    return read


def _meeting_description(s: Session, t: CaseTeam, value: str) -> Any:
    day = (dt.datetime.now(PARIS) + dt.timedelta(days=40)).date()
    return meetings.schedule_meeting(
        s,
        actor=t.assistant,
        rcp_id=t.rcp.id,
        day=day,
        start=dt.time(9),
        end=dt.time(10),
        description=value,
    )


def _newest(model: type, attr: str) -> Callable[[Session, CaseTeam], str | None]:
    def read(s: Session, _t: CaseTeam) -> str | None:
        s.expire_all()
        row = s.exec(select(model).order_by(model.id.desc())).first()  # type: ignore[attr-defined]
        return getattr(row, attr) if row else None

    return read


def _registration(field: str) -> Callable[[Session, CaseTeam, str], Any]:
    return lambda s, t, v: accounts.register(
        s, form=registration(**{field: v}, email=REGISTERED, phone=mobile(77))
    )


# Read back by email: the factories' users take mobile(n % 100) in turn, so one of the team's
# may hold mobile(77) too, depending on how many tests ran before in the process.
REGISTERED = "limite@hopital.example"


def _registered(attr: str) -> Callable[[Session, CaseTeam], str | None]:
    def read(s: Session, _t: CaseTeam) -> str | None:
        s.expire_all()
        row = s.exec(select(User).where(User.email == REGISTERED)).first()
        return getattr(row, attr) if row else None

    return read


def _profile(s: Session, t: CaseTeam, value: str) -> Any:
    return accounts.update_profile(
        s, actor=t.stranger, specialty=t.stranger.specialty, institution=value
    )


def _profile_read(s: Session, t: CaseTeam) -> str | None:
    s.expire_all()
    return s.get(User, t.stranger.id).institution


FIELDS = [
    *(
        Field(f"case.{name}", limit, _case_text(name), _last_case(name))
        for name, (_label, limit) in cases.TEXT_FIELDS.items()
    ),
    *(
        Field(f"opinion.{f}", n, _opinion_text(f), _opinion_read(f))
        for f, n in (
            ("proposal", 20000),
            ("rationale", 20000),
            ("references", 5000),
            ("clinical_trial", 2000),
            ("follow_up_doctor", 200),
        )
    ),
    Field(
        "chat.body",
        2000,
        lambda s, t, v: chat.post_message(s, actor=t.nephrologist, meeting_id=t.meeting.id, body=v),
        _newest(ChatMessage, "body"),
    ),
    Field("meeting.description", 2000, _meeting_description, _newest(Meeting, "description")),
    Field(
        "network.name",
        200,
        lambda s, t, v: directory.create_network(s, actor=t.admin, code="NEWNET", name=v),
        _newest(Network, "name"),
    ),
    Field(
        "network.description",
        2000,
        lambda s, t, v: directory.create_network(
            s, actor=t.admin, code="NEWNET", name="Filière", description=v
        ),
        _newest(Network, "description"),
    ),
    Field(
        "registration.institution", 200, _registration("institution"), _registered("institution")
    ),
    Field("profile.institution", 200, _profile, _profile_read),
    Field(
        "invite.message",
        1000,
        lambda s, t, v: invites.create_invite(
            s, actor=t.assistant, email="invite@hopital.example", message=v
        ),
        _newest(RegistrationInvite, "message"),
    ),
]


@pytest.fixture
def team(session: Session) -> CaseTeam:
    return make_case_team(session)


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_text_one_character_too_long_is_refused_and_nothing_stored(
    session: Session, team: CaseTeam, field: Field
) -> None:
    before = field.read(session, team)
    with pytest.raises(InvalidInput, match="trop long") as error:
        field.send(session, team, "x" * (field.limit + 1))
    assert f"{field.limit} au maximum" in str(error.value)
    session.rollback()
    assert field.read(session, team) == before


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_text_at_the_limit_is_kept_whole(session: Session, team: CaseTeam, field: Field) -> None:
    field.send(session, team, "é" * field.limit)
    assert field.read(session, team) == "é" * field.limit


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_control_and_direction_override_characters_are_removed(
    session: Session, team: CaseTeam, field: Field
) -> None:
    field.send(session, team, DIRTY)
    stored = field.read(session, team)
    assert stored == "Texte avec des caractères de contrôle"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("last_name", "<script>alert(1)</script>"),
        ("first_name", "Éloïse<b>"),
        ("last_name", "x" * 101),
        ("last_name", "\u202eesiolE"),
    ],
)
def test_patient_names_with_markup_or_too_long_are_refused(
    session: Session, team: CaseTeam, field: str, value: str
) -> None:
    meeting = make_meeting(session, team.rcp, team.assistant, days_ahead=30)
    count = len(session.exec(select(Case)).all())
    try:
        case = cases.save_draft(
            session, actor=team.submitter, meeting_id=meeting.id, form=case_form(**{field: value})
        )
    except InvalidInput as error:
        assert error.field == field and "Le champ" in str(error)
        session.rollback()
        assert len(session.exec(select(Case)).all()) == count
    else:  # the override character is dropped: what is left is a plain name
        assert case.patient_last_name == "ESIOLE"


@pytest.mark.parametrize("value", ["<img src=x onerror=alert(1)>", "Jean](http://x.example)"])
def test_doctor_names_with_markup_are_refused_at_registration(session: Session, value) -> None:
    with pytest.raises(InvalidInput, match="lettres"):
        accounts.register(session, form=registration(first_name=value))
    assert session.exec(select(User)).all() == []


def test_chat_markup_is_stored_as_typed_and_rendered_literally(
    session: Session, team: CaseTeam
) -> None:
    body = "<script>alert('x')</script> **gras** [lien](http://x.example) &amp;"
    chat.post_message(session, actor=team.nephrologist, meeting_id=team.meeting.id, body=body)
    assert session.exec(select(ChatMessage.body)).one() == body
    shown = _literal(body)
    # Every markdown/HTML character is escaped: nothing is interpreted by st.markdown.
    for char in "<>*[]()&":
        assert f"\\{char}" in shown


def test_markup_in_the_opinion_and_case_is_printed_as_text_on_the_pdf_sheet(
    session: Session, team: CaseTeam
) -> None:
    proposal = "<b>Dose</b> **double** <script>alert(1)</script> [x](http://y.example)"
    opinions.save_draft(session, actor=team.assistant, case_id=team.case.id, proposal=proposal)
    _name, data = opinions.preview_sheet(session, actor=team.assistant, case_id=team.case.id)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    flat = " ".join(text.split())
    assert "<b>Dose</b> **double** <script>alert(1)</script> [x](http://y.example)" in flat


# --- dates and time zones ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "message"),
    [
        ("tomorrow", "futur"),
        (dt.date(1899, 12, 31), "1900"),
        (None, "obligatoire"),
    ],
)
def test_impossible_birth_dates_are_refused(session: Session, team: CaseTeam, born, message):
    if born == "tomorrow":  # the users' (Paris) day when the test runs, not when it was collected
        born = today_paris() + dt.timedelta(days=1)
    meeting = make_meeting(session, team.rcp, team.assistant, days_ahead=30)
    with pytest.raises(InvalidInput, match=message):
        cases.save_draft(
            session, actor=team.submitter, meeting_id=meeting.id, form=case_form(birth_date=born)
        )


@pytest.mark.parametrize(
    ("utc", "paris_day"),
    [
        (dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC), dt.date(2026, 11, 26)),  # winter: +1
        (dt.datetime(2026, 11, 25, 22, 59, tzinfo=dt.UTC), dt.date(2026, 11, 25)),
        (dt.datetime(2026, 7, 14, 22, 30, tzinfo=dt.UTC), dt.date(2026, 7, 15)),  # summer: +2
    ],
)
def test_today_is_the_paris_day_not_the_servers(utc, paris_day) -> None:
    assert today_paris(utc) == paris_day


def test_a_child_born_today_in_paris_is_accepted_while_the_server_is_still_on_yesterday(
    session: Session, team: CaseTeam, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 00:30 in Paris on 26 November is 23:30 UTC on the 25th: a server that used its own
    # (UTC) date refused a birth on the 26th as "in the future" for an hour every night.
    night = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(cases, "today_paris", lambda: today_paris(night))
    monkeypatch.setattr(labs, "today_paris", lambda: today_paris(night))
    meeting = make_meeting(session, team.rcp, team.assistant, days_ahead=30)
    case = cases.save_draft(
        session,
        actor=team.submitter,
        meeting_id=meeting.id,
        form=case_form(
            birth_date=dt.date(2026, 11, 26),
            labs=[{"code": "creatinine", "value": "40", "taken_on": "2026-11-26"}],
        ),
    )
    assert case.patient_birth_date == dt.date(2026, 11, 26)
    with pytest.raises(InvalidInput, match="futur"):
        cases.save_draft(
            session,
            actor=team.submitter,
            meeting_id=meeting.id,
            form=case_form(birth_date=dt.date(2026, 11, 27), last_name="Autre"),
        )
    with pytest.raises(InvalidInput, match="prélèvement ne peut pas être dans le futur"):
        labs.validate_lab_value("creatinine", "40", "2026-11-27")


def test_a_meeting_at_a_time_skipped_by_daylight_saving_is_refused(
    session: Session, team: CaseTeam
) -> None:
    year = dt.date.today().year + 1
    last_sunday = max(
        dt.date(year, 3, d) for d in range(25, 32) if dt.date(year, 3, d).weekday() == 6
    )
    with pytest.raises(InvalidInput, match="n'existe pas ce jour-là"):
        meetings.schedule_meeting(
            session,
            actor=team.assistant,
            rcp_id=team.rcp.id,
            day=last_sunday,
            start=dt.time(2, 30),
            end=dt.time(4, 0),
        )


def test_a_deadline_given_in_another_time_zone_is_the_same_instant(
    session: Session, team: CaseTeam
) -> None:
    from zoneinfo import ZoneInfo

    day = (dt.datetime.now(PARIS) + dt.timedelta(days=20)).date()
    deadline = dt.datetime.combine(day, dt.time(3, 0), ZoneInfo("America/New_York"))
    meeting = meetings.schedule_meeting(
        session,
        actor=team.assistant,
        rcp_id=team.rcp.id,
        day=day,
        start=dt.time(14),
        end=dt.time(16),
        deadline=deadline,
    )
    session.expire_all()
    assert session.get(Meeting, meeting.id).case_deadline == deadline


def test_a_deadline_after_the_start_is_refused(session: Session, team: CaseTeam) -> None:
    day = (dt.datetime.now(PARIS) + dt.timedelta(days=20)).date()
    with pytest.raises(InvalidInput, match="date limite"):
        meetings.schedule_meeting(
            session,
            actor=team.assistant,
            rcp_id=team.rcp.id,
            day=day,
            start=dt.time(14),
            end=dt.time(16),
            deadline=dt.datetime.combine(day, dt.time(15), PARIS),
        )


# --- double click, stale form -------------------------------------------------------------------


@pytest.fixture
def upcoming(session: Session):
    rcp = make_rcp(session)
    coordinator = make_coordinator(session, rcp, phone=mobile(50))
    member = make_member(session, rcp, coordinator, phone=mobile(51))
    meeting = make_meeting(session, rcp, coordinator)
    return coordinator, member, meeting


def test_saving_the_same_new_case_twice_creates_one_case(session: Session, upcoming) -> None:
    _c, member, meeting = upcoming
    form = case_form(last_name="Doublon", question="Première version")
    first = cases.save_draft(session, actor=member, meeting_id=meeting.id, form=form)
    again = case_form(last_name="Doublon", question="Seconde version")
    second = cases.save_draft(session, actor=member, meeting_id=meeting.id, form=again)
    assert second.id == first.id
    rows = session.exec(select(Case)).all()
    assert len(rows) == 1 and rows[0].question == "Seconde version"


def test_a_different_patient_is_a_different_case(session: Session, upcoming) -> None:
    _c, member, meeting = upcoming
    cases.save_draft(session, actor=member, meeting_id=meeting.id, form=case_form())
    cases.save_draft(
        session, actor=member, meeting_id=meeting.id, form=case_form(first_name="Autre")
    )
    assert len(session.exec(select(Case)).all()) == 2


def test_a_double_click_from_two_threads_creates_one_case(tmp_path: Path) -> None:
    """Two sessions save the same form at the same moment on a SQLite file (WAL)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'double.db'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as s:
        rcp = make_rcp(s)
        coordinator = make_coordinator(s, rcp, phone=mobile(52))
        member_id = make_member(s, rcp, coordinator, phone=mobile(53)).id
        meeting_id = make_meeting(s, rcp, coordinator).id
    barrier = threading.Barrier(2)
    ids: list[int] = []
    errors: list[BaseException] = []

    def click() -> None:
        try:
            with Session(engine, expire_on_commit=False) as s:
                actor = s.get(User, member_id)
                s.commit()  # release SQLite's write lock (BEGIN IMMEDIATE) before the race
                barrier.wait(timeout=30)
                ids.append(
                    cases.save_draft(
                        s, actor=actor, meeting_id=meeting_id, form=case_form(last_name="Clic")
                    ).id
                )
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(ids)) == 1
    with Session(engine) as s:
        assert len(s.exec(select(Case)).all()) == 1
    engine.dispose()


def test_a_form_sent_after_the_deadline_is_refused_and_stores_nothing(
    session: Session, upcoming
) -> None:
    _c, member, meeting = upcoming
    pass_deadline(session, meeting)  # the form was opened before, sent now
    with pytest.raises(Conflict, match="date limite de dépôt des cas pour cette séance est passée"):
        cases.save_draft(session, actor=member, meeting_id=meeting.id, form=case_form())
    session.rollback()
    assert session.exec(select(Case)).all() == []


def test_an_edit_sent_after_the_deadline_is_refused_and_keeps_the_case(
    session: Session, upcoming
) -> None:
    _c, member, meeting = upcoming
    case = make_case(session, meeting, member, question="Avant la date limite")
    pass_deadline(session, meeting)
    with pytest.raises(Conflict):
        cases.save_draft(
            session,
            actor=member,
            meeting_id=meeting.id,
            case_id=case.id,
            form=case_form(question="Après la date limite"),
        )
    session.rollback()
    session.expire_all()
    assert session.get(Case, case.id).question == "Avant la date limite"


def test_a_reason_full_of_control_characters_only_is_an_empty_reason(
    session: Session,
) -> None:
    admin = make_admin(session)
    pending = make_user(session, active=False, phone=mobile(54))
    with pytest.raises(InvalidInput, match="obligatoire"):
        accounts.reject(session, actor=admin, user_id=pending.id, reason=CONTROL)
