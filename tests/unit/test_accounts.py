"""Registration, the validation queue and account management."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from rcp import accounts, audit
from rcp.errors import Conflict, InvalidInput, PermissionDenied
from rcp.models import AuditEvent, OutboxMessage, User, UserStatus
from tests.factories import make_admin, make_user, mobile, registration


def test_register_creates_pending_account_in_international_form(session: Session) -> None:
    user = accounts.register(
        session, form=registration(phone="06 12 34 56 78", email=" Jean.Dupont@CHU.example ")
    )
    assert user.status == UserStatus.pending
    assert user.phone == "+33612345678"
    assert user.email == "jean.dupont@chu.example"
    assert user.password_hash != "Correct-Horse-Battery-9"
    assert user.terms_accepted_at is not None


def test_register_sends_acknowledgement_email_and_audits(session: Session) -> None:
    user = accounts.register(session, form=registration())
    mails = session.exec(select(OutboxMessage).where(OutboxMessage.to == user.email)).all()
    assert [m.subject for m in mails] == ["RCP ORKID : inscription reçue"]
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "account.registered")).all()
    assert [e.target_id for e in events] == [user.id]


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"last_name": ""}, "last_name", "obligatoire"),
        ({"first_name": "Jean3"}, "first_name", "lettres"),
        ({"last_name": "x" * 500}, "last_name", "trop long"),
        ({"last_name": "<script>alert(1)</script>"}, "last_name", "lettres"),
        ({"email": "pas-une-adresse"}, "email", "n'est pas valide"),
        ({"email": ""}, "email", "obligatoire"),
        ({"phone": ""}, "phone", "obligatoire"),
        ({"phone": "12"}, "phone", "numéro de téléphone"),
        ({"phone": "01 42 68 53 00"}, "phone", "portable"),
        ({"phone": "06 00 00 00 0"}, "phone", "numéro de téléphone"),
        ({"specialty": "Astrologie"}, "specialty", "spécialité"),
        ({"institution": "  "}, "institution", "obligatoire"),
        ({"rpps": "1234"}, "rpps", "11 chiffres"),
        ({"rpps": "10000000000"}, "rpps", "clé de contrôle"),
        ({"password": "court-123"}, "password", "au moins 12 caractères"),
        ({"password": "aaaaaaaaaaaaaaaa"}, "password", "trop peu de caractères différents"),
        ({"password": "motdepasse123"}, "password", "plus courants"),
        ({"password": "Testeur-du-rein-2026"}, "password", "votre nom"),
        ({"password_confirm": "Autre-Chose-Encore-1"}, "password_confirm", "différents"),
        ({"terms_accepted": False}, "terms", "conditions d'utilisation"),
    ],
)
def test_register_refuses_each_bad_field_with_its_french_message(
    session: Session, overrides: dict, field: str, fragment: str
) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        accounts.register(session, form=registration(**overrides))
    assert excinfo.value.field == field
    assert fragment in str(excinfo.value)
    assert session.exec(select(User)).all() == []


def test_register_accepts_a_valid_rpps_and_foreign_mobile(session: Session) -> None:
    user = accounts.register(
        session, form=registration(rpps="1000 0000 009", phone="+32 470 12 34 56")
    )
    assert user.rpps == "10000000009"
    assert user.phone == "+32470123456"


def test_register_refuses_an_email_already_registered(session: Session) -> None:
    accounts.register(session, form=registration(email="dup@chu.example"))
    with pytest.raises(InvalidInput, match="existe déjà"):
        accounts.register(session, form=registration(email="DUP@chu.example"))


def test_approve_activates_and_emails_the_user(session: Session) -> None:
    admin = make_admin(session)
    user = make_user(session, active=False)
    accounts.approve(session, actor=admin, user_id=user.id)
    session.refresh(user)
    assert user.status == UserStatus.active and user.validated_by_id == admin.id
    subjects = [
        m.subject for m in session.exec(select(OutboxMessage).where(OutboxMessage.to == user.email))
    ]
    assert "RCP ORKID : votre inscription est validée" in subjects


def test_reject_requires_a_reason_and_emails_it(session: Session) -> None:
    admin = make_admin(session)
    user = make_user(session, active=False)
    with pytest.raises(InvalidInput, match="Motif"):
        accounts.reject(session, actor=admin, user_id=user.id, reason="  ")
    accounts.reject(session, actor=admin, user_id=user.id, reason="Pas de lien avec la filière")
    session.refresh(user)
    assert user.status == UserStatus.rejected
    mail = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.to == user.email, OutboxMessage.subject.contains("demande")
        )
    ).one()
    assert "Pas de lien avec la filière" in mail.body


def test_approve_twice_is_a_conflict(session: Session) -> None:
    admin = make_admin(session)
    user = make_user(session)
    with pytest.raises(Conflict):
        accounts.approve(session, actor=admin, user_id=user.id)


@pytest.mark.parametrize(
    "call",
    [
        lambda s, a, u: accounts.list_pending(s, actor=a),
        lambda s, a, u: accounts.count_pending(s, actor=a),
        lambda s, a, u: accounts.approve(s, actor=a, user_id=u.id),
        lambda s, a, u: accounts.reject(s, actor=a, user_id=u.id, reason="non"),
        lambda s, a, u: accounts.list_users(s, actor=a),
        lambda s, a, u: accounts.disable(s, actor=a, user_id=u.id),
        lambda s, a, u: accounts.reactivate(s, actor=a, user_id=u.id),
        lambda s, a, u: accounts.reset_second_factor(s, actor=a, user_id=u.id),
        lambda s, a, u: accounts.unlock(s, actor=a, user_id=u.id),
        lambda s, a, u: accounts.read_outbox(s, actor=a),
        lambda s, a, u: audit.list_events(s, actor=a),
    ],
    ids=[
        "list_pending",
        "count_pending",
        "approve",
        "reject",
        "list_users",
        "disable",
        "reactivate",
        "reset_second_factor",
        "unlock",
        "read_outbox",
        "audit_log",
    ],
)
def test_admin_services_are_forbidden_to_doctors(session: Session, call) -> None:
    doctor = make_user(session)
    target = make_user(session, active=False)
    with pytest.raises(PermissionDenied):
        call(session, doctor, target)


def test_admin_services_are_forbidden_to_pending_accounts(session: Session) -> None:
    pending = make_user(session, active=False)
    with pytest.raises(PermissionDenied):
        accounts.list_pending(session, actor=pending)


def test_disable_ends_sessions_and_blocks_sign_in(session: Session) -> None:
    from rcp import auth
    from tests.factories import sign_in

    admin = make_admin(session)
    user = make_user(session)
    token = sign_in(session, user)
    accounts.disable(session, actor=admin, user_id=user.id)
    assert auth.authenticate(session, token=token) is None
    with pytest.raises(auth.AccountNotActive, match="désactivé"):
        auth.begin_sign_in(session, email=user.email, password="Correct-Horse-Battery-9")


def test_admin_cannot_disable_itself(session: Session) -> None:
    admin = make_admin(session)
    with pytest.raises(PermissionDenied):
        accounts.disable(session, actor=admin, user_id=admin.id)


def test_list_users_searches_names_and_emails(session: Session) -> None:
    admin = make_admin(session)
    make_user(session, last_name="Zéphyrin", email="zz@chu.example")
    make_user(session, last_name="Autre", email="aa@chu.example", phone=mobile(40))
    found = accounts.list_users(session, actor=admin, search="zz@")
    assert [u.last_name for u in found] == ["Zéphyrin"]
