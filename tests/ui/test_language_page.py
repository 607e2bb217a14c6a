"""The language is chosen on "Mon compte" and every page of the user follows it."""

from __future__ import annotations

from sqlmodel import Session

from rcp.models import User
from tests.factories import make_user, sign_in
from tests.ui.conftest import new_app


def test_choosing_english_on_my_account_is_saved_and_speaks_english_next(db: Session) -> None:
    user = make_user(db)
    at = new_app(sign_in(db, user)).run()
    at.switch_page("pages/mon_compte.py").run()
    at.selectbox(key="compte_language").set_value("en")
    at = at.button(key="FormSubmitter:compte_language_form-Enregistrer la langue").click().run()
    assert not at.exception
    db.expire_all()
    assert db.get(User, user.id).language == "en"
    # The next run of any page is in English (the redirect reloads the document).
    at.switch_page("pages/mon_compte.py").run()
    assert "Language" in [s.value for s in at.subheader]


def test_the_browser_s_language_is_the_default_until_one_is_chosen(db: Session) -> None:
    user = make_user(db)
    at = new_app(sign_in(db, user)).run()
    at.switch_page("pages/mon_compte.py").run()
    assert at.selectbox(key="compte_language").value is None
    assert "Langue" in [s.value for s in at.subheader]
