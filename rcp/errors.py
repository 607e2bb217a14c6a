"""Errors raised by the services, each carrying a plain message for the user, in the
current language (rcp.i18n) when raised."""

from __future__ import annotations

from rcp.i18n import N_, _


class RcpError(Exception):
    """Base of every error a page may show to the user as it is.

    Raised by services when the user did something that cannot be done. The message is in
    the current language, meant for the user; pages catch ``RcpError`` and display
    ``str(error)``.
    Anything that is not an ``RcpError`` is a bug and must not be swallowed.
    """

    default_message = N_("L'opération n'a pas pu être effectuée.")

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _(self.default_message))

    @property
    def message(self) -> str:
        return str(self)


class NotFound(RcpError):
    """Raised when an id does not exist, or exists but may not be revealed to the actor."""

    default_message = N_("Élément introuvable.")


class PermissionDenied(RcpError):
    """Raised when the actor is not allowed to perform the action."""

    default_message = N_("Vous n'avez pas le droit d'effectuer cette action.")


class InvalidInput(RcpError):
    """Raised when user input is invalid; ``field`` names the offending form field if any."""

    default_message = N_("Saisie invalide.")

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class FormErrors(InvalidInput):
    """Raised when several fields of one form are wrong: ``errors`` maps each field to its
    message (in form order), so that a page shows them all at once, each by its field.
    The message lists them all for callers that show one line."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()), field=next(iter(errors), None))
        self.errors = dict(errors)


class AuthFailed(RcpError):
    """Raised when a sign-in step fails. The message never says whether an email exists."""

    default_message = N_("Adresse e-mail ou mot de passe incorrect.")


class AccountLocked(AuthFailed):
    """Raised when too many failures locked the account for a while."""

    default_message = N_(
        "Trop de tentatives infructueuses : le compte est temporairement bloqué. "
        "Réessayez dans 15 minutes."
    )


class RateLimited(RcpError):
    """Raised when an action (e.g. sending a code) is repeated too often."""

    default_message = N_("Trop de demandes rapprochées. Patientez un instant avant de réessayer.")


class Conflict(RcpError):
    """Raised when the action conflicts with the current state (already done, closed, ...)."""

    default_message = N_("Cette action n'est plus possible dans l'état actuel.")


class StorageError(RcpError):
    """Raised when a file cannot be stored or read (content, size or disk problem)."""

    default_message = N_("Le fichier n'a pas pu être enregistré.")
