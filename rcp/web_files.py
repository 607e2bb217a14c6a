"""HTTP routes that send patient documents: every one checks the session cookie and audits.

Pages never hand patient bytes to ``st.image`` or ``st.download_button``: those are served
from ``/media/…`` to anyone holding the URL, unaudited, and the URL lands in proxy logs.
Pages link to these routes instead (``<img src>`` on the same origin: the browser sends the
HttpOnly session cookie). Every answer is ``Cache-Control: no-store``; "does not exist" and
"not yours" get the same 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from rcp import attachments, audit, auth, cases, opinions
from rcp.config import get_settings
from rcp.db import session_scope
from rcp.errors import NotFound, PermissionDenied, RcpError
from rcp.i18n import N_, _
from rcp.models import User

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
NOT_FOUND = N_("Document introuvable, ou vous n'avez pas accès à ce document.")


@dataclass(frozen=True)
class Reader:
    """The signed-in user of a request, and the login session that names the viewer."""

    user: User
    viewer: str


def _reader(request: Request, session: Session) -> Reader | None:
    token = request.cookies.get(get_settings().cookie_name)
    user = auth.authenticate(session, token=token)
    if user is None:
        return None
    login = auth.current_login(session, token=token)
    return Reader(user=user, viewer=f"login:{login.id}" if login else "login:?")


def answer(
    request: Request, produce: Callable[[Session, Reader], Response], *, what: str
) -> Response:
    """Authenticate, run ``produce``, map refusals to 401/404; never cached."""
    from rcp.web import engine

    try:
        with session_scope(engine()) as session:
            reader = _reader(request, session)
            if reader is None:
                response: Response = PlainTextResponse(
                    _("Connectez-vous pour accéder à {what}.").format(what=what), status_code=401
                )
            else:
                response = produce(session, reader)
    except (NotFound, PermissionDenied):
        response = PlainTextResponse(_(NOT_FOUND), status_code=404)
    except RcpError as error:
        response = PlainTextResponse(str(error), status_code=422)
    response.headers.update(NO_STORE)
    return response


def _float(request: Request, name: str) -> float | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if -1e6 < number < 1e6 else None


def _png(data: bytes) -> Response:
    return Response(data, media_type="image/png")


def _pdf(filename: str, data: bytes) -> Response:
    return Response(
        data,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


def image(request: Request) -> Response:
    """A PNG/JPEG attachment, shown inline in a page."""
    attachment_id = int(request.path_params["attachment_id"])

    def produce(session: Session, reader: Reader) -> Response:
        row, path = attachments.view_image(
            session, actor=reader.user, attachment_id=attachment_id, viewer=reader.viewer
        )
        with path.open("rb") as fh:
            media_type = "image/png" if fh.read(4) == b"\x89PNG" else "image/jpeg"
        return FileResponse(path, media_type=media_type, content_disposition_type="inline")

    return answer(request, produce, what=_("cette image"))


def dicom_file(request: Request) -> Response:
    """A DICOM file for the browser viewer: ``/files/<id>?view=1`` (audited once a day)."""
    attachment_id = int(request.path_params["attachment_id"])

    def produce(session: Session, reader: Reader) -> Response:
        _row, path = attachments.view_dicom(
            session, actor=reader.user, attachment_id=attachment_id, viewer=reader.viewer
        )
        return FileResponse(path, media_type="application/dicom")

    return answer(request, produce, what=_("cette image"))


def labs_plot(request: Request) -> Response:
    """The trend plot of a case's lab results."""
    case_id = int(request.path_params["case_id"])

    def produce(session: Session, reader: Reader) -> Response:
        data = cases.labs_plot(session, actor=reader.user, case_id=case_id, viewer=reader.viewer)
        if data is None:
            raise NotFound(_(NOT_FOUND))
        return _png(data)

    return answer(request, produce, what=_("ce graphique"))


def sheet(request: Request) -> Response:
    """The validated PDF sheet of a case (``?version=N``, default the newest), as a download."""
    case_id = int(request.path_params["case_id"])
    version_text = request.query_params.get("version", "")
    version = int(version_text) if version_text.isdigit() else None

    def produce(session: Session, reader: Reader) -> Response:
        filename, data = opinions.get_sheet(
            session, actor=reader.user, case_id=case_id, version=version
        )
        return _pdf(filename, data)

    return answer(request, produce, what=_("cette fiche"))


def sheet_preview(request: Request) -> Response:
    """The draft's sheet marked "projet non validé", for the RCP's coordinators."""
    case_id = int(request.path_params["case_id"])

    def produce(session: Session, reader: Reader) -> Response:
        filename, data = opinions.preview_sheet(session, actor=reader.user, case_id=case_id)
        return _pdf(filename, data)

    return answer(request, produce, what=_("cette fiche"))


def key_image(request: Request) -> Response:
    """A DICOM frame as the sheet will print it (the coordinators' key image picker)."""
    case_id = int(request.path_params["case_id"])
    attachment_text = request.query_params.get("attachment", "")
    frame_text = request.query_params.get("frame", "0")
    if not attachment_text.isdigit() or not frame_text.isdigit():
        return PlainTextResponse(_(NOT_FOUND), status_code=404, headers=NO_STORE)

    def produce(session: Session, reader: Reader) -> Response:
        data = opinions.key_image_preview(
            session,
            actor=reader.user,
            case_id=case_id,
            attachment_id=int(attachment_text),
            frame_index=int(frame_text),
        )
        audit.record_once_a_day(
            session,
            attachments.VIEW_ACTION,
            actor_id=reader.user.id,  # type: ignore[arg-type]
            target_type="attachment",
            target_id=int(attachment_text),
            viewer=reader.viewer,
            case_id=case_id,
        )
        return _png(data)

    return answer(request, produce, what=_("cette image"))


def series_zip(request: Request) -> Response:
    """One DICOM series of a case as a zip (``?uid=``), as stored or ``&deid=1`` de-identified."""
    from starlette.background import BackgroundTask

    from rcp import series_download

    case_id = int(request.path_params["case_id"])
    uid = request.query_params.get("uid", "")
    deidentified = request.query_params.get("deid") == "1"

    def produce(session: Session, reader: Reader) -> Response:
        archive = series_download.series_archive(
            session, actor=reader.user, case_id=case_id, series_uid=uid, deidentified=deidentified
        )
        return FileResponse(
            archive.path,
            media_type="application/zip",
            filename=archive.filename,
            background=BackgroundTask(archive.path.unlink, missing_ok=True),
        )

    return answer(request, produce, what=_("cette série"))


def routes() -> list[Route]:
    return [
        Route("/files/{attachment_id:int}/image", image, methods=["GET"]),
        Route("/cases/{case_id:int}/labs.png", labs_plot, methods=["GET"]),
        Route("/cases/{case_id:int}/series.zip", series_zip, methods=["GET"]),
        Route("/cases/{case_id:int}/sheet.pdf", sheet, methods=["GET"]),
        Route("/cases/{case_id:int}/sheet-preview.pdf", sheet_preview, methods=["GET"]),
        Route("/cases/{case_id:int}/key-image.png", key_image, methods=["GET"]),
    ]
