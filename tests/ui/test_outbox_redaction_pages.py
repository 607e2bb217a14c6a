"""No admin screen shows a secret that lets the admin act as someone else (issue 14.9).

In pilot mode (no SMS gateway) an admin used to request a password reset for a doctor, read
the reset link and then the sign-in code in "Boîte d'envoi", and sign in as the doctor.
"""

from __future__ import annotations

import re

from sqlmodel import Session, select

from rcp import accounts, auth, notify
from rcp.models import OutboxMessage
from tests.factories import PASSWORD, make_admin, make_user, sign_in
from tests.ui.conftest import new_app, texts


def _outbox_page_text(db: Session) -> str:
    admin = make_admin(db)
    at = new_app(sign_in(db, admin)).run()
    at.switch_page("pages/admin_boite_envoi.py").run()
    assert not at.exception
    # Expander labels and the messages' text (st.text) as well as markdown.
    shown = [texts(at), *(str(t.value) for t in at.text)]
    shown += [str(e.label) for e in at.expander]
    return "\n".join(shown)


def test_outbox_masks_sign_in_codes_and_reset_links_but_says_what_was_sent(db: Session) -> None:
    doctor = make_user(db)
    auth.request_password_reset(db, email=doctor.email)
    step = auth.begin_sign_in(db, email=doctor.email, password=PASSWORD)
    assert step.challenge_id
    stored = db.exec(select(OutboxMessage).where(OutboxMessage.to == doctor.phone)).all()
    code = re.search(r"\b(\d{6})\b", stored[-1].body or "").group(1)  # type: ignore[union-attr]
    reset = db.exec(select(OutboxMessage).where(OutboxMessage.subject.contains("réinitialisation")))
    link = re.search(r"token=(\S+)", reset.one().body or "").group(1)  # type: ignore[union-attr]

    shown = _outbox_page_text(db)
    assert code not in shown and link not in shown
    assert "est votre code de connexion" in shown  # what was sent, to whom, when
    assert doctor.phone.replace("+", "\\+") in shown or doctor.phone in shown
    assert "token=••••••" in shown and "•••••• est votre code" in shown


def test_the_service_returns_copies_the_stored_messages_stay_whole(db: Session) -> None:
    doctor = make_user(db)
    admin = make_admin(db)
    auth.begin_sign_in(db, email=doctor.email, password=PASSWORD)
    (shown,) = accounts.read_outbox(db, actor=admin, to=doctor.phone)
    assert "••••••" in (shown.body or "") and not re.search(r"\d{6}", shown.body or "")
    db.expire_all()
    stored = db.exec(select(OutboxMessage).where(OutboxMessage.to == doctor.phone)).one()
    assert re.search(r"\b\d{6}\b", stored.body or "")  # the operator's CLI still reads it


def test_a_doctor_without_an_authenticator_app_is_asked_to_set_one_up_in_pilot_mode(
    db: Session,
) -> None:
    doctor = make_user(db)
    at = new_app(sign_in(db, doctor)).run()
    assert "configurez dès maintenant une application d'authentification" in texts(at)
    doctor.totp_secret = "JBSWY3DPEHPK3PXP"
    db.add(doctor)
    db.commit()
    at.run()  # the next page run sees the app configured
    assert "configurez dès maintenant une application d'authentification" not in texts(at)


def test_outbox_says_in_french_which_emails_are_being_sent_and_which_were_given_up(
    db: Session,
) -> None:
    """An email whose sending was interrupted is visible, then marked failed with why."""
    from datetime import timedelta

    from rcp.models import OutboxChannel, OutboxStatus, utcnow

    def stuck(to: str, attempts: int, minutes_ago: int) -> None:
        db.add(
            OutboxMessage(
                channel=OutboxChannel.email,
                to=to,
                subject="Invitation",
                body="Bonjour",
                status=OutboxStatus.sending,
                claimed_at=utcnow() - timedelta(minutes=minutes_ago),
                attempts=attempts,
            )
        )
        db.commit()

    stuck("dr.en-cours@chu.example", 1, 1)
    stuck("dr.abandon@chu.example", 3, 30)
    notify.recover_interrupted(db)
    shown = _outbox_page_text(db)
    assert "Statut : envoi en cours depuis" in shown
    assert "Statut : échec de l'envoi · 3 tentatives · Envoi interrompu 3 fois" in shown
    assert "sending" not in shown and "failed" not in shown
