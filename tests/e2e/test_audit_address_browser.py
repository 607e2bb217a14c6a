"""The audit log records the client address of every event (issue 20.9).

From the pages (Streamlit's websocket) and from the HTTP routes; ``X-Forwarded-For`` is
believed only from the proxy's address (uvicorn's FORWARDED_ALLOW_IPS, 127.0.0.1 by default,
where the documented nginx runs), never from a browser that sends it itself.
"""

from __future__ import annotations

import http.client

from sqlmodel import Session, select

from rcp import config
from rcp.db import make_engine
from rcp.models import AuditEvent
from tests.e2e.conftest import sign_in
from tests.factories import make_case_team
from tests.unit.test_opinions import add_attachment
from tests.unit.test_web_files import picture


def _events(server, action: str) -> list[AuditEvent]:
    engine = make_engine(f"sqlite:///{server.data_dir / 'rcp.db'}", immediate=False)
    with Session(engine) as session:
        found = session.exec(select(AuditEvent).where(AuditEvent.action == action)).all()
    engine.dispose()
    return list(found)


def _get(server, path: str, token: str, *, source: str, forwarded: str) -> int:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=20, source_address=(source, 0))
    try:
        conn.request(
            "GET", path, headers={"Cookie": f"rcp_session={token}", "X-Forwarded-For": forwarded}
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_page_and_route_events_carry_the_client_address_and_spoofing_fails(
    server, browser, monkeypatch
) -> None:
    monkeypatch.setenv("RCP_DATA_DIR", str(server.data_dir))  # the file goes to the server's
    config.reset_settings_cache()
    engine = make_engine(f"sqlite:///{server.data_dir / 'rcp.db'}")
    with Session(engine, expire_on_commit=False) as session:
        team = make_case_team(session)
        photo = add_attachment(session, team.case, picture("PNG"), "photo.png", "image")
    engine.dispose()

    # Events recorded by the pages, through the websocket.
    ctx = browser.new_context(locale="fr-FR")
    page = ctx.new_page()
    sign_in(page, server, team.nephrologist.email, team.nephrologist.phone)
    (token,) = [c["value"] for c in ctx.cookies() if c["name"] == "rcp_session"]
    ctx.close()
    for action in ("auth.password_ok", "auth.second_factor_ok", "auth.sign_in"):
        mine = [e for e in _events(server, action) if e.actor_id == team.nephrologist.id]
        assert mine and all(e.ip_address == "127.0.0.1" for e in mine), action

    # A browser elsewhere (127.0.0.2) claiming another address: not believed.
    path = f"/files/{photo.id}"
    assert _get(server, path, token, source="127.0.0.2", forwarded="6.6.6.6") == 200
    # The proxy (127.0.0.1) forwarding the browser's address: believed.
    assert _get(server, path, token, source="127.0.0.1", forwarded="203.0.113.9") == 200
    downloads = _events(server, "file.downloaded")
    assert [e.ip_address for e in downloads] == ["127.0.0.2", "203.0.113.9"]
