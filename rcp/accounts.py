"""Registration, the admins' validation queue and account management."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, func, or_, select

from rcp import audit, i18n, invites, notify
from rcp.auth import revoke_all_sessions
from rcp.config import get_settings
from rcp.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from rcp.i18n import N_, _
from rcp.models import (
    Civility,
    KnownBrowser,
    OutboxChannel,
    OutboxMessage,
    Profession,
    User,
    UserStatus,
    utcnow,
)
from rcp.permissions import require_active, require_admin
from rcp.security import hash_password
from rcp.validation import (
    check_password_strength,
    clean_name,
    clean_text,
    normalize_email,
    normalize_mobile,
    normalize_rpps,
)

# Stored as written here (French, the reference); a page shows each with _(specialty).
SPECIALTIES: tuple[str, ...] = (
    N_("Néphrologie"),
    N_("Néphrologie pédiatrique"),
    N_("Anatomopathologie"),
    N_("Génétique"),
    N_("Radiologie"),
    N_("Immunologie"),
    N_("Médecine interne"),
    N_("Pédiatrie"),
    N_("Urologie"),
    N_("Transplantation"),
    N_("Biologie"),
    N_("Rhumatologie"),
    N_("Hématologie"),
    N_("Autre"),
)


@dataclass
class Registration:
    """What the registration form collects."""

    last_name: str
    first_name: str
    email: str
    phone: str
    specialty: str
    institution: str
    password: str
    password_confirm: str
    terms_accepted: bool
    rpps: str = ""
    # Physicians unless said otherwise (only they are addressed as "Dr"); the form of address
    # ("Madame", "Monsieur") is optional and picks the feminine or masculine titles (rcp.roles).
    profession: Profession | str = Profession.physician
    civility: Civility | str | None = None


def _check_profession(value: Profession | str) -> Profession:
    try:
        return Profession(value)
    except ValueError:
        raise InvalidInput(
            _("Choisissez votre profession dans la liste."), field="profession"
        ) from None


def _check_civility(value: Civility | str | None) -> Civility | None:
    if value in (None, ""):
        return None
    try:
        return Civility(value)
    except ValueError:
        raise InvalidInput(
            _("Choisissez « Madame », « Monsieur » ou « Non précisé »."), field="civility"
        ) from None


class DuplicateEmail(InvalidInput):
    """Raised by ``register`` when the address already has an account (``request_registration``
    gives the registrant the same answer as a success instead)."""


def register(session: Session, *, form: Registration, invite_token: str | None = None) -> User:
    """Create a pending account; admins validate it. Anyone may register (no actor).

    With ``invite_token`` the account takes the invited address, whatever the form says:
    the link was sent to that mailbox, and the admin's context ("invited by") is about it.
    """
    invite = None
    if invite_token:
        invite = invites.find_valid(session, token=invite_token)
    last_name = clean_name(form.last_name, label=_("Nom"), field="last_name")
    first_name = clean_name(form.first_name, label=_("Prénom"), field="first_name")
    email = invite.email if invite is not None else normalize_email(form.email)
    phone = normalize_mobile(form.phone)
    profession = _check_profession(form.profession)
    civility = _check_civility(form.civility)
    if form.specialty not in SPECIALTIES:
        raise InvalidInput(_("Choisissez votre spécialité dans la liste."), field="specialty")
    institution = clean_text(
        form.institution,
        label=_("Établissement"),
        field="institution",
        max_length=200,
        required=True,
    )
    rpps = normalize_rpps(form.rpps)
    check_password_strength(form.password, email=email, names=(last_name, first_name))
    if form.password != form.password_confirm:
        raise InvalidInput(
            _("Les deux mots de passe saisis sont différents."), field="password_confirm"
        )
    if not form.terms_accepted:
        raise InvalidInput(
            _("Vous devez accepter les conditions d'utilisation pour vous inscrire."), field="terms"
        )
    existing = session.exec(select(User).where(User.email == email)).first()
    if existing is not None:
        raise DuplicateEmail(
            _(
                "Un compte existe déjà avec cette adresse e-mail. Utilisez « Mot de passe oublié » "
                "sur la page de connexion si besoin."
            ),
            field="email",
        )
    now = utcnow()
    user = User(
        email=email,
        password_hash=hash_password(form.password),
        last_name=last_name,
        first_name=first_name,
        phone=phone,
        specialty=form.specialty,
        institution=institution,
        rpps=rpps,
        profession=profession,
        civility=civility,
        status=UserStatus.pending,
        terms_accepted_at=now,
        password_changed_at=now,
        registration_invite_id=invite.id if invite else None,
    )
    session.add(user)
    if invite is not None:
        invites.mark_used(session, invite=invite)
    session.flush()
    audit.record(
        session,
        "account.registered",
        actor_id=user.id,
        target_type="user",
        target_id=user.id,
        invited=invite is not None,
    )
    settings = get_settings()
    with i18n.using(i18n.recipient_language(user)):
        notify.send_email(
            session,
            deferred=True,  # a taken address answers in the same time (request_registration)
            to=user.email,
            subject=_("{platform} : inscription reçue").format(platform=settings.platform_name),
            body=_(
                "Bonjour {name},\n\nNous avons bien reçu votre demande d'inscription. "
                "Un administrateur va la vérifier ; vous recevrez un e-mail dès qu'elle sera "
                "validée.\n"
            ).format(name=user.display_name),
        )
    session.commit()
    return user


def request_registration(
    session: Session, *, form: Registration, invite_token: str | None = None
) -> str:
    """The registration form's action: the same answer whether or not the address has an
    account, so that the form reveals no account. Returns the address to confirm.

    For an address that already has an account nothing is created: the password is hashed
    anyway (the same time as a real registration) and the account's owner is told by email
    that someone asked to register with it.
    """
    try:
        return register(session, form=form, invite_token=invite_token).email
    except DuplicateEmail:
        session.rollback()
    email = normalize_email(form.email)
    hash_password(form.password)  # the time a new account costs
    existing = session.exec(select(User).where(User.email == email)).one()
    settings = get_settings()
    with i18n.using(i18n.recipient_language(existing)):
        notify.send_email(
            session,
            deferred=True,
            to=existing.email,
            subject=_("{platform} : demande d'inscription avec votre adresse").format(
                platform=settings.platform_name
            ),
            body=_(
                "Bonjour {name},\n\nUne demande d'inscription vient d'être faite "
                "avec votre adresse e-mail, qui a déjà un compte. Si c'est vous, connectez-vous, "
                "ou utilisez « Mot de passe oublié » sur la page de connexion. Sinon, ignorez ce "
                "message : rien n'a été modifié.\n"
            ).format(name=existing.display_name),
        )
    audit.record(
        session,
        "account.registration_duplicate",
        actor_id=None,
        target_type="user",
        target_id=existing.id,
    )
    session.commit()
    return email


def _get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("Compte introuvable."))
    return user


def list_pending(
    session: Session, *, actor: User, limit: int | None = None, offset: int = 0
) -> list[User]:
    """The validation queue, oldest first (all of it unless ``limit``; ``offset``: paging)."""
    require_admin(actor)
    query = (
        select(User)
        .where(User.status == UserStatus.pending)
        .order_by(col(User.created_at), col(User.id))
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query).all())


def count_pending(session: Session, *, actor: User) -> int:
    require_admin(actor)
    return session.exec(
        select(func.count()).select_from(User).where(User.status == UserStatus.pending)
    ).one()


def approve(session: Session, *, actor: User, user_id: int) -> User:
    require_admin(actor)
    user = _get_user(session, user_id)
    if user.status != UserStatus.pending:
        raise Conflict(_("Ce compte n'est plus en attente de validation."))
    user.status = UserStatus.active
    user.validated_at = utcnow()
    user.validated_by_id = actor.id
    user.rejection_reason = None
    session.add(user)
    audit.record(
        session, "account.approved", actor_id=actor.id, target_type="user", target_id=user.id
    )
    settings = get_settings()
    with i18n.using(i18n.recipient_language(user)):
        notify.send_email(
            session,
            to=user.email,
            subject=_("{platform} : votre inscription est validée").format(
                platform=settings.platform_name
            ),
            body=_(
                "Bonjour {name},\n\nVotre inscription a été validée. Vous pouvez "
                "vous connecter : {link}\n\nÀ chaque connexion, un code "
                "à 6 chiffres vous sera envoyé par SMS.\n"
            ).format(name=user.display_name, link=f"{settings.base_url.rstrip('/')}/"),
        )
    session.commit()
    return user


def reject(session: Session, *, actor: User, user_id: int, reason: str) -> User:
    require_admin(actor)
    reason = clean_text(
        reason,
        label=_("Motif du refus"),
        field="reason",
        max_length=1000,
        required=True,
        multiline=True,
    )
    user = _get_user(session, user_id)
    if user.status != UserStatus.pending:
        raise Conflict(_("Ce compte n'est plus en attente de validation."))
    user.status = UserStatus.rejected
    user.rejection_reason = reason
    user.validated_at = utcnow()
    user.validated_by_id = actor.id
    session.add(user)
    audit.record(
        session, "account.rejected", actor_id=actor.id, target_type="user", target_id=user.id
    )
    settings = get_settings()
    with i18n.using(i18n.recipient_language(user)):
        notify.send_email(
            session,
            to=user.email,
            subject=_("{platform} : votre demande d'inscription").format(
                platform=settings.platform_name
            ),
            body=_(
                "Bonjour {name},\n\nVotre demande d'inscription n'a pas été acceptée."
                "\n\nMotif : {reason}\n\nSi vous pensez qu'il s'agit d'une erreur, répondez au "
                "support de la plateforme.\n"
            ).format(name=user.display_name, reason=reason),
        )
    session.commit()
    return user


def list_users(
    session: Session,
    *,
    actor: User,
    search: str = "",
    status: UserStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[User]:
    require_admin(actor)
    query = _users_matching(select(User), search=search, status=status)
    query = query.order_by(col(User.last_name), col(User.first_name), col(User.id))
    return list(session.exec(query.offset(offset).limit(limit)).all())


def count_users(
    session: Session, *, actor: User, search: str = "", status: UserStatus | None = None
) -> int:
    """How many accounts ``list_users`` pages through with the same search and status."""
    require_admin(actor)
    query = _users_matching(select(func.count()).select_from(User), search=search, status=status)
    return session.exec(query).one()


def _users_matching(query, *, search: str, status: UserStatus | None):
    """``query`` narrowed to the accounts of ``status`` whose name or email has ``search``."""
    if status is not None:
        query = query.where(User.status == status)
    term = search.strip().lower()
    if term:
        like = f"%{term}%"
        query = query.where(
            or_(
                func.lower(User.last_name).like(like),
                func.lower(User.first_name).like(like),
                col(User.email).like(like),
            )
        )
    return query


def disable(session: Session, *, actor: User, user_id: int) -> User:
    """Disable an account: it cannot sign in, and every open session ends now."""
    require_admin(actor)
    if user_id == actor.id:
        raise PermissionDenied(_("Vous ne pouvez pas désactiver votre propre compte."))
    user = _get_user(session, user_id)
    if user.status != UserStatus.active:
        raise Conflict(_("Seul un compte actif peut être désactivé."))
    user.status = UserStatus.disabled
    revoke_all_sessions(session, user_id, reason="account_disabled")
    session.add(user)
    audit.record(
        session, "account.disabled", actor_id=actor.id, target_type="user", target_id=user.id
    )
    session.commit()
    return user


def reactivate(session: Session, *, actor: User, user_id: int) -> User:
    require_admin(actor)
    user = _get_user(session, user_id)
    if user.status != UserStatus.disabled:
        raise Conflict(_("Seul un compte désactivé peut être réactivé."))
    user.status = UserStatus.active
    user.failed_attempts = 0
    user.locked_until = None
    session.add(user)
    audit.record(
        session, "account.reactivated", actor_id=actor.id, target_type="user", target_id=user.id
    )
    session.commit()
    return user


def reset_second_factor(session: Session, *, actor: User, user_id: int) -> User:
    """Remove a user's authenticator app (lost phone): codes go by SMS again."""
    require_admin(actor)
    user = _get_user(session, user_id)
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_last_counter = None
    user.failed_attempts = 0
    user.locked_until = None
    revoke_all_sessions(session, user_id, reason="second_factor_reset")
    session.add(user)
    audit.record(
        session,
        "account.second_factor_reset",
        actor_id=actor.id,
        target_type="user",
        target_id=user.id,
    )
    session.commit()
    return user


def unlock(session: Session, *, actor: User, user_id: int) -> User:
    require_admin(actor)
    user = _get_user(session, user_id)
    user.failed_attempts = 0
    user.locked_until = None
    session.add(user)
    for known in session.exec(select(KnownBrowser).where(KnownBrowser.user_id == user.id)):
        known.failed_attempts = 0
        known.locked_until = None
        session.add(known)
    audit.record(
        session, "account.unlocked", actor_id=actor.id, target_type="user", target_id=user.id
    )
    session.commit()
    return user


_KEEP = object()


def update_profile(
    session: Session,
    *,
    actor: User,
    specialty: str,
    institution: str,
    rpps: str = "",
    civility: Civility | str | None | object = _KEEP,
) -> User:
    """What one may change on one's own account without a code (name, email and profession:
    by admins). ``civility`` left out keeps the current form of address."""
    require_active(actor)
    if specialty not in SPECIALTIES:
        raise InvalidInput(_("Choisissez votre spécialité dans la liste."), field="specialty")
    if civility is not _KEEP:
        actor.civility = _check_civility(civility)  # type: ignore[arg-type]
    actor.specialty = specialty
    actor.institution = clean_text(
        institution, label=_("Établissement"), field="institution", max_length=200, required=True
    )
    actor.rpps = normalize_rpps(rpps)
    session.add(actor)
    audit.record(
        session,
        "account.profile_updated",
        actor_id=actor.id,
        target_type="user",
        target_id=actor.id,
    )
    session.commit()
    return actor


def set_profession(
    session: Session, *, actor: User, user_id: int, profession: Profession | str
) -> User:
    """An admin corrects an account's profession (only physicians are addressed as "Dr")."""
    require_admin(actor)
    user = _get_user(session, user_id)
    chosen = _check_profession(profession)
    before = user.profession
    user.profession = chosen
    session.add(user)
    audit.record(
        session,
        "account.profession_changed",
        actor_id=actor.id,
        target_type="user",
        target_id=user.id,
        before=str(before),
        after=str(chosen),
    )
    session.commit()
    return user


def set_language(session: Session, *, actor: User, language: str | None) -> User:
    """One's language for pages and messages ("fr", "en"), or None: the browser's."""
    require_active(actor)
    if language is not None and i18n.normalize(language) != language:
        raise InvalidInput(_("Choisissez une langue dans la liste."), field="language")
    actor.language = language
    session.add(actor)
    audit.record(
        session,
        "account.language_changed",
        actor_id=actor.id,
        target_type="user",
        target_id=actor.id,
        language=language or "browser",
    )
    session.commit()
    return actor


def read_outbox(
    session: Session, *, actor: User, to: str | None = None, limit: int = 100, offset: int = 0
) -> list[OutboxMessage]:
    """The outbox (pilot mode: emails and SMS not handed to a transport), for admins.

    One-time codes and single-use links are masked (``notify.redact``): an admin sees that a
    code or a link was sent, to whom and when, never the secret that would let them sign in
    as the recipient. The rows returned are detached copies; the stored messages are intact.
    """
    require_admin(actor)
    rows = notify.list_outbox(session, to=to or None, limit=limit, offset=offset)
    return [
        OutboxMessage(
            id=row.id,
            created_at=row.created_at,
            channel=row.channel,
            to=row.to,
            subject=notify.redact(row.subject) or "",
            body=notify.redact(row.body, codes=row.channel == OutboxChannel.sms),
            attachments=[
                {**item, "content": notify.redact(item.get("content"))}
                for item in row.attachments or []
            ],
            status=row.status,
            error=row.error,
            claimed_at=row.claimed_at,
            attempts=row.attempts,
        )
        for row in rows
    ]


def count_outbox(session: Session, *, actor: User, to: str | None = None) -> int:
    """How many messages ``read_outbox`` pages through for the same recipient, for admins."""
    require_admin(actor)
    return notify.count_outbox(session, to=to or None)


def create_admin(
    session: Session,
    *,
    email: str,
    password: str,
    phone: str,
    last_name: str = "Administrateur",
    first_name: str = "Plateforme",
    profession: Profession = Profession.other,
) -> User:
    """Create (or promote) an active admin account; for the command line, not for pages.

    A new account is not a physician's unless ``profession`` says so: it is addressed by name
    ("Plateforme Administrateur"), not "Dr". A promoted account keeps its profession."""
    email = normalize_email(email)
    phone = normalize_mobile(phone)
    check_password_strength(password, email=email)
    user = session.exec(select(User).where(User.email == email)).first()
    now = utcnow()
    if user is None:
        user = User(
            email=email,
            password_hash=hash_password(password),
            last_name=last_name,
            first_name=first_name,
            phone=phone,
            specialty="Autre",
            institution="Plateforme",
            profession=profession,
            status=UserStatus.active,
            terms_accepted_at=now,
            validated_at=now,
            password_changed_at=now,
        )
    else:
        user.password_hash = hash_password(password)
        user.phone = phone
        user.status = UserStatus.active
    user.is_admin = True
    session.add(user)
    session.flush()
    audit.record(
        session, "account.admin_created", actor_id=None, target_type="user", target_id=user.id
    )
    session.commit()
    return user
