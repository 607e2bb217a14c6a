"""Maintenance of the catalogue (rcp/locale): extraction, update, compilation, checks.

Used by ``scripts/i18n.py`` (by hand and from ``scripts/setup.sh``) and by
``tests/unit/test_catalogue.py``. Nothing here runs while the server serves pages.

The ``.po`` files are written sorted by message, with file names but no line numbers, so that
engineers adding strings in parallel touch separate lines and a moved line changes nothing.
The ``.mo`` files are compiled at install (``scripts/setup.sh``), not committed: a binary file
cannot be merged, and a compiled copy could silently lag behind its ``.po``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from rcp import i18n

ROOT = Path(__file__).resolve().parents[1]
# Where user-facing strings live (the migrations hold none).
SOURCES: tuple[str, ...] = ("app.py", "rcp_app.py", "pages/**.py", "rcp/**.py")
IGNORED: tuple[str, ...] = ("rcp/migrations/**",)
KEYWORDS = dict(DEFAULT_KEYWORDS)
# A fixed date in the headers: regenerating the files changes nothing but the messages.
STAMP = datetime(2026, 12, 1, tzinfo=UTC)
PROJECT = "rcp-platform"
# Placeholders of str.format ("{name}") must be the same in a message and its translation.
_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?:[!:][^{}]*)?\}(?!\})")


def _method_map() -> list[tuple[str, str]]:
    return [*((pattern, "ignore") for pattern in IGNORED), *((p, "python") for p in SOURCES)]


def extract() -> Catalog:
    """Every message the code marks (``_``, ``N_``, ``ngettext``, ``pgettext``)."""
    catalog = Catalog(
        project=PROJECT,
        locale=None,
        creation_date=STAMP,
        revision_date=STAMP,
        charset="utf-8",
        fuzzy=False,
    )
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map=_method_map(), keywords=KEYWORDS, comment_tags=("i18n:",)
    ):
        catalog.add(
            message,
            None,
            [(filename, lineno)],
            auto_comments=comments,
            context=context,
        )
    return catalog


def read(language: str) -> Catalog:
    path = i18n.po_path(language)
    if not path.exists():
        return Catalog(locale=language, project=PROJECT, creation_date=STAMP)
    with path.open("rb") as fh:
        return read_po(fh, locale=language)


def _write(catalog: Catalog, path: Path) -> None:
    catalog.creation_date = STAMP
    catalog.revision_date = STAMP
    catalog.fuzzy = False
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = BytesIO()
    write_po(buffer, catalog, sort_output=True, include_lineno=False, width=100)
    path.write_bytes(buffer.getvalue())


def update(languages: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Bring each translated language's ``.po`` in line with the code; returns, per language,
    the messages that still need a translation (new, changed, or marked fuzzy)."""
    template = extract()
    todo: dict[str, list[str]] = {}
    for language in languages or translated_languages():
        catalog = read(language)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()  # a message the code no longer has is gone for good
        _write(catalog, i18n.po_path(language))
        todo[language] = [m.id if isinstance(m.id, str) else m.id[0] for m in _missing(catalog)]
    return todo


def translated_languages() -> tuple[str, ...]:
    return tuple(language for language in i18n.LANGUAGES if language != i18n.DEFAULT)


def compile_all() -> list[Path]:
    """Write the ``.mo`` of every translated language (fuzzy entries left out)."""
    written = []
    for language in translated_languages():
        catalog = read(language)
        path = i18n.mo_path(language)
        with path.open("wb") as fh:
            write_mo(fh, catalog)
        written.append(path)
    return written


def _missing(catalog: Catalog) -> list[Message]:
    out = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(s and s.strip() for s in strings):
            out.append(message)
    return out


@dataclass(frozen=True)
class Problem:
    language: str
    message: str
    reason: str

    def __str__(self) -> str:
        return f"[{self.language}] {self.message!r}: {self.reason}"


def check() -> list[Problem]:
    """What keeps the catalogue from being complete: a message of the code absent from a
    language, untranslated or fuzzy, or whose placeholders differ from its translation."""
    template = extract()
    problems: list[Problem] = []
    for language in translated_languages():
        catalog = read(language)
        for message in template:
            if not message.id:
                continue
            key = message.id if isinstance(message.id, str) else message.id[0]
            found = catalog.get(message.id, context=message.context)
            if found is None:
                problems.append(Problem(language, key, "absent from the .po (run extract)"))
                continue
            if found in _missing(catalog):
                problems.append(Problem(language, key, "no translation (or fuzzy)"))
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = found.string if isinstance(found.string, tuple) else (found.string,)
            expected = set().union(*(set(_PLACEHOLDER.findall(i)) for i in ids))
            found_sets = [set(_PLACEHOLDER.findall(text)) for text in strings]
            # A plural form may leave the number out ("One request"), not add a name.
            same = (
                found_sets[0] == expected
                if len(found_sets) == 1
                else all(f <= expected for f in found_sets) and set().union(*found_sets) == expected
            )
            if not same:
                problems.append(Problem(language, key, f"placeholders differ in {strings!r}"))
    return problems


# --- strings that bypass the catalogue -------------------------------------------------------

# Calls whose string arguments are the catalogue's: not a bypass.
TRANSLATING = frozenset({"_", "N_", "gettext", "ngettext", "pgettext", "npgettext"})
# Where French text is expected to stay as it is: logs (for operators, English by rule) and
# programming errors (never shown: rcp.ui.failsafe shows a reference instead).
_LOG_METHODS = frozenset({"debug", "info", "warning", "error", "exception", "critical", "log"})
_LOGGERS = frozenset({"log", "logger", "logging", "_log", "LOG"})
_DEVELOPER_ERRORS = frozenset(
    {
        "ValueError",
        "TypeError",
        "RuntimeError",
        "AssertionError",
        "KeyError",
        "LookupError",
        "NotImplementedError",
        "OSError",
    }
)
# Widget and text calls of Streamlit: their words reach the screen, whatever the language.
_UI_CALLS = frozenset(
    {
        "button", "title", "header", "subheader", "caption", "markdown", "write", "text",
        "info", "warning", "error", "success", "toast", "text_input", "text_area",
        "selectbox", "multiselect", "radio", "checkbox", "toggle", "number_input",
        "date_input", "time_input", "file_uploader", "form_submit_button", "page_link",
        "link_button", "download_button", "expander", "tabs", "popover", "metric",
        "chat_input", "slider", "select_slider", "dialog", "spinner", "status", "Page",
        "pills", "segmented_control", "feedback", "camera_input", "color_picker",
    }
)  # fmt: skip
# Owners of calls that share a name with Streamlit's (sqlalchemy's text(), ...).
_NOT_STREAMLIT = frozenset({"sa", "sqlalchemy", "re", "os", "json", "np", "pdf", "fh", "self"})
_UI_KEYWORDS = frozenset({"label", "help", "placeholder", "caption", "title", "body", "text"})
_FRENCH_LETTERS = frozenset("éèêëàâäîïôöùûüçœæÉÈÊËÀÂÎÏÔÙÛÇŒÆ«»")  # i18n: exempt (a table)
_FRENCH_WORDS = frozenset(
    # French words that are not English ones ("page", "date", "plus", "car" are both).
    # i18n: exempt (a table)
    """le la les des du de un une et est sont pour sur dans avec vous votre vos nous notre ne
    pas aucun aucune ce cette ces qui que au aux sa ses leur leurs être avoir ont tout tous
    toute toutes mon ma mes il elle ils elles se si mais ou donc ni cas fiche séance avis
    compte connexion mot adresse fichier fichiers valider annuler enregistrer supprimer
    ajouter retour introuvable participer rejoindre soumettre patiente médecin médecins
    filière famille statut brouillon heure jour jours envoyer modifier""".split()
)
_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿŒœÆæ]{2,}")
_MARKUP = re.compile(r":material/[a-z_]+:|<[^>]*>|&[a-z]+;|https?://\S+")


_IDENTIFIER = re.compile(r"^[\w.:/-]*[_.][\w.:/-]*$")
_REGEX = re.compile(r"^\^|\(\?|\\[dswbDSW]|\[\^?[A-Za-z0-9]-")


def looks_french(text: str) -> bool:
    """Whether ``text`` reads as French words (a heuristic: accents, guillemets, or common
    French words in a text of several words). Identifiers and regular expressions do not."""
    if _IDENTIFIER.match(text.strip()) or _REGEX.search(text):
        return False
    text = _MARKUP.sub(" ", text)
    words = _WORD.findall(text)
    if not words:
        return False
    if any(ch in _FRENCH_LETTERS for ch in text):
        return True
    return len(words) > 1 and any(w.lower() in _FRENCH_WORDS for w in words)


def has_words(text: str) -> bool:
    """Whether ``text`` holds a word to read (not only markup, icons, numbers, symbols, or a
    path such as a page's file)."""
    if _IDENTIFIER.match(text.strip()):
        return False
    return bool(_WORD.search(_MARKUP.sub(" ", text)))


@dataclass(frozen=True)
class Bypass:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text[:70]!r}"


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _owner(node: ast.AST) -> str:
    return _name(node.value) if isinstance(node, ast.Attribute) else ""


def _literal_text(node: ast.AST) -> str | None:
    """The literal part of a str constant or an f-string (placeholders left out)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return " ".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
    return None


def scan_source(source: str, path: str = "<string>") -> list[Bypass]:
    """User-facing strings of one module that do not go through the catalogue.

    Flagged: a French-looking string anywhere (but docstrings, log calls, programming errors
    and the catalogue's own calls), and any worded string given to a Streamlit call as its
    text (label, help, placeholder, body), French or not. A line may opt out with a comment
    ``# i18n: exempt (why)`` (on it or the line above) where a string is deliberately not
    translated (data, a name).
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    skip: set[int] = set()  # ids of string nodes that are fine
    ui: set[int] = set()  # ids of string nodes that are a Streamlit call's text

    def mark(node: ast.AST, into: set[int]) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant | ast.JoinedStr):
                into.add(id(sub))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            skip.add(id(body[0].value))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))  # a bare string: a comment-like note
        elif isinstance(node, ast.Assert) and node.msg is not None:
            mark(node.msg, skip)
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            if _name(node.exc.func) in _DEVELOPER_ERRORS:
                mark(node.exc, skip)
        elif isinstance(node, ast.Call):
            func = _name(node.func)
            if func in TRANSLATING:
                mark(node, skip)
            elif func in _LOG_METHODS and _owner(node.func) in _LOGGERS:
                mark(node, skip)
            elif func == "warn" and _owner(node.func) == "warnings":
                mark(node, skip)
            elif (
                func in _UI_CALLS
                and isinstance(node.func, ast.Attribute)
                and _owner(node.func) not in _NOT_STREAMLIT
            ):
                texts = list(node.args[:1]) + [
                    k.value for k in node.keywords if k.arg in _UI_KEYWORDS
                ]
                for text in texts:
                    if isinstance(text, ast.List | ast.Tuple):
                        for item in text.elts:
                            ui.add(id(item))
                    else:
                        ui.add(id(text))
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if key is not None:
                    mark(key, skip)  # keys are codes
        elif isinstance(node, ast.Subscript):
            mark(node.slice, skip)
        elif isinstance(node, ast.Compare):
            for part in (node.left, *node.comparators):
                if isinstance(part, ast.Constant):
                    skip.add(id(part))
    found: list[Bypass] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        text = _literal_text(node)
        if text is None:
            continue
        if isinstance(node, ast.Constant) and _inside_fstring(tree, node):
            continue
        if not (looks_french(text) or (id(node) in ui and has_words(text))):
            continue
        # The opt-out comment sits on the string's first line or on the line above it.
        near = lines[max(node.lineno - 2, 0) : node.lineno]
        if any("# i18n: exempt" in line for line in near):
            continue
        found.append(Bypass(path, node.lineno, text))
    return found


def _inside_fstring(tree: ast.AST, node: ast.AST) -> bool:
    parents = getattr(tree, "_rcp_fstring_parts", None)
    if parents is None:
        parents = {
            id(part)
            for sub in ast.walk(tree)
            if isinstance(sub, ast.JoinedStr)
            for part in ast.walk(sub)
            if part is not sub
        }
        tree._rcp_fstring_parts = parents  # type: ignore[attr-defined]
    return id(node) in parents


def source_files() -> list[Path]:
    """The modules whose strings must go through the catalogue."""
    files = [ROOT / "app.py", ROOT / "rcp_app.py"]
    files += sorted((ROOT / "pages").glob("*.py"))
    files += sorted(p for p in (ROOT / "rcp").rglob("*.py") if "migrations" not in p.parts)
    return files


def bypasses() -> dict[str, list[Bypass]]:
    """Every module's strings that bypass the catalogue (modules without any left out)."""
    out: dict[str, list[Bypass]] = {}
    for path in source_files():
        rel = str(path.relative_to(ROOT))
        found = scan_source(path.read_text(encoding="utf-8"), rel)
        if found:
            out[rel] = found
    return out
