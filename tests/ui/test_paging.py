"""Long lists are shown one page at a time (rcp/ui/paging.py), through AppTest.

For each paged page: with more items than one page, only the first page is shown, "Page
suivante" shows the next items (and only them), and the page's actions still work there.
"""

from __future__ import annotations

from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from rcp import cases, directory, notify
from rcp.models import User, UserStatus
from tests.factories import (
    make_admin,
    make_case,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    sign_in,
)
from tests.ui.conftest import texts
from tests.ui.test_directory_pages import page

# Letters only: patient and doctor names are validated.
NAMES = (
    "Abel Adam Barbier Bernard Blanc Bonnet Boyer Brun Chevalier Colin Dubois Durand "
    "Etienne Fabre Faure Fournier Garnier Gauthier Girard Guerin Henry Lambert Laurent "
    "Lefebvre Legrand Leroy Marchand Martin Masson Mercier Meunier Moreau"
).split()


def _next(at: AppTest, key: str) -> AppTest:
    return at.button(key=f"{key}_next_haut").click().run()


def _case_names(at: AppTest) -> set[str]:
    shown = texts(at)
    return {name for name in NAMES if f"**{name.upper()} " in shown}


def test_mes_cas_shows_ten_cases_a_page_and_the_next_ones_on_the_next_page(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(1))
    member = make_member(db, rcp, coordinator, phone=mobile(2))
    meetings = [make_meeting(db, rcp, coordinator, days_ahead=d) for d in (5, 12)]
    for k, name in enumerate(NAMES[:12]):
        make_case(db, meetings[k % 2], member, last_name=name)

    at = page("mes_cas", sign_in(db, member))
    assert not at.exception
    first = _case_names(at)
    assert len(first) == 10
    assert "Page 1 sur 2 · 1 à 10 sur 12" in texts(at)
    assert at.button(key="mes_cas_previous_haut").disabled

    at = _next(at, "mes_cas")
    second = _case_names(at)
    assert len(second) == 2 and not first & second
    assert "Page 2 sur 2" in texts(at) and at.button(key="mes_cas_next_bas").disabled
    # The cards of the second page still open their case.
    assert len([link for link in at.get("page_link") if link.proto.label == "Ouvrir"]) == 2

    at = at.button(key="mes_cas_previous_bas").click().run()
    assert _case_names(at) == first


def test_one_page_of_cases_draws_no_paging_controls(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(3))
    member = make_member(db, rcp, coordinator, phone=mobile(4))
    make_case(db, make_meeting(db, rcp, coordinator), member, last_name="Seul")
    at = page("mes_cas", sign_in(db, member))
    assert _case_names(at) == set() and "SEUL" in texts(at)
    assert not [b for b in at.button if b.key and b.key.startswith("mes_cas_")]


def test_acces_cas_pages_the_cases_of_the_rcp(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(5))
    member = make_member(db, rcp, coordinator, phone=mobile(6))
    meeting = make_meeting(db, rcp, coordinator)
    made = [make_case(db, meeting, member, last_name=name) for name in NAMES[:12]]
    cases.get_case(db, actor=member, case_id=made[0].id)

    at = page("acces_cas", sign_in(db, coordinator))
    assert not at.exception
    first = {e.label for e in at.expander}
    assert len(first) == 10 and "Page 1 sur 2" in texts(at)
    at = _next(at, "acces_cas")
    second = {e.label for e in at.expander}
    assert len(second) == 2 and not first & second
    # The readers of the cases shown are still listed (the first case is on one of the pages).
    opened = [label for label in first | second if "1 lecteur(s)" in label]
    assert len(opened) == 1 and f"Cas n° {made[0].id} " in opened[0]


def test_admin_comptes_pages_accounts_and_actions_work_on_the_next_page(db: Session) -> None:
    admin = make_admin(db)
    for k, name in enumerate(NAMES[:24]):
        make_user(db, last_name=name, email=f"dr.{name.lower()}@chu.example", phone=mobile(k))
    # 25 accounts (the admin's included): 20, then 5.
    at = page("admin_comptes", sign_in(db, admin))
    assert not at.exception
    assert len(at.expander) == 20 and "25 compte(s) trouvé(s)" in texts(at)
    first = {e.label for e in at.expander}
    at = _next(at, "comptes")
    second = {e.label for e in at.expander}
    assert len(second) == 5 and not first & second

    target = next(u for u in _users(db) if any(u.last_name.upper() in s for s in second))
    at = at.button(key=f"comptes_disable_{target.id}").click().run()
    assert not at.exception
    assert f"Compte de {target.full_name} désactivé." in texts(at)
    db.commit()  # end the test's read snapshot
    db.refresh(target)
    assert target.status == UserStatus.disabled
    assert "Page 2 sur 2" in texts(at)  # still on the page where the action was made

    at.text_input(key="comptes_search").input(target.last_name).run()
    assert [e.label for e in at.expander] == [
        f"{target.last_name.upper()} {target.first_name} — désactivé"
    ]
    assert "Page " not in texts(at)


def _users(db: Session) -> list[User]:
    from sqlmodel import select

    db.expire_all()
    return list(db.exec(select(User)).all())


def test_a_new_search_goes_back_to_the_first_page(db: Session) -> None:
    admin = make_admin(db)
    for k, name in enumerate(NAMES[:24]):
        make_user(db, last_name=name, email=f"dr.{name.lower()}@chu.example", phone=mobile(k))
    at = _next(page("admin_comptes", sign_in(db, admin)), "comptes")
    assert "Page 2 sur 2" in texts(at)
    at.selectbox(key="comptes_status").select("actif").run()
    assert "Page 1 sur 2" in texts(at)


def test_admin_inscriptions_pages_the_queue_and_approves_on_the_second_page(db: Session) -> None:
    admin = make_admin(db)
    waiting = [
        make_user(db, active=False, last_name=name, phone=mobile(40 + k))
        for k, name in enumerate(NAMES[:12])
    ]
    at = page("admin_inscriptions", sign_in(db, admin))
    assert not at.exception
    shown = [u for u in waiting if u.last_name.upper() in texts(at)]
    assert shown == waiting[:10]  # oldest first
    at = _next(at, "inscriptions")
    assert [u for u in waiting if u.last_name.upper() in texts(at)] == waiting[10:]

    at.button(key=f"inscriptions_approve_{waiting[11].id}").click().run()
    assert not at.exception and "validée" in texts(at)
    db.commit()
    db.refresh(waiting[11])
    assert waiting[11].status == UserStatus.active
    # 11 left: the second page shows the last one.
    assert [u for u in waiting if u.last_name.upper() in texts(at)] == [waiting[10]]


def test_admin_boite_envoi_pages_messages_newest_first(db: Session) -> None:
    admin = make_admin(db)
    for n in range(1, 26):
        notify.send_email(db, to="pagine@chu.example", subject=f"Message numéro {n:02d}", body="x")
    db.commit()
    at = page("admin_boite_envoi", sign_in(db, admin))
    at.text_input(key="outbox_to").input("pagine@chu.example").run()
    labels = [e.label for e in at.expander]
    assert len(labels) == 20 and "numéro 25" in labels[0] and "numéro 06" in labels[-1]
    at = _next(at, "outbox")
    labels = [e.label for e in at.expander]
    assert len(labels) == 5 and "numéro 05" in labels[0] and "numéro 01" in labels[-1]


def test_admin_annuaire_shows_one_family_and_still_names_and_removes_coordinators(
    db: Session,
) -> None:
    admin = make_admin(db)
    first = make_rcp(db, name="Première famille")
    second = make_rcp(db, name="Seconde famille")
    coordinator = make_coordinator(db, first, phone=mobile(60), last_name="Coordinatrice")
    doctor = make_user(db, phone=mobile(61), last_name="Nouvelle")

    at = page("admin_annuaire", sign_in(db, admin))
    assert not at.exception
    assert at.selectbox(key="annuaire_network").value is not None
    family_box = next(s for s in at.selectbox if s.key and s.key.startswith("annuaire_family_"))
    family_box.select(first.family_id).run()
    shown = texts(at)
    assert "**Première famille**" in shown and "**Seconde famille**" not in shown
    assert "COORDINATRICE" in shown.upper()

    at.text_input(key=f"annuaire_coord_search_{first.id}").input("Nouvelle").run()
    at.button(key=f"annuaire_ref_{first.id}_{doctor.id}").click().run()
    assert not at.exception and "médecin référent de la RCP" in texts(at)
    assert {r.user.id for r in directory.coordinators(db, first.id)} == {coordinator.id, doctor.id}
    assert "NOUVELLE" in texts(at).upper().split("COORDINATION :")[1]

    family_box = next(s for s in at.selectbox if s.key and s.key.startswith("annuaire_family_"))
    family_box.select(second.family_id).run()
    assert "**Seconde famille**" in texts(at) and "**Première famille**" not in texts(at)


def test_refusing_a_request_opens_its_form_only_and_needs_a_reason(db: Session) -> None:
    admin = make_admin(db)
    first = make_user(db, active=False, last_name="Premier", phone=mobile(70))
    second = make_user(db, active=False, last_name="Second", phone=mobile(71))
    at = page("admin_inscriptions", sign_in(db, admin))
    assert not at.get("form")  # no refusal form drawn until "Refuser" is clicked
    at = at.button(key=f"inscriptions_reject_{second.id}").click().run()
    assert [f.proto.form.form_id for f in at.get("form")] == [
        f"inscriptions_reject_form_{second.id}"
    ]

    confirm = f"FormSubmitter:inscriptions_reject_form_{second.id}-Confirmer le refus"
    at = at.button(key=confirm).click().run()
    assert "Motif du refus" in texts(at)  # the French message: the reason is required
    at.text_area(key=f"inscriptions_reason_{second.id}").input("Dossier incomplet.")
    at = at.button(key=confirm).click().run()
    assert not at.exception and "refusée" in texts(at)
    db.commit()
    db.refresh(first)
    db.refresh(second)
    assert (first.status, second.status) == (UserStatus.pending, UserStatus.rejected)
    assert second.rejection_reason == "Dossier incomplet."
    assert not at.get("form")
