"""The registration form reveals no account: same answer for a taken address (issue 14, low)."""

from __future__ import annotations

from sqlmodel import Session, func, select

from rcp.models import OutboxMessage, User
from tests.factories import make_user, mobile
from tests.ui.conftest import new_app, texts
from tests.ui.test_auth_pages import _submit_form


def _register(email: str, phone: str) -> str:
    at = new_app().run()
    at.switch_page("pages/inscription.py").run()
    at.text_input(key="inscription_last_name").input("Durand")
    at.text_input(key="inscription_first_name").input("Hélène")
    at.text_input(key="inscription_email").input(email)
    at.text_input(key="inscription_phone").input(phone)
    at.selectbox(key="inscription_specialty").select("Néphrologie")
    at.text_input(key="inscription_institution").input("CHU Exemple")
    at.text_input(key="inscription_password").input("Une-Phrase-De-Passe-Solide")
    at.text_input(key="inscription_password_confirm").input("Une-Phrase-De-Passe-Solide")
    at.checkbox(key="inscription_terms").check()
    at = _submit_form(at, "inscription_form")
    assert not at.exception
    return texts(at) + "\n".join(e.value for e in at.error)


def test_a_taken_address_gets_the_same_answer_and_its_owner_an_email(db: Session) -> None:
    owner = make_user(db, email="deja.inscrite@chu.example")
    taken = _register("deja.inscrite@chu.example", mobile(31))
    fresh = _register("nouvelle@chu.example", mobile(32))
    assert "existe déjà" not in taken
    assert "demande d'inscription est enregistrée" in taken
    assert taken.replace("deja\\.inscrite", "X") == fresh.replace("nouvelle", "X")
    db.commit()
    assert db.exec(select(func.count()).select_from(User)).one() == 3  # owner, admin, new
    warned = db.exec(select(OutboxMessage).where(OutboxMessage.to == owner.email)).all()
    assert any("avec votre adresse" in m.subject for m in warned)
