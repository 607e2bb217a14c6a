"""A filter on Streamlit's websocket: browsers may not send the messages meant for developers.

Any visitor, signed in or not, can open ``/_stcore/stream`` and send any ``BackMsg``. Three of
them act on the whole server or on the developer's tools, never on the visitor's own page:
``clear_cache`` (empties every ``st.cache_data``/``st.cache_resource`` for every user),
``set_run_on_save`` (re-runs scripts when files change) and ``load_git_info`` (reads the
repository's state). The platform's pages never send them (the menu item is a developer's),
so they are dropped here, logged, before Streamlit sees them. Process-wide state (the video
rooms) does not live in Streamlit's caches anyway (``rcp.room.hub``): this is a second wall.
"""

from __future__ import annotations

import logging
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg

log = logging.getLogger(__name__)

BLOCKED = frozenset({"clear_cache", "set_run_on_save", "load_git_info"})
STREAM_PATH = "/_stcore/stream"


def blocked_type(data: bytes) -> str | None:
    """The message's type when it is one browsers may not send, else None (also for bytes
    that do not parse: Streamlit answers those itself)."""
    message = BackMsg()
    try:
        message.ParseFromString(data)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends
        return None
    kind = message.WhichOneof("type")
    return kind if kind in BLOCKED else None


class BackMsgFilter:
    """Pure ASGI middleware: drops blocked ``BackMsg`` frames on the Streamlit websocket."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket" or not scope.get("path", "").endswith(STREAM_PATH):
            await self.app(scope, receive, send)
            return

        async def filtered_receive() -> dict:
            while True:
                event = await receive()
                data = event.get("bytes") if event.get("type") == "websocket.receive" else None
                kind = blocked_type(data) if data else None
                if kind is None:
                    return event
                client = scope.get("client") or ("?", 0)
                log.warning("dropped a %s message from %s on the websocket", kind, client[0])

        await self.app(scope, filtered_receive, send)
