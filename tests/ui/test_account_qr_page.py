"""The authenticator-app QR code holds the account's secret: never served under /media."""

from __future__ import annotations

from sqlmodel import Session

from tests.factories import make_user, sign_in
from tests.ui.conftest import html_bodies, new_app


def test_totp_qr_code_is_inline_not_a_media_file(db: Session) -> None:
    user = make_user(db)
    at = new_app(sign_in(db, user)).run()
    at.switch_page("pages/mon_compte.py").run()
    (begin,) = [b for b in at.button if b.key == "compte_totp_begin"]
    at = begin.click().run()
    assert not at.exception
    assert not at.get("image") and not at.get("imgs")
    (qr,) = [h for h in html_bodies(at) if "QR code" in h]
    assert 'src="data:image/png;base64,' in qr
