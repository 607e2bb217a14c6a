"""Sign-in locks that an outsider cannot turn against a doctor, and that still stop guessing.

Failures typed in a browser that has signed in to the account before (its ``rcp_browser``
cookie) lock that browser only; failures from anywhere else lock the account for every browser
it does not know. A locked account costs no password hash, and password hashes never take more
than their share of the server (issue 14: "anyone can lock any account for 15 minutes", "6
anonymous connections slowed another user's page to 6 s").
"""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from rcp import accounts, auth, security
from rcp.errors import AccountLocked, AuthFailed, RateLimited
from rcp.models import AuditEvent, OutboxMessage
from tests.conftest import set_settings
from tests.factories import PASSWORD, last_sms_code, make_admin, make_user

DOCTORS_BROWSER = "cle-du-navigateur-du-medecin-0123456789abcdef"
NEW_PASSWORD = "Nouvelle-phrase-de-passe-2026"


def _sign_in_from(session: Session, user, browser_key: str, *, ip: str = "192.0.2.10") -> str:
    step = auth.begin_sign_in(
        session, email=user.email, password=PASSWORD, ip_address=ip, browser_key=browser_key
    )
    handoff = auth.verify_sign_in_code(
        session,
        challenge_id=step.challenge_id,
        code=last_sms_code(session, user.phone),
        browser_key=browser_key,
    )
    _login, token = auth.complete_sign_in(session, handoff=handoff, browser_key=browser_key)
    return token


def _outsider_fails(session: Session, email: str, times: int, *, key: str = "") -> list[str]:
    outcomes = []
    for attempt in range(times):
        try:
            auth.begin_sign_in(
                session,
                email=email,
                password="pas-le-bon-mot-de-passe",
                ip_address=f"203.0.113.{attempt + 1}",  # a new address each time
                browser_key=key,
            )
        except AuthFailed as error:
            outcomes.append(type(error).__name__)
    return outcomes


def test_an_outsiders_wrong_passwords_do_not_lock_the_doctors_own_browser(
    session: Session,
) -> None:
    doctor = make_user(session)
    _sign_in_from(session, doctor, DOCTORS_BROWSER)
    # From many addresses and no known browser: the account locks for unknown browsers.
    outcomes = _outsider_fails(session, doctor.email, 7)
    assert outcomes == ["AuthFailed"] * 4 + ["AccountLocked"] * 3
    # Guessing stays impossible: even the right password from an unknown browser is refused.
    with pytest.raises(AccountLocked, match="navigateur inconnu"):
        auth.begin_sign_in(
            session, email=doctor.email, password=PASSWORD, browser_key="autre-navigateur"
        )
    # The doctor's own browser signs in as usual, second factor included.
    assert auth.authenticate(session, token=_sign_in_from(session, doctor, DOCTORS_BROWSER))


def test_failures_in_a_known_browser_lock_that_browser_only(session: Session) -> None:
    doctor = make_user(session)
    _sign_in_from(session, doctor, DOCTORS_BROWSER)
    outcomes = _outsider_fails(session, doctor.email, 6, key=DOCTORS_BROWSER)
    assert outcomes == ["AuthFailed"] * 4 + ["AccountLocked"] * 2
    with pytest.raises(AccountLocked, match="depuis ce navigateur"):
        auth.begin_sign_in(
            session, email=doctor.email, password=PASSWORD, browser_key=DOCTORS_BROWSER
        )
    # Another browser is not held by that lock (only the password and the code guard it).
    assert auth.begin_sign_in(session, email=doctor.email, password=PASSWORD).challenge_id
    # An admin's "Débloquer" frees the known browser too.
    accounts.unlock(session, actor=make_admin(session), user_id=doctor.id)
    assert _sign_in_from(session, doctor, DOCTORS_BROWSER)


def test_wrong_codes_in_a_known_browser_lock_that_browser_only(session: Session) -> None:
    doctor = make_user(session)
    _sign_in_from(session, doctor, DOCTORS_BROWSER)
    step = auth.begin_sign_in(
        session, email=doctor.email, password=PASSWORD, browser_key=DOCTORS_BROWSER
    )
    good = last_sms_code(session, doctor.phone)
    bad = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(4):
        with pytest.raises(AuthFailed, match="Code incorrect"):
            auth.verify_sign_in_code(
                session, challenge_id=step.challenge_id, code=bad, browser_key=DOCTORS_BROWSER
            )
    with pytest.raises(AccountLocked, match="depuis ce navigateur"):
        auth.verify_sign_in_code(
            session, challenge_id=step.challenge_id, code=bad, browser_key=DOCTORS_BROWSER
        )
    assert auth.begin_sign_in(session, email=doctor.email, password=PASSWORD).challenge_id


def test_a_reset_link_opened_in_a_browser_lets_it_past_the_accounts_lock(
    session: Session,
) -> None:
    """A doctor on a new computer while someone guesses: 'Mot de passe oublié' frees it."""
    doctor = make_user(session)
    _outsider_fails(session, doctor.email, 5)
    new_computer = "cle-du-nouveau-poste-0123456789abcdef"
    with pytest.raises(AccountLocked, match="Mot de passe oublié"):
        auth.begin_sign_in(session, email=doctor.email, password=PASSWORD, browser_key=new_computer)
    auth.request_password_reset(session, email=doctor.email)  # no SMTP: in the outbox
    mail = session.exec(
        select(OutboxMessage).where(OutboxMessage.to == doctor.email).order_by(OutboxMessage.id)
    ).all()[-1]
    token = mail.body.split("token=")[1].split()[0]
    auth.reset_password(session, token=token, new_password=NEW_PASSWORD, browser_key=new_computer)
    step = auth.begin_sign_in(
        session, email=doctor.email, password=NEW_PASSWORD, browser_key=new_computer
    )
    assert step.challenge_id
    # Every other unknown browser stays locked.
    with pytest.raises(AccountLocked):
        auth.begin_sign_in(session, email=doctor.email, password=NEW_PASSWORD)


def test_a_locked_account_costs_no_password_hash_and_counts_against_the_address(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_settings(monkeypatch, sign_in_failures_per_address=8)
    doctor = make_user(session)
    attacker = "198.51.100.9"
    for _ in range(5):
        with pytest.raises(AuthFailed):
            auth.begin_sign_in(session, email=doctor.email, password="mauvais", ip_address=attacker)
    calls: list[str] = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda *a: calls.append("hash") or real(*a))
    for _ in range(3):
        with pytest.raises(AccountLocked):
            auth.begin_sign_in(session, email=doctor.email, password="mauvais", ip_address=attacker)
    assert calls == []
    # Unknown emails "lock" the same way, also without a hash (no timing difference).
    for _ in range(5):
        with pytest.raises(AuthFailed):
            auth.begin_sign_in(session, email="personne@chu.example", password="x" * 12)
    calls.clear()
    with pytest.raises(AccountLocked):
        auth.begin_sign_in(session, email="personne@chu.example", password="x" * 12)
    assert calls == []
    # 5 failures + 3 locked attempts = 8 from that address: it now waits, before any hash.
    with pytest.raises(RateLimited, match="depuis votre réseau"):
        auth.begin_sign_in(session, email="autre@chu.example", password="y", ip_address=attacker)
    assert calls == []


def test_a_malformed_email_counts_against_the_address(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_settings(monkeypatch, sign_in_failures_per_address=3)
    for _ in range(3):
        with pytest.raises(AuthFailed):
            auth.begin_sign_in(session, email="pas une adresse", password="x", ip_address="::9")
    with pytest.raises(RateLimited):
        auth.begin_sign_in(session, email="pas une adresse", password="x", ip_address="::9")
    stored = session.exec(select(AuditEvent).where(AuditEvent.ip_address == "::9")).all()
    assert all("pas une adresse" not in str(e.details) for e in stored)


def test_password_hashes_wait_for_a_free_slot_and_give_up_in_french(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One hash at a time by default: a second one waits, and past the wait is refused."""
    set_settings(monkeypatch, password_hash_concurrency=1, password_hash_wait_seconds=0)
    hasher, dummy = security._hasher()
    inside = threading.Event()
    release = threading.Event()

    class HeldHasher:
        """The real hasher, but the first verify waits until the test lets it finish."""

        def verify(self, *args: object) -> bool:
            inside.set()
            release.wait(timeout=30)
            return hasher.verify(*args)

    monkeypatch.setattr(security, "_hasher", lambda: (HeldHasher(), dummy))
    first = threading.Thread(target=security.verify_password, args=(None, "x"))
    first.start()
    try:
        assert inside.wait(timeout=30)
        with pytest.raises(RateLimited, match="très sollicité"):
            security.verify_password(None, "y")
        with pytest.raises(RateLimited, match="très sollicité"):
            security.hash_password("y" * 12)
    finally:
        release.set()
        first.join(timeout=30)
    monkeypatch.undo()
    # Once the slot is free again, hashing works.
    assert security.verify_password(security.hash_password("z" * 12), "z" * 12)
