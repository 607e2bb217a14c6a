"""Each server process hands queued emails to SMTP now and then, interrupted ones included."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

import anyio
from sqlalchemy.engine import Engine

from rcp import notify
from rcp.config import get_settings

log = logging.getLogger(__name__)


async def _keep_delivering(engine: Callable[[], Engine], every: float) -> None:
    while True:
        try:
            await anyio.to_thread.run_sync(notify.deliver_queued, engine())
        except Exception:  # noqa: BLE001 - a failed round is retried at the next one
            log.exception("Outbox delivery round failed")
        await asyncio.sleep(every)


@asynccontextmanager
async def lifespan(engine: Callable[[], Engine]) -> AsyncIterator[None]:
    """While the server runs (with an SMTP relay set): a delivery round at start, then every
    ``outbox_retry_seconds``. Emails queued by a request leave at once from a thread of their
    own (rcp.notify.send_email); these rounds take up what a crash or restart interrupted."""
    settings = get_settings()
    if not settings.smtp_configured:
        yield None
        return
    task = asyncio.create_task(_keep_delivering(engine, settings.outbox_retry_seconds))
    try:
        yield None
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
