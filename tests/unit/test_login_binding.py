"""A sign-in hand-off code opens a session only in the browser that passed the second factor
(issue 14.7): bound to that browser's key, refused from another browser or another site."""

from __future__ import annotations

import pytest
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from rcp import auth, browser_key, web
from rcp.errors import AuthFailed
from tests.factories import PASSWORD, last_sms_code, make_user


def handoff_for(session: Session, user, key: str) -> str:  # type: ignore[no-untyped-def]
    step = auth.begin_sign_in(session, email=user.email, password=PASSWORD)
    return auth.verify_sign_in_code(
        session,
        challenge_id=step.challenge_id,
        code=last_sms_code(session, user.phone),
        browser_key=key,
    )


def test_a_handoff_is_accepted_only_with_the_browser_key_it_was_bound_to(
    session: Session,
) -> None:
    user = make_user(session)
    handoff = handoff_for(session, user, "browser-of-the-doctor")
    with pytest.raises(AuthFailed):
        auth.complete_sign_in(session, handoff=handoff, browser_key="another-browser")
    with pytest.raises(AuthFailed):
        auth.complete_sign_in(session, handoff=handoff)
    login, _token = auth.complete_sign_in(
        session, handoff=handoff, browser_key="browser-of-the-doctor"
    )
    assert login.user_id == user.id


@pytest.fixture
def db(web_db: Session) -> Session:
    return web_db  # tests/unit/conftest.py


def client() -> TestClient:
    app = Starlette(
        routes=web.routes(),
        middleware=[Middleware(browser_key.BrowserKeyMiddleware, secure=False)],
    )
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def test_the_cookie_route_refuses_another_browser_and_cross_site_navigation(db: Session) -> None:
    attacker = make_user(db)
    handoff = handoff_for(db, attacker, "attacker-browser")
    url = f"/auth/complete?h={handoff}&next=/"
    victim = client()
    # The victim's browser has its own key (set on its first page load)...
    first = victim.get("/healthz")
    assert browser_key.COOKIE in first.headers.get("set-cookie", "")
    answer = victim.get(url)
    assert answer.status_code == 303 and answer.headers["location"] == "/?auth=expired"
    assert "rcp_session" not in answer.headers.get("set-cookie", "")
    # ... and even the right key does not help from another site.
    victim.cookies.set(browser_key.COOKIE, "attacker-browser")
    answer = victim.get(url, headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.headers["location"] == "/?auth=expired"
    # The attacker's own browser, navigating from the platform's page, is signed in.
    answer = victim.get(url, headers={"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    assert "rcp_session=" in answer.headers["set-cookie"]


def test_a_browser_without_its_key_cannot_complete_a_sign_in(db: Session) -> None:
    user = make_user(db)
    handoff = handoff_for(db, user, "")
    answer = client().get(f"/auth/complete?h={handoff}", cookies={})
    assert answer.headers["location"] == "/?auth=expired"
