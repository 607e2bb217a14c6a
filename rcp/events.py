"""Meeting changes pushed to the pages that show them, instead of every page polling.

Whenever a transaction commits a change that a meeting page shows — a chat message, a hand
raised or lowered, the current case, a case's status, someone joining or leaving the room,
the meeting closed — the meeting's id is published. Nothing in the services has to remember
it: a SQLAlchemy ``after_flush`` hook looks at what is being written (:data:`WATCHED`).

- **PostgreSQL** (several replicas): ``pg_notify('rcp_meeting', id)`` in the same transaction,
  so it is delivered at commit and dropped on rollback; every process LISTENs
  (:func:`listen_postgres`) and hands the ids to its broker.
- **SQLite** (one process): the ids are handed to the broker after commit.

The :class:`Broker` wakes the subscribers of a meeting — the ``/events/meeting/<id>`` streams
(``rcp.live_web``) that the meeting pages listen to. A room heartbeat (attendance's
``last_seen_at`` only) is not a change anyone sees: it publishes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session

from rcp.models import Attendance, Case, ChatMessage, Meeting, Participation

log = logging.getLogger(__name__)

CHANNEL = "rcp_meeting"
_PENDING = "rcp_events_pending"


def _attendance_meeting(row: Attendance, is_new: bool) -> int | None:
    # A join (new stay) or a leave shows; a heartbeat (last_seen_at alone) does not.
    if is_new or inspect(row).attrs.left_at.history.has_changes():
        return row.meeting_id
    return None


#: What a meeting page shows, and how to find the meeting of a written row.
WATCHED: dict[type, Callable[[Any, bool], int | None]] = {
    ChatMessage: lambda row, _new: row.meeting_id,
    Participation: lambda row, _new: row.meeting_id,
    Meeting: lambda row, _new: row.id,
    Case: lambda row, _new: row.meeting_id,
    Attendance: _attendance_meeting,
}


class Broker:
    """The meeting pages of this process waiting for news, per meeting (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[int]]]] = (
            defaultdict(set)
        )
        self.published = 0  # ids handed out so far (tests, metrics)

    def subscribe(self, meeting_id: int) -> asyncio.Queue[int]:
        """A queue that receives a number each time the meeting changes (call on a loop)."""
        queue: asyncio.Queue[int] = asyncio.Queue(maxsize=16)
        with self._lock:
            self._waiters[meeting_id].add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, meeting_id: int, queue: asyncio.Queue[int]) -> None:
        with self._lock:
            waiters = self._waiters.get(meeting_id, set())
            for entry in [w for w in waiters if w[1] is queue]:
                waiters.discard(entry)
            if not waiters:
                self._waiters.pop(meeting_id, None)

    def subscribers(self, meeting_id: int) -> int:
        with self._lock:
            return len(self._waiters.get(meeting_id, ()))

    def publish(self, meeting_id: int) -> None:
        """The meeting changed: wake its subscribers (from any thread)."""
        with self._lock:
            waiters = list(self._waiters.get(meeting_id, ()))
            self.published += 1
            number = self.published
        for loop, queue in waiters:
            try:
                loop.call_soon_threadsafe(_offer, queue, number)
            except RuntimeError:  # that loop is closed: its subscriber is gone
                self.unsubscribe(meeting_id, queue)


def _offer(queue: asyncio.Queue[int], number: int) -> None:
    if queue.full():  # a slow reader needs only to know that something changed
        return
    queue.put_nowait(number)


_broker = Broker()


def broker() -> Broker:
    """This process's broker."""
    return _broker


def _is_postgres(session: Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _flush_context: Any) -> None:
    changed: set[int] = set()
    for rows, is_new in ((session.new, True), (session.dirty, False), (session.deleted, False)):
        for row in rows:
            find = WATCHED.get(type(row))
            if find is None or (not is_new and not session.is_modified(row)):
                continue
            meeting_id = find(row, is_new)
            if meeting_id is not None:
                changed.add(int(meeting_id))
    if not changed:
        return
    if _is_postgres(session):
        connection = session.connection()
        for meeting_id in sorted(changed):
            connection.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": str(meeting_id)},
            )
        return
    session.info.setdefault(_PENDING, set()).update(changed)


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    for meeting_id in session.info.pop(_PENDING, ()):
        _broker.publish(meeting_id)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


async def listen_postgres(url: str, *, stop: asyncio.Event, retry_s: float = 2.0) -> None:
    """LISTEN on PostgreSQL and hand every notified meeting id to this process's broker,
    reconnecting after a failure, until ``stop`` is set."""
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                log.info("listening to meeting changes on PostgreSQL")
                notifies = conn.notifies()
                while not stop.is_set():
                    next_notify = asyncio.ensure_future(anext(notifies))
                    stopped = asyncio.ensure_future(stop.wait())
                    done, _ = await asyncio.wait(
                        {next_notify, stopped}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if stopped in done:
                        next_notify.cancel()
                        return
                    stopped.cancel()
                    notify = next_notify.result()
                    try:
                        _broker.publish(int(notify.payload))
                    except ValueError:
                        log.warning("ignored a notification %r", notify.payload)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the page falls back to its slow refresh meanwhile
            log.exception("listening to meeting changes failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), retry_s)
            except TimeoutError:
                pass
