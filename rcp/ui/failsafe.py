"""Failures shown as a message in place of the part that failed, never Streamlit's box.

Every part of a page that reads or renders data runs inside ``section(label)``: if it raises
anything but Streamlit's own control flow (``st.stop``/``st.rerun`` are BaseExceptions and go
through), the part is replaced by a message carrying an incident reference, the
traceback is logged under that reference, and the rest of the page goes on (the meeting page
keeps its chat, hands and "Clore la séance" when one case cannot be drawn). ``rcp_app.py``
runs the whole page in one more section, and ``app.py`` hands ``on_script_error`` to
``st.App`` for what remains (widget callbacks), so that no exception reaches the user as
Streamlit's English box with its links to outside services.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import streamlit as st

from rcp.i18n import N_, _

log = logging.getLogger("rcp.incidents")
# What happened to the part, after its name ("La messagerie" + "n'a pas pu s'afficher").
NOT_SHOWN = N_("n'a pas pu s'afficher")
NOT_DONE = N_("n'a pas abouti")

P = ParamSpec("P")
R = TypeVar("R")


def new_reference() -> str:
    """A short reference a user can read out to support (e.g. ``INC-7F3A9C2E``)."""
    return f"INC-{secrets.token_hex(4).upper()}"


def report(error: BaseException, part: str) -> str:
    """Log ``error`` with its traceback under a new reference; return the reference.

    The log line names the part and the exception type only: exception messages may quote
    stored values, and patient data must not reach the logs (the traceback's frames are code).
    """
    reference = new_reference()
    log.error(
        "incident %s in %s: %s",
        reference,
        part,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__),
    )
    return reference


def message(part: str, reference: str, *, failed: str = NOT_SHOWN) -> str:
    """What the user reads instead of the failed part (no outside links).

    ``part`` and ``failed`` are ``N_``-marked French (translated here; an already translated
    text passes through unchanged)."""
    return _(
        "{part} {failed} à la suite d'une erreur du serveur. Le reste de la page fonctionne ; "
        "rechargez la page pour réessayer. Si le problème persiste, communiquez au support la "
        "référence **{reference}**."
    ).format(part=_(part), failed=_(failed), reference=reference)


def show(part: str, reference: str, *, failed: str = NOT_SHOWN) -> None:
    st.error(message(part, reference, failed=failed), icon=":material/report:")


@contextmanager
def section(part: str, *, replace: bool = True) -> Iterator[None]:
    """Run one part of a page; on failure show a message with a reference instead.

    ``part`` names the part for the user, marked ``N_("La messagerie")``. With
    ``replace`` (the default) whatever the part drew before failing is replaced by the
    message; without it, the message is added after it (the whole page: what was drawn
    stays usable).
    """
    slot = st.empty() if replace else None
    try:
        if slot is not None:
            with slot.container():
                yield
        else:
            yield
    except Exception as error:  # noqa: BLE001 - the point: nothing reaches Streamlit's box
        reference = report(error, part)
        if slot is not None:
            slot.error(message(part, reference), icon=":material/report:")
        else:
            show(part, reference)


def guarded(part: str) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """Decorator form of ``section`` for functions that draw a part (fragments too)."""

    def decorate(func: Callable[P, None]) -> Callable[P, None]:
        @wraps(func)
        def run(*args: P.args, **kwargs: P.kwargs) -> None:
            with section(part):
                func(*args, **kwargs)

        return run

    return decorate


def on_script_error(error: Exception) -> bool:
    """``st.App``'s last resort (widget callbacks, the script outside any section)."""
    show(N_("Cette action"), report(error, "script"), failed=NOT_DONE)
    return True  # Streamlit's own exception box is not shown
