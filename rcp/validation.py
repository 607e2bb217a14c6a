"""Checks of user input shared by the services, each failing with a message in the current
language (``label``, the field's name, comes translated from the caller)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from rcp.errors import InvalidInput
from rcp.i18n import _

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

COMMON_PASSWORDS = frozenset(
    {
        "motdepasse123",
        "motdepasse1234",
        "azertyuiop123",
        "azertyuiopqsd",
        "123456789012",
        "password1234",
        "passwordpassword",
        "qwertyuiop12",
        "soleil123456",
        "bonjour123456",
        "orkid1234567",
        "rcp123456789",
    }
)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128


def clean_text(
    value: str | None,
    *,
    label: str,
    field: str,
    max_length: int,
    required: bool = False,
    multiline: bool = False,
) -> str:
    """Strip, drop control characters (keeping newlines when ``multiline``), check length."""
    text = unicodedata.normalize("NFC", value or "")
    if multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = "\n".join(_CONTROL.sub("", line).rstrip() for line in text.split("\n")).strip()
    else:
        text = _CONTROL.sub("", text.replace("\n", " ").replace("\t", " ")).strip()
        text = re.sub(r"\s{2,}", " ", text)
    if required and not text:
        raise InvalidInput(
            _("Le champ « {label} » est obligatoire.").format(label=label), field=field
        )
    if len(text) > max_length:
        raise InvalidInput(
            _(
                "Le champ « {label} » est trop long ({length} caractères, {maximum} au maximum)."
            ).format(label=label, length=len(text), maximum=max_length),
            field=field,
        )
    return text


def clean_name(value: str | None, *, label: str, field: str) -> str:
    """A person's name: letters, spaces, hyphens and apostrophes only."""
    text = clean_text(value, label=label, field=field, max_length=100, required=True)
    if not re.fullmatch(r"[^\W\d_]+(?:[ '’.-]+[^\W\d_]+)*\.?", text):
        raise InvalidInput(
            _(
                "Le champ « {label} » ne peut contenir que des lettres, des espaces, des traits "
                "d'union et des apostrophes."
            ).format(label=label),
            field=field,
        )
    return text


def normalize_email(value: str | None, *, field: str = "email") -> str:
    raw = (value or "").strip()
    if not raw:
        raise InvalidInput(_("L'adresse e-mail est obligatoire."), field=field)
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(
            _("L'adresse e-mail n'est pas valide (exemple : prenom.nom@chu-exemple.fr)."),
            field=field,
        ) from exc
    return result.normalized.lower()


def normalize_mobile(value: str | None, *, field: str = "phone") -> str:
    """A mobile number in international E.164 form; French numbers by default."""
    raw = (value or "").strip()
    if not raw:
        raise InvalidInput(
            _(
                "Le numéro de téléphone portable est obligatoire : il reçoit les codes de "
                "connexion."
            ),
            field=field,
        )
    try:
        number = phonenumbers.parse(raw, "FR")
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput(
            _(
                "Le numéro de téléphone n'est pas reconnu (exemple : 06 12 34 56 78 ou "
                "+33 6 12 34 56 78)."
            ),
            field=field,
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(
            _("Ce numéro de téléphone n'existe pas. Vérifiez les chiffres saisis."), field=field
        )
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidInput(
            _(
                "Ce numéro n'est pas un numéro de portable : les codes de connexion sont "
                "envoyés par SMS."
            ),
            field=field,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """'+33612344218' -> '•• •• •• 42 18': enough to recognise one's phone, no more."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "••••"
    digits = str(number.national_number)
    if number.country_code == 33:
        national = "0" + digits
        groups = [national[i : i + 2] for i in range(0, len(national), 2)]
        return " ".join(["••"] * (len(groups) - 2) + groups[-2:])
    return f"+{number.country_code} " + "•" * max(len(digits) - 4, 0) + digits[-4:]


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def normalize_rpps(value: str | None, *, field: str = "rpps") -> str | None:
    """The optional RPPS number: 11 digits with a valid Luhn key, or None."""
    raw = re.sub(r"[\s.-]", "", value or "")
    if not raw:
        return None
    if not re.fullmatch(r"\d{11}", raw):
        raise InvalidInput(_("Le numéro RPPS compte exactement 11 chiffres."), field=field)
    if not luhn_valid(raw):
        raise InvalidInput(
            _(
                "Ce numéro RPPS n'est pas valide (clé de contrôle incorrecte). Vérifiez-le sur "
                "votre carte CPS."
            ),
            field=field,
        )
    return raw


def check_password_strength(
    password: str, *, email: str = "", names: tuple[str, ...] = (), field: str = "password"
) -> None:
    """Refuse weak passwords, saying why (length first: it matters most)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            _(
                "Le mot de passe doit contenir au moins {minimum} caractères ({length} saisis) "
                ": la longueur est ce qui le rend difficile à deviner."
            ).format(minimum=MIN_PASSWORD_LENGTH, length=len(password)),
            field=field,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            _("Le mot de passe ne peut dépasser {maximum} caractères.").format(
                maximum=MAX_PASSWORD_LENGTH
            ),
            field=field,
        )
    lowered = password.lower()
    if len(set(lowered)) < 5:
        raise InvalidInput(
            _(
                "Le mot de passe répète trop peu de caractères différents : il serait facile à "
                "deviner."
            ),
            field=field,
        )
    if lowered in COMMON_PASSWORDS:
        raise InvalidInput(
            _("Ce mot de passe figure parmi les plus courants : choisissez-en un autre."),
            field=field,
        )
    local = email.split("@", 1)[0].lower()
    personal = [p.lower() for p in (local, *names) if p and len(p) >= 3]
    if any(p in lowered for p in personal):
        raise InvalidInput(
            _("Le mot de passe ne doit pas contenir votre nom ni votre adresse e-mail."),
            field=field,
        )


def check_birth_date(value: date | None, *, today: date, field: str = "birth_date") -> date:
    if value is None:
        raise InvalidInput(_("La date de naissance est obligatoire."), field=field)
    if value > today:
        raise InvalidInput(_("La date de naissance ne peut pas être dans le futur."), field=field)
    if value.year < 1900:
        raise InvalidInput(
            _("La date de naissance ne peut pas être antérieure à 1900."), field=field
        )
    return value
