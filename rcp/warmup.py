"""Load at server start what the first sheet of the day would otherwise wait for."""

from __future__ import annotations

import logging
import threading
from datetime import date

log = logging.getLogger(__name__)


def _warm() -> None:
    try:
        from rcp import labs, sheets

        sheets.prepare_fonts()  # cut DejaVu once per machine, parse the faces once per process
        # matplotlib's imports and font cache: the first plot of a process costs ~1 s more.
        labs.trend_plot_png([labs.validate_lab_value("creatinine", "100", date(2026, 1, 5))])
    except Exception:  # noqa: BLE001 - a failed warm-up only costs the first user a wait
        log.exception("warm-up failed")


def start() -> threading.Thread:
    """Warm up in a background thread (the server answers meanwhile)."""
    thread = threading.Thread(target=_warm, name="rcp-warmup", daemon=True)
    thread.start()
    return thread
