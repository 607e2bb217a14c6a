"""Sign-in with a password and a one-time code (SMS or authenticator app), and login sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlmodel import Session, col, func, select

from rcp import audit, i18n, notify
from rcp.config import get_settings
from rcp.errors import (
    AccountLocked,
    AuthFailed,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
)
from rcp.i18n import N_, _
from rcp.models import (
    AuditEvent,
    KnownBrowser,
    LoginSession,
    OtpChallenge,
    OtpChannel,
    OtpPurpose,
    PasswordResetToken,
    User,
    UserStatus,
    utcnow,
)
from rcp.permissions import is_admin, require_active
from rcp.security import (
    code_hash,
    constant_time_equals,
    hash_password,
    new_code,
    new_token,
    token_hash,
    verify_password,
)
from rcp.validation import check_password_strength, mask_phone, normalize_email, normalize_mobile

GENERIC_FAILURE = N_("Adresse e-mail ou mot de passe incorrect.")
WRONG_CODE = N_("Code incorrect. Vérifiez le dernier code reçu et réessayez.")
# Touching last_seen_at on every rerun would write on every click; a minute is precise enough
# for a 30-minute idle limit.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SignInStep:
    """What the second step of the sign-in shows: where the code comes from."""

    challenge_id: int
    channel: OtpChannel
    masked_phone: str
    totp_available: bool
    expires_at: datetime


class AccountNotActive(AuthFailed):
    """Raised after a correct password when the account is pending, rejected or disabled."""


# --- helpers ---------------------------------------------------------------------------------


def _now() -> datetime:
    return utcnow()


def _find_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


# Who a lock applies to. Failures typed in a browser that has already signed in to the account
# (a KnownBrowser) count and lock for that browser only; failures from anywhere else count
# together and lock the account for every browser it does not know. So an outsider's wrong
# passwords never stop the doctor's own browser, while guesses stay limited to
# ``max_failures`` per ``lockout_minutes`` per account, whatever the number of addresses.
LockHolder = User | KnownBrowser


def _browser_hash(browser_key: str) -> str:
    return token_hash(f"browser:{browser_key}")


def _known_browser(session: Session, user: User, browser_key: str) -> KnownBrowser | None:
    """The row of this browser for ``user`` if it has signed in to that account before."""
    if not browser_key or user.id is None:
        return None
    return session.exec(
        select(KnownBrowser).where(
            KnownBrowser.user_id == user.id, KnownBrowser.key_hash == _browser_hash(browser_key)
        )
    ).first()


def _remember_browser(session: Session, user: User, browser_key: str, now: datetime) -> None:
    """Record that ``browser_key`` proved it belongs to ``user`` (no commit)."""
    if not browser_key:
        return
    known = _known_browser(session, user, browser_key)
    if known is None:
        known = KnownBrowser(
            user_id=user.id,  # type: ignore[arg-type]
            key_hash=_browser_hash(browser_key),
            created_at=now,
        )
    known.last_used_at = now
    known.failed_attempts = 0
    known.locked_until = None
    session.add(known)


def _is_locked(holder: LockHolder, now: datetime) -> bool:
    return holder.locked_until is not None and holder.locked_until > now


def _register_failure(
    session: Session,
    user: User,
    action: str,
    now: datetime,
    *,
    holder: LockHolder | None = None,
    ip_address: str = "",
    **details: str,
) -> bool:
    """Count a failed password or code; returns True when this failure locks ``holder``.

    ``holder`` is the user (every unknown browser) or the KnownBrowser the failure came from.
    """
    settings = get_settings()
    holder = user if holder is None else holder
    scope = "browser" if isinstance(holder, KnownBrowser) else "account"
    holder.failed_attempts += 1
    audit.record(
        session,
        action,
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        ip_address=ip_address,
        ip=ip_address,
        scope=scope,
        **details,
    )
    locked = holder.failed_attempts >= settings.max_failures
    if locked:
        holder.locked_until = now + timedelta(minutes=settings.lockout_minutes)
        holder.failed_attempts = 0
        audit.record(
            session,
            "auth.locked",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            scope=scope,
        )
    session.add(holder)
    session.commit()
    return locked


def _lock_message(holder: LockHolder | None = None) -> str:
    minutes = get_settings().lockout_minutes
    if isinstance(holder, KnownBrowser):
        return _(
            "Trop de tentatives infructueuses depuis ce navigateur : par sécurité, la connexion "
            "y est bloquée pendant {minutes} minutes. Réessayez plus tard ou contactez le "
            "support."
        ).format(minutes=minutes)
    return _(
        "Trop de tentatives infructueuses : par sécurité, la connexion à ce compte depuis un "
        "navigateur inconnu est bloquée pendant {minutes} minutes. Depuis un navigateur où "
        "vous vous êtes déjà connecté (votre poste habituel), la connexion reste possible. "
        "Sinon, réessayez plus tard, ou demandez un lien par « Mot de passe oublié ? » : ouvert "
        "dans ce navigateur, il le débloque."
    ).format(minutes=minutes)


def _sms_quota_check(session: Session, user: User, now: datetime) -> None:
    settings = get_settings()
    window_start = now - timedelta(minutes=settings.code_window_minutes)
    sent = session.exec(
        select(func.coalesce(func.sum(OtpChallenge.send_count), 0)).where(
            OtpChallenge.user_id == user.id, OtpChallenge.created_at >= window_start
        )
    ).one()
    if sent >= settings.max_codes_per_window:
        raise RateLimited(
            _(
                "Trop de codes envoyés : attendez {minutes} minutes avant d'en demander un nouveau."
            ).format(minutes=settings.code_window_minutes)
        )


def _send_code(
    session: Session, challenge: OtpChallenge, phone: str, now: datetime, *, user: User
) -> None:
    settings = get_settings()
    code = new_code()
    assert challenge.id is not None
    challenge.code_hash = code_hash(challenge.id, code)
    challenge.sent_at = now
    challenge.send_count += 1
    challenge.expires_at = now + timedelta(minutes=settings.sms_code_ttl_minutes)
    challenge.attempts = 0
    # The default template is in the catalogue; one an operator wrote is sent as written.
    with i18n.using(i18n.recipient_language(user)):
        body = _(settings.sms_body_template).format(
            code=code, platform=settings.platform_name, minutes=settings.sms_code_ttl_minutes
        )
    notify.send_sms(session, to=phone, body=body)


def _step(challenge: OtpChallenge, user: User) -> SignInStep:
    assert challenge.id is not None
    return SignInStep(
        challenge_id=challenge.id,
        channel=OtpChannel(challenge.channel),
        masked_phone=mask_phone(challenge.target_phone or user.phone),
        totp_available=bool(user.totp_secret),
        expires_at=challenge.expires_at,
    )


def _check_code_format(code: str) -> str:
    cleaned = "".join((code or "").split())
    if not (len(cleaned) == 6 and cleaned.isdigit()):
        raise InvalidInput(_("Le code comporte 6 chiffres."), field="code")
    return cleaned


def _verify_totp(user: User, code: str, now: datetime) -> bool:
    """Accept the current, previous or next 30-second code, each at most once (no replay)."""
    if not user.totp_secret:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    current = int(now.timestamp()) // totp.interval
    for counter in (current, current - 1, current + 1):
        if user.totp_last_counter is not None and counter <= user.totp_last_counter:
            continue
        if constant_time_equals(totp.at(counter * totp.interval), code):
            user.totp_last_counter = counter
            return True
    return False


# --- sign-in ---------------------------------------------------------------------------------


# What counts against a client address: wrong passwords, and attempts on a locked account
# (answered without a password hash, but still someone trying).
ADDRESS_FAILURES = ("auth.sign_in_failed", "auth.locked_attempt")


def _throttle_address(session: Session, ip_address: str, now: datetime) -> None:
    """Refuse, before any password is checked, a client address with too many recent failures.

    Per account, failures lock the account; per address, they stop one client from trying
    many accounts (or spending the server's CPU on password hashes) without locking anyone
    else out. The limit is high: a hospital's doctors may share one address.
    """
    if not ip_address:
        return
    settings = get_settings()
    since = now - timedelta(minutes=settings.lockout_minutes)
    failures = session.exec(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            col(AuditEvent.action).in_(ADDRESS_FAILURES),
            AuditEvent.ip_address == ip_address[:64],
            AuditEvent.created_at >= since,
        )
    ).one()
    if failures >= settings.sign_in_failures_per_address:
        audit.record(session, "auth.address_throttled", actor_id=None, ip_address=ip_address)
        session.commit()
        raise RateLimited(
            _(
                "Trop de tentatives de connexion infructueuses depuis votre réseau : réessayez "
                "dans {minutes} minutes, ou contactez le support."
            ).format(minutes=settings.lockout_minutes)
        )


def begin_sign_in(
    session: Session,
    *,
    email: str,
    password: str,
    ip_address: str = "",
    browser_key: str = "",
) -> SignInStep:
    """First step: check the password, then send an SMS code (or expect an app code).

    Raises ``AuthFailed`` with one message for an unknown email and a wrong password, so the
    answer never reveals whether an account exists; ``AccountLocked`` after too many failures:
    for this browser only if it has signed in to the account before (``browser_key``, the
    ``rcp_browser`` cookie), for every unknown browser otherwise. A browser the account
    knows is not held by the per-address limit either. A locked account, or an unknown email
    "locked" the same way, is answered without computing a password hash.
    """
    settings = get_settings()
    now = _now()
    try:
        email = normalize_email(email)
    except InvalidInput:
        _throttle_address(session, ip_address, now)
        verify_password(None, password)
        # Counted against the address; the typed value is not stored (it may be a password).
        audit.record(
            session, "auth.sign_in_failed", actor_id=None, ip_address=ip_address, ip=ip_address
        )
        session.commit()
        raise AuthFailed(_(GENERIC_FAILURE)) from None
    user = _find_user_by_email(session, email)
    known = _known_browser(session, user, browser_key) if user is not None else None
    if known is None:
        _throttle_address(session, ip_address, now)
    if user is None:
        window = now - timedelta(minutes=settings.lockout_minutes)
        failures = audit.count_since(session, "auth.sign_in_failed", window, email=email)
        # Unknown emails "lock" like real ones, or the lock message would reveal accounts.
        if failures >= settings.max_failures:
            audit.record(
                session,
                "auth.locked_attempt",
                actor_id=None,
                ip_address=ip_address,
                email=email,
                ip=ip_address,
            )
            session.commit()
            raise AccountLocked(_lock_message())
        verify_password(None, password)
        audit.record(
            session,
            "auth.sign_in_failed",
            actor_id=None,
            ip_address=ip_address,
            email=email,
            ip=ip_address,
        )
        session.commit()
        if failures + 1 >= settings.max_failures:
            raise AccountLocked(_lock_message())
        raise AuthFailed(_(GENERIC_FAILURE))
    holder: LockHolder = known if known is not None else user
    if _is_locked(holder, now):
        audit.record(
            session,
            "auth.locked_attempt",
            actor_id=user.id,
            target_type="user",
            target_id=user.id,
            ip_address=ip_address,
            ip=ip_address,
            scope="browser" if known is not None else "account",
        )
        session.commit()
        raise AccountLocked(_lock_message(holder))
    if not verify_password(user.password_hash, password):
        locked = _register_failure(
            session,
            user,
            "auth.sign_in_failed",
            now,
            holder=holder,
            ip_address=ip_address,
            email=email,
        )
        if locked:
            raise AccountLocked(_lock_message(holder))
        raise AuthFailed(_(GENERIC_FAILURE))
    if user.status == UserStatus.pending:
        raise AccountNotActive(
            _(
                "Votre inscription est en attente de validation par un administrateur. Vous "
                "recevrez un e-mail dès qu'elle sera validée."
            )
        )
    if user.status == UserStatus.rejected:
        reason = (
            _(" Motif : {reason}").format(reason=user.rejection_reason)
            if user.rejection_reason
            else ""
        )
        raise AccountNotActive(
            _(
                "Votre demande d'inscription a été refusée.{reason} Contactez le support si vous "
                "pensez qu'il s'agit d'une erreur."
            ).format(reason=reason)
        )
    if user.status == UserStatus.disabled:
        raise AccountNotActive(
            _("Votre compte est désactivé. Contactez un administrateur de la plateforme.")
        )
    channel = OtpChannel.totp if user.totp_secret else OtpChannel.sms
    challenge = OtpChallenge(
        user_id=user.id,  # type: ignore[arg-type]
        purpose=OtpPurpose.sign_in,
        channel=channel,
        target_phone=user.phone,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.sms_code_ttl_minutes),
    )
    if channel == OtpChannel.sms:
        _sms_quota_check(session, user, now)
    session.add(challenge)
    session.flush()
    if channel == OtpChannel.sms:
        _send_code(session, challenge, user.phone, now, user=user)
    audit.record(
        session,
        "auth.password_ok",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        channel=str(channel),
        ip=ip_address,
    )
    session.commit()
    return _step(challenge, user)


def _open_challenge(session: Session, challenge_id: int, purpose: OtpPurpose) -> OtpChallenge:
    # FOR UPDATE: on PostgreSQL two requests could otherwise both read the code unused and both
    # pass (SQLite serialises transactions already; the clause is not emitted there).
    challenge = session.get(OtpChallenge, challenge_id, with_for_update=True)
    if challenge is None or challenge.purpose != purpose or challenge.used_at is not None:
        raise AuthFailed(_("Cette demande de code n'est plus valable. Recommencez la connexion."))
    return challenge


def resend_code(session: Session, *, challenge_id: int, browser_key: str = "") -> SignInStep:
    """Send a new SMS code for a pending sign-in (also to switch from the app to SMS)."""
    settings = get_settings()
    now = _now()
    challenge = _open_challenge(session, challenge_id, OtpPurpose.sign_in)
    user = session.get(User, challenge.user_id)
    assert user is not None
    holder: LockHolder = _known_browser(session, user, browser_key) or user
    if _is_locked(holder, now):
        raise AccountLocked(_lock_message(holder))
    if challenge.sent_at is not None:
        wait = settings.code_resend_seconds - (now - challenge.sent_at).total_seconds()
        if wait > 0:
            raise RateLimited(
                _(
                    "Un code vient d'être envoyé. Patientez {seconds} secondes avant d'en "
                    "demander un autre."
                ).format(seconds=int(wait) + 1)
            )
    _sms_quota_check(session, user, now)
    challenge.channel = OtpChannel.sms
    _send_code(session, challenge, challenge.target_phone or user.phone, now, user=user)
    session.add(challenge)
    audit.record(
        session, "auth.code_resent", actor_id=user.id, target_type="user", target_id=user.id
    )
    session.commit()
    return _step(challenge, user)


def _check_challenge_code(
    session: Session,
    challenge: OtpChallenge,
    user: User,
    code: str,
    now: datetime,
    known: KnownBrowser | None = None,
) -> None:
    """Raise unless ``code`` answers ``challenge``; failures count towards the lock.

    The lock is this browser's if the account knows it (``known``), the account's otherwise.
    """
    holder: LockHolder = known if known is not None else user
    if _is_locked(holder, now):
        raise AccountLocked(_lock_message(holder))
    code = _check_code_format(code)
    if challenge.channel == OtpChannel.sms and challenge.expires_at <= now:
        raise AuthFailed(_("Ce code a expiré. Demandez un nouveau code avec « Renvoyer le code »."))
    if challenge.channel == OtpChannel.totp:
        ok = _verify_totp(user, code, now)
    else:
        assert challenge.id is not None
        ok = challenge.code_hash is not None and constant_time_equals(
            challenge.code_hash, code_hash(challenge.id, code)
        )
    if not ok:
        challenge.attempts += 1
        session.add(challenge)
        if _register_failure(
            session, user, "auth.code_failed", now, holder=holder, purpose=str(challenge.purpose)
        ):
            raise AccountLocked(_lock_message(holder))
        raise AuthFailed(_(WRONG_CODE))


def _handoff_hash(handoff: str, browser_key: str) -> str:
    return token_hash(f"{handoff}|{browser_key}")


def verify_sign_in_code(
    session: Session, *, challenge_id: int, code: str, browser_key: str = ""
) -> str:
    """Second step: check the code; returns a single-use hand-off code for the cookie route.

    The hand-off code (valid one minute) is what the browser carries to the HTTP route that
    sets the session cookie; the session token itself never passes through the page. It is
    bound to ``browser_key`` (the browser's ``rcp_browser`` cookie, see rcp.browser_key):
    ``complete_sign_in`` accepts it only with the same key, so a code cannot sign in another
    browser (login CSRF).
    """
    settings = get_settings()
    now = _now()
    challenge = _open_challenge(session, challenge_id, OtpPurpose.sign_in)
    user = session.get(User, challenge.user_id)
    assert user is not None
    known = _known_browser(session, user, browser_key)
    _check_challenge_code(session, challenge, user, code, now, known)
    if user.status != UserStatus.active:
        raise AccountNotActive(_("Votre compte n'est pas actif."))
    handoff = new_token()
    challenge.used_at = now
    challenge.handoff_hash = _handoff_hash(handoff, browser_key)
    challenge.handoff_expires_at = now + timedelta(seconds=settings.handoff_ttl_seconds)
    holder: LockHolder = known if known is not None else user
    # Neither is locked here (the check above refused it); a known browser's success leaves
    # the count of the unknown browsers' failures alone.
    holder.failed_attempts = 0
    session.add_all([challenge, holder])
    audit.record(
        session,
        "auth.second_factor_ok",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        channel=str(challenge.channel),
    )
    session.commit()
    return handoff


def complete_sign_in(
    session: Session,
    *,
    handoff: str,
    browser_key: str = "",
    user_agent: str = "",
    ip_address: str = "",
) -> tuple[LoginSession, str]:
    """Exchange the hand-off code for a login session; returns it and the cookie token.

    Only with the ``browser_key`` the code was bound to (see ``verify_sign_in_code``).
    """
    settings = get_settings()
    now = _now()
    challenge = session.exec(
        select(OtpChallenge)
        .where(OtpChallenge.handoff_hash == _handoff_hash(handoff or "", browser_key or ""))
        .with_for_update()  # single use on PostgreSQL too (see _open_challenge)
    ).first()
    if (
        challenge is None
        or challenge.handoff_used_at is not None
        or challenge.handoff_expires_at is None
        or challenge.handoff_expires_at <= now
    ):
        raise AuthFailed(_("Ce lien de connexion n'est plus valable. Connectez-vous à nouveau."))
    user = session.get(User, challenge.user_id)
    if user is None or user.status != UserStatus.active:
        raise AuthFailed(_("Votre compte n'est pas actif."))
    challenge.handoff_used_at = now
    token = new_token()
    login = LoginSession(
        user_id=user.id,  # type: ignore[arg-type]
        token_hash=token_hash(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
        user_agent=(user_agent or "")[:300],
        ip_address=(ip_address or "")[:64],
    )
    user.last_sign_in_at = now
    _remember_browser(session, user, browser_key, now)
    session.add_all([challenge, login, user])
    session.flush()
    audit.record(
        session,
        "auth.sign_in",
        actor_id=user.id,
        target_type="loginsession",
        target_id=login.id,
        ip=ip_address,
    )
    session.commit()
    return login, token


def authenticate(session: Session, *, token: str | None, touch: bool = True) -> User | None:
    """The active user behind a session token, or None (expired, revoked, unknown).

    ``touch`` records activity for the idle limit; background checks pass False so that an
    open tab alone does not keep a session alive.
    """
    if not token:
        return None
    settings = get_settings()
    now = _now()
    login = session.exec(
        select(LoginSession).where(LoginSession.token_hash == token_hash(token))
    ).first()
    if login is None or login.revoked_at is not None:
        return None
    reason = None
    if login.expires_at <= now:
        reason = "expired"
    elif now - login.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
        reason = "idle"
    user = session.get(User, login.user_id)
    if reason is None and (user is None or user.status != UserStatus.active):
        reason = "account_inactive"
    if reason is not None:
        login.revoked_at = now
        login.revoked_reason = reason
        session.add(login)
        audit.record(
            session,
            f"auth.session_{reason}",
            actor_id=login.user_id,
            target_type="loginsession",
            target_id=login.id,
        )
        session.commit()
        return None
    if touch and now - login.last_seen_at >= TOUCH_EVERY:
        login.last_seen_at = now
        session.add(login)
        session.commit()
    return user


def current_login(session: Session, *, token: str | None) -> LoginSession | None:
    if not token:
        return None
    return session.exec(
        select(LoginSession).where(LoginSession.token_hash == token_hash(token))
    ).first()


def sign_out(session: Session, *, token: str | None) -> None:
    """End the session behind ``token`` everywhere (every tab of every browser using it)."""
    login = current_login(session, token=token)
    if login is None or login.revoked_at is not None:
        return
    login.revoked_at = _now()
    login.revoked_reason = "sign_out"
    session.add(login)
    audit.record(
        session,
        "auth.sign_out",
        actor_id=login.user_id,
        target_type="loginsession",
        target_id=login.id,
    )
    session.commit()


def list_sessions(
    session: Session, *, actor: User, user_id: int | None = None
) -> list[LoginSession]:
    """Active sessions of ``user_id`` (default: the actor's own; others' for admins only)."""
    require_active(actor)
    user_id = actor.id if user_id is None else user_id
    if user_id != actor.id and not is_admin(actor):
        raise PermissionDenied(_("Vous ne pouvez voir que vos propres sessions."))
    now = _now()
    idle_limit = now - timedelta(minutes=get_settings().session_idle_minutes)
    return list(
        session.exec(
            select(LoginSession)
            .where(
                LoginSession.user_id == user_id,
                col(LoginSession.revoked_at).is_(None),
                LoginSession.expires_at > now,
                LoginSession.last_seen_at > idle_limit,
            )
            .order_by(col(LoginSession.last_seen_at).desc())
        ).all()
    )


def end_session(session: Session, *, actor: User, login_session_id: int) -> None:
    """End one session: one's own, or anyone's for an admin."""
    require_active(actor)
    login = session.get(LoginSession, login_session_id)
    if login is None or (login.user_id != actor.id and not is_admin(actor)):
        raise NotFound(_("Session introuvable."))
    if login.revoked_at is None:
        login.revoked_at = _now()
        login.revoked_reason = "ended_by_user" if login.user_id == actor.id else "ended_by_admin"
        session.add(login)
        audit.record(
            session,
            "auth.session_ended",
            actor_id=actor.id,
            target_type="loginsession",
            target_id=login.id,
            user_id=login.user_id,
        )
        session.commit()


def revoke_all_sessions(
    session: Session, user_id: int, *, reason: str, keep_login_id: int | None = None
) -> int:
    """Revoke every active session of a user (no commit: part of the caller's use case)."""
    now = _now()
    logins = session.exec(
        select(LoginSession).where(
            LoginSession.user_id == user_id, col(LoginSession.revoked_at).is_(None)
        )
    ).all()
    count = 0
    for login in logins:
        if login.id == keep_login_id:
            continue
        login.revoked_at = now
        login.revoked_reason = reason
        session.add(login)
        count += 1
    return count


def end_all_sessions(session: Session, *, actor: User, user_id: int) -> int:
    """End every session of a user: the user themself, or an admin."""
    require_active(actor)
    if user_id != actor.id and not is_admin(actor):
        raise PermissionDenied(
            _("Seul un administrateur peut mettre fin aux sessions d'un autre compte.")
        )
    count = revoke_all_sessions(
        session, user_id, reason="ended_by_admin" if user_id != actor.id else "ended_by_user"
    )
    audit.record(
        session,
        "auth.sessions_ended",
        actor_id=actor.id,
        target_type="user",
        target_id=user_id,
        count=count,
    )
    session.commit()
    return count


# --- passwords -------------------------------------------------------------------------------


def request_password_reset(session: Session, *, email: str, ip_address: str = "") -> None:
    """Email a single-use reset link if an active account has this email; silent otherwise."""
    settings = get_settings()
    now = _now()
    try:
        email = normalize_email(email)
    except InvalidInput:
        return
    user = _find_user_by_email(session, email)
    if user is None or user.status != UserStatus.active:
        audit.record(
            session, "auth.reset_requested_unknown", actor_id=None, email=email, ip=ip_address
        )
        session.commit()
        return
    recent = session.exec(
        select(func.count())
        .select_from(PasswordResetToken)
        .where(
            PasswordResetToken.user_id == user.id,
            PasswordResetToken.created_at >= now - timedelta(hours=1),
        )
    ).one()
    if recent >= 3:
        # Silently ignored: answering differently would reveal the account.
        return
    token = new_token()
    session.add(
        PasswordResetToken(
            user_id=user.id,  # type: ignore[arg-type]
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + timedelta(minutes=settings.reset_token_ttl_minutes),
        )
    )
    # i18n: exempt (a URL)
    link = f"{settings.base_url.rstrip('/')}/mot-de-passe-oublie?token={token}"
    with i18n.using(i18n.recipient_language(user)):
        notify.send_email(
            session,
            deferred=True,  # the answer must not take longer for a known address
            to=user.email,
            subject=_("{platform} : réinitialisation de votre mot de passe").format(
                platform=settings.platform_name
            ),
            body=_(
                "Bonjour {name},\n\n"
                "Une réinitialisation du mot de passe de votre compte a été demandée. Pour "
                "choisir un nouveau mot de passe, ouvrez ce lien (valable {minutes} minutes, "
                "utilisable une seule fois) :\n\n{link}\n\n"
                "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot "
                "de passe actuel reste valable.\n"
            ).format(name=user.display_name, minutes=settings.reset_token_ttl_minutes, link=link),
        )
    audit.record(
        session,
        "auth.reset_requested",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        ip=ip_address,
    )
    session.commit()


def _valid_reset_token(session: Session, token: str) -> PasswordResetToken:
    row = session.exec(
        select(PasswordResetToken)
        .where(PasswordResetToken.token_hash == token_hash(token or ""))
        .with_for_update()  # single use on PostgreSQL too (see _open_challenge)
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= _now():
        raise AuthFailed(
            _(
                "Ce lien de réinitialisation n'est plus valable (il a expiré ou a déjà servi). "
                "Faites une nouvelle demande."
            )
        )
    return row


def check_reset_token(session: Session, *, token: str) -> None:
    """Raise AuthFailed if the reset link is unknown, used or expired."""
    _valid_reset_token(session, token)


def reset_password(
    session: Session, *, token: str, new_password: str, browser_key: str = ""
) -> None:
    """Set a new password from a reset link; every session ends, the second factor remains.

    The browser that opened the emailed link (``browser_key``) becomes known to the account:
    a lock caused by failures elsewhere no longer stops it (see ``begin_sign_in``).
    """
    row = _valid_reset_token(session, token)
    user = session.get(User, row.user_id)
    assert user is not None
    check_password_strength(new_password, email=user.email, names=(user.last_name, user.first_name))
    now = _now()
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    row.used_at = now
    _remember_browser(session, user, browser_key, now)
    revoke_all_sessions(session, user.id, reason="password_reset")  # type: ignore[arg-type]
    session.add_all([user, row])
    _password_changed_notice(session, user)
    audit.record(
        session, "auth.password_reset", actor_id=user.id, target_type="user", target_id=user.id
    )
    session.commit()


def _password_changed_notice(session: Session, user: User) -> None:
    settings = get_settings()
    with i18n.using(i18n.recipient_language(user)):
        notify.send_email(
            session,
            to=user.email,
            subject=_("{platform} : votre mot de passe a été modifié").format(
                platform=settings.platform_name
            ),
            body=_(
                "Bonjour {name},\n\nLe mot de passe de votre compte vient d'être "
                "modifié. Si vous n'êtes pas à l'origine de ce changement, contactez "
                "immédiatement le support.\n"
            ).format(name=user.display_name),
        )


def change_password(
    session: Session,
    *,
    actor: User,
    current_password: str,
    new_password: str,
    keep_token: str | None = None,
) -> None:
    """Change one's password; other sessions end (the one in use is kept)."""
    require_active(actor)
    if not verify_password(actor.password_hash, current_password):
        raise InvalidInput(_("Le mot de passe actuel est incorrect."), field="current_password")
    if current_password == new_password:
        raise InvalidInput(
            _("Le nouveau mot de passe doit être différent de l'actuel."), field="new_password"
        )
    check_password_strength(
        new_password,
        email=actor.email,
        names=(actor.last_name, actor.first_name),
        field="new_password",
    )
    keep = current_login(session, token=keep_token)
    actor.password_hash = hash_password(new_password)
    actor.password_changed_at = _now()
    revoke_all_sessions(
        session,
        actor.id,
        reason="password_changed",  # type: ignore[arg-type]
        keep_login_id=keep.id if keep else None,
    )
    session.add(actor)
    _password_changed_notice(session, actor)
    audit.record(
        session, "auth.password_changed", actor_id=actor.id, target_type="user", target_id=actor.id
    )
    session.commit()


# --- phone number ----------------------------------------------------------------------------


def request_phone_change(
    session: Session, *, actor: User, new_phone: str, password: str
) -> SignInStep:
    """Send a code to the new mobile number; the change applies once the code is entered."""
    require_active(actor)
    if not verify_password(actor.password_hash, password):
        raise InvalidInput(_("Le mot de passe est incorrect."), field="password")
    phone = normalize_mobile(new_phone)
    if phone == actor.phone:
        raise InvalidInput(_("C'est déjà votre numéro actuel."), field="phone")
    now = _now()
    _sms_quota_check(session, actor, now)
    challenge = OtpChallenge(
        user_id=actor.id,  # type: ignore[arg-type]
        purpose=OtpPurpose.phone_change,
        channel=OtpChannel.sms,
        target_phone=phone,
        expires_at=now,
    )
    session.add(challenge)
    session.flush()
    _send_code(session, challenge, phone, now, user=actor)
    session.commit()
    return _step(challenge, actor)


def confirm_phone_change(session: Session, *, actor: User, challenge_id: int, code: str) -> None:
    require_active(actor)
    now = _now()
    challenge = _open_challenge(session, challenge_id, OtpPurpose.phone_change)
    if challenge.user_id != actor.id or not challenge.target_phone:
        raise NotFound(_("Demande introuvable."))
    _check_challenge_code(session, challenge, actor, code, now)
    old = actor.phone
    actor.phone = challenge.target_phone
    challenge.used_at = now
    actor.failed_attempts = 0
    session.add_all([actor, challenge])
    audit.record(
        session,
        "account.phone_changed",
        actor_id=actor.id,
        target_type="user",
        target_id=actor.id,
        old=mask_phone(old),
        new=mask_phone(actor.phone),
    )
    settings = get_settings()
    with i18n.using(i18n.recipient_language(actor)):
        notify.send_email(
            session,
            to=actor.email,
            subject=_("{platform} : numéro de portable modifié").format(
                platform=settings.platform_name
            ),
            body=_(
                "Bonjour {name},\n\nLe numéro de portable de votre compte est "
                "désormais {phone}. Si vous n'êtes pas à l'origine de ce "
                "changement, contactez immédiatement le support.\n"
            ).format(name=actor.display_name, phone=mask_phone(actor.phone)),
        )
    session.commit()


# --- authenticator app (TOTP) ----------------------------------------------------------------


def begin_totp_enrolment(session: Session, *, actor: User) -> str:
    """Start enrolling an authenticator app; returns the otpauth:// URI for the QR code."""
    require_active(actor)
    settings = get_settings()
    actor.totp_pending_secret = pyotp.random_base32()
    session.add(actor)
    session.commit()
    return pyotp.TOTP(actor.totp_pending_secret).provisioning_uri(
        name=actor.email, issuer_name=settings.platform_name
    )


def confirm_totp_enrolment(session: Session, *, actor: User, code: str) -> None:
    """Finish enrolment with a first code from the app, proving it was set up correctly."""
    require_active(actor)
    if not actor.totp_pending_secret:
        raise InvalidInput(_("Commencez par afficher le QR code."), field="code")
    code = _check_code_format(code)
    if not pyotp.TOTP(actor.totp_pending_secret).verify(code, valid_window=1):
        raise InvalidInput(
            _(
                "Code incorrect. Vérifiez que l'heure de votre téléphone est juste et saisissez le "
                "code affiché par l'application."
            ),
            field="code",
        )
    actor.totp_secret = actor.totp_pending_secret
    actor.totp_pending_secret = None
    actor.totp_last_counter = None
    session.add(actor)
    audit.record(
        session, "account.totp_enrolled", actor_id=actor.id, target_type="user", target_id=actor.id
    )
    session.commit()


def disable_totp(session: Session, *, actor: User, password: str) -> None:
    require_active(actor)
    if not verify_password(actor.password_hash, password):
        raise InvalidInput(_("Le mot de passe est incorrect."), field="password")
    actor.totp_secret = None
    actor.totp_pending_secret = None
    actor.totp_last_counter = None
    session.add(actor)
    audit.record(
        session, "account.totp_disabled", actor_id=actor.id, target_type="user", target_id=actor.id
    )
    session.commit()


def demo_last_sms(session: Session, *, challenge_id: int) -> str | None:
    """Demo mode only: the last SMS sent for a pending challenge (there is no phone)."""
    if not get_settings().demo_mode:
        raise PermissionDenied(_("Réservé à la plateforme de démonstration."))
    challenge = session.get(OtpChallenge, challenge_id)
    if challenge is None or challenge.used_at is not None or not challenge.target_phone:
        return None
    messages = notify.list_outbox(session, to=challenge.target_phone, limit=1)
    return messages[0].body if messages else None
