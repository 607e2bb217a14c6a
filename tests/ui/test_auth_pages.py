"""Sign-in, registration and admin pages through Streamlit's AppTest."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from rcp import auth
from rcp.models import LoginSession, User, UserStatus
from rcp.ui import keys
from tests.factories import PASSWORD, last_sms_code, make_admin, make_user, mobile, sign_in
from tests.ui.conftest import ROOT, new_app, texts
from tests.unit.test_browsers import CHROME_LINUX


def _submit_form(at, form_key: str):
    for button in at.button:
        if getattr(button, "form_id", None) == form_key or button.proto.form_id == form_key:
            return button.click().run()
    raise AssertionError(f"no submit button in {form_key}")


def test_anonymous_visitor_sees_sign_in_with_prerequisites() -> None:
    at = new_app().run()
    assert not at.exception
    shown = texts(at)
    assert "Connexion" in shown
    assert "Prérequis matériel" in shown and "Internet Explorer" in shown
    assert "Aucun contact de support" in shown


def test_support_contacts_come_from_settings(monkeypatch) -> None:
    from rcp import config

    monkeypatch.setenv(
        "RCP_SUPPORT_CONTACTS", '[{"name": "Équipe support", "email": "support@filiere.example"}]'
    )
    config.reset_settings_cache()
    at = new_app().run()
    assert "support@filiere.example" in texts(at)


def test_sign_in_with_sms_code_leads_to_the_session_hand_off(db: Session) -> None:
    user = make_user(db, phone="06 12 34 42 18")
    at = new_app().run()
    at.text_input(key="connexion_email").input(user.email)
    at.text_input(key="connexion_password").input(PASSWORD)
    at = _submit_form(at, "connexion_password_form")
    assert "•• •• •• 42 18" in texts(at)
    at.text_input(key="connexion_code").input(last_sms_code(db, user.phone))
    at = _submit_form(at, "connexion_code_form")
    assert not at.exception
    assert "Code accepté" in texts(at)
    link = at.get("link_button")[0].proto.url
    handoff = re.search(r"h=([^&]+)", link).group(1)
    db.commit()
    _login, token = auth.complete_sign_in(db, handoff=handoff)
    home = new_app(token).run()
    assert f"Bonjour {user.display_name}" in texts(home)


def test_wrong_code_shows_a_french_message_and_stays_on_the_code_step(db: Session) -> None:
    user = make_user(db)
    at = new_app().run()
    at.text_input(key="connexion_email").input(user.email)
    at.text_input(key="connexion_password").input(PASSWORD)
    at = _submit_form(at, "connexion_password_form")
    good = last_sms_code(db, user.phone)
    at.text_input(key="connexion_code").input(f"{(int(good) + 1) % 10**6:06d}")
    at = _submit_form(at, "connexion_code_form")
    assert "Code incorrect" in texts(at)
    assert at.session_state[keys.SIGNIN_CHALLENGE]


def test_wrong_password_gives_the_generic_message(db: Session) -> None:
    user = make_user(db)
    at = new_app().run()
    at.text_input(key="connexion_email").input(user.email)
    at.text_input(key="connexion_password").input("pas-le-bon-mot-de-passe")
    at = _submit_form(at, "connexion_password_form")
    assert auth.GENERIC_FAILURE in texts(at)


def test_lockout_message_after_five_failures(db: Session) -> None:
    user = make_user(db)
    at = new_app().run()
    for _ in range(5):
        at.text_input(key="connexion_email").input(user.email)
        at.text_input(key="connexion_password").input("pas-le-bon-mot-de-passe")
        at = _submit_form(at, "connexion_password_form")
    assert "bloquée pendant 15 minutes" in texts(at)


def test_registration_form_creates_a_pending_account(db: Session) -> None:
    at = new_app().run()
    at.switch_page("pages/inscription.py").run()
    at.text_input(key="inscription_last_name").input("Durand")
    at.text_input(key="inscription_first_name").input("Hélène")
    at.text_input(key="inscription_email").input("helene.durand@chu.example")
    at.text_input(key="inscription_phone").input(mobile(21))
    at.selectbox(key="inscription_specialty").select("Néphrologie")
    at.text_input(key="inscription_institution").input("CHU Exemple")
    at.text_input(key="inscription_password").input("Une-Phrase-De-Passe-Solide")
    at.text_input(key="inscription_password_confirm").input("Une-Phrase-De-Passe-Solide")
    at.checkbox(key="inscription_terms").check()
    at = _submit_form(at, "inscription_form")
    assert not at.exception
    assert "demande d'inscription est enregistrée" in texts(at)
    db.commit()
    user = db.exec(select(User).where(User.email == "helene.durand@chu.example")).one()
    assert user.status == UserStatus.pending


def test_registration_shows_why_a_password_is_refused(db: Session) -> None:
    at = new_app().run()
    at.switch_page("pages/inscription.py").run()
    at.text_input(key="inscription_last_name").input("Durand")
    at.text_input(key="inscription_first_name").input("Hélène")
    at.text_input(key="inscription_email").input("helene.durand@chu.example")
    at.text_input(key="inscription_phone").input(mobile(22))
    at.selectbox(key="inscription_specialty").select("Génétique")
    at.text_input(key="inscription_institution").input("CHU Exemple")
    at.text_input(key="inscription_password").input("court")
    at.text_input(key="inscription_password_confirm").input("court")
    at.checkbox(key="inscription_terms").check()
    at = _submit_form(at, "inscription_form")
    assert "au moins 12 caractères" in texts(at)
    db.commit()
    assert db.exec(select(User)).all() == []


def test_admin_approves_from_the_validation_queue(db: Session) -> None:
    admin = make_admin(db)
    pending = make_user(db, active=False, last_name="Attente")
    at = new_app(sign_in(db, admin)).run()
    at.switch_page("pages/admin_inscriptions.py").run()
    assert "ATTENTE" in texts(at)
    at.button(key=f"inscriptions_approve_{pending.id}").click().run()
    assert not at.exception
    db.commit()
    db.refresh(pending)
    assert pending.status == UserStatus.active
    assert "validée" in texts(at)


@pytest.mark.parametrize(
    "page", ["admin_inscriptions", "admin_comptes", "admin_boite_envoi", "admin_journal"]
)
def test_admin_pages_check_the_user_themselves(db: Session, page: str) -> None:
    """Run the page script alone, as if opened by URL with the menu bypassed."""
    doctor = make_user(db)
    make_user(db, active=False, last_name="Secret", phone=mobile(60))
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=30)
    at.session_state[keys.TEST_TOKEN] = sign_in(db, doctor)
    at.run()
    assert not at.exception
    assert "réservée aux administrateurs" in texts(at)
    assert "SECRET" not in texts(at)
    anonymous = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=30).run()
    assert "pas connecté" in texts(anonymous)


def test_signed_out_token_shows_the_sign_in_page(db: Session) -> None:
    user = make_user(db)
    token = sign_in(db, user)
    auth.sign_out(db, token=token)
    at = new_app(token).run()
    assert "Connexion" in texts(at)
    assert "Bonjour" not in texts(at)


def test_account_page_lists_active_sessions(db: Session) -> None:
    user = make_user(db)
    token = sign_in(db, user)
    sign_in(db, user)
    at = new_app(token).run()
    at.switch_page("pages/mon_compte.py").run()
    assert not at.exception
    assert "(cette session)" in texts(at)
    end_buttons = [b for b in at.button if b.key and b.key.startswith("compte_end_session_")]
    assert len(end_buttons) == 2


def test_account_page_names_the_browser_of_each_session(db: Session) -> None:
    """ "Chrome 156 sur Linux", never the raw user-agent string."""
    user = make_user(db)
    token = sign_in(db, user)
    for login in db.exec(select(LoginSession).where(LoginSession.user_id == user.id)).all():
        login.user_agent = CHROME_LINUX
        db.add(login)
    db.commit()
    at = new_app(token).run()
    at.switch_page("pages/mon_compte.py").run()
    assert not at.exception
    assert "**Chrome 156 sur Linux** (cette session)" in texts(at)
    assert "Mozilla" not in texts(at) and "X11" not in texts(at)
