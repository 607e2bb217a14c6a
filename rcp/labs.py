"""Dated laboratory values expected by a nephrology RCP: definitions, validation, trend plot."""

from __future__ import annotations

import io
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from PIL import Image

from rcp import i18n
from rcp.dates import today_paris
from rcp.errors import InvalidInput
from rcp.i18n import N_, _

EARLIEST_LAB_DATE = date(1900, 1, 1)


@dataclass(frozen=True)
class LabTest:
    """One laboratory test: its code, French label, unit and the range of believable values.

    ``plausible_min``/``plausible_max`` bound what a human body can show (outside it, the value
    is a typing or unit error); ``reference`` is the usual adult range, drawn on the trend plot
    when it does not depend on sex or age.
    """

    code: str
    label: str
    short_label: str
    unit: str
    plausible_min: float
    plausible_max: float
    decimals: int
    expected: bool = True
    reference: tuple[float, float] | None = None


# Proteinuria is recorded as the urinary protein/creatinine ratio in g/g of creatinine (spot
# urine sample), the unit used in KDIGO guidelines; a 24-hour collection in g/24 h is numerically
# close but must be converted by the caller before being stored here.
LAB_TESTS: dict[str, LabTest] = {
    test.code: test
    for test in (
        LabTest(
            "creatinine", N_("Créatinine plasmatique"), N_("Créatininémie"), "µmol/L", 10, 3000, 0
        ),
        LabTest(
            "egfr",
            N_("DFG estimé (CKD-EPI)"),
            N_("DFGe (CKD-EPI)"),
            N_("mL/min/1,73 m²"),
            1,
            200,
            0,
        ),
        LabTest(
            "proteinuria",
            N_("Protéinurie (rapport protéines/créatinine urinaire)"),
            N_("Protéinurie (RPCU)"),
            N_("g/g créatinine"),
            0,
            40,
            2,
            reference=(0.0, 0.15),
        ),
        LabTest(
            "albumin",
            N_("Albumine sérique"),
            N_("Albuminémie"),
            "g/L",
            5,
            70,
            1,
            reference=(35.0, 50.0),
        ),
        LabTest(
            "hematuria",
            N_("Hématurie (compte d'Addis ou cytologie urinaire)"),
            N_("Hématurie"),
            N_("hématies/mm³"),
            0,
            100_000,
            0,
            expected=False,
            reference=(0.0, 10.0),
        ),
    )
}


@dataclass(frozen=True)
class LabValue:
    """A validated lab result: test code, numeric value in the test's unit, sampling date."""

    code: str
    value: float
    taken_on: date

    @property
    def test(self) -> LabTest:
        return LAB_TESTS[self.code]


def format_number(value: float, decimals: int) -> str:
    """Format a number in the current language: in French a decimal comma and a no-break
    space between thousands ("1\u00a0234,5"), in English "1,234.5"."""
    text = f"{value:,.{decimals}f}"
    if i18n.current() == i18n.ENGLISH:
        return text
    return text.replace(",", "\u00a0").replace(".", ",")


def format_value(code: str, value: float) -> str:
    """Format ``value`` with the number of decimals usual for test ``code``."""
    return format_number(value, LAB_TESTS[code].decimals)


def _parse_number(value: float | int | str, label: str) -> float:
    if isinstance(value, bool):
        raise InvalidInput(
            _("La valeur de « {label} » doit être un nombre.").format(label=label), field="value"
        )
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        if not text:
            raise InvalidInput(
                _("La valeur de « {label} » est obligatoire.").format(label=label), field="value"
            )
        try:
            number = float(text)
        except ValueError:
            raise InvalidInput(
                (
                    _("La valeur de « {label} » doit être un nombre (par exemple 12,5).").format(
                        label=label
                    )
                ),
                field="value",
            ) from None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise InvalidInput(
            _("La valeur de « {label} » doit être un nombre.").format(label=label), field="value"
        )
    if not math.isfinite(number):
        raise InvalidInput(
            _("La valeur de « {label} » doit être un nombre fini.").format(label=label),
            field="value",
        )
    return number


def validate_lab_value(
    code: str,
    value: float | int | str,
    taken_on: date | str,
    *,
    today: date | None = None,
) -> LabValue:
    """Check one lab result typed by a user and return it normalised.

    ``value`` may be a string with a decimal comma; ``taken_on`` a date or an ISO string.
    ``today`` defaults to the current date (tests pass a fixed one).

    Raises
    ------
    InvalidInput
        Unknown test (field ``code``); missing, non-numeric, negative or implausible value
        (field ``value``); missing or unreadable date, date in the future or before 1900
        (field ``date``). The message is French and says what to fix.
    """
    test = LAB_TESTS.get(code)
    if test is None:
        raise InvalidInput(
            _("Examen biologique inconnu : « {code} ».").format(code=code), field="code"
        )
    number = _parse_number(value, _(test.label))
    if number < 0:
        raise InvalidInput(
            _("La valeur de « {label} » ne peut pas être négative.").format(label=_(test.label)),
            field="value",
        )
    if not test.plausible_min <= number <= test.plausible_max:
        low = format_number(test.plausible_min, 0)
        high = format_number(test.plausible_max, 0)
        raise InvalidInput(
            (
                _(
                    "Valeur invraisemblable pour « {label} » : {number} {unit} "
                    "(attendu entre {low} et {high} {unit}). Vérifiez la saisie "
                    "et l'unité."
                ).format(
                    label=_(test.label),
                    number=format_number(number, test.decimals),
                    unit=_(test.unit),
                    low=low,
                    high=high,
                )
            ),
            field="value",
        )
    sampled = _parse_date(taken_on)
    if sampled < EARLIEST_LAB_DATE:
        raise InvalidInput(
            _("La date du prélèvement ne peut pas être antérieure à 1900."), field="date"
        )
    if sampled > (today or today_paris()):
        raise InvalidInput(
            _("La date du prélèvement ne peut pas être dans le futur."), field="date"
        )
    return LabValue(code=code, value=number, taken_on=sampled)


def _parse_date(taken_on: date | str) -> date:
    if isinstance(taken_on, datetime):
        return taken_on.date()
    if isinstance(taken_on, date):
        return taken_on
    if isinstance(taken_on, str) and taken_on.strip():
        text = taken_on.strip()
        for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise InvalidInput(
            (
                _("Date de prélèvement illisible : « {text} » (format attendu JJ/MM/AAAA).").format(
                    text=text
                )
            ),
            field="date",
        )
    raise InvalidInput(_("La date du prélèvement est obligatoire."), field="date")


def group_by_test(values: Iterable[LabValue]) -> dict[str, list[LabValue]]:
    """Group values by test, in ``LAB_TESTS`` order, each list sorted by date."""
    groups: dict[str, list[LabValue]] = {code: [] for code in LAB_TESTS}
    for item in values:
        groups[item.code].append(item)
    return {
        code: sorted(items, key=lambda v: v.taken_on) for code, items in groups.items() if items
    }


_INK = "#1f2d3d"
_LINE = "#1f5f8b"
_GRID = "#d5dbe1"
_BAND = "#dcefe0"


def _tick_label(y: float, _pos: int | None = None) -> str:
    if abs(y) >= 100:
        return format_number(y, 0)
    return f"{y:.2f}".rstrip("0").rstrip(".").replace(".", ",").replace("-0", "0") or "0"


def _date_formatter(first: date, last: date) -> DateFormatter:
    # Numeric dates avoid English month names from the C locale.
    return DateFormatter("%d/%m/%y" if (last - first).days <= 400 else "%m/%Y")


def trend_plot_png(
    values: Sequence[LabValue],
    *,
    width_px: int = 1400,
    dpi: int = 200,
    columns: int = 3,
) -> bytes | None:
    """Draw one small-multiple panel per test present in ``values`` and return a PNG.

    The default size, 1400 px at 200 dpi, is 7 inches: the text width of an A4 page, so the
    fonts print at their nominal size. Dates run along x; each panel is titled with the test
    and its unit, shows the usual range as a pale band where one applies, and labels its
    latest value. Returns ``None`` when ``values`` is empty, so callers can simply omit the
    figure. Uses the object API of matplotlib (a ``Figure`` on its own Agg canvas), never
    pyplot's global state, so it is safe to call from several threads.
    """
    groups = group_by_test(values)
    if not groups:
        return None
    n_panels = len(groups)
    # Two by two reads better than three plus one.
    n_cols = 2 if n_panels == 4 and columns >= 2 else max(1, min(columns, n_panels))
    n_rows = math.ceil(n_panels / n_cols)
    width_in = width_px / dpi
    panel_h_in = min(width_in / n_cols * 0.46, 2.0)
    fig = Figure(figsize=(width_in, panel_h_in * n_rows + 0.1), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    base = 8.5
    for ax, (code, items) in zip(axes.flat, groups.items(), strict=False):
        test = LAB_TESTS[code]
        xs = [v.taken_on for v in items]
        ys = [v.value for v in items]
        if test.reference is not None:
            ax.axhspan(*test.reference, color=_BAND, zorder=0, linewidth=0)
        ax.plot(xs, ys, color=_LINE, linewidth=1.6, marker="o", markersize=4, zorder=3)
        ax.set_title(
            f"{_(test.short_label)} ({_(test.unit)})",
            fontsize=base + 0.5,
            color=_INK,
            loc="left",
            fontweight="bold",
            pad=4,
        )
        ax.annotate(
            format_value(code, ys[-1]),
            (xs[-1], ys[-1]),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=base - 0.5,
            color=_INK,
            fontweight="bold",
        )
        low = min(ys + ([test.reference[0]] if test.reference else []))
        high = max(ys + ([test.reference[1]] if test.reference else []))
        span = (high - low) or max(abs(high), 1.0) * 0.2
        bottom = low - 0.12 * span
        if low >= 0 and bottom < 0:
            bottom = 0.0
        ax.set_ylim(bottom, high + 0.28 * span)
        if xs[0] == xs[-1]:
            ax.set_xlim(xs[0] - timedelta(days=15), xs[0] + timedelta(days=15))
        else:
            pad = timedelta(days=max(2, (xs[-1] - xs[0]).days * 0.08))
            ax.set_xlim(xs[0] - pad, xs[-1] + pad)
        ax.xaxis.set_major_locator(AutoDateLocator(minticks=2, maxticks=4))
        ax.xaxis.set_major_formatter(_date_formatter(xs[0], xs[-1]))
        ax.yaxis.set_major_formatter(_tick_label)
        ax.tick_params(labelsize=base - 1, colors=_INK, length=3)
        ax.grid(True, color=_GRID, linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color("#8795a1")
    for ax in list(axes.flat)[n_panels:]:
        ax.set_visible(False)
    fig.tight_layout(pad=0.4, w_pad=1.2, h_pad=0.8)
    fig.patch.set_facecolor("white")
    canvas.draw()
    # A 64-colour palette PNG is a third of the RGBA size and four times faster for fpdf2 to
    # embed; median cut keeps the white background exactly white. PIL writes no timestamp,
    # so the same values always give the same bytes.
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    palette = rgb.quantize(64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", dpi=(dpi, dpi))
    return buffer.getvalue()


log = logging.getLogger(__name__)
_PLOTS_KEPT = 64
# Keyed by language too: the panels' titles and units are translated.
_plots: OrderedDict[tuple[str, tuple[LabValue, ...]], Future[bytes | None]] = OrderedDict()
_plots_lock = threading.Lock()


def trend_plot_cached(values: tuple[LabValue, ...], language: str | None = None) -> bytes | None:
    """``trend_plot_png`` kept per set of values (the last 64): a case's labs are fixed once it
    is submitted, and its plot is drawn for the case page, the meeting page and every sheet.

    A plot being drawn by another thread (``warm_trend_plot``) is waited for, not drawn twice.
    ``language``: the plot's (default: the current one).
    """
    language = language or i18n.current()
    key = (language, values)
    with _plots_lock:
        future = _plots.get(key)
        mine = future is None
        if mine:
            future = _plots[key] = Future()
            while len(_plots) > _PLOTS_KEPT:
                _plots.popitem(last=False)
        else:
            _plots.move_to_end(key)
    assert future is not None
    if mine:
        try:
            with i18n.using(language):
                future.set_result(trend_plot_png(values))
        except BaseException as error:
            with _plots_lock:
                _plots.pop(key, None)  # not kept: the next call tries again
            future.set_exception(error)
    return future.result()


def warm_trend_plot(values: Sequence[LabValue]) -> None:
    """Draw the plot in a background thread, so that the next sheet finds it ready.

    The opinion page calls it: matplotlib takes from 0.3 s to over a second on a busy
    server, which "Valider l'avis" would otherwise wait for.
    """
    key = tuple(values)
    if not key:
        return
    # A thread does not inherit the current language (a context variable): it is passed.
    language = i18n.current()
    with _plots_lock:
        if (language, key) in _plots:
            return

    def draw() -> None:
        try:
            trend_plot_cached(key, language)
        except Exception:  # noqa: BLE001 - the sheet draws it again and reports any error
            log.exception("trend plot warm-up failed")

    threading.Thread(target=draw, name="rcp-trend-plot", daemon=True).start()
