"""The upload gate: armed sessions, caps on held bytes, release of closed sessions (14.2)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from rcp.uploads import MB, UploadGate, UploadRefused


class FakeRuntime:
    """Streamlit's side as the gate sees it: files held by session, connected sessions."""

    def __init__(self) -> None:
        self.files: dict[str, int] = {}
        self.active: set[str] = set()

    def held_bytes(self) -> Mapping[str, int]:
        return dict(self.files)

    def is_active(self, session_id: str) -> bool:
        return session_id in self.active

    def drop(self, session_id: str) -> None:
        self.files.pop(session_id, None)


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def gate(runtime: FakeRuntime) -> UploadGate:
    return UploadGate(per_user_bytes=10 * MB, total_bytes=15 * MB, probe=runtime)


def test_only_the_user_the_page_armed_owns_the_session(gate: UploadGate) -> None:
    assert gate.owner("s1") is None
    gate.allow("s1", 7)
    assert gate.owner("s1") == 7


def test_bytes_held_and_in_flight_count_towards_the_user_cap(
    gate: UploadGate, runtime: FakeRuntime
) -> None:
    gate.allow("s1", 7)
    gate.allow("s2", 7)  # a second tab of the same user
    runtime.files["s1"] = 4 * MB
    flying = gate.reserve("s2", 7, 5 * MB)
    assert gate.held_by_user(7) == 9 * MB
    with pytest.raises(UploadRefused) as refused:
        gate.reserve("s2", 7, 2 * MB)
    assert refused.value.status == 413 and "au plus 10 Mo" in refused.value.message
    gate.release(flying)
    assert gate.reserve("s2", 7, 2 * MB).nbytes == 2 * MB


def test_the_process_cap_refuses_when_all_users_together_hold_too_much(
    gate: UploadGate, runtime: FakeRuntime
) -> None:
    for session_id, user_id in (("a", 1), ("b", 2)):
        gate.allow(session_id, user_id)
        runtime.files[session_id] = 7 * MB
    with pytest.raises(UploadRefused) as refused:
        gate.reserve("c", 3, 2 * MB)
    assert refused.value.status == 503 and "réessayez" in refused.value.message


def test_sweep_releases_the_files_of_closed_sessions_only(
    gate: UploadGate, runtime: FakeRuntime
) -> None:
    gate.allow("open", 1)
    gate.allow("closed", 1)
    runtime.files.update({"open": 3 * MB, "closed": 5 * MB, "never_armed": 1 * MB})
    runtime.active = {"open"}
    assert sorted(gate.sweep()) == ["closed", "never_armed"]
    assert runtime.files == {"open": 3 * MB}
    assert gate.owner("closed") is None and gate.owner("open") == 1
    assert gate.held_by_user(1) == 3 * MB


def test_the_sweep_also_frees_the_dicom_frames_of_closed_pages(
    runtime: FakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rcp import dicom, uploads

    dicom.clear_volume_cache()
    monkeypatch.setattr(uploads, "_gate", UploadGate(per_user_bytes=MB, total_bytes=MB))
    uploads.gate().probe = runtime
    runtime.active = {"open"}
    dicom.hold("open", ["a"])
    dicom.hold("closed", ["b"])
    uploads.sweep_once()
    assert dicom.holders() == ["open"]
    dicom.clear_volume_cache()


def _upload_scope(length: int) -> dict:
    return {
        "type": "http",
        "method": "PUT",
        "path": "/_stcore/upload_file/s1/f1",
        "headers": [(b"content-length", str(length).encode())],
    }


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_refused_upload_is_read_to_its_end_before_the_answer(
    gate: UploadGate, signed_in: bool
) -> None:
    """The browser must read the French reason: answering while it still sends makes the
    server close on unread bytes, a reset the page shows as "Failed to fetch"."""
    import asyncio

    from rcp.uploads import UploadGuardMiddleware

    chunks = [b"x" * 1000] * 5
    events: list[str] = []

    async def receive() -> dict:
        chunk = chunks.pop(0)
        events.append("read")
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict) -> None:
        events.append(message["type"])

    async def authenticate(_cookie: str | None) -> int | None:
        return 7 if signed_in else None  # signed in, the session is not armed: 403

    async def app(scope, receive, send) -> None:  # pragma: no cover - never reached
        raise AssertionError("a refused upload reached Streamlit")

    guard = UploadGuardMiddleware(
        app,
        authenticate=authenticate,
        cookie_name="rcp_session",
        max_request_bytes=10 * MB,
        gate_of=lambda: gate,
    )
    asyncio.run(guard(_upload_scope(5000), receive, send))
    assert events == ["read"] * 5 + ["http.response.start", "http.response.body"]
