"""WebRTC signalling over HTTP: the routes the room component calls, and the app's media hub.

The browser component (``rcp/ui/room_client``) posts one complete SDP offer to these routes
of the ``st.App``; each route checks the request comes from the platform's own pages (Origin),
finds the signed-in user from the session cookie, checks the permission with the services
(``rcp.attendance``), and awaits the hub's answer on the server's event loop. Database work
runs in a worker thread, never on that loop.

- ``POST /rtc/room/{meeting}/join``   ``{"sdp", "seat", "camera", "muted"}`` → ``{"sdp"}``
- ``POST /rtc/room/{meeting}/leave``  ``{"seat"}`` (also as a beacon when the tab closes)
- ``POST /rtc/room/{meeting}/screen`` ``{"sdp"}`` → ``{"sdp"}``; ``…/screen/stop``
- ``POST /rtc/check``                 ``{"sdp", "check"}`` → ``{"sdp"}`` (no session needed:
  "Tester mon matériel" is offered before sign-in; capped in number, per address and in time)
- ``POST /rtc/check/stop``            ``{"check"}``

Errors are JSON ``{"error": "<French message>"}`` with 400/401/403/409/413.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rcp import attendance, auth
from rcp.config import get_settings
from rcp.db import make_engine, session_scope
from rcp.errors import AuthFailed, Conflict, InvalidInput, NotFound, PermissionDenied, RcpError
from rcp.i18n import N_, _
from rcp.models import User
from rcp.room.hub import MediaHub, get_hub

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BODY_BYTES = 96_000
_SEAT = re.compile(r"^[A-Za-z0-9_-]{1,40}:[A-Za-z0-9_-]{1,40}:[0-9]{1,6}$")
_CHECK = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
NOT_SIGNED_IN = N_("Votre session a expiré : reconnectez-vous, puis rouvrez la salle.")
FOREIGN_ORIGIN = N_("Requête refusée : elle ne vient pas d'une page de la plateforme.")


@lru_cache(maxsize=4)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The database of the current settings (one engine per URL for this process)."""
    return _engine_for(get_settings().effective_database_url)


class DbAttendance:
    """The hub's seats written as Attendance rows (rcp.attendance), on the hub's writer thread."""

    def _run(self, meeting_id: int, user_id: int, action: Callable[..., object]) -> None:
        with session_scope(engine()) as session:
            user = session.get(User, user_id)
            if user is None:
                return
            try:
                action(session, actor=user, meeting_id=meeting_id)
            except RcpError as error:
                # Rights gone or meeting closed since the join: the seat ends, with the reason.
                session.rollback()
                media_hub().kick(meeting_id, user_id, str(error))

    def joined(self, meeting_id: int, user_id: int) -> None:
        self._run(meeting_id, user_id, attendance.record_join)

    def alive(self, meeting_id: int, user_id: int) -> None:
        def beat(session: Any, *, actor: User, meeting_id: int) -> None:
            if attendance.heartbeat(session, actor=actor, meeting_id=meeting_id) is None:
                attendance.record_join(session, actor=actor, meeting_id=meeting_id)

        self._run(meeting_id, user_id, beat)

    def left(self, meeting_id: int, user_id: int) -> None:
        with session_scope(engine()) as session:
            user = session.get(User, user_id)
            if user is None:
                return
            try:
                attendance.record_leave(session, actor=user, meeting_id=meeting_id)
            except RcpError:
                session.rollback()  # nothing of theirs left open in a meeting they lost


def media_hub() -> MediaHub:
    """This process's media hub, writing attendance to the database."""
    hub = get_hub()
    if not isinstance(hub.attendance, DbAttendance):
        hub.attendance = DbAttendance()
    return hub


@asynccontextmanager
async def lifespan(_app: object):  # noqa: ANN201 - st.App's lifespan protocol
    """Bind the media hub to the server's event loop; close every connection at shutdown."""
    hub = media_hub()
    hub.bind(asyncio.get_running_loop())
    try:
        yield None
    finally:
        await hub.close()


# ----------------------------------------------------------------------------- request helpers


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse(
        {"error": message}, status_code=status, headers={"cache-control": "no-store"}
    )


def _status_of(error: RcpError) -> int:
    if isinstance(error, AuthFailed):
        return 401
    if isinstance(error, PermissionDenied):
        return 403
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Conflict):
        return 409
    return 400


def same_origin(request: Request) -> bool:
    """The request comes from a page of this site (browsers send Origin on every POST)."""
    origin = request.headers.get("origin")
    host = request.headers.get("host")
    return bool(origin and host) and urlsplit(origin).netloc == host


async def _body(request: Request) -> dict[str, Any]:
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidInput(_("Requête trop volumineuse."))
        chunks.append(chunk)
    try:
        data = json.loads(b"".join(chunks) or b"{}")
    except ValueError as error:
        raise InvalidInput(_("Requête illisible.")) from error
    if not isinstance(data, dict):
        raise InvalidInput(_("Requête illisible."))
    return data


def _signed_in(token: str | None) -> User | None:
    with session_scope(engine()) as session:
        user = auth.authenticate(session, token=token)
        if user is not None:
            session.expunge(user)
        return user


async def _user(request: Request) -> User | None:
    return await run_in_threadpool(_signed_in, request.cookies.get(get_settings().cookie_name))


def _room_info(user: User, meeting_id: int) -> attendance.RoomInfo:
    with session_scope(engine()) as session:
        return attendance.room_info(session, actor=session.merge(user), meeting_id=meeting_id)


def _may_share(user: User, meeting_id: int) -> bool:
    with session_scope(engine()) as session:
        return attendance.may_share_screen(
            session, actor=session.merge(user), meeting_id=meeting_id
        )


async def _guarded(
    request: Request, handler: Callable[[User | None, dict[str, Any]], Any], *, anonymous: bool
) -> Response:
    """Origin, body and session checks shared by every route; RcpError → JSON error."""
    if not same_origin(request):
        return _error(_(FOREIGN_ORIGIN), 403)
    try:
        body = await _body(request)
        user = await _user(request)
        if user is None and not anonymous:
            return _error(_(NOT_SIGNED_IN), 401)
        result = await handler(user, body)
    except RcpError as error:
        return _error(str(error), _status_of(error))
    if isinstance(result, Response):
        return result
    return JSONResponse(result, headers={"cache-control": "no-store"})


def _seat(body: dict[str, Any]) -> str:
    seat = body.get("seat")
    if not isinstance(seat, str) or not _SEAT.match(seat):
        raise InvalidInput(_("Rechargez la page de la salle."))
    return seat


# ----------------------------------------------------------------------------- routes


async def room_join(request: Request) -> Response:
    meeting_id = int(request.path_params["meeting_id"])

    async def handle(user: User | None, body: dict[str, Any]) -> dict[str, str]:
        assert user is not None
        seat = _seat(body)
        await run_in_threadpool(_room_info, user, meeting_id)  # refuses with a French reason
        answer = await media_hub().join_room(
            meeting_id=meeting_id,
            user_id=user.id,  # type: ignore[arg-type]
            name=user.display_name,
            seat=seat,
            offer_sdp=body.get("sdp"),  # type: ignore[arg-type]
            camera=bool(body.get("camera")),
            muted=bool(body.get("muted")),
        )
        return {"type": "answer", "sdp": answer}

    return await _guarded(request, handle, anonymous=False)


async def room_leave(request: Request) -> Response:
    meeting_id = int(request.path_params["meeting_id"])

    async def handle(user: User | None, body: dict[str, Any]) -> dict[str, bool]:
        assert user is not None
        left = await media_hub().leave_async(meeting_id, user.id, _seat(body))  # type: ignore[arg-type]
        return {"left": left}

    return await _guarded(request, handle, anonymous=False)


async def room_screen(request: Request) -> Response:
    meeting_id = int(request.path_params["meeting_id"])

    async def handle(user: User | None, body: dict[str, Any]) -> dict[str, str]:
        assert user is not None
        if not await run_in_threadpool(_may_share, user, meeting_id):
            raise PermissionDenied(
                _("Le partage d'écran n'est possible que lorsque l'assistant(e) vous y invite.")
            )
        answer = await media_hub().share_screen(
            meeting_id=meeting_id,
            user_id=user.id,  # type: ignore[arg-type]
            offer_sdp=body.get("sdp"),  # type: ignore[arg-type]
        )
        return {"type": "answer", "sdp": answer}

    return await _guarded(request, handle, anonymous=False)


async def room_screen_stop(request: Request) -> Response:
    meeting_id = int(request.path_params["meeting_id"])

    async def handle(user: User | None, _body: dict[str, Any]) -> dict[str, bool]:
        assert user is not None
        await media_hub().end_screen(meeting_id, user.id)  # type: ignore[arg-type]
        return {"stopped": True}

    return await _guarded(request, handle, anonymous=False)


def _check_id(body: dict[str, Any]) -> str:
    check = body.get("check")
    if not isinstance(check, str) or not _CHECK.match(check):
        raise InvalidInput(_("Rechargez la page pour refaire le test."))
    return check


async def check_start(request: Request) -> Response:
    client = request.client.host if request.client else ""

    async def handle(user: User | None, body: dict[str, Any]) -> dict[str, str]:
        answer = await media_hub().start_check(
            check_id=_check_id(body),
            offer_sdp=body.get("sdp"),  # type: ignore[arg-type]
            anonymous=user is None,
            client=client,
        )
        return {"type": "answer", "sdp": answer}

    return await _guarded(request, handle, anonymous=True)


async def check_stop(request: Request) -> Response:
    async def handle(_user: User | None, body: dict[str, Any]) -> dict[str, bool]:
        await media_hub().end_check(_check_id(body))
        return {"stopped": True}

    return await _guarded(request, handle, anonymous=True)


def routes() -> list[Route]:
    return [
        Route("/rtc/room/{meeting_id:int}/join", room_join, methods=["POST"]),
        Route("/rtc/room/{meeting_id:int}/leave", room_leave, methods=["POST"]),
        Route("/rtc/room/{meeting_id:int}/screen", room_screen, methods=["POST"]),
        Route("/rtc/room/{meeting_id:int}/screen/stop", room_screen_stop, methods=["POST"]),
        Route("/rtc/check", check_start, methods=["POST"]),
        Route("/rtc/check/stop", check_stop, methods=["POST"]),
    ]
