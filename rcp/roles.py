"""How a person is named: profession and RCP role in the form the person chose.

French nouns of trades have a feminine and a masculine form ("pharmacienne", "pharmacien");
English has one ("pharmacist"). Each label below is keyed by (profession or role, form), so
the feminine and masculine French texts are separate message ids with the same English text.

Where the person has not said which form (``civility`` None), the masculine generic is used
("assistant RCP", "invité"), as French administrative style
recommends (circulaire du 21 novembre 2017: no "·" or "(e)" abbreviations in official texts;
"coordinateur·rice" is also hard to read aloud and for screen readers). A role noun phrase
("la coordination de la RCP") is kept for groups and functions, where no person is named;
next to a name it would not read as a title ("Nadia Lefort (coordination)").
"""

from __future__ import annotations

from rcp.i18n import N_, _
from rcp.models import Civility, MemberRole, Profession, User

# The order in which forms offer them: physicians first (the default of every account).
PROFESSION_LABELS: dict[tuple[Profession, Civility | None], str] = {
    (Profession.physician, None): N_("médecin"),
    (Profession.physician, Civility.madame): N_("médecin"),
    (Profession.physician, Civility.monsieur): N_("médecin"),
    (Profession.rcp_secretary, None): N_("secrétaire / assistant de RCP"),
    (Profession.rcp_secretary, Civility.madame): N_("secrétaire / assistante de RCP"),
    (Profession.rcp_secretary, Civility.monsieur): N_("secrétaire / assistant de RCP"),
    (Profession.research_associate, None): N_("attaché de recherche clinique"),
    (Profession.research_associate, Civility.madame): N_("attachée de recherche clinique"),
    (Profession.research_associate, Civility.monsieur): N_("attaché de recherche clinique"),
    (Profession.coordination_nurse, None): N_("infirmier de coordination"),
    (Profession.coordination_nurse, Civility.madame): N_("infirmière de coordination"),
    (Profession.coordination_nurse, Civility.monsieur): N_("infirmier de coordination"),
    (Profession.genetic_counsellor, None): N_("conseiller en génétique"),
    (Profession.genetic_counsellor, Civility.madame): N_("conseillère en génétique"),
    (Profession.genetic_counsellor, Civility.monsieur): N_("conseiller en génétique"),
    (Profession.pharmacist, None): N_("pharmacien"),
    (Profession.pharmacist, Civility.madame): N_("pharmacienne"),
    (Profession.pharmacist, Civility.monsieur): N_("pharmacien"),
    (Profession.other, None): N_("autre profession"),
    (Profession.other, Civility.madame): N_("autre profession"),
    (Profession.other, Civility.monsieur): N_("autre profession"),
}

# What a registration form lists (both forms, the person has not chosen yet).
PROFESSION_CHOICES: dict[Profession, str] = {
    Profession.physician: N_("Médecin"),
    Profession.rcp_secretary: N_("Secrétaire / assistant(e) de RCP"),
    Profession.research_associate: N_("Attaché(e) de recherche clinique"),
    Profession.coordination_nurse: N_("Infirmier(ère) de coordination"),
    Profession.genetic_counsellor: N_("Conseiller(ère) en génétique"),
    Profession.pharmacist: N_("Pharmacien(ne)"),
    Profession.other: N_("Autre (administration de la plateforme, informatique…)"),
}

CIVILITY_CHOICES: dict[Civility | None, str] = {
    None: N_("Non précisé"),
    Civility.madame: N_("Madame"),
    Civility.monsieur: N_("Monsieur"),
}

ROLE_LABELS: dict[tuple[MemberRole, Civility | None], str] = {
    (MemberRole.doctor, None): N_("médecin"),
    (MemberRole.doctor, Civility.madame): N_("médecin"),
    (MemberRole.doctor, Civility.monsieur): N_("médecin"),
    (MemberRole.referent, None): N_("médecin référent"),
    (MemberRole.referent, Civility.madame): N_("médecin référente"),
    (MemberRole.referent, Civility.monsieur): N_("médecin référent"),
    (MemberRole.assistant, None): N_("assistant RCP"),
    (MemberRole.assistant, Civility.madame): N_("assistante RCP"),
    (MemberRole.assistant, Civility.monsieur): N_("assistant RCP"),
}


def _civility(user: User | None) -> Civility | None:
    value = getattr(user, "civility", None)
    return Civility(value) if value else None


def _profession(user: User) -> Profession:
    return Profession(user.profession or Profession.physician)


def profession_label(user: User) -> str:
    """The person's profession in their form, in the current language ("pharmacienne")."""
    return _(PROFESSION_LABELS[(_profession(user), _civility(user))])


def role_label(role: MemberRole | str, user: User | None = None) -> str:
    """An RCP role ("assistante RCP") in the person's form, in the current language; a
    member who is not a physician is a "membre", not a "médecin"."""
    role = MemberRole(role)
    if role == MemberRole.doctor and user is not None and not is_physician(user):
        return _("membre")
    return _(ROLE_LABELS[(role, _civility(user))])


def qualification(user: User) -> str:
    """What is shown next to a person's name: a physician's specialty ("Néphrologie"); for
    other professions the profession, with a specialty other than "Autre" after it
    ("conseillère en génétique, Génétique")."""
    specialty = _(user.specialty) if user.specialty else ""
    if _profession(user) == Profession.physician:
        return specialty
    label = profession_label(user)
    if specialty and user.specialty != "Autre":
        return f"{label[0].upper()}{label[1:]}, {specialty}"
    return label[0].upper() + label[1:]


def is_physician(user: User) -> bool:
    return _profession(user) == Profession.physician


def stored_specialty(user: User) -> str:
    """What a snapshot (attendance, the sheet) records as the person's "specialty": a
    physician's specialty, else the profession in the person's form; both French message ids,
    shown through the catalogue (rcp.ui.text.translated)."""
    if is_physician(user):
        return user.specialty
    return PROFESSION_LABELS[(_profession(user), _civility(user))]


def by_form(user: User | None, feminine: str, masculine: str) -> str:
    """Of two texts already through the catalogue, the feminine one for a person who chose
    "Madame", else the masculine (the generic one when the person has not said)."""
    return feminine if _civility(user) == Civility.madame else masculine
