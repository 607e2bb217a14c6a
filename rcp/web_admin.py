"""HTTP routes of the administration that send data: they check the session and audit.

The audit log's CSV export holds staff names, e-mails, addresses and what each person read:
``st.download_button`` would serve it from ``/media/…`` to anyone holding the URL. The page
links here instead; the route checks the admin's session cookie (``rcp.web_files``'s reader),
and ``audit.export_csv`` checks the role and records the export.
"""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rcp import audit
from rcp.dates import today_paris
from rcp.i18n import _
from rcp.web_files import Reader, answer

JOURNAL_CSV = "/admin/journal.csv"


def journal_csv(request: Request) -> Response:
    """The audit log filtered as on the page (``?action=&user=&since=&until=&target_type=
    &target_id=``), as a CSV download; admins only, the export itself audited."""

    def produce(session: Session, reader: Reader) -> Response:
        spec = audit.AuditFilter.from_query(request.query_params)
        data = audit.export_csv(session, actor=reader.user, spec=spec)
        filename = f"journal-audit-{today_paris().isoformat()}.csv"
        return Response(
            data,
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )

    return answer(request, produce, what=_("ce journal"))


def routes() -> list[Route]:
    return [Route(JOURNAL_CSV, journal_csv, methods=["GET"])]
