"""Nothing a browser sends on the Streamlit websocket may reset state shared by the server."""

from __future__ import annotations

import asyncio

from streamlit.proto.BackMsg_pb2 import BackMsg

from rcp.room import hub as hub_module
from rcp.ui.websocket_guard import BackMsgFilter, blocked_type


def _frame(**fields) -> bytes:
    message = BackMsg()
    for name, value in fields.items():
        if name == "rerun_script":
            message.rerun_script.query_string = value
        else:
            setattr(message, name, value)
    return message.SerializeToString()


def _through_filter(frames: list[bytes], path: str = "/_stcore/stream") -> list[bytes]:
    """What the app behind the filter receives of ``frames``."""
    seen: list[bytes] = []

    async def app(scope, receive, send) -> None:
        while (event := await receive())["type"] == "websocket.receive":
            seen.append(event["bytes"])

    async def run() -> None:
        queue = [{"type": "websocket.receive", "bytes": f} for f in frames]
        queue.append({"type": "websocket.disconnect", "code": 1000})

        async def receive() -> dict:
            return queue.pop(0)

        scope = {"type": "websocket", "path": path, "client": ("203.0.113.9", 5000)}
        await BackMsgFilter(app)(scope, receive, None)

    asyncio.run(run())
    return seen


def test_cache_clears_and_developer_messages_never_reach_streamlit() -> None:
    rerun = _frame(rerun_script="id=3")
    frames = [
        rerun,
        _frame(clear_cache=True),
        _frame(set_run_on_save=True),
        _frame(load_git_info=True),
        _frame(app_heartbeat=True),
    ]
    assert _through_filter(frames) == [rerun, _frame(app_heartbeat=True)]


def test_blocked_types_are_named_and_garbage_is_left_to_streamlit() -> None:
    assert blocked_type(_frame(clear_cache=True)) == "clear_cache"
    assert blocked_type(_frame(stop_script=True)) is None
    assert blocked_type(b"\xff\xff\xff") is None


def test_other_websockets_and_paths_are_untouched() -> None:
    clear = _frame(clear_cache=True)
    assert _through_filter([clear], path="/some/other/socket") == [clear]


def test_clearing_streamlits_caches_leaves_the_rooms_alone() -> None:
    """The rooms are the app's own process memory, not a Streamlit cache: even a cache clear
    that got through (or one made by code) leaves every participant where they are."""
    from streamlit.runtime import caching

    hub = hub_module.get_hub()
    hub.rooms.join(4242, 7, "Dr Alice Martin", seat="s")
    try:
        caching.cache_data.clear()
        caching.cache_resource.clear()
        assert hub_module.get_hub() is hub
        assert 7 in hub.rooms.get(4242)
    finally:
        hub.rooms.close(4242)
