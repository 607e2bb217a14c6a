"""Sign-in with password and one-time code, lockout, sessions, resets, TOTP, phone change."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlmodel import Session, select

from rcp import accounts, auth
from rcp.errors import (
    AccountLocked,
    AuthFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from rcp.models import AuditEvent, LoginSession, OtpChallenge, OutboxMessage, User, utcnow
from rcp.security import token_hash
from tests.conftest import set_settings
from tests.factories import PASSWORD, last_sms_code, make_admin, make_user, mobile, sign_in


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_password_step_sends_a_six_digit_sms_to_the_registered_mobile(session: Session) -> None:
    user = make_user(session, phone="06 12 34 42 18")
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    assert step.masked_phone == "•• •• •• 42 18"
    assert step.channel == "sms"
    code = last_sms_code(session, "+33612344218")
    assert len(code) == 6 and code.isdigit()
    challenge = session.get(OtpChallenge, step.challenge_id)
    assert challenge.code_hash != code  # only a keyed hash is stored
    assert challenge.expires_at - challenge.sent_at == timedelta(minutes=5)


def test_full_sign_in_gives_a_session_whose_token_is_stored_hashed(session: Session) -> None:
    user = make_user(session)
    token = sign_in(session, user)
    assert len(token) >= 40
    login = session.exec(select(LoginSession)).one()
    assert login.token_hash == token_hash(token) and token not in login.token_hash
    assert auth.authenticate(session, token=token).id == user.id
    assert _events(session, "auth.sign_in")


def test_tokens_are_unique_per_sign_in(session: Session) -> None:
    user = make_user(session)
    tokens = {sign_in(session, user) for _ in range(3)}
    assert len(tokens) == 3


def test_unknown_email_and_wrong_password_get_the_same_message(session: Session) -> None:
    user = make_user(session)
    with pytest.raises(AuthFailed) as unknown:
        auth.begin_sign_in(session, email="personne@chu.example", password=PASSWORD)
    with pytest.raises(AuthFailed) as wrong:
        auth.begin_sign_in(session, email=user.email, password="mauvais-mot-de-passe")
    assert str(unknown.value) == str(wrong.value) == auth.GENERIC_FAILURE
    assert type(unknown.value) is type(wrong.value)


def test_five_wrong_passwords_lock_the_account_and_are_audited(session: Session) -> None:
    user = make_user(session)
    for _ in range(4):
        with pytest.raises(AuthFailed) as exc:
            auth.begin_sign_in(session, email=user.email, password="faux-mot-de-passe")
        assert not isinstance(exc.value, AccountLocked)
    with pytest.raises(AccountLocked, match="15 minutes"):
        auth.begin_sign_in(session, email=user.email, password="faux-mot-de-passe")
    # Even the right password is refused while locked.
    with pytest.raises(AccountLocked):
        auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    assert len(_events(session, "auth.locked")) == 1
    assert len(_events(session, "auth.sign_in_failed")) == 5


def test_lock_expires_after_the_lockout_period(session: Session) -> None:
    user = make_user(session)
    for _ in range(5):
        with pytest.raises(AuthFailed):
            auth.begin_sign_in(session, email=user.email, password="faux-mot-de-passe")
    user = session.get(User, user.id)
    user.locked_until = utcnow() - timedelta(seconds=1)
    session.add(user)
    session.commit()
    assert auth.begin_sign_in(session, email=user.email, password=PASSWORD).challenge_id


def test_unknown_email_also_locks_so_the_lock_reveals_nothing(session: Session) -> None:
    for _ in range(4):
        with pytest.raises(AuthFailed) as exc:
            auth.begin_sign_in(session, email="inconnu@chu.example", password="x" * 12)
        assert not isinstance(exc.value, AccountLocked)
    with pytest.raises(AccountLocked):
        auth.begin_sign_in(session, email="inconnu@chu.example", password="x" * 12)


def test_wrong_codes_count_towards_the_lock(session: Session) -> None:
    user = make_user(session)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    good = last_sms_code(session, user.phone)
    bad = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(4):
        with pytest.raises(AuthFailed, match="Code incorrect"):
            auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=bad)
    with pytest.raises(AccountLocked):
        auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=bad)
    # The right code no longer helps while locked.
    with pytest.raises(AccountLocked):
        auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=good)
    assert len(_events(session, "auth.code_failed")) == 5


def test_code_format_is_checked_without_counting_a_failure(session: Session) -> None:
    user = make_user(session)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    with pytest.raises(InvalidInput, match="6 chiffres"):
        auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code="12ab")
    assert session.get(User, user.id).failed_attempts == 0


def test_code_is_single_use(session: Session) -> None:
    user = make_user(session)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    code = last_sms_code(session, user.phone)
    auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=code)
    with pytest.raises(AuthFailed, match="plus valable"):
        auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=code)


def test_expired_code_is_refused(session: Session) -> None:
    user = make_user(session)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    code = last_sms_code(session, user.phone)
    challenge = session.get(OtpChallenge, step.challenge_id)
    challenge.expires_at = utcnow() - timedelta(seconds=1)
    session.add(challenge)
    session.commit()
    with pytest.raises(AuthFailed, match="expiré"):
        auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=code)


def test_resend_is_rate_limited_then_replaces_the_code(session: Session) -> None:
    user = make_user(session)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    first = last_sms_code(session, user.phone)
    with pytest.raises(RateLimited, match="Patientez"):
        auth.resend_code(session, challenge_id=step.challenge_id)
    challenge = session.get(OtpChallenge, step.challenge_id)
    challenge.sent_at = utcnow() - timedelta(seconds=31)
    session.add(challenge)
    session.commit()
    auth.resend_code(session, challenge_id=step.challenge_id)
    second = last_sms_code(session, user.phone)
    if second != first:
        with pytest.raises(AuthFailed):
            auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=first)
    assert auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=second)


def test_too_many_codes_in_the_window_are_refused(session: Session) -> None:
    user = make_user(session)
    for _ in range(5):
        auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    with pytest.raises(RateLimited, match="Trop de codes"):
        auth.begin_sign_in(session, email=user.email, password=PASSWORD)


def test_pending_and_rejected_accounts_are_told_plainly(session: Session) -> None:
    pending = make_user(session, active=False)
    with pytest.raises(auth.AccountNotActive, match="en attente de validation"):
        auth.begin_sign_in(session, email=pending.email, password=PASSWORD)
    admin = make_admin(session)
    accounts.reject(session, actor=admin, user_id=pending.id, reason="Hors filière")
    with pytest.raises(auth.AccountNotActive, match="refusée. Motif : Hors filière"):
        auth.begin_sign_in(session, email=pending.email, password=PASSWORD)
    # No code was sent to either.
    assert session.exec(select(OutboxMessage).where(OutboxMessage.channel == "sms")).all() == []


def test_handoff_is_single_use_and_short_lived(session: Session) -> None:
    user = make_user(session)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    handoff = auth.verify_sign_in_code(
        session, challenge_id=step.challenge_id, code=last_sms_code(session, user.phone)
    )
    auth.complete_sign_in(session, handoff=handoff)
    with pytest.raises(AuthFailed):
        auth.complete_sign_in(session, handoff=handoff)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    handoff = auth.verify_sign_in_code(
        session, challenge_id=step.challenge_id, code=last_sms_code(session, user.phone)
    )
    challenge = session.get(OtpChallenge, step.challenge_id)
    challenge.handoff_expires_at = utcnow() - timedelta(seconds=1)
    session.add(challenge)
    session.commit()
    with pytest.raises(AuthFailed):
        auth.complete_sign_in(session, handoff=handoff)


def test_session_expires_after_idle_time(session: Session) -> None:
    user = make_user(session)
    token = sign_in(session, user)
    login = session.exec(select(LoginSession)).one()
    login.last_seen_at = utcnow() - timedelta(minutes=31)
    session.add(login)
    session.commit()
    assert auth.authenticate(session, token=token) is None
    assert session.get(LoginSession, login.id).revoked_reason == "idle"


def test_activity_keeps_the_session_but_background_checks_do_not(session: Session) -> None:
    user = make_user(session)
    token = sign_in(session, user)
    login = session.exec(select(LoginSession)).one()
    login.last_seen_at = utcnow() - timedelta(minutes=20)
    session.add(login)
    session.commit()
    assert auth.authenticate(session, token=token, touch=False) is not None
    assert utcnow() - session.get(LoginSession, login.id).last_seen_at > timedelta(minutes=19)
    assert auth.authenticate(session, token=token, touch=True) is not None
    assert utcnow() - session.get(LoginSession, login.id).last_seen_at < timedelta(minutes=1)


def test_session_ends_at_the_absolute_limit_even_when_active(session: Session) -> None:
    user = make_user(session)
    token = sign_in(session, user)
    login = session.exec(select(LoginSession)).one()
    assert login.expires_at - login.created_at == timedelta(hours=12)
    login.expires_at = utcnow() - timedelta(seconds=1)
    session.add(login)
    session.commit()
    assert auth.authenticate(session, token=token) is None


def test_idle_and_absolute_limits_are_settings(session: Session, monkeypatch) -> None:
    set_settings(monkeypatch, session_idle_minutes=5, session_absolute_hours=2)
    user = make_user(session)
    token = sign_in(session, user)
    login = session.exec(select(LoginSession)).one()
    assert login.expires_at - login.created_at == timedelta(hours=2)
    login.last_seen_at = utcnow() - timedelta(minutes=6)
    session.add(login)
    session.commit()
    assert auth.authenticate(session, token=token) is None


def test_sign_out_revokes_the_token_everywhere(session: Session) -> None:
    user = make_user(session)
    token = sign_in(session, user)
    other = sign_in(session, user)
    auth.sign_out(session, token=token)
    assert auth.authenticate(session, token=token) is None
    assert auth.authenticate(session, token=other) is not None
    assert _events(session, "auth.sign_out")


def test_user_lists_and_ends_own_sessions_only(session: Session) -> None:
    user = make_user(session)
    intruder = make_user(session, phone=mobile(77))
    token_a = sign_in(session, user)
    sign_in(session, user)
    theirs = sign_in(session, intruder)
    mine = auth.list_sessions(session, actor=user)
    assert len(mine) == 2
    their_login = auth.current_login(session, token=theirs)
    with pytest.raises(NotFound):
        auth.end_session(session, actor=user, login_session_id=their_login.id)
    with pytest.raises(PermissionDenied):
        auth.list_sessions(session, actor=user, user_id=intruder.id)
    auth.end_session(
        session, actor=user, login_session_id=auth.current_login(session, token=token_a).id
    )
    assert auth.authenticate(session, token=token_a) is None
    assert len(auth.list_sessions(session, actor=user)) == 1


def test_admin_ends_all_sessions_of_a_user(session: Session) -> None:
    admin = make_admin(session)
    user = make_user(session)
    tokens = [sign_in(session, user) for _ in range(2)]
    assert auth.end_all_sessions(session, actor=admin, user_id=user.id) == 2
    assert all(auth.authenticate(session, token=t) is None for t in tokens)
    doctor = make_user(session, phone=mobile(55))
    with pytest.raises(PermissionDenied):
        auth.end_all_sessions(session, actor=doctor, user_id=user.id)


def test_password_reset_link_is_single_use_and_keeps_the_second_factor(session: Session) -> None:
    user = make_user(session)
    old_token = sign_in(session, user)
    auth.request_password_reset(session, email=user.email)
    mail = session.exec(
        select(OutboxMessage).where(OutboxMessage.subject.contains("réinitialisation"))
    ).one()
    reset_token = mail.body.split("token=", 1)[1].split()[0]
    auth.reset_password(session, token=reset_token, new_password="Nouvelle-Phrase-De-Passe-7")
    with pytest.raises(AuthFailed, match="plus valable"):
        auth.reset_password(session, token=reset_token, new_password="Encore-Une-Autre-Phrase-8")
    assert auth.authenticate(session, token=old_token) is None
    step = auth.begin_sign_in(session, email=user.email, password="Nouvelle-Phrase-De-Passe-7")
    assert step.channel == "sms"  # the code is still required


def test_password_reset_expires_after_an_hour(session: Session) -> None:
    from rcp.models import PasswordResetToken

    user = make_user(session)
    auth.request_password_reset(session, email=user.email)
    mail = session.exec(
        select(OutboxMessage).where(OutboxMessage.subject.contains("réinitialisation"))
    ).one()
    reset_token = mail.body.split("token=", 1)[1].split()[0]
    row = session.exec(select(PasswordResetToken)).one()
    assert row.expires_at - row.created_at == timedelta(hours=1)
    row.expires_at = utcnow() - timedelta(seconds=1)
    session.add(row)
    session.commit()
    with pytest.raises(AuthFailed):
        auth.check_reset_token(session, token=reset_token)


def test_password_reset_for_unknown_email_sends_nothing(session: Session) -> None:
    auth.request_password_reset(session, email="inconnu@chu.example")
    assert session.exec(select(OutboxMessage)).all() == []


def test_change_password_checks_the_current_one_and_ends_other_sessions(session: Session) -> None:
    user = make_user(session)
    current = sign_in(session, user)
    other = sign_in(session, user)
    with pytest.raises(InvalidInput, match="actuel est incorrect"):
        auth.change_password(
            session,
            actor=user,
            current_password="faux-faux-faux",
            new_password="Nouvelle-Phrase-De-Passe-7",
            keep_token=current,
        )
    with pytest.raises(InvalidInput, match="12 caractères"):
        auth.change_password(
            session, actor=user, current_password=PASSWORD, new_password="court", keep_token=current
        )
    auth.change_password(
        session,
        actor=user,
        current_password=PASSWORD,
        new_password="Nouvelle-Phrase-De-Passe-7",
        keep_token=current,
    )
    assert auth.authenticate(session, token=current) is not None
    assert auth.authenticate(session, token=other) is None
    assert _events(session, "auth.password_changed")


def test_phone_change_is_confirmed_by_a_code_sent_to_the_new_number(session: Session) -> None:
    user = make_user(session, phone=mobile(11))
    new = mobile(12)
    step = auth.request_phone_change(session, actor=user, new_phone=new, password=PASSWORD)
    assert session.get(User, user.id).phone == mobile(11)  # not yet
    with pytest.raises(AuthFailed):
        auth.confirm_phone_change(
            session,
            actor=user,
            challenge_id=step.challenge_id,
            code=f"{(int(last_sms_code(session, new)) + 1) % 10**6:06d}",
        )
    auth.confirm_phone_change(
        session, actor=user, challenge_id=step.challenge_id, code=last_sms_code(session, new)
    )
    assert session.get(User, user.id).phone == new
    assert _events(session, "account.phone_changed")


def test_phone_change_needs_the_password(session: Session) -> None:
    user = make_user(session)
    with pytest.raises(InvalidInput, match="mot de passe"):
        auth.request_phone_change(session, actor=user, new_phone=mobile(13), password="faux")


def _enrol_totp(session: Session, user: User) -> pyotp.TOTP:
    uri = auth.begin_totp_enrolment(session, actor=user)
    totp = pyotp.parse_uri(uri)
    auth.confirm_totp_enrolment(session, actor=user, code=totp.now())
    return totp


def test_totp_replaces_the_sms_and_a_code_cannot_be_replayed(session: Session) -> None:
    user = make_user(session)
    totp = _enrol_totp(session, user)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    assert step.channel == "totp"
    assert session.exec(select(OutboxMessage).where(OutboxMessage.channel == "sms")).all() == []
    code = totp.now()
    handoff = auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=code)
    assert handoff
    step2 = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    with pytest.raises(AuthFailed, match="Code incorrect"):
        auth.verify_sign_in_code(session, challenge_id=step2.challenge_id, code=code)


def test_totp_user_may_still_ask_for_an_sms(session: Session) -> None:
    user = make_user(session)
    _enrol_totp(session, user)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    step = auth.resend_code(session, challenge_id=step.challenge_id)
    assert step.channel == "sms"
    assert auth.verify_sign_in_code(
        session, challenge_id=step.challenge_id, code=last_sms_code(session, user.phone)
    )


def test_totp_enrolment_needs_a_valid_first_code(session: Session) -> None:
    user = make_user(session)
    auth.begin_totp_enrolment(session, actor=user)
    with pytest.raises(InvalidInput, match="Code incorrect"):
        auth.confirm_totp_enrolment(session, actor=user, code="000000" if True else "")
    assert session.get(User, user.id).totp_secret is None


def test_admin_reset_of_second_factor_brings_back_sms(session: Session) -> None:
    admin = make_admin(session)
    user = make_user(session)
    _enrol_totp(session, user)
    accounts.reset_second_factor(session, actor=admin, user_id=user.id)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    assert step.channel == "sms"


def test_demo_sms_peek_is_refused_outside_demo_mode(session: Session) -> None:
    user = make_user(session)
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    with pytest.raises(PermissionDenied):
        auth.demo_last_sms(session, challenge_id=step.challenge_id)
