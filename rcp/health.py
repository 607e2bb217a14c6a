"""What /healthz checks: the database (reachable, schema at the code's revision) and the file
store (a folder this process can write to)."""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy.engine import Engine

from rcp.db import alembic_config, current_revision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One component's state; ``detail`` is safe to show to anyone (no paths, no URLs)."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.name}: {'ok' if self.ok else 'ERREUR'} ({self.detail})"


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest Alembic revision this code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(None)).get_current_head()


def check_database(engine: Engine) -> Check:
    """The database answers and its schema is the one this code expects."""
    try:
        revision = current_revision(engine)
    except Exception:  # noqa: BLE001 - any failure is the answer; the log keeps the cause
        log.exception("health check: the database does not answer")
        # i18n: exempt (operator: /healthz and the startup checks)
        return Check("base de données", False, "injoignable")
    if revision is None:
        # i18n: exempt (operator: /healthz and the startup checks)
        return Check("base de données", False, "schéma absent : lancez python -m rcp init")
    if revision != head_revision():
        return Check(
            # i18n: exempt (operator: /healthz and the startup checks)
            "base de données",
            False,
            # i18n: exempt (operator: /healthz and the startup checks)
            f"schéma {revision}, attendu {head_revision()} : lancez python -m rcp init",
        )
    # i18n: exempt (operator: /healthz and the startup checks)
    return Check("base de données", True, f"schéma {revision}")


def check_file_store(files_dir: Path) -> Check:
    """The file store is a folder where this process can create a file (then removes it).

    The probe is named like the store's temporary files (``.tmp-*``), which ``python -m rcp
    fsck --repair`` removes should a crash leave one behind.
    """
    if not files_dir.is_dir():
        return Check("fichiers", False, "dossier absent : lancez python -m rcp init")
    try:
        with tempfile.NamedTemporaryFile(dir=files_dir, prefix=".tmp-health-") as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError:
        log.exception("health check: the file store is not writable")
        # i18n: exempt (operator: /healthz and the startup checks)
        return Check("fichiers", False, "écriture impossible")
    # i18n: exempt (operator: /healthz and the startup checks)
    return Check("fichiers", True, "écriture possible")


def run_checks(engine: Engine, files_dir: Path) -> list[Check]:
    return [check_database(engine), check_file_store(files_dir)]
