"""The HTML document in the visitor's language, and Streamlit's own English translated.

Streamlit serves one ``index.html`` for every page: ``<html lang="en">``, titled
"Streamlit", an English ``<noscript>``. :class:`DocumentLanguageMiddleware` rewrites it for
each visitor: ``lang`` of the signed-in user's language (else the browser's), the platform's
name, a French or English ``<noscript>``, and the script ``/i18n/streamlit.<lang>.js``
(``rcp/ui/assets/streamlit_i18n.js`` with this language's table) that puts Streamlit's
widget texts into that language. The middleware also makes the request's language the one
of any message an HTTP route writes (``rcp.i18n``).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rcp import i18n
from rcp.asgi_scope import cookie, header
from rcp.i18n import N_, _

SCRIPT = Path(__file__).resolve().parent / "ui" / "assets" / "streamlit_i18n.js"
# Served in the same file: the skip link's target, hidden frames out of the Tab order.
KEYBOARD_SCRIPT = SCRIPT.with_name("keyboard.js")
SCRIPT_ROUTE = "/i18n/streamlit.{language}.js"
# Paths whose HTML is not Streamlit's document (component frames) or that are not HTML.
_NOT_DOCUMENT = (
    "/_stcore/",
    "/static/",
    "/media/",
    "/component/",
    "/i18n/",
    "/files/",
    "/cases/",
    "/auth/",
    "/rtc/",
    "/events/",
    "/healthz",
    "/metrics",
)

# Streamlit's own English, exactly as its frontend writes it (text or aria-label, placeholder,
# title), with the French of the catalogue; in English the catalogue gives Streamlit's words
# back (or better ones).
TEXTS: tuple[tuple[str, str], ...] = (
    # File uploader
    ("Drag and drop files here", N_("Glissez-déposez vos fichiers ici")),
    ("Drag and drop file here", N_("Glissez-déposez votre fichier ici")),
    ("Drag and drop directories here", N_("Glissez-déposez vos dossiers ici")),
    ("Drag and drop directory here", N_("Glissez-déposez votre dossier ici")),
    ("Browse files", N_("Parcourir les fichiers")),
    ("Browse directories", N_("Parcourir les dossiers")),
    ("Upload", N_("Choisir des fichiers")),
    ("Delete", N_("Supprimer")),
    ("Remove file", N_("Retirer le fichier")),
    ("Clear file", N_("Retirer le fichier")),
    ("Uploading...", N_("Envoi en cours…")),
    ("Uploading…", N_("Envoi en cours…")),
    ("Add files", N_("Ajouter des fichiers")),
    ("Show more files", N_("Afficher plus de fichiers")),
    ("Show fewer files", N_("Afficher moins de fichiers")),
    # Select boxes and multiselects
    ("Choose an option", N_("Choisissez une option")),
    ("Choose options", N_("Choisissez des options")),
    ("Select...", N_("Choisissez…")),
    ("Select all", N_("Tout sélectionner")),
    ("Clear value", N_("Effacer la valeur")),
    ("Clear all", N_("Tout effacer")),
    ("Clear", N_("Effacer")),
    ("No results", N_("Aucun résultat")),
    ("No options to select", N_("Aucune option")),
    ("Open", N_("Ouvrir")),
    ("Close", N_("Fermer")),
    ("open", N_("ouvrir")),
    ("close", N_("fermer")),
    # Forms and text inputs
    ("Press Enter to submit form", N_("Appuyez sur Entrée pour envoyer le formulaire")),
    ("Press Ctrl+Enter to submit form", N_("Ctrl+Entrée pour envoyer le formulaire")),
    ("Press ⌘+Enter to submit form", N_("⌘+Entrée pour envoyer le formulaire")),
    ("Press Enter to apply", N_("Appuyez sur Entrée pour valider")),
    ("Press Ctrl+Enter to apply", N_("Ctrl+Entrée pour valider")),
    ("Press ⌘+Enter to apply", N_("⌘+Entrée pour valider")),
    ("Show password", N_("Afficher le mot de passe")),
    ("Hide password", N_("Masquer le mot de passe")),
    ("Increment", N_("Augmenter")),
    ("Decrement", N_("Diminuer")),
    # Date inputs
    ("Choose date", N_("Choisir une date")),
    ("Choose date range", N_("Choisir une période")),
    ("Clear date", N_("Effacer la date")),
    ("Clear dates", N_("Effacer les dates")),
    (
        "Use arrow keys to navigate dates. Enter to select. Escape to close.",
        N_("Flèches pour changer de jour, Entrée pour choisir, Échap pour fermer."),
    ),
    ("Previous month", N_("Mois précédent")),
    ("Next month", N_("Mois suivant")),
    # Tables and the data editor
    ("Add row", N_("Ajouter une ligne")),
    ("Delete row", N_("Supprimer la ligne")),
    ("Delete rows", N_("Supprimer les lignes")),
    ("Download as CSV", N_("Télécharger en CSV")),
    ("Search", N_("Rechercher")),
    ("Show/hide columns", N_("Afficher ou masquer des colonnes")),
    ("Fullscreen", N_("Plein écran")),
    ("Close fullscreen", N_("Quitter le plein écran")),
    ("Exit fullscreen", N_("Quitter le plein écran")),
    ("Copy to clipboard", N_("Copier")),
    ("Copied", N_("Copié")),
    ("Sort ascending", N_("Tri croissant")),
    ("Sort descending", N_("Tri décroissant")),
    ("Hide column", N_("Masquer la colonne")),
    ("None", N_("Aucun")),
    # Chat input
    ("Send message", N_("Envoyer le message")),
    ("Your message", N_("Votre message")),
    # Page chrome
    ("Main menu", N_("Menu principal")),
    ("App pages", N_("Pages de la plateforme")),
    ("Skip to main content", N_("Aller au contenu principal")),
    ("Link to heading", N_("Lien vers ce titre")),
    ("Running...", N_("En cours…")),
    ("Stop", N_("Arrêter")),
    ("Rerun", N_("Actualiser")),
    ("Connecting", N_("Connexion…")),
    ("Connecting...", N_("Connexion…")),
    ("Please wait...", N_("Veuillez patienter…")),
    ("Show more", N_("Afficher plus")),
    ("Show less", N_("Afficher moins")),
    ("View more", N_("Afficher plus")),
    ("View less", N_("Afficher moins")),
    ("Expand", N_("Déplier")),
    ("Collapse", N_("Replier")),
    ("Collapse sidebar", N_("Replier le menu latéral")),
    ("Expand sidebar", N_("Déplier le menu latéral")),
    ("Open sidebar", N_("Ouvrir le menu latéral")),
    ("Close sidebar", N_("Fermer le menu latéral")),
    ("Dismiss", N_("Fermer")),
    ("More options", N_("Plus d'options")),
    ("Settings", N_("Réglages")),
    ("Print", N_("Imprimer")),
    ("Tooltip", N_("Aide")),
    ("Help", N_("Aide")),
    ("Fullscreen image", N_("Image en plein écran")),
    ("Page not found", N_("Page introuvable")),
    (
        "The page that you have requested does not seem to exist. Running the app's main page.",
        N_("Cette page n'existe pas ; la page d'accueil s'affiche."),
    ),
    ("Connection error", N_("Connexion perdue")),
    ("Is Streamlit still running?", N_("Le serveur est-il toujours joignable ?")),
)

# Texts that contain a value: a regular expression on the whole text and its replacement
# (named groups: "{size}" in the catalogue becomes "$<size>" for the browser).
PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^(?<size>[\d.,]+)\s?GB per file$", N_("{size} Go par fichier")),
    (r"^(?<size>[\d.,]+)\s?MB per file$", N_("{size} Mo par fichier")),
    (r"^(?<size>[\d.,]+)\s?KB per file$", N_("{size} ko par fichier")),
    (r"^Limit (?<size>[\d.,]+)\s?GB per file$", N_("Limite : {size} Go par fichier")),
    (r"^Limit (?<size>[\d.,]+)\s?MB per file$", N_("Limite : {size} Mo par fichier")),
    (r"^Help for (?<label>.+)$", N_("Aide : {label}")),
    (r"^Drag and drop (?<types>.+) here$", N_("Glissez-déposez {types} ici")),
    (r"^Link to heading (?<label>.+)$", N_("Lien vers le titre {label}")),
    (r"^Remove (?<name>.+)$", N_("Retirer {name}")),
    (r"^Delete (?<name>.+)$", N_("Supprimer {name}")),
    (r"^Open (?<name>.+)$", N_("Ouvrir {name}")),
    (r"^(?<count>\d+) files?$", N_("{count} fichier(s)")),
    (
        r"^You have requested page /(?<name>.*), but no corresponding file was found in the "
        r"app's pages/ directory\. Running the app's main page\.$",
        N_("La page « /{name} » n'existe pas ; la page d'accueil s'affiche."),
    ),
    (r"^Showing page (?<page>\d+) of (?<pages>\d+)$", N_("Page {page} sur {pages}")),
)

# The date field's placeholders, which react-aria writes in the locale's letters: only
# inside a date input (two letters elsewhere could be anything).
DATE_SEGMENTS: dict[str, tuple[str, str, str]] = {
    # language: (day, month, year) placeholders
    i18n.FRENCH: ("jj", "mm", "aaaa"),
    i18n.ENGLISH: ("dd", "mm", "yyyy"),
}

_BROWSER_LOCALES = {i18n.FRENCH: "fr-FR", i18n.ENGLISH: "en-GB"}


def _js_replacement(template: str) -> str:
    """'{size} Go par fichier' → '$<size> Go par fichier' (JavaScript's String.replace)."""
    return re.sub(r"\{([A-Za-z_]\w*)\}", r"$<\1>", template.replace("$", "$$"))


def table(language: str, *, platform_name: str = "") -> dict[str, Any]:
    """What the browser script needs, in ``language``."""
    with i18n.using(language):
        texts = {english: _(french) for english, french in TEXTS}
        patterns = [[regex, _js_replacement(_(french))] for regex, french in PATTERNS]
    day, month, year = DATE_SEGMENTS[language]
    segments = {
        other: mine
        for lang, letters in DATE_SEGMENTS.items()
        if lang != language
        for other, mine in zip(letters, (day, month, year), strict=True)
        if other != mine
    }
    return {
        "lang": language,
        "locale": _BROWSER_LOCALES[language],
        "title": platform_name,
        "texts": texts,
        "patterns": patterns,
        "scoped": [["[data-testid='stDateInput']", segments]],
    }


@lru_cache(maxsize=len(i18n.LANGUAGES))
def script(language: str) -> bytes:
    from rcp.config import get_settings

    prelude = "window.__RCP_I18N__ = " + json.dumps(
        table(language, platform_name=get_settings().platform_name), ensure_ascii=False
    )
    code = SCRIPT.read_text(encoding="utf-8") + KEYBOARD_SCRIPT.read_text(encoding="utf-8")
    return (prelude + ";\n" + code).encode()


@lru_cache(maxsize=len(i18n.LANGUAGES))
def script_url(language: str) -> str:
    """The script's address, with a version so that browsers never keep an old table."""
    version = hashlib.sha256(script(language)).hexdigest()[:12]
    return SCRIPT_ROUTE.format(language=language) + f"?v={version}"


def streamlit_script(request: Request) -> Response:
    language = i18n.normalize(request.path_params["language"])
    if language is None:
        return Response(status_code=404)
    return Response(
        script(language),
        media_type="text/javascript",
        headers={"cache-control": "public, max-age=31536000, immutable"},
    )


def routes() -> list[Route]:
    return [Route("/i18n/streamlit.{language}.js", streamlit_script, methods=["GET"])]


# --- the document ------------------------------------------------------------------------------


def _noscript(language: str) -> str:
    with i18n.using(language):
        return "<noscript><p>{}</p></noscript>".format(
            html.escape(_("Activez JavaScript dans votre navigateur pour utiliser la plateforme."))
        )


_HTML_LANG = re.compile(rb'<html lang="[^"]*">')
_TITLE = re.compile(rb"<title>[^<]*</title>")
_NOSCRIPT = re.compile(rb"<noscript>.*?</noscript>", re.S)
# WCAG 2.1 AA contrast (4.5:1): Streamlit draws captions and help texts at 60 % opacity of its
# ink, #828180 on white, 3.88:1 (axe-core, tests/e2e/test_accessibility_browser.py); opaque
# #6b6a68 is 5.3:1 (``#root``: more specific than the class Streamlit styles them with). In
# the document's head, so the first paint is already readable. The theme's textColor would do
# it too, but a custom theme re-mounts the page's widgets when it arrives (a disabled,
# prefilled e-mail field read empty for a moment: tests/e2e/test_invitations_browser.py).
READABLE_CAPTIONS = b"#root [data-testid='stCaptionContainer']{color:#6b6a68;opacity:1}"
# A visible focus on every control reached by the keyboard (WCAG 2.4.7): Streamlit draws a
# faint shadow on some, nothing on others (text fields change a border colour only; scrolled
# panels such as the chat's messages, which Chromium puts in the Tab order, show nothing).
FOCUS_VISIBLE = (
    b"#root :focus-visible:not(input,textarea){outline:3px solid #1f5f99;outline-offset:2px}"
    b"#root :is([data-testid$='RootElement'],[data-testid='stChatInput'],[data-baseweb='select'])"
    b":focus-within{outline:3px solid #1f5f99;outline-offset:1px}"
    b"#root label:has(input:focus-visible){outline:3px solid #1f5f99;outline-offset:2px}"
)
# Links of lists (meetings on the home page, on an RCP's page) wrap instead of being cut at
# the column's edge without an ellipsis ("(participation conf"), at 390 px as at 1280.
WRAPPING_LINKS = (
    b"#root [data-testid='stPageLink'] a, #root [data-testid='stPageLink'] a *"
    b"{white-space:normal;overflow:visible;text-overflow:clip;max-width:100%}"
    b"#root [data-testid='stPageLink'] a{height:auto}"
    b"#root [data-testid='stPageLink'] a p{line-height:1.4}"
)
HEAD_STYLE = b"<style>" + READABLE_CAPTIONS + FOCUS_VISIBLE + WRAPPING_LINKS + b"</style>"


def rewrite_document(body: bytes, language: str, *, platform_name: str) -> bytes:
    """Streamlit's ``index.html`` in ``language``, with the translating script first."""
    body = _HTML_LANG.sub(f'<html lang="{language}">'.encode(), body, count=1)
    title = f"<title>{html.escape(platform_name)}</title>".encode()
    body = _TITLE.sub(lambda _m: title, body, count=1)
    noscript = _noscript(language).encode()
    body = _NOSCRIPT.sub(lambda _m: noscript, body, count=1)
    tag = f'<script src="{script_url(language)}"></script>\n  '.encode()
    # First thing in <head>: it must run before Streamlit's module script reads the language.
    return body.replace(b"<head>", b"<head>\n    " + tag + HEAD_STYLE + b"\n  ", 1)


def _user_language(token: str) -> str | None:
    from rcp import auth
    from rcp.db import session_scope
    from rcp.web import engine

    with session_scope(engine()) as session:
        user = auth.authenticate(session, token=token, touch=False)
        return i18n.normalize(user.language) if user is not None else None


def _is_document_request(scope: dict[str, Any]) -> bool:
    path = scope.get("path", "")
    return (
        scope.get("method") == "GET"
        and not path.startswith(_NOT_DOCUMENT)
        and "text/html" in (header(scope, b"accept") or "")
    )


class DocumentLanguageMiddleware:
    """Pure ASGI middleware: the request's language for the routes' messages, and
    Streamlit's ``index.html`` rewritten in the visitor's language (see the module)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        language = i18n.negotiate(header(scope, b"accept-language") or "")
        if not _is_document_request(scope):
            token = i18n.set_request_language(language)
            try:
                await self.app(scope, receive, send)
            finally:
                i18n.reset_request_language(token)
            return
        from rcp.config import get_settings

        settings = get_settings()
        session_token = cookie(scope, settings.cookie_name)
        if session_token:
            chosen = await anyio.to_thread.run_sync(_user_language, session_token)
            language = chosen or language
        # The document is rewritten whole: ask for it uncompressed and never as a 304 (a copy
        # cached in another language must not come back).
        scope = dict(scope)
        scope["headers"] = [
            (k, v)
            for k, v in scope.get("headers", [])
            if k.lower() not in (b"accept-encoding", b"if-none-match", b"if-modified-since")
        ]
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                content_type = {k.lower(): v for k, v in message.get("headers", [])}.get(
                    b"content-type", b""
                )
                if not content_type.startswith(b"text/html"):
                    start["passthrough"] = True
                    await send(message)
                    return
                start.update(message)
                return
            if start.get("passthrough"):
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = rewrite_document(
                b"".join(chunks), language, platform_name=settings.platform_name
            )
            headers = [
                (k, v)
                for k, v in start.get("headers", [])
                if k.lower() not in (b"content-length", b"etag", b"last-modified", b"vary")
            ]
            headers += [
                (b"content-length", str(len(body)).encode()),
                (b"vary", b"Accept-Language, Cookie"),
                (b"cache-control", b"no-cache"),
            ]
            headers = [
                (k, v) for k, v in headers if k.lower() != b"cache-control" or v == b"no-cache"
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        request_token = i18n.set_request_language(language)
        try:
            await self.app(scope, receive, capture)
        finally:
            i18n.reset_request_language(request_token)
