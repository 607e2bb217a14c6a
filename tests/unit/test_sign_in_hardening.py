"""Sign-in hardening re-checked end to end: what tests/unit/test_auth.py does not cover yet.

(test_auth.py covers code single use, TOTP replay, password lock and its audit, idle and
absolute expiry, sign-out, password change and reset ending sessions.)
"""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from rcp import accounts, auth
from rcp.errors import AccountLocked, AuthFailed
from rcp.models import AuditEvent, LoginSession
from tests.conftest import set_settings
from tests.factories import PASSWORD, last_sms_code, make_admin, make_user, mobile, sign_in


def test_session_tokens_are_long_random_and_stored_only_as_a_keyed_hash(
    session: Session,
) -> None:
    user = make_user(session, phone=mobile(1))
    tokens = [sign_in(session, user) for _ in range(5)]  # 5 codes per window
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        # secrets.token_urlsafe(32): 43 URL-safe characters, 256 bits from the OS generator.
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", token)
    stored = session.exec(select(LoginSession.token_hash)).all()
    assert not set(tokens) & set(stored)
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in stored)
    # No two tokens share a long prefix (they are not counters or timestamps).
    prefixes = {t[:8] for t in tokens}
    assert len(prefixes) == len(tokens)


def test_a_token_altered_by_one_character_is_refused(session: Session) -> None:
    user = make_user(session, phone=mobile(2))
    token = sign_in(session, user)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert auth.authenticate(session, token=token) is not None
    assert auth.authenticate(session, token=flipped) is None
    assert auth.authenticate(session, token="") is None


def test_a_stolen_database_row_is_no_token(session: Session, monkeypatch) -> None:
    """The stored hash is keyed with the secret key: presenting it as a token fails."""
    user = make_user(session, phone=mobile(3))
    sign_in(session, user)
    stored = session.exec(select(LoginSession.token_hash)).one()
    assert auth.authenticate(session, token=stored) is None


def test_changing_the_secret_key_ends_every_session(session: Session, monkeypatch) -> None:
    user = make_user(session, phone=mobile(4))
    token = sign_in(session, user)
    set_settings(monkeypatch, secret_key="another-secret-key-after-a-leak-0123456789")
    assert auth.authenticate(session, token=token) is None


def test_a_code_sent_for_one_challenge_is_refused_on_another(session: Session) -> None:
    user = make_user(session, phone=mobile(5))
    first = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    first_code = last_sms_code(session, user.phone)
    other = make_user(session, phone=mobile(6))
    second = auth.begin_sign_in(session, email=other.email, password=PASSWORD)
    with pytest.raises(AuthFailed):
        auth.verify_sign_in_code(session, challenge_id=second.challenge_id, code=first_code)
    assert auth.verify_sign_in_code(session, challenge_id=first.challenge_id, code=first_code)


def test_a_used_code_replayed_after_sign_in_is_refused(session: Session) -> None:
    user = make_user(session, phone=mobile(7))
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    code = last_sms_code(session, user.phone)
    handoff = auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=code)
    auth.complete_sign_in(session, handoff=handoff)
    with pytest.raises(AuthFailed):
        auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=code)
    with pytest.raises(AuthFailed):
        auth.complete_sign_in(session, handoff=handoff)


def test_brute_force_on_codes_locks_the_account_and_the_lock_is_audited(
    session: Session,
) -> None:
    user = make_user(session, phone=mobile(8))
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    good = last_sms_code(session, user.phone)
    bad = f"{(int(good) + 1) % 1_000_000:06d}"
    outcomes = []
    for _ in range(6):
        try:
            auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=bad)
        except AuthFailed as error:
            outcomes.append(type(error).__name__)
    assert outcomes == ["AuthFailed"] * 4 + ["AccountLocked"] * 2
    with pytest.raises(AccountLocked):  # even the right code, while locked
        auth.verify_sign_in_code(session, challenge_id=step.challenge_id, code=good)
    locks = session.exec(select(AuditEvent).where(AuditEvent.action == "auth.locked")).all()
    assert [e.target_id for e in locks] == [user.id]


def test_disabling_an_account_ends_its_sessions(session: Session) -> None:
    user = make_user(session, phone=mobile(9))
    token = sign_in(session, user)
    accounts.disable(session, actor=make_admin(session), user_id=user.id)
    assert auth.authenticate(session, token=token) is None


def test_password_change_ends_the_other_sessions_but_keeps_the_current_one(
    session: Session,
) -> None:
    user = make_user(session, phone=mobile(10))
    here, elsewhere = sign_in(session, user), sign_in(session, user)
    auth.change_password(
        session,
        actor=user,
        current_password=PASSWORD,
        new_password="Une-Autre-Phrase-Solide-3",
        keep_token=here,
    )
    assert auth.authenticate(session, token=elsewhere) is None
    assert auth.authenticate(session, token=here) is not None
