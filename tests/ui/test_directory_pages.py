"""The RCP tab, an RCP's page and a meeting's page through AppTest."""

from __future__ import annotations

from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from rcp import meetings
from rcp.models import Meeting, Participation, ParticipationStatus
from rcp.ui import keys
from tests.factories import (
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    move_to_past,
    sign_in,
)
from tests.ui.conftest import ROOT, texts


def page(name: str, token: str, **params: str) -> AppTest:
    """Open a page through the app's navigation, with query parameters, as a signed-in user."""
    at = AppTest.from_file(str(ROOT / "rcp_app.py"), default_timeout=30)
    at.session_state[keys.TEST_TOKEN] = token
    at.run()
    for key, value in params.items():
        at.query_params[key] = value
    return at.switch_page(f"pages/{name}.py").run()


def test_each_level_lists_the_next_one(db: Session) -> None:
    rcp = make_rcp(db)
    doctor = make_user(db, phone=mobile(80))
    token = sign_in(db, doctor)
    assert "ORKID" in str([link.proto.label for link in page("rcp", token).get("page_link")])
    network = page("filiere", token, id="1")
    assert "GEM et SNI (SNLGM, HSF) adulte" in str(
        [e.proto.label for e in network.get("page_link")]
    )
    family = page("famille", token, id=str(rcp.family_id))
    assert any(e.proto.label.strip("*") == rcp.name for e in family.get("page_link"))


def test_unknown_or_malformed_ids_give_a_french_message(db: Session) -> None:
    doctor = make_user(db, phone=mobile(81))
    token = sign_in(db, doctor)
    assert "Filière introuvable" in texts(page("filiere", token, id="999"))
    assert "Lien incomplet" in texts(page("famille", token, id="abc"))
    assert "Séance introuvable" in texts(page("seance", token, id="999"))


def test_rcp_page_shows_meetings_and_gives_coordinators_the_schedule_form(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(82))
    make_meeting(db, rcp, coordinator, days_ahead=7)
    doctor = make_user(db, phone=mobile(83))
    as_doctor = page("fiche_rcp", sign_in(db, doctor), id=str(rcp.id))
    assert "Séances à venir" in texts(as_doctor)
    assert not [f for f in as_doctor.get("form") if "schedule" in str(f.proto.form_id)]
    assert [b for b in as_doctor.button if b.key == "rcp_request_membership"]
    as_coordinator = page("fiche_rcp", sign_in(db, coordinator), id=str(rcp.id))
    assert as_coordinator.date_input(key="rcp_schedule_day")


def test_coordinator_schedules_a_meeting_from_the_form(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(84))
    at = page("fiche_rcp", sign_in(db, coordinator), id=str(rcp.id))
    at.text_area(key="rcp_schedule_description").input("Séance de décembre")
    for button in at.button:
        if button.proto.form_id == "rcp_schedule_form":
            at = button.click().run()
            break
    assert not at.exception
    db.commit()
    (meeting,) = db.exec(select(Meeting)).all()
    assert meeting.description == "Séance de décembre"


def test_bad_schedule_shows_the_reason_and_stores_nothing(db: Session) -> None:
    import datetime as dt

    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(85))
    at = page("fiche_rcp", sign_in(db, coordinator), id=str(rcp.id))
    at.time_input(key="rcp_schedule_start").set_value(dt.time(16, 0))
    at.time_input(key="rcp_schedule_end").set_value(dt.time(15, 0))
    for button in at.button:
        if button.proto.form_id == "rcp_schedule_form":
            at = button.click().run()
            break
    assert "L'heure de fin doit être après l'heure de début" in texts(at)
    db.commit()
    assert db.exec(select(Meeting)).all() == []


def test_participer_sends_a_request(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(86))
    meeting = make_meeting(db, rcp, coordinator)
    doctor = make_user(db, phone=mobile(87))
    at = page("seance", sign_in(db, doctor), id=str(meeting.id))
    at = at.button(key="seance_participate").click().run()
    assert not at.exception
    db.commit()
    row = db.exec(select(Participation)).one()
    assert (row.user_id, row.status) == (doctor.id, ParticipationStatus.requested)


def test_invited_doctor_confirms_from_the_meeting_page(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(88))
    meeting = make_meeting(db, rcp, coordinator)
    doctor = make_user(db, phone=mobile(89))
    meetings.invite(db, actor=coordinator, meeting_id=meeting.id, user_id=doctor.id)
    at = page("seance", sign_in(db, doctor), id=str(meeting.id))
    assert "invité" in texts(at)  # masculine generic: the form of address is not said
    assert not [b for b in at.button if b.key == "seance_participate"]
    at.button(key="seance_confirm").click().run()
    db.commit()
    assert db.exec(select(Participation)).one().status == ParticipationStatus.confirmed


def test_coordinator_accepts_a_request_on_the_meeting_page(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(90))
    meeting = make_meeting(db, rcp, coordinator)
    doctor = make_member(db, rcp, coordinator, phone=mobile(91))
    row = meetings.request_participation(db, actor=doctor, meeting_id=meeting.id)
    at = page("seance", sign_in(db, coordinator), id=str(meeting.id))
    at.button(key=f"seance_accept_{row.id}").click().run()
    db.commit()
    db.refresh(row)
    assert row.status == ParticipationStatus.confirmed


def test_past_meeting_page_offers_no_action(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(92))
    meeting = make_meeting(db, rcp, coordinator)
    move_to_past(db, meeting)
    at = page("seance", sign_in(db, coordinator), id=str(meeting.id))
    assert "Séance passée" in texts(at)
    assert not [b for b in at.button if b.key and b.key.startswith("seance_")]
    assert not at.get("expandable")


def test_coordinator_removes_a_member_and_one_removed_meanwhile_just_disappears(
    db: Session,
) -> None:
    from rcp.models import RcpMember

    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(86))
    first = make_member(db, rcp, coordinator, phone=mobile(87), last_name="Premier")
    second = make_member(db, rcp, coordinator, phone=mobile(88), last_name="Second")
    memberships = {
        m.user_id: m.id for m in db.exec(select(RcpMember).where(RcpMember.rcp_id == rcp.id))
    }
    at = page("fiche_rcp", sign_in(db, coordinator), id=str(rcp.id))
    at = at.button(key=f"rcp_member_rm_{memberships[first.id]}").click().run()
    assert not at.exception and "n'est plus membre" in texts(at)
    # Another coordinator removes the second doctor while this page still shows them.
    db.delete(db.get(RcpMember, memberships[second.id]))
    db.commit()
    at = at.button(key=f"rcp_member_rm_{memberships[second.id]}").click().run()
    assert not at.exception and not at.error
    assert f"rcp_member_rm_{memberships[second.id]}" not in [b.key for b in at.button]
    db.expire_all()
    assert set(db.exec(select(RcpMember.user_id).where(RcpMember.rcp_id == rcp.id))) == {
        coordinator.id
    }


def test_the_member_list_of_a_large_rcp_is_shown_ten_at_a_time(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(89), last_name="Zzcoord")
    for n in range(12):
        name = "Membre " + "abcdefghijkl"[n] * 2  # sorted by last name: "Membre aa", "Membre bb"…
        make_member(db, rcp, coordinator, phone=mobile(100 + n), last_name=name)

    def shown(at: AppTest) -> list[str]:
        return [b.key for b in at.button if b.key and b.key.startswith("rcp_member_rm_")]

    at = page("fiche_rcp", sign_in(db, coordinator), id=str(rcp.id))
    first = shown(at)
    assert len(first) == 10 and "Page 1 sur 2" in texts(at)
    at = at.button(key="rcp_members_next_haut").click().run()
    second = shown(at)
    assert len(second) == 2 and not set(first) & set(second)
    # Removing on the second page still works and the list stays on a valid page.
    at = at.button(key=second[0]).click().run()
    assert not at.exception and "n'est plus membre" in texts(at)


def test_acces_aux_cas_is_in_the_coordinators_menu_and_on_their_rcp_page(db: Session) -> None:
    from rcp.ui import navigation

    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(95))
    member = make_member(db, rcp, coordinator, phone=mobile(96))
    (spec,) = [s for s in navigation.PAGES if s.url_path == "acces-cas"]
    assert navigation.listed(spec, coordinator) and not navigation.listed(spec, member)
    at = page("fiche_rcp", sign_in(db, coordinator), id=str(rcp.id))
    links = {el.proto.label: el.proto for el in at.get("page_link")}
    link = links["Accès aux cas : qui a ouvert les dossiers de cette RCP"]
    assert link.page == "acces-cas" or link.page.endswith("acces_cas.py")
    plain = page("fiche_rcp", sign_in(db, member), id=str(rcp.id))
    assert "Accès aux cas : qui a ouvert les dossiers de cette RCP" not in [
        el.proto.label for el in plain.get("page_link")
    ]
    # Followed from the RCP's page, the list opens on that RCP.
    opened = page("acces_cas", sign_in(db, coordinator), rcp=str(rcp.id))
    assert not opened.exception
    assert opened.selectbox(key="acces_cas_rcp").value == rcp.id
