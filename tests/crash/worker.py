"""A process that writes through the services until the crash test kills it (SIGKILL).

Usage: ``python -m tests.crash.worker MODE LOG ARGS_JSON`` with the data folder in RCP_DATA_DIR.
Each committed record is appended to LOG (flushed and fsynced) only after its commit returned,
so that the log lists exactly what the platform promised to keep. MODE:

- ``cases``: submit cases with a DICOM and a PDF file each, for ever;
- ``cases-crash-before-commit``: the same, but the third case stops after its files are
  stored and before its rows are committed (the test kills it there: orphan files);
- ``cases-crash-mid-file``: the third case stops after writing a temporary file and before
  renaming it (a half-done file under a temporary name);
- ``chat``: post chat messages as fast as possible, for ever.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

from sqlmodel import Session

from rcp import attachments, cases, chat, files
from rcp.cases import CaseForm
from rcp.db import make_engine
from rcp.models import User

FOREVER = 3600.0


def _log(handle, record: dict) -> None:
    handle.write(json.dumps(record) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def _pdf(n: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text=f"Compte rendu {n}")
    return bytes(pdf.output())


def _dicom() -> bytes:
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("CT_small.dcm", download=False)).read_bytes()


def _stop_here(handle, marker: str) -> None:
    _log(handle, {"marker": marker})
    time.sleep(FOREVER)  # the test kills us here


def _arm_crash(handle, mode: str) -> None:
    """Make the next upload stop at the crash point of ``mode`` (the test kills us there)."""
    if mode == "cases-crash-before-commit":
        original = files.FileStore.put_many

        def put_then_stop(self, contents, **kwargs):
            blobs = original(self, contents, **kwargs)
            if contents and contents[0].startswith(b"%PDF"):  # a new file (the DICOM repeats)
                _stop_here(handle, "files-stored-rows-not-committed")
            return blobs

        files.FileStore.put_many = put_then_stop  # type: ignore[method-assign]
    elif mode == "cases-crash-mid-file":
        real_replace = os.replace

        def replace_then_stop(src, dst):
            if ".tmp-" in str(src):
                _stop_here(handle, "temp-written-not-renamed")
            return real_replace(src, dst)

        files.os.replace = replace_then_stop  # type: ignore[attr-defined]


def run_cases(handle, args: dict, mode: str) -> None:
    engine = make_engine()
    dicom_bytes = _dicom()
    n = 0
    while True:
        n += 1
        if n == 3:
            _arm_crash(handle, mode)
        with Session(engine, expire_on_commit=False) as session:
            actor = session.get(User, args["member_id"])
            case = cases.save_draft(
                session,
                actor=actor,
                meeting_id=args["meeting_id"],
                form=CaseForm(
                    last_name="Crash",
                    first_name=f"Patient{'abcdefghijklmnopqrstuvwxyz'[n % 26]}",
                    birth_date=dt.date(1970, 1, 1 + n % 28),
                    sex="F",
                    patient_informed=True,
                    summary=f"Cas {n}",
                ),
            )
            rows = attachments.add_upload(
                session, actor=actor, case_id=case.id, name=f"scan{n}.dcm", data=dicom_bytes
            )
            rows += attachments.add_upload(
                session, actor=actor, case_id=case.id, name=f"cr{n}.pdf", data=_pdf(n)
            )
            cases.submit(session, actor=actor, case_id=case.id)
            _log(
                handle,
                {
                    "case_id": case.id,
                    "summary": f"Cas {n}",
                    "files": sorted(r.sha256 for r in rows),
                },
            )


def run_chat(handle, args: dict) -> None:
    engine = make_engine()
    n = 0
    while True:
        n += 1
        with Session(engine, expire_on_commit=False) as session:
            actor = session.get(User, args["author_id"])
            message = chat.post_message(
                session, actor=actor, meeting_id=args["meeting_id"], body=f"message {n}"
            )
            _log(handle, {"message_id": message.id, "body": f"message {n}"})


def main() -> None:
    mode, log_path, raw = sys.argv[1], sys.argv[2], sys.argv[3]
    args = json.loads(raw)
    with open(log_path, "a", encoding="utf-8") as handle:
        _log(handle, {"marker": "started"})
        if mode == "chat":
            run_chat(handle, args)
        else:
            run_cases(handle, args, mode)


if __name__ == "__main__":
    main()
