"""Server-sent events for the meeting pages: ``GET /events/meeting/<id>``.

An open meeting page listens here (``rcp/ui/live_events``) instead of re-running its live panel
every two seconds. The stream sends ``event: change`` when something the page shows changed
(rcp.events), a comment every :data:`KEEPALIVE_S` so that proxies keep it open, and
``event: end`` (then closes) once the viewer's session ended or they lost access to the
meeting. Only a signed-in user who may see the meeting's live page is let in; the session is
not "touched" by listening (an open tab alone must not keep a session alive).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from rcp import auth, events, meeting_live
from rcp.config import get_settings
from rcp.db import session_scope
from rcp.errors import RcpError
from rcp.i18n import _
from rcp.rtc import engine

log = logging.getLogger(__name__)

KEEPALIVE_S = 25.0
#: How often a listening page's right to it is checked again (signed out, access withdrawn).
RECHECK_S = 60.0
#: Changes closer than this make one event (a message and a hand, several joins).
COALESCE_S = 0.05


def _may_listen(token: str | None, meeting_id: int) -> tuple[int, str]:
    """(0, "") if the session behind ``token`` may follow this meeting, else (status, reason)."""
    with session_scope(engine()) as session:
        user = auth.authenticate(session, token=token, touch=False)
        if user is None:
            return 401, _("Connectez-vous pour suivre la séance.")
        try:
            meeting_live.access(session, actor=user, meeting_id=meeting_id)
        except RcpError as error:
            return 403, str(error)
        return 0, ""


async def meeting_events(request: Request) -> Response:
    meeting_id = int(request.path_params["meeting_id"])
    token = request.cookies.get(get_settings().cookie_name)
    status, reason = await run_in_threadpool(_may_listen, token, meeting_id)
    if status:
        return PlainTextResponse(reason, status_code=status, headers={"cache-control": "no-store"})
    queue = events.broker().subscribe(meeting_id)

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n\nevent: ready\ndata: 0\n\n"
            checked = time.monotonic()
            while True:
                try:
                    number = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    number = None
                if time.monotonic() - checked >= RECHECK_S:
                    checked = time.monotonic()
                    status, _ = await run_in_threadpool(_may_listen, token, meeting_id)
                    if status:
                        yield "event: end\ndata: 0\n\n"
                        return
                if number is None:
                    yield ": keepalive\n\n"
                    continue
                await asyncio.sleep(COALESCE_S)
                while not queue.empty():
                    number = queue.get_nowait()
                yield f"event: change\ndata: {number}\n\n"
        finally:
            events.broker().unsubscribe(meeting_id, queue)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


@asynccontextmanager
async def lifespan(_app: object) -> AsyncIterator[None]:
    """On PostgreSQL, listen to the other replicas' changes for as long as the app runs."""
    url = get_settings().effective_database_url
    if not url.startswith("postgresql"):
        yield None
        return
    stop = asyncio.Event()
    task = asyncio.create_task(events.listen_postgres(url, stop=stop), name="rcp-listen")
    try:
        yield None
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 5)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()


def routes() -> list[Route]:
    return [Route("/events/meeting/{meeting_id:int}", meeting_events, methods=["GET"])]
