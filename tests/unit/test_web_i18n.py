"""The HTML document speaks the visitor's language, and Streamlit's own words follow it.

Streamlit's ``index.html`` says ``lang="en"`` and "Streamlit" to every visitor; the middleware
rewrites it: the signed-in user's language, else the browser's, with the translating script.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import streamlit
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from rcp import accounts, config, i18n, web_i18n
from tests.factories import make_user, sign_in

INDEX = (Path(streamlit.__file__).parent / "static" / "index.html").read_text(encoding="utf-8")
HTML = "text/html,application/xhtml+xml"


@pytest.fixture
def db(web_db: Session) -> Session:
    return web_db  # tests/unit/conftest.py


def _message(_request):
    # What a route writes is in the request's language.
    return PlainTextResponse(i18n._("Page introuvable"))


@pytest.fixture
def client(db: Session) -> TestClient:
    app = Starlette(
        routes=[
            *web_i18n.routes(),
            Route("/message", _message),
            Route("/{path:path}", lambda _r: HTMLResponse(INDEX, headers={"etag": '"x"'})),
        ],
        middleware=[Middleware(web_i18n.DocumentLanguageMiddleware)],
    )
    return TestClient(app, base_url="http://127.0.0.1")


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)">', html).group(1)


def test_streamlit_says_english_and_streamlit_to_everyone_without_the_rewrite() -> None:
    """The premise: what the middleware corrects."""
    assert '<html lang="en">' in INDEX and "<title>Streamlit</title>" in INDEX


def test_the_document_takes_the_browser_language(client: TestClient) -> None:
    french = client.get("/seance", headers={"accept": HTML, "accept-language": "fr-FR,fr"})
    english = client.get("/seance", headers={"accept": HTML, "accept-language": "en-GB,en"})
    assert _lang(french.text) == "fr" and _lang(english.text) == "en"
    assert "/i18n/streamlit.fr.js?v=" in french.text
    assert "/i18n/streamlit.en.js?v=" in english.text
    assert "<title>RCP ORKID</title>" in french.text
    assert "enable JavaScript" not in french.text and "Activez JavaScript" in french.text
    # Never a cached copy in another language.
    assert "etag" not in french.headers
    assert "Accept-Language" in french.headers["vary"]


def test_the_script_runs_before_streamlit_s_own_bundle(client: TestClient) -> None:
    html = client.get("/", headers={"accept": HTML}).text
    assert html.index("/i18n/streamlit.") < html.index('type="module"')


def test_a_signed_in_user_s_choice_wins_over_the_browser(client: TestClient, db: Session) -> None:
    user = make_user(db)
    accounts.set_language(db, actor=user, language="en")
    token = sign_in(db, user)
    cookies = {config.get_settings().cookie_name: token}
    client.cookies.update(cookies)
    page = client.get("/accueil", headers={"accept": HTML, "accept-language": "fr-FR"})
    assert _lang(page.text) == "en"


def test_a_route_writes_in_the_request_s_language(client: TestClient) -> None:
    assert client.get("/message", headers={"accept-language": "en"}).text == "Page not found"
    assert client.get("/message", headers={"accept-language": "fr"}).text == "Page introuvable"


def test_the_script_carries_streamlit_s_words_in_the_language(client: TestClient) -> None:
    body = client.get("/i18n/streamlit.fr.js").text
    table = json.loads(body.split("window.__RCP_I18N__ = ", 1)[1].split(";\n", 1)[0])
    assert table["lang"] == "fr" and table["locale"] == "fr-FR"
    assert table["texts"]["Drag and drop files here"] == "Glissez-déposez vos fichiers ici"
    assert table["texts"]["Choose an option"] == "Choisissez une option"
    assert table["texts"]["Main menu"] == "Menu principal"
    size = [p for p in table["patterns"] if "GB per file" in p[0]][0]
    assert size[1] == "$<size> Go par fichier"
    english = client.get("/i18n/streamlit.en.js").text
    assert '"Drag and drop files here": "Drag and drop files here"' in english
    assert client.get("/i18n/streamlit.de.js").status_code == 404
