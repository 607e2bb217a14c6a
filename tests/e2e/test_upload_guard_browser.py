"""Uploads to Streamlit's /_stcore/upload_file route: signed in, armed, bounded (issue 14.2).

The server runs with small caps (per file 2 MB, per case 3 MB, per user 4 MB held) so that
the limits are reached with small files. Uploads are sent from inside the page with
``fetch`` (the browser's own XSRF cookie and session cookie), to the Streamlit session id
the page's websocket received.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from rcp.demo import DEMO_PASSWORD, PEOPLE, demo_email
from tests.e2e import streamlit_server
from tests.e2e.conftest import Server, make_server, shot, sign_in, wait_idle
from tests.ports import free_port

PHONES = {p.key: p.phone for p in PEOPLE}
MB = 1024 * 1024

PUT_JS = """
async ([sessionId, size]) => {
  const xsrf = (document.cookie.match(/(?:^|; )_streamlit_xsrf=([^;]*)/) || [])[1] || "";
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(size)]), "essai.pdf");
  const id = crypto.randomUUID();
  const response = await fetch(`/_stcore/upload_file/${sessionId}/${id}`, {
    method: "PUT", body: form, headers: {"X-Xsrftoken": decodeURIComponent(xsrf)},
    credentials: "same-origin",
  });
  return [response.status, await response.text()];
}
"""


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("upload-guard")
    server = make_server(data_dir, free_port())
    server.env.update(
        RCP_MAX_FILE_MB="2",
        RCP_MAX_CASE_MB="3",
        RCP_UPLOAD_USER_MAX_MB="4",
        RCP_UPLOAD_TOTAL_MAX_MB="6",
    )
    server.cli("init")
    server.cli("seed-demo")
    proc = streamlit_server.start(server, data_dir / "streamlit.log")
    try:
        yield server
    finally:
        streamlit_server.stop(proc)


def _session_ids(page) -> list[str]:
    """Collect the Streamlit session id(s) the page's websocket receives."""
    found: list[str] = []

    def on_frame(payload: bytes | str) -> None:
        if isinstance(payload, str):
            return
        msg = ForwardMsg()
        try:
            msg.ParseFromString(payload)
        except Exception:  # noqa: BLE001 - not every frame is a ForwardMsg we can read
            return
        if msg.WhichOneof("type") == "new_session":
            found.append(msg.new_session.initialize.session_id)

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    return found


def _put(page, session_id: str, size: int) -> tuple[int, str]:
    status, text = page.evaluate(PUT_JS, [session_id, size])
    return int(status), str(text)


def _open_case_form(page, server: Server, last_name: str) -> None:
    """medecin1 starts a case in the demo RCP's next meeting and saves the draft."""
    page.get_by_role("link", name=re.compile(r"RCP GEM et SNI .* du ")).first.click()
    page.wait_for_url(re.compile(r"/seance\?id=\d+"))
    meeting_id = page.url.rsplit("=", 1)[1]
    page.goto(f"{server.url}/soumettre-cas?meeting={meeting_id}")
    wait_idle(page)
    page.get_by_label("Nom *", exact=True).fill(last_name)
    page.get_by_label("Prénom *", exact=True).fill("Zoé")
    page.locator("[data-testid='stDateInput'] input[type=date]").first.fill("1980-05-17")
    page.get_by_text("Féminin").click()
    page.get_by_role("checkbox", name=re.compile("Le patient est informé")).check(force=True)
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.get_by_text("Brouillon enregistré").wait_for()
    wait_idle(page)


def test_an_anonymous_browser_cannot_upload(capped: Server, browser) -> None:
    """A visitor who is not signed in has a Streamlit session, and its uploads are refused."""
    ctx = browser.new_context(locale="fr-FR")
    page = ctx.new_page()
    sessions = _session_ids(page)
    page.goto(capped.url + "/")
    wait_idle(page)
    assert sessions, "the page's websocket received no session id"
    status, text = _put(page, sessions[-1], 1024)
    assert status == 401
    assert "reconnectez-vous" in text
    ctx.close()


def test_a_signed_in_doctor_uploads_only_where_the_page_offers_it(capped: Server, browser) -> None:
    """Signed in but not on a case form: refused. On the form: accepted, then the per-user
    cap on held bytes refuses more, and the bytes are released when the tab closes."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="fr-FR")
    page = ctx.new_page()
    sessions = _session_ids(page)
    sign_in(page, capped, demo_email("medecin1"), PHONES["medecin1"], DEMO_PASSWORD)
    status, text = _put(page, sessions[-1], 1024)
    assert status == 403 and "formulaire du cas" in text

    _open_case_form(page, capped, "Essai")
    session_id = sessions[-1]
    assert _put(page, session_id, 2 * MB)[0] == 204  # held: not added to the case yet
    status, text = _put(page, session_id, 3 * MB)  # 2 + 3 MB > 4 MB for this user
    assert status == 413 and "au plus 4 Mo à la fois" in text
    status, text = _put(page, session_id, 5 * MB)  # over the largest upload (3 MB + framing)
    assert status == 413 and "taille maximale" in text

    # The widget still works for a file of the allowed size, with the bytes still held.
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        [{"name": "cr.txt", "mimeType": "text/plain", "buffer": b"Compte rendu fictif.\n"}]
    )
    page.get_by_role("button", name="Ajouter les fichiers").click()
    page.get_by_text("1 fichier(s) ajouté(s)").wait_for(timeout=60_000)
    shot(page, "upload_guard_01_added")
    page.close()

    # A new tab of the same user: the closed tab's 2 MB are released by the server, after
    # which a 3 MB upload fits under the 4 MB cap (it did not while they were held).
    page = ctx.new_page()
    sessions = _session_ids(page)
    page.goto(capped.url + "/")
    wait_idle(page)
    _open_case_form(page, capped, "Second")
    deadline = time.monotonic() + 45
    status = 0
    while time.monotonic() < deadline:
        status, _text = _put(page, sessions[-1], 3 * MB)
        if status == 204:
            break
        page.wait_for_timeout(1000)
    assert status == 204
    ctx.close()
