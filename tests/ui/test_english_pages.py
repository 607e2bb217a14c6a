"""The pages speak English to an English reader (their strings go through the catalogue)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from rcp.models import LoginSession
from rcp.ui import language
from tests.factories import (
    make_case,
    make_confirmed,
    make_coordinator,
    make_meeting,
    make_member,
    make_rcp,
    make_user,
    mobile,
    sign_in,
    start_now,
)
from tests.ui.conftest import new_app, texts
from tests.ui.test_directory_pages import page
from tests.unit.test_browsers import CHROME_LINUX


def _labels(at) -> list[str]:
    """The labels of the page's widgets (inputs, buttons, page links)."""
    found = [w.label for w in [*at.text_input, *at.button, *at.checkbox, *at.selectbox]]
    found += [link.proto.label for link in at.get("page_link")]
    return found


@pytest.fixture
def english_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser that asks for English (no user choice yet: the sign-in pages)."""
    monkeypatch.setattr(language, "browser_language", lambda: "en")


def english_user(db: Session):
    user = make_user(db)
    user.language = "en"
    db.add(user)
    db.commit()
    return user


def test_the_sign_in_page_speaks_english(english_browser) -> None:
    at = new_app().run()
    assert not at.exception
    labels = _labels(at)
    assert "Professional email address" in labels and "Password" in labels
    assert "Sign in" in labels and "Create an account" in labels
    assert "Sign in" in [s.value for s in at.subheader]
    for french in ("Connexion", "Mot de passe", "Se connecter", "Créer un compte", "oublié"):
        assert not any(french in label for label in labels), french
        assert french not in texts(at), french


def test_the_registration_page_speaks_english(english_browser) -> None:
    at = new_app().run()
    at.switch_page("pages/inscription.py").run()
    assert not at.exception
    labels = _labels(at)
    assert "Last name" in labels and "Mobile phone" in labels
    assert "Send my registration request" in labels
    for french in ("Nom", "Prénom", "Téléphone", "Envoyer", "Mot de passe"):
        assert not any(french in label for label in labels), french


def test_the_home_page_speaks_english(db: Session) -> None:
    user = english_user(db)
    at = new_app(sign_in(db, user)).run()
    assert not at.exception
    shown = texts(at)
    assert f"Hello {user.display_name}" in shown and "My upcoming meetings" in shown
    for french in ("Bonjour", "Mes invitations", "Mes prochaines séances", "Aucune"):
        assert french not in shown, french


def test_the_case_form_and_the_case_page_speak_english(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(1))
    member = make_member(db, rcp, coordinator, phone=mobile(2))
    member.language = "en"
    db.add(member)
    db.commit()
    meeting = make_meeting(db, rcp, coordinator)
    token = sign_in(db, member)
    at = page("soumettre_cas", token, meeting=str(meeting.id))
    assert not at.exception
    labels = _labels(at) + [r.label for r in at.radio] + [d.label for d in at.date_input]
    assert "Last name *" in labels and "Date of birth *" in labels and "Sex *" in labels
    assert "Submit the case" in labels and "Save the draft" in labels
    assert "Submit a case" in [t.value for t in at.title]
    for french in ("Nom", "Prénom", "Date de naissance", "Sexe", "Soumettre", "Enregistrer"):
        assert not any(french in label for label in labels), french
    case = make_case(db, meeting, member)
    at = page("cas", token, id=str(case.id))
    assert not at.exception
    shown = texts(at)
    assert "Patient record" in shown and "Born " in shown
    assert "Fiche patient" not in shown and "Né(e) le" not in shown


def test_the_meeting_page_speaks_english(db: Session) -> None:
    rcp = make_rcp(db)
    coordinator = make_coordinator(db, rcp, phone=mobile(40))
    meeting = make_meeting(db, rcp, coordinator)
    participant = make_confirmed(db, meeting, coordinator, phone=mobile(41))
    participant.language = "en"
    db.add(participant)
    db.commit()
    make_case(db, meeting, coordinator, last_name="Durandal", first_name="Lucie")
    start_now(db, meeting)
    at = page("seance", sign_in(db, participant), id=str(meeting.id))
    assert not at.exception
    shown = texts(at)
    assert "Join the video conference" in [b.proto.label for b in at.get("link_button")]
    assert "The meeting's cases" in shown and "Current case" in shown
    assert "to discuss" in shown and "Participants" in shown
    assert "**Your status:**" in shown and "**MDT:**" in shown
    labels = _labels(at) + [b.proto.label for b in at.get("link_button")]
    for french in ("Rejoindre", "Tester mon matériel", "Lever la main", "Fiche"):
        assert not any(french in label for label in labels), french
    for french in ("Cas de la séance", "à discuter", "Votre statut", "Dépôt des cas"):
        assert french not in shown, french


def test_the_opinion_page_speaks_english(db: Session) -> None:
    from tests.factories import make_case_team
    from tests.ui.test_avis_page import page as avis_page

    team = make_case_team(db)
    team.assistant.language = "en"
    db.add(team.assistant)
    db.commit()
    at = avis_page(sign_in(db, team.assistant), case=str(team.case.id))
    assert not at.exception
    labels = _labels(at) + [t.label for t in at.text_area] + [r.label for r in at.radio]
    assert "MDT's recommendation" in labels and "Rationale" in labels
    assert "Save the draft" in labels and "Validate the opinion" in labels
    assert "Does the proposal follow the current guidelines?" in labels
    assert "MDT opinion" in [t.value for t in at.title]
    for french in ("Proposition", "Argumentaire", "Valider", "Enregistrer", "Références"):
        assert not any(french in label for label in labels), french
    assert "Rédaction de l'avis" not in texts(at) and "Writing the opinion" in texts(at)


def test_my_account_and_the_equipment_test_speak_english(db: Session) -> None:
    user = english_user(db)
    token = sign_in(db, user)
    for login in db.exec(select(LoginSession).where(LoginSession.user_id == user.id)).all():
        login.user_agent = CHROME_LINUX
        db.add(login)
    db.commit()
    at = page("mon_compte", token)
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Profile", "Security", "Active sessions"]
    assert "**Chrome 156 on Linux** (this session)" in texts(at)
    labels = _labels(at)
    assert "Current password" in labels and "Change the password" in labels
    for french in ("Mot de passe", "Enregistrer", "Établissement", "Spécialité"):
        assert not any(french in label for label in labels), french
    at = page("materiel", token)
    assert not at.exception
    shown = texts(at)
    assert "Test my equipment" in shown and "3. Speakers" in shown
    assert "Haut-parleurs" not in shown and "Tester mon matériel" not in shown


def test_the_room_component_gets_its_words_in_the_page_s_language() -> None:
    from rcp import i18n
    from rcp.ui import room_client

    with i18n.using("en"):
        words = room_client.labels()
    assert words["join"] == "Join the room" and words["devices"] == "Camera and microphone…"
    assert room_client.labels()["join"] == "Rejoindre la salle"  # French outside


def test_the_registrations_queue_speaks_english(db: Session) -> None:
    from tests.factories import make_admin

    admin = make_admin(db)
    admin.language = "en"
    db.add(admin)
    db.commit()
    make_user(db, active=False, phone=mobile(7))
    at = page("admin_inscriptions", sign_in(db, admin))
    assert not at.exception
    assert "Registrations to approve" in [t.value for t in at.title]
    labels = _labels(at)
    assert "Approve" in labels and "Refuse" in labels
    assert "Valider" not in labels and "Refuser" not in labels
    assert "1 pending registration, oldest first." in texts(at)


def test_the_admin_pages_show_statuses_in_english_never_their_codes(db: Session) -> None:
    """The outbox's "Statut : outbox" and the accounts' statuses: words, not codes."""
    from rcp import notify
    from tests.factories import make_admin

    admin = make_admin(db)
    admin.language = "en"
    db.add(admin)
    db.commit()
    notify.send_email(db, to="someone@example.org", subject="Hello", body="Body")
    db.commit()
    token = sign_in(db, admin)
    at = page("admin_boite_envoi", token)
    assert not at.exception
    shown = texts(at)
    assert "Status: kept here (no transport configured)" in shown
    assert "Status: outbox" not in shown and "Status: sent" not in shown
    at = page("admin_comptes", token)
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert any(label.endswith("active · administrator") for label in labels), labels
