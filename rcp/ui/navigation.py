"""The menu: which pages exist, for whom, in which section (one line per page)."""

from __future__ import annotations

import re
import runpy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from rcp.i18n import N_, _
from rcp.models import User
from rcp.permissions import is_admin

Audience = Callable[[User | None], bool]
_ROOT = Path(__file__).resolve().parents[2]


def anonymous(user: User | None) -> bool:
    return user is None


def everyone(_user: User | None) -> bool:
    return True


def signed_in(user: User | None) -> bool:
    return user is not None


def admin(user: User | None) -> bool:
    return is_admin(user)


def inviter(user: User | None) -> bool:
    """Admins, and coordinators (assistant or referent) of any RCP."""
    if is_admin(user):
        return True
    if user is None:
        return False
    from rcp import invites
    from rcp.ui.context import db

    with db() as session:
        return invites.may_invite(session, user)


def coordinator(user: User | None) -> bool:
    """Coordinators (assistant or referent) of at least one RCP."""
    if user is None:
        return False
    from rcp import directory
    from rcp.ui.context import db

    with db() as session:
        return bool(directory.coordinated_rcp_ids(session, user))


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    url_path: str
    audience: Audience
    section: str = ""
    default_for: Audience | None = None
    hidden: bool = False  # reachable by URL and links, not listed in the menu
    listed_for: Audience | None = None  # a hidden page listed in the menu of these users


# Order is menu order. Pages check the user themselves too: this only builds the menu.
PAGES: tuple[PageSpec, ...] = (
    PageSpec(
        "pages/connexion.py",
        N_("Connexion"),
        ":material/login:",
        "connexion",
        anonymous,
        default_for=anonymous,
    ),
    PageSpec(
        "pages/inscription.py", N_("Inscription"), ":material/person_add:", "inscription", anonymous
    ),
    PageSpec(
        "pages/mot_de_passe_oublie.py",
        N_("Mot de passe oublié"),
        ":material/key:",
        # i18n: exempt (the page's URL path)
        "mot-de-passe-oublie",
        anonymous,
    ),
    PageSpec(
        "pages/accueil.py",
        N_("Accueil"),
        ":material/home:",
        "accueil",
        signed_in,
        default_for=signed_in,
    ),
    PageSpec("pages/rcp.py", N_("RCP"), ":material/account_tree:", "rcp", signed_in),
    PageSpec(
        "pages/filiere.py", N_("Filière"), ":material/hub:", "filiere", signed_in, hidden=True
    ),
    PageSpec(
        "pages/famille.py",
        N_("Famille de RCP"),
        ":material/folder:",
        "famille",
        signed_in,
        hidden=True,
    ),
    PageSpec(
        "pages/fiche_rcp.py",
        N_("RCP"),
        ":material/groups:",
        # i18n: exempt (the page's URL path)
        "fiche-rcp",
        signed_in,
        hidden=True,
    ),
    PageSpec("pages/seance.py", N_("Séance"), ":material/event:", "seance", signed_in, hidden=True),
    PageSpec("pages/salle.py", N_("Salle"), ":material/videocam:", "salle", signed_in, hidden=True),
    # i18n: exempt (the page's URL path)
    PageSpec("pages/mes_cas.py", N_("Mes cas"), ":material/folder_shared:", "mes-cas", signed_in),
    PageSpec(
        "pages/cas.py", N_("Fiche patient"), ":material/description:", "cas", signed_in, hidden=True
    ),
    PageSpec(
        "pages/soumettre_cas.py",
        N_("Soumettre un cas"),
        ":material/note_add:",
        # i18n: exempt (the page's URL path)
        "soumettre-cas",
        signed_in,
        hidden=True,
    ),
    PageSpec("pages/avis.py", N_("Avis RCP"), ":material/gavel:", "avis", signed_in, hidden=True),
    # In the menu of coordinators only; others who type the URL get the page's refusal.
    PageSpec(
        "pages/acces_cas.py",
        N_("Accès aux cas"),
        ":material/visibility:",
        # i18n: exempt (the page's URL path)
        "acces-cas",
        signed_in,
        hidden=True,
        listed_for=coordinator,
    ),
    # i18n: exempt (the page's URL path)
    PageSpec("pages/mon_compte.py", N_("Mon compte"), ":material/person:", "mon-compte", signed_in),
    PageSpec(
        "pages/materiel.py", N_("Tester mon matériel"), ":material/videocam:", "materiel", everyone
    ),
    PageSpec(
        "pages/invitations.py",
        N_("Invitations"),
        ":material/forward_to_inbox:",
        "invitations",
        inviter,
    ),
    PageSpec(
        "pages/admin_inscriptions.py",
        N_("Inscriptions à valider"),
        ":material/how_to_reg:",
        "admin-inscriptions",
        admin,
        section=N_("Administration"),
    ),
    PageSpec(
        "pages/admin_annuaire.py",
        N_("Filières et RCP"),
        ":material/account_tree:",
        "admin-annuaire",
        admin,
        section=N_("Administration"),
    ),
    PageSpec(
        "pages/admin_comptes.py",
        N_("Comptes"),
        ":material/manage_accounts:",
        "admin-comptes",
        admin,
        section=N_("Administration"),
    ),
    PageSpec(
        "pages/admin_boite_envoi.py",
        N_("Boîte d'envoi"),
        ":material/outbox:",
        "admin-boite-envoi",
        admin,
        section=N_("Administration"),
    ),
    PageSpec(
        "pages/admin_journal.py",
        N_("Journal d'audit"),
        ":material/history:",
        "admin-journal",
        admin,
        section=N_("Administration"),
    ),
)

PUBLIC_PATHS = frozenset(["/", ""] + [f"/{p.url_path}" for p in PAGES if p.audience(None)])


def _home() -> Callable[[], None]:
    """The signed-in user's page at "/": the home page's script."""

    def home() -> None:
        runpy.run_path(str(_ROOT / "pages" / "accueil.py"), run_name="__main__")

    return home


def _sign_in_gate(url_path: str) -> Callable[[], None]:
    """A stand-in for a protected page when nobody is signed in: the sign-in page itself.

    Without it Streamlit answers an unknown path with a "page not found" dialog that covers
    the form; with it, a link from an email (/seance?id=7) shows the sign-in, and the
    remembered path is opened once the second factor passes.
    """

    def gate() -> None:
        runpy.run_path(str(_ROOT / "pages" / "connexion.py"), run_name="__main__")

    gate.__name__ = f"gate_{url_path.replace('-', '_')}"
    return gate


def listed(spec: PageSpec, user: User | None) -> bool:
    """Whether the page shows in this user's menu (hidden pages stay reachable by link)."""
    return not spec.hidden or bool(spec.listed_for and spec.listed_for(user))


_SLUG = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def _not_found(slug: str, user: User | None) -> Callable[[], None]:
    """A page in the user's language for an address that matches no page, with the way home.

    Without it Streamlit opens its English "Page not found" dialog over the home page.
    """

    def page() -> None:
        st.title(_("Page introuvable"))
        st.warning(
            _(
                "L'adresse « /{slug} » ne correspond à aucune page de la plateforme : le lien "
                "est peut-être incomplet ou mal recopié."
            ).format(slug=slug),
            icon=":material/link_off:",
        )
        if user is None:
            st.page_link("pages/connexion.py", label=_("Se connecter"), icon=":material/login:")
        else:
            st.page_link("pages/accueil.py", label=_("Retour à l'accueil"), icon=":material/home:")
            st.page_link(
                "pages/rcp.py", label=_("Parcourir les RCP"), icon=":material/account_tree:"
            )

    page.__name__ = f"not_found_{slug.replace('-', '_')}"
    return page


def _reserved(spec: PageSpec) -> Callable[[], None]:
    """A page for a real page this user may not open (never called "introuvable")."""

    def page() -> None:
        st.title(_(spec.title))
        st.warning(
            _(
                "Cette page est réservée à d'autres profils (administrateurs, coordinateurs de "
                "RCP) : votre compte n'y a pas accès. Si vous pensez qu'il le devrait, "
                "contactez un administrateur de la plateforme."
            ),
            icon=":material/lock:",
        )
        st.page_link("pages/accueil.py", label=_("Retour à l'accueil"), icon=":material/home:")

    page.__name__ = f"reserved_{spec.url_path.replace('-', '_')}"
    return page


def requested_slug(path: str) -> str:
    """The page name the browser asked for (the path without the server's base path).

    Streamlit's page manager knows it from the first run of a session, when ``st.context``
    may not have the URL yet; that internal is read defensively, the URL is the fallback.
    """
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        manager = ctx.pages_manager if ctx is not None else None
        if manager is not None and not manager.intended_page_script_hash:
            name = manager.intended_page_name
            if isinstance(name, str) and name:
                return name.strip("/")
    except Exception:  # noqa: BLE001 - a Streamlit change falls back to the URL
        pass
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    path = path.split("?", 1)[0].strip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :].strip("/")
    return path


def build(user: User | None, requested: str = "") -> dict[str, list]:
    """st.Page objects grouped by section for this user.

    ``requested`` is the path the browser asked for: when it matches no page, a
    "Page introuvable" page (in the user's language) is served at that path instead of
    Streamlit's English dialog. Titles and sections are translated here (``N_`` above).
    """
    sections: dict[str, list] = {}
    for spec in PAGES:
        if not spec.audience(user):
            continue
        # "" (no section) must not go through gettext: its translation is the catalogue's header.
        section = _(spec.section) if spec.section else ""
        sections.setdefault(section, []).append(
            st.Page(
                spec.path,
                title=_(spec.title),
                icon=spec.icon,
                url_path=spec.url_path,
                # Signed in, the home page is served at "/" by _home() below, so that
                # /accueil (its menu link, a bookmark) is a page of its own, not a "not found".
                default=bool(spec.default_for and spec.default_for(user)) and user is None,
                visibility="visible" if listed(spec, user) else "hidden",
            )
        )
    if user is None:
        sections[""].extend(
            st.Page(
                _sign_in_gate(spec.url_path),
                title=_("Connexion"),
                url_path=spec.url_path,
                visibility="hidden",
            )
            for spec in PAGES
            if not spec.audience(None)
        )
    if user is not None:
        sections.setdefault("", []).append(
            st.Page(
                _home(), title=_("Accueil"), url_path="bienvenue", default=True, visibility="hidden"
            )
        )
    slug = requested_slug(requested)
    taken = {spec.url_path for spec in PAGES if spec.audience(user) or user is None}
    reserved = next((spec for spec in PAGES if spec.url_path == slug), None)
    if user is not None and reserved is not None and slug not in taken:
        # A real page outside this user's menu: the sign-in pages lead home once signed in;
        # the others (e.g. an admin page) say, in French, that they are someone else's.
        sections.setdefault("", []).append(
            st.Page(
                _home() if reserved.audience(None) else _reserved(reserved),
                title=_(reserved.title),
                url_path=slug,
                visibility="hidden",
            )
        )
    elif slug and slug not in taken and _SLUG.match(slug):
        sections.setdefault("", []).append(
            st.Page(
                _not_found(slug, user),
                title=_("Page introuvable"),
                url_path=slug,
                visibility="hidden",
            )
        )
    return sections


def has_page(path: str) -> bool:
    """Whether a page is part of the app (links to pages still being built are left out)."""
    return any(spec.path == path for spec in PAGES)
