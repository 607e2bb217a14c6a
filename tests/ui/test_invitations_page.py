"""The invitations page, registration through an invitation link and the admin's context."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from rcp import accounts, invites
from rcp.dates import format_date, to_paris
from rcp.models import OutboxMessage, RegistrationInvite, User, UserStatus, utcnow
from rcp.ui import keys
from tests.factories import (
    make_admin,
    make_coordinator_direct,
    make_user,
    mobile,
    registration,
    sign_in,
)
from tests.ui.conftest import ROOT, new_app, texts

GUEST = "invite.confrere@chu.example"
GUEST_MD = "invite\\.confrere@chu\\.example"  # as the page writes it in markdown


def _submit_form(at, form_key: str):
    for button in at.button:
        if button.proto.form_id == form_key:
            return button.click().run()
    raise AssertionError(f"no submit button in {form_key}")


def _open(token: str, page: str):
    at = new_app(token).run()
    return at.switch_page(page).run()


def _link_token(db: Session, to: str = GUEST) -> str:
    db.commit()  # the page wrote the email from its own session
    body = db.exec(
        select(OutboxMessage.body)
        .where(OutboxMessage.to == to)
        .order_by(col(OutboxMessage.id).desc())
    ).first()
    assert body is not None
    return re.search(r"invitation=([A-Za-z0-9_-]+)", body).group(1)


def _invite(db: Session, to: str = GUEST, message: str = "") -> tuple[User, str]:
    coordinator = make_coordinator_direct(db, first_name="Agnès", last_name="Roussel")
    invites.create_invite(db, actor=coordinator, email=to, message=message)
    return coordinator, _link_token(db, to)


def test_admin_sends_an_invitation_and_sees_it_pending(db: Session) -> None:
    admin = make_admin(db)
    at = _open(sign_in(db, admin), "pages/invitations.py")
    assert not at.exception
    assert "Invitations" in texts(at)
    at.text_input(key="invitations_email").input(GUEST)
    at.text_area(key="invitations_message").input("Pour l'RCP de génétique rénale")
    at = _submit_form(at, "invitations_form")
    assert not at.exception
    shown = texts(at)
    assert f"Invitation envoyée à {GUEST_MD}" in shown
    assert "En attente" in shown and "1 envoi" in shown
    assert at.text_input(key="invitations_email").value == ""
    assert at.text_area(key="invitations_message").value == ""
    db.commit()
    invite = db.exec(select(RegistrationInvite)).one()
    assert invite.email == GUEST and invite.invited_by_id == admin.id
    assert (
        "/inscription?invitation="
        in db.exec(select(OutboxMessage.body).where(OutboxMessage.to == GUEST)).one()
    )


def test_invalid_address_shows_the_french_message_and_keeps_the_input(db: Session) -> None:
    at = _open(sign_in(db, make_admin(db)), "pages/invitations.py")
    at.text_input(key="invitations_email").input("pas-une-adresse")
    at = _submit_form(at, "invitations_form")
    assert "n'est pas valide" in "\n".join(e.value for e in at.error)
    assert at.text_input(key="invitations_email").value == "pas-une-adresse"


def test_invitation_to_an_existing_account_is_refused_on_the_page(db: Session) -> None:
    doctor = make_user(db)
    at = _open(sign_in(db, make_admin(db)), "pages/invitations.py")
    at.text_input(key="invitations_email").input(doctor.email)
    at = _submit_form(at, "invitations_form")
    assert "Un compte existe déjà" in "\n".join(e.value for e in at.error)


def test_coordinator_lists_only_own_invitations_and_revokes_one(db: Session) -> None:
    coordinator = make_coordinator_direct(db)
    other = make_coordinator_direct(db)
    mine = invites.create_invite(db, actor=coordinator, email=GUEST)
    invites.create_invite(db, actor=other, email="autre@chu.example")
    at = _open(sign_in(db, coordinator), "pages/invitations.py")
    shown = texts(at)
    assert "Mes invitations" in shown
    assert GUEST_MD in shown
    assert "autre@chu" not in shown
    at.button(key=f"invitations_revoke_{mine.id}").click().run()
    assert not at.exception
    assert "révoquée : le lien ne fonctionne plus" in texts(at)
    assert "Révoquée" in texts(at)
    assert not [b for b in at.button if b.key == f"invitations_revoke_{mine.id}"]
    db.refresh(mine)
    assert mine.revoked_at is not None


def test_resend_button_sends_a_new_link(db: Session) -> None:
    coordinator = make_coordinator_direct(db)
    invite = invites.create_invite(db, actor=coordinator, email=GUEST)
    old = _link_token(db)
    at = _open(sign_in(db, coordinator), "pages/invitations.py")
    at.button(key=f"invitations_resend_{invite.id}").click().run()
    assert "Nouveau lien envoyé" in texts(at)
    assert "2 envois" in texts(at)
    assert _link_token(db) != old


def test_plain_doctor_is_refused_the_invitations_page_even_by_url(db: Session) -> None:
    """Run the page script alone, as if opened by URL with the menu bypassed."""
    doctor = make_user(db)
    invites.create_invite(db, actor=make_admin(db), email=GUEST)
    at = AppTest.from_file(str(ROOT / "pages" / "invitations.py"), default_timeout=30)
    at.session_state[keys.TEST_TOKEN] = sign_in(db, doctor)
    at.run()
    assert not at.exception
    assert "réservée aux administrateurs et aux coordinateurs" in texts(at)
    assert GUEST not in texts(at)
    assert not [w for w in at.text_input if w.key == "invitations_email"]
    anonymous = AppTest.from_file(str(ROOT / "pages" / "invitations.py"), default_timeout=30)
    assert "pas connecté" in texts(anonymous.run())


def test_menu_offers_invitations_to_coordinators_but_not_to_plain_doctors(db: Session) -> None:
    doctor_app = new_app(sign_in(db, make_user(db))).run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        doctor_app.switch_page("pages/invitations.py")
    coordinator_app = new_app(sign_in(db, make_coordinator_direct(db))).run()
    coordinator_app.switch_page("pages/invitations.py").run()
    assert "Mes invitations" in texts(coordinator_app)


def test_valid_link_prefills_and_locks_the_invited_email(db: Session) -> None:
    _coordinator, token = _invite(db)
    at = new_app()
    at.query_params["invitation"] = token
    at = at.run().switch_page("pages/inscription.py").run()
    assert not at.exception
    assert "Vous avez été invité par **Dr Agnès Roussel**" in texts(at)
    field = at.text_input(key="inscription_email_invited")
    assert field.value == GUEST
    assert field.disabled
    assert not [w for w in at.text_input if w.key == "inscription_email"]

    at.text_input(key="inscription_last_name").input("Durand")
    at.text_input(key="inscription_first_name").input("Hélène")
    at.text_input(key="inscription_phone").input(mobile(31))
    at.selectbox(key="inscription_specialty").select("Génétique")
    at.text_input(key="inscription_institution").input("CHU Exemple")
    at.text_input(key="inscription_password").input("Une-Phrase-De-Passe-Solide")
    at.text_input(key="inscription_password_confirm").input("Une-Phrase-De-Passe-Solide")
    at.checkbox(key="inscription_terms").check()
    at = _submit_form(at, "inscription_form")
    assert not at.exception
    assert "demande d'inscription est enregistrée" in texts(at)
    db.commit()
    user = db.exec(select(User).where(User.email == GUEST)).one()
    assert user.status == UserStatus.pending
    assert user.registration_invite_id is not None


def test_bad_link_shows_the_message_and_the_ordinary_form(db: Session) -> None:
    at = new_app()
    at.query_params["invitation"] = "lien-invalide"
    at = at.run().switch_page("pages/inscription.py").run()
    assert not at.exception
    assert "n'est plus valable" in "\n".join(e.value for e in at.error)
    assert "invité par" not in texts(at)
    field = at.text_input(key="inscription_email")
    assert not field.disabled


def test_used_link_shows_the_message(db: Session) -> None:
    _coordinator, token = _invite(db)
    accounts.register(db, form=registration(), invite_token=token)
    at = new_app()
    at.query_params["invitation"] = token
    at = at.run().switch_page("pages/inscription.py").run()
    assert "n'est plus valable" in "\n".join(e.value for e in at.error)


def test_admin_queue_shows_who_invited_and_the_message(db: Session) -> None:
    admin = make_admin(db)
    _coordinator, token = _invite(db, message="Collègue de génétique, à valider")
    accounts.register(db, form=registration(last_name="Invitee"), invite_token=token)
    accounts.register(db, form=registration(last_name="Spontane"))
    at = _open(sign_in(db, admin), "pages/admin_inscriptions.py")
    assert not at.exception
    blocks = [str(m.value) for m in at.markdown]
    invited = next(i for i, b in enumerate(blocks) if "INVITEE" in b)
    assert blocks[invited + 1].endswith(
        f"Invité par **Dr Agnès Roussel** le {format_date(to_paris(utcnow()).date())}"
    )
    assert [str(t.value) for t in at.text] == ["Message : « Collègue de génétique, à valider »"]
    assert "\n".join(blocks).count("Invité par") == 1
