"""A real page opened by its address is never shown as "not found": right after the server
starts (issue 14: Streamlit's English "Page not found" dialog covered /soumettre-cas?case=N),
nor when it is a page of someone else's profile (a French "réservée" page, not "introuvable").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import streamlit_server
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PHONE, PASSWORD, ROOT, shot, wait_idle
from tests.ports import free_port

DOCTOR_EMAIL = "dr.lien@chu.example"

# Signs in through the services (password, SMS code from the outbox, hand-off) and prints the
# session cookie of the admin and of a doctor created here.
_TOKENS = f"""
from sqlmodel import Session, select
from rcp import accounts, auth
from rcp.db import make_engine
from rcp.models import User
from tests.factories import last_sms_code, registration

def token(s, email, phone):
    step = auth.begin_sign_in(s, email=email, password={PASSWORD!r})
    code = last_sms_code(s, phone)
    handoff = auth.verify_sign_in_code(s, challenge_id=step.challenge_id, code=code)
    return auth.complete_sign_in(s, handoff=handoff)[1]

with Session(make_engine(), expire_on_commit=False) as s:
    form = registration(email={DOCTOR_EMAIL!r}, password={PASSWORD!r})
    doctor = accounts.register(s, form=form)
    admin = s.exec(select(User).where(User.is_admin)).first()
    accounts.approve(s, actor=admin, user_id=doctor.id)
    print(token(s, {ADMIN_EMAIL!r}, {ADMIN_PHONE!r}))
    print(token(s, doctor.email, doctor.phone))
"""


@pytest.fixture
def fresh(tmp_path: Path):
    """A server description with an admin and a doctor, and their session cookies; not
    started: each test starts it and opens its page at once."""
    srv = streamlit_server.make_server(tmp_path / "data", free_port())
    srv.data_dir.mkdir()
    srv.cli("init")
    srv.cli(
        "create-admin", "--email", ADMIN_EMAIL, "--phone", ADMIN_PHONE, "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", _TOKENS],
        cwd=ROOT,
        env=srv.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    admin_token, doctor_token = result.stdout.split()
    return srv, admin_token, doctor_token


def _open(browser, srv, token: str, path: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    context.add_cookies([{"name": "rcp_session", "value": token, "url": srv.url}])
    page = context.new_page()
    page.goto(srv.url + path)
    wait_idle(page)
    page.wait_for_timeout(700)  # the dialog, when it came, followed the script's messages
    return context, page


def _english_dialog(page) -> int:
    return page.locator("text=Page not found >> visible=true").count()


def test_a_hidden_page_opened_right_after_the_server_starts_shows_itself(fresh, browser) -> None:
    """Signed in, /soumettre-cas?case=N opened as soon as the server answers: the page's
    own French answer, no English dialog over it (it came 4 times out of 4 before)."""
    srv, admin_token, _doctor = fresh
    proc = streamlit_server.start(srv, srv.data_dir / "streamlit.log")
    try:
        context, page = _open(browser, srv, admin_token, "/soumettre-cas?case=1")
        shot(page, "page_links_01_soumettre_cas_at_start")
        assert _english_dialog(page) == 0
        page.get_by_text("Cas introuvable, ou vous n'avez pas accès à ce cas.").wait_for()
        assert page.get_by_text("Page introuvable").count() == 0
        context.close()
    finally:
        streamlit_server.stop(proc)


def test_someone_elses_page_says_it_is_reserved_not_missing(fresh, browser) -> None:
    """A doctor following a link to an admin page reads that it is reserved; /connexion,
    once signed in, is the home page."""
    srv, _admin, doctor_token = fresh
    proc = streamlit_server.start(srv, srv.data_dir / "streamlit.log")
    try:
        context, page = _open(browser, srv, doctor_token, "/admin-comptes")
        shot(page, "page_links_02_reserved")
        assert _english_dialog(page) == 0
        page.get_by_text("Cette page est réservée à d'autres profils").wait_for()
        assert page.get_by_text("Page introuvable").count() == 0
        assert page.get_by_text("Désactiver").count() == 0  # nothing of the admin page
        context.close()
        context, page = _open(browser, srv, doctor_token, "/connexion")
        assert _english_dialog(page) == 0
        assert page.get_by_text("Page introuvable").count() == 0
        page.get_by_role("button", name="Se déconnecter").wait_for()
        page.get_by_text("Mes prochaines séances").first.wait_for()
        context.close()
    finally:
        streamlit_server.stop(proc)
