"""PNG/JPEG attachments on the case page and as the meeting's current case (issue 20.1).

They used to crash both pages (``st.image("/files/<id>")`` is read as a server path); they
are now ``<img>`` of the authenticated route, and no patient image goes through st.image.
"""

from __future__ import annotations

from sqlmodel import Session

from rcp import meeting_live
from tests.factories import make_case_team, sign_in
from tests.ui.conftest import html_bodies, texts
from tests.ui.test_directory_pages import page
from tests.ui.test_meeting_page import page as meeting_page
from tests.unit.test_opinions import add_attachment
from tests.unit.test_web_files import picture


def _with_pictures(db: Session):  # type: ignore[no-untyped-def]
    team = make_case_team(db)
    png = add_attachment(db, team.case, picture("PNG"), "photo.png", "image")
    jpeg = add_attachment(db, team.case, picture("JPEG"), "photo.jpg", "image")
    return team, png, jpeg


def _shows_both(at, png, jpeg) -> None:  # type: ignore[no-untyped-def]
    assert not at.exception
    assert not at.get("image") and not at.get("imgs")
    images = " ".join(html_bodies(at))
    assert f'src="/files/{png.id}/image"' in images
    assert f'src="/files/{jpeg.id}/image"' in images
    assert "photo.png" in texts(at) and "photo.jpg" in texts(at)


def test_case_page_shows_png_and_jpeg_attachments(db: Session) -> None:
    team, png, jpeg = _with_pictures(db)
    at = page("cas", sign_in(db, team.pathologist), id=str(team.case.id))
    _shows_both(at, png, jpeg)
    assert "Évolution des résultats biologiques" in texts(at)
    assert f'src="/cases/{team.case.id}/labs.png"' in " ".join(html_bodies(at))


def test_meeting_page_keeps_working_with_pictures_in_the_current_case(db: Session) -> None:
    team, png, jpeg = _with_pictures(db)
    meeting_live.set_current_case(
        db, actor=team.assistant, meeting_id=team.meeting.id, case_id=team.case.id
    )
    at = meeting_page(sign_in(db, team.pathologist), team.meeting.id)
    _shows_both(at, png, jpeg)
    assert "Messagerie instantanée" in texts(at)
