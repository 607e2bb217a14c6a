"""Who may send files to Streamlit's upload route, and how many uploaded bytes are held.

Streamlit's ``PUT /_stcore/upload_file/<session>/<file>`` accepts a file for any websocket
session, signed in or not, and keeps it in memory until the session is gone (two minutes
after its websocket closes). The platform bounds that:

- a page that shows a file uploader to a user who may add files "arms" its Streamlit
  session for that user (``UploadGate.allow``); the HTTP middleware
  (``UploadGuardMiddleware``) refuses an upload without a valid platform session cookie, or
  for a Streamlit session not armed for that very user;
- the bytes held (files kept by Streamlit plus uploads in flight, counted from their
  ``Content-Length`` before any byte is read) are capped per user and for the whole process;
- held files are released when the page has consumed them (``rcp.ui.uploads.release``) and
  as soon as their session's websocket is closed (``UploadGate.sweep``).

This module does not import Streamlit: the runtime is reached through the small ``Probe``
that ``rcp.ui.uploads`` installs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from rcp.asgi_scope import cookie, header
from rcp.files import format_megabytes
from rcp.i18n import _

log = logging.getLogger(__name__)

MB = 1024 * 1024
UPLOAD_PREFIX = "/_stcore/upload_file/"
SWEEP_SECONDS = 5.0


class Probe(Protocol):
    """What the gate needs to know of Streamlit's runtime (see ``rcp.ui.uploads``)."""

    def held_bytes(self) -> Mapping[str, int]:
        """Bytes of uploaded files kept in memory, by Streamlit session id."""
        ...

    def is_active(self, session_id: str) -> bool:
        """Whether the session's websocket is still connected."""
        ...

    def drop(self, session_id: str) -> None:
        """Forget every uploaded file of the session."""
        ...


class UploadRefused(Exception):
    """An upload the gate refuses: an HTTP status and a French message for the browser."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Reservation:
    session_id: str
    user_id: int
    nbytes: int


@dataclass
class UploadGate:
    """Armed sessions, bytes in flight and the caps (one per process, see ``gate``)."""

    per_user_bytes: int
    total_bytes: int
    probe: Probe | None = None
    _owners: dict[str, int] = field(default_factory=dict)
    _in_flight: list[_Reservation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- arming ----------------------------------------------------------------------------

    def allow(self, session_id: str, user_id: int) -> None:
        """The page shows an uploader in ``session_id`` to ``user_id``, who may add files."""
        with self._lock:
            self._owners[session_id] = user_id

    def owner(self, session_id: str) -> int | None:
        with self._lock:
            return self._owners.get(session_id)

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._owners.pop(session_id, None)

    # -- accounting ------------------------------------------------------------------------

    def _held(self) -> Mapping[str, int]:
        return dict(self.probe.held_bytes()) if self.probe is not None else {}

    def held_by_user(self, user_id: int) -> int:
        """Bytes kept for the user's sessions plus the user's uploads in flight."""
        held = self._held()
        with self._lock:
            sessions = [sid for sid, uid in self._owners.items() if uid == user_id]
            flying = sum(r.nbytes for r in self._in_flight if r.user_id == user_id)
        return sum(held.get(sid, 0) for sid in sessions) + flying

    def held_total(self) -> int:
        held = self._held()
        with self._lock:
            flying = sum(r.nbytes for r in self._in_flight)
        return sum(held.values()) + flying

    def reserve(self, session_id: str, user_id: int, nbytes: int) -> _Reservation:
        """Count an upload of ``nbytes`` before reading it, or refuse it (413)."""
        if self.held_by_user(user_id) + nbytes > self.per_user_bytes:
            raise UploadRefused(
                413,
                (
                    _(
                        "Trop de fichiers en cours d'envoi pour votre compte (au "
                        "plus {megabytes} à la fois) : ajoutez d'abord les fichiers "
                        "déjà choisis au cas, ou retirez-en de la liste."
                    ).format(megabytes=format_megabytes(self.per_user_bytes))
                ),
            )
        if self.held_total() + nbytes > self.total_bytes:
            raise UploadRefused(
                503,
                _(
                    "La plateforme reçoit beaucoup de fichiers en ce moment : réessayez dans "
                    "quelques minutes."
                ),
            )
        reservation = _Reservation(session_id, user_id, nbytes)
        with self._lock:
            self._in_flight.append(reservation)
        return reservation

    def release(self, reservation: _Reservation) -> None:
        with self._lock:
            if reservation in self._in_flight:
                self._in_flight.remove(reservation)

    # -- end of sessions -------------------------------------------------------------------

    def sweep(self) -> list[str]:
        """Release the files of sessions whose websocket closed; returns their ids.

        Armed sessions and sessions holding files are both looked at: a session that was
        never armed holds nothing (its uploads are refused), but nothing is assumed.
        """
        if self.probe is None:
            return []
        with self._lock:
            candidates = set(self._owners)
        candidates |= set(self._held())
        ended = [sid for sid in candidates if not self.probe.is_active(sid)]
        for sid in ended:
            self.probe.drop(sid)
            self.forget(sid)
        return ended


_gate: UploadGate | None = None
_gate_lock = threading.Lock()
_sweeper: threading.Thread | None = None


def gate() -> UploadGate:
    """The process's gate, with the caps of the settings."""
    global _gate
    with _gate_lock:
        if _gate is None:
            from rcp.config import get_settings

            settings = get_settings()
            _gate = UploadGate(
                per_user_bytes=settings.upload_user_max_mb * MB,
                total_bytes=settings.upload_total_max_mb * MB,
            )
        return _gate


def reset_gate() -> None:
    """Forget the process's gate (tests change the settings)."""
    global _gate
    with _gate_lock:
        _gate = None


def install_probe(probe: Probe) -> None:
    """Connect the gate to Streamlit's runtime and start the sweeper (once per process)."""
    global _sweeper
    current = gate()
    current.probe = probe
    with _gate_lock:
        if _sweeper is None or not _sweeper.is_alive():
            _sweeper = threading.Thread(target=_sweep_forever, name="rcp-upload-sweeper")
            _sweeper.daemon = True
            _sweeper.start()


def sweep_once() -> None:
    """Release what closed sessions held: uploaded files, decoded DICOM frames."""
    from rcp import dicom

    current = gate()
    ended = current.sweep()
    if ended:
        log.info("Released the uploaded files of %d closed session(s)", len(ended))
    probe = current.probe
    if probe is not None:
        for owner in dicom.holders():
            if not probe.is_active(owner):
                dicom.release(owner)


def _sweep_forever() -> None:
    stop = threading.Event()
    while not stop.wait(SWEEP_SECONDS):
        try:
            sweep_once()
        except Exception:  # noqa: BLE001 - the sweeper must outlive one bad round
            log.exception("Session sweep failed")


# --- the HTTP side ----------------------------------------------------------------------------

Authenticate = Callable[[str | None], Awaitable[int | None]]
"""Gives the active user id behind a session cookie value, or None."""


class UploadGuardMiddleware:
    """Pure ASGI middleware in front of Streamlit's upload route (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        *,
        authenticate: Authenticate,
        cookie_name: str,
        max_request_bytes: int,
        gate_of: Callable[[], UploadGate] = gate,
    ) -> None:
        self.app = app
        self.authenticate = authenticate
        self.cookie_name = cookie_name
        self.max_request_bytes = max_request_bytes
        self.gate_of = gate_of

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or not scope.get("path", "").startswith(UPLOAD_PREFIX)
            or scope.get("method") == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        try:
            reservation = await self._check(scope)
        except UploadRefused as refused:
            await _drain(scope, receive)
            await _refuse(send, refused)
            return
        if reservation is None:  # a DELETE: frees memory, nothing to count
            await self.app(scope, receive, send)
            return
        current = self.gate_of()
        try:
            await self.app(scope, receive, send)
        finally:
            current.release(reservation)

    async def _check(self, scope: dict[str, Any]) -> _Reservation | None:
        parts = scope["path"][len(UPLOAD_PREFIX) :].split("/")
        session_id = parts[0] if parts else ""
        user_id = await self.authenticate(cookie(scope, self.cookie_name))
        if user_id is None:
            raise UploadRefused(
                401, _("Votre session a expiré : reconnectez-vous pour envoyer des fichiers.")
            )
        current = self.gate_of()
        if current.owner(session_id) != user_id:
            raise UploadRefused(
                403,
                _(
                    "Envoi de fichiers refusé : ouvrez le formulaire du cas pour ajouter des "
                    "fichiers."
                ),
            )
        if scope.get("method") != "PUT":
            return None
        length_text = header(scope, b"content-length")
        if length_text is None or not length_text.isdigit():
            raise UploadRefused(411, _("Envoi refusé : taille du fichier non indiquée."))
        length = int(length_text)
        if length > self.max_request_bytes:
            raise UploadRefused(
                413,
                (
                    _("Ce fichier dépasse la taille maximale autorisée ({megabytes}).").format(
                        megabytes=format_megabytes(self.max_request_bytes)
                    )
                ),
            )
        return current.reserve(session_id, user_id, length)


DRAIN_MAX_BYTES = 64 * MB
"""Largest refused body read (and dropped) before answering. A browser still sending when the
server answers and closes gets a reset, and the page says "Failed to fetch" instead of the
French reason (seen in the browser test under load); larger bodies, which only a script
sends past the uploader's own size check and nginx's limit, are cut short."""


async def _drain(scope: dict[str, Any], receive: Any) -> None:
    """Read and drop the body of a refused upload, so that the browser reads the answer."""
    length = header(scope, b"content-length")
    if length is None or not length.isdigit() or int(length) > DRAIN_MAX_BYTES:
        return
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def _refuse(send: Any, refused: UploadRefused) -> None:
    body = refused.message.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": refused.status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                # The request body is not read: the client must not reuse the connection.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
