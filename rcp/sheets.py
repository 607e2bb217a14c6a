"""The RCP patient sheet ("fiche RCP") rendered as an A4 PDF with fpdf2."""

from __future__ import annotations

import copy
import hashlib
import io
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import matplotlib
from fontTools import ttLib
from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.image_datastructures import ImageCache, RasterImageInfo
from fpdf.image_parsing import preload_image
from PIL import Image, UnidentifiedImageError

from rcp import dates, i18n
from rcp.dates import PARIS
from rcp.errors import InvalidInput
from rcp.i18n import N_, _, ngettext
from rcp.labs import LAB_TESTS, LabValue, format_value

# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------


def _stored_label(value: str) -> str:
    """A specialty or profession stored in French (rcp.roles.stored_specialty), in the sheet's
    language; one typed by hand or unknown to the catalogue stays as it is."""
    return _(value) if value else ""


@dataclass(frozen=True)
class MeetingInfo:
    """The RCP session the case was discussed in."""

    network: str
    rcp_name: str
    starts_at: datetime


@dataclass(frozen=True)
class PatientIdentity:
    """Who the sheet is about. ``sex`` is "F", "M" or a free label printed as is."""

    last_name: str
    first_name: str
    birth_date: date
    sex: str


@dataclass(frozen=True)
class DoctorInfo:
    """A doctor as printed on the sheet."""

    name: str
    specialty: str = ""
    institution: str = ""


@dataclass(frozen=True)
class ClinicalFile:
    """The case as submitted: the question and the clinical texts (empty string if unknown)."""

    question: str
    summary: str = ""
    history: str = ""
    treatments: str = ""
    histology: str = ""
    genetics: str = ""


@dataclass(frozen=True)
class LabRow:
    """One line of the lab table, already formatted for print (see ``lab_rows``)."""

    taken_on: date
    test: str
    value: str
    unit: str


@dataclass(frozen=True)
class KeyImage:
    """A key image of the file (e.g. a DICOM slice exported as PNG) and its caption."""

    png: bytes
    caption: str = ""
    # When the DICOM header names another patient: the differing fields, and who confirmed.
    identity_warning: str = ""


@dataclass(frozen=True)
class OpinionInfo:
    """The opinion of the RCP; ``follows_guidelines=False`` flags the proposal on the sheet."""

    proposal: str
    rationale: str = ""
    references: str = ""
    clinical_trial: str = ""
    follow_up_doctor: str = ""
    follows_guidelines: bool = True


@dataclass(frozen=True)
class Attendee:
    """A doctor present at the meeting."""

    name: str
    specialty: str = ""


@dataclass(frozen=True)
class Quorum:
    """Whether the quorum was met, and the reason recorded by the coordinator."""

    met: bool
    reason: str = ""


@dataclass(frozen=True)
class Validation:
    """Who validated the opinion, and when."""

    validator: str
    validated_at: datetime


@dataclass(frozen=True)
class SheetData:
    """Everything printed on one version of an RCP sheet.

    Datetimes may be naive (taken as Paris time) or aware (converted to Paris time).
    ``replaces_date`` is the validation date of the previous version, required when
    ``version >= 2``. ``generated_at`` also becomes the PDF creation date, so the same data
    always gives the same bytes.
    """

    meeting: MeetingInfo
    patient: PatientIdentity
    submitter: DoctorInfo
    clinical: ClinicalFile
    opinion: OpinionInfo
    quorum: Quorum
    generated_at: datetime
    attendees: tuple[Attendee, ...] = ()
    labs: tuple[LabRow, ...] = ()
    lab_plot_png: bytes | None = None
    key_image: KeyImage | None = None
    validation: Validation | None = None
    version: int = 1
    replaces_date: date | None = None
    # The sheet's language (rcp.i18n): that of its recipient, the doctor who submitted the
    # case; build_sheet_data records the current one, build_sheet_pdf prints in it.
    language: str = i18n.DEFAULT


def lab_rows(values: Iterable[LabValue]) -> tuple[LabRow, ...]:
    """Turn validated lab values into table rows, by date then in ``LAB_TESTS`` order."""
    order = {code: i for i, code in enumerate(LAB_TESTS)}
    rows = sorted(values, key=lambda v: (v.taken_on, order[v.code]))
    return tuple(
        LabRow(v.taken_on, _(v.test.short_label), format_value(v.code, v.value), _(v.test.unit))
        for v in rows
    )


def fingerprint(pdf: bytes) -> str:
    """SHA-256 of the PDF bytes, hex: identifies one rendered sheet."""
    return hashlib.sha256(pdf).hexdigest()


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------

_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
_FAMILY = "DejaVu"
_DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}
_NBSP_BEFORE = re.compile(r" (?=[»;:!?])")
_SEX_LABELS = {"F": N_("Féminin"), "M": N_("Masculin")}


# The scripts and symbols a sheet prints: Latin (with every accent, Vietnamese included),
# combining marks, Greek and Cyrillic, punctuation, super/subscripts, currency, letter-like
# symbols, number forms, arrows, mathematical operators, shapes and symbols (⚠, ✓). DejaVu
# holds ~6,000 glyphs per face; fpdf2 re-reads and subsets every face of every document it
# saves, which took most of the ~0.7 s a sheet cost (bench/validate_click.py): the faces are
# cut once to these ranges (~2,500 glyphs, hinting and OpenType layout that fpdf2 does not use
# dropped) and kept in a cache folder shared by the app's processes.
_FONT_RANGES = (
    (0x0020, 0x024F),
    (0x0300, 0x036F),
    (0x0370, 0x03FF),
    (0x0400, 0x04FF),
    (0x1E00, 0x1EFF),
    (0x2000, 0x218F),
    (0x2190, 0x22FF),
    (0x25A0, 0x27BF),
)
_font_lock = threading.Lock()


def _font_cache_key() -> str:
    from importlib.metadata import version

    stamp = repr((_FONT_RANGES, version("fonttools"), matplotlib.__version__, _FONT_FILES))
    return hashlib.sha256(stamp.encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def _font_dir() -> Path:
    """The folder of the cut DejaVu faces, made on first use (a few seconds, once a machine).

    The folder is in the user's cache (``$XDG_CACHE_HOME`` or ``~/.cache``: the app's own
    account, not a world-writable /tmp). Falls back to matplotlib's full faces when it cannot
    be written.
    """
    import os

    from fontTools import subset

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / f"rcp-fonts-{_font_cache_key()}"
    with _font_lock:
        if all((folder / name).is_file() for name in _FONT_FILES.values()):
            return folder
        try:
            folder.mkdir(mode=0o755, parents=True, exist_ok=True)
            unicodes = [u for low, high in _FONT_RANGES for u in range(low, high + 1)]
            for name in _FONT_FILES.values():
                face = ttLib.TTFont(_FONT_DIR / name, recalcTimestamp=False)
                options = subset.Options()
                options.layout_features = []
                options.hinting = False
                options.name_IDs = ["*"]
                options.notdef_outline = True
                options.glyph_names = True
                options.drop_tables += ["FFTM"]
                cutter = subset.Subsetter(options)
                cutter.populate(unicodes=unicodes)
                cutter.subset(face)
                # Written aside then renamed: another process never reads half a font.
                partial = folder / f".{name}.{os.getpid()}.{threading.get_ident()}"
                face.save(partial)
                face.close()
                os.replace(partial, folder / name)
        except OSError:
            return _FONT_DIR
    return folder


def prepare_fonts() -> None:
    """Cut and load the faces ahead of the first sheet (the server calls it at start-up)."""
    _printable_codepoints()
    for style in _FONT_FILES:
        _font_template(style)


@lru_cache(maxsize=1)
def _printable_codepoints() -> frozenset[int]:
    """Code points that all three DejaVu faces can draw (read once per process)."""
    faces = [ttLib.TTFont(_font_dir() / name, lazy=True) for name in _FONT_FILES.values()]
    common = set(faces[0].getBestCmap())
    for face in faces[1:]:
        common &= set(face.getBestCmap())
    for face in faces:
        face.close()
    return frozenset(common)


def printable_text(text: str | None, *, single_line: bool = False) -> str:
    """Make user text printable: NFC, no control/format characters, unknown glyphs as "?"."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    printable = _printable_codepoints()
    out: list[str] = []
    for char in text:
        if char == "\n":
            out.append(" " if single_line else "\n")
        elif unicodedata.category(char) in _DROPPED_CATEGORIES:
            continue
        elif ord(char) not in printable:
            out.append("?")
        else:
            out.append(char)
    # French typography: no line break inside « » or before ; : ! ?
    cleaned = _NBSP_BEFORE.sub("\u00a0", "".join(out).replace("« ", "«\u00a0"))
    if single_line:
        cleaned = " ".join(cleaned.split())
    return cleaned.strip()


def _paris(moment: datetime) -> datetime:
    return moment.replace(tzinfo=PARIS) if moment.tzinfo is None else moment.astimezone(PARIS)


def format_date(day: date) -> str:
    """03/12/2026."""
    return dates.format_date(day)


# Dates and times are written as the pages write them (rcp.dates), in the sheet's language:
# « 1er décembre », « 14:05 ».


def format_long_date(day: date) -> str:
    """mardi 1er décembre 2026 (the pages' « 1er décembre 2026 », with the weekday)."""
    return dates.format_weekday_date(day)


def format_time(moment: datetime) -> str:
    """14:05, Paris time, as on the pages."""
    return dates.format_time(_paris(moment))


def format_datetime(moment: datetime) -> str:
    """03/12/2026 à 14:05, Paris time, as on the pages."""
    return dates.format_datetime(_paris(moment))


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------

_INK = (31, 41, 51)
_MUTED = (96, 108, 118)
_ACCENT = (24, 78, 119)
_RULE = (190, 200, 210)
_BAND = (232, 239, 245)
_SOFT = (246, 248, 250)
_ALERT = (176, 42, 28)
_ALERT_FILL = (252, 236, 233)
_OK = (30, 110, 60)

_MARGIN_X = 16.0
_TOP = 27.0
_BOTTOM = 18.0
_BODY_SIZE = 9.5
_LINE = 4.7
_DATES_PER_TABLE = 5


class _SheetPdf(FPDF):
    """FPDF with the sheet's running header and footer."""

    def __init__(self, header_left: str, header_right: str, footer_left: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.header_left = header_left
        self.header_right = header_right
        self.footer_left = footer_left

    def header(self) -> None:
        # User text never goes through the page-count alias: "{nb}" typed in a summary must
        # print as is. The footer turns the alias back on for its own page number.
        self.alias_nb_pages(None)  # type: ignore[arg-type]
        self.set_xy(_MARGIN_X, 9)
        self.set_text_color(*_ACCENT)
        self.set_font(_FAMILY, "B", 8.5)
        self.set_font(_FAMILY, "", 8.5)
        right_w = min(self.get_string_width(self.header_right) + 1, self.epw * 0.55)
        left_w = self.epw - right_w
        self.set_font(_FAMILY, "B", 8.5)
        self.cell(left_w, 4.5, _fit(self, self.header_left, left_w - 4))
        self.set_font(_FAMILY, "", 8.5)
        self.set_text_color(*_INK)
        self.cell(right_w, 4.5, _fit(self, self.header_right, right_w - 1), align="R")
        self.set_draw_color(*_ACCENT)
        self.set_line_width(0.5)
        self.line(_MARGIN_X, 15, self.w - _MARGIN_X, 15)
        self.set_line_width(0.2)
        self.set_xy(_MARGIN_X, _TOP)

    def footer(self) -> None:
        self.alias_nb_pages("{nb}")
        self.set_draw_color(*_RULE)
        self.line(_MARGIN_X, self.h - 13, self.w - _MARGIN_X, self.h - 13)
        self.set_xy(_MARGIN_X, self.h - 12)
        self.set_font(_FAMILY, "", 7.5)
        self.set_text_color(*_MUTED)
        self.cell(self.epw - 25, 4, self.footer_left)
        self.set_font(_FAMILY, "B", 7.5)
        self.cell(25, 4, _("Page {number}/{{nb}}").format(number=self.page_no()), align="R")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """Shorten ``text`` with an ellipsis so that it fits ``width`` in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


class _Writer:
    """Draws the sheet's blocks on one ``_SheetPdf``, top to bottom."""

    def __init__(self, pdf: _SheetPdf) -> None:
        self.pdf = pdf

    # -- primitives --------------------------------------------------------------------------

    def font(
        self, style: str = "", size: float = _BODY_SIZE, color: tuple[int, ...] = _INK
    ) -> None:
        self.pdf.set_font(_FAMILY, style, size)
        self.pdf.set_text_color(*color)

    def ensure_space(self, height: float) -> None:
        if self.pdf.get_y() + height > self.pdf.page_break_trigger:
            self.pdf.add_page()

    def section(self, title: str, *, keep_with: float = 22) -> None:
        pdf = self.pdf
        self.ensure_space(9 + keep_with)
        pdf.ln(3)
        y = pdf.get_y()
        pdf.set_fill_color(*_BAND)
        pdf.rect(_MARGIN_X, y, pdf.epw, 7, style="F")
        pdf.set_fill_color(*_ACCENT)
        pdf.rect(_MARGIN_X, y, 1.4, 7, style="F")
        pdf.set_xy(_MARGIN_X + 3.5, y)
        self.font("B", 10.5, _ACCENT)
        pdf.cell(pdf.epw - 3.5, 7, title.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)

    def label(self, text: str) -> None:
        self.ensure_space(12)
        self.font("B", 9, _ACCENT)
        self.pdf.cell(0, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def paragraph(self, text: str, *, empty: str | None = None, style: str = "") -> None:
        cleaned = printable_text(text)
        if empty is None:
            empty = _("Non renseigné.")
        if cleaned:
            self.font(style)
            self.pdf.multi_cell(0, _LINE, cleaned, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        else:
            self.font("I", _BODY_SIZE, _MUTED)
            self.pdf.multi_cell(0, _LINE, empty, new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="L")
        self.pdf.ln(1.5)

    def field(self, label: str, text: str, *, empty: str | None = None) -> None:
        self.label(label)
        self.paragraph(text, empty=empty)

    def boxed(
        self,
        text: str,
        *,
        style: str = "",
        color: tuple[int, ...] = _INK,
        fill: tuple[int, ...] = _SOFT,
        bar: tuple[int, ...] = _ACCENT,
        size: float = _BODY_SIZE,
    ) -> None:
        """A paragraph on a tinted background with a coloured bar on its left, page-safe."""
        pdf = self.pdf
        self.ensure_space(12)
        self.font(style, size, color)
        pdf.set_fill_color(*fill)
        start_page, start_y = pdf.page, pdf.get_y()
        pdf.set_x(_MARGIN_X + 1.4)
        pdf.multi_cell(
            pdf.epw - 1.4,
            _LINE + 0.2,
            text,
            fill=True,
            padding=(2, 3, 2, 3),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            align="L",
        )
        end_page, end_y = pdf.page, pdf.get_y()
        # The bar follows the box across a page break.
        pdf.set_fill_color(*bar)
        for page in range(start_page, end_page + 1):
            pdf.page = page
            top = start_y if page == start_page else _TOP
            bottom = end_y if page == end_page else pdf.page_break_trigger
            pdf.rect(_MARGIN_X, top, 1.4, bottom - top, style="F")
        pdf.page = end_page
        pdf.set_y(end_y + 2)

    # -- blocks ------------------------------------------------------------------------------

    def title_block(self, data: SheetData) -> None:
        pdf = self.pdf
        meeting = data.meeting
        start = _paris(meeting.starts_at)
        y = pdf.get_y()
        version_w = 62.0
        self.font("B", 17, _INK)
        pdf.cell(pdf.epw - version_w, 8, _("Fiche RCP"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.font("", 10, _MUTED)
        pdf.multi_cell(
            pdf.epw - version_w - 4,
            5,
            _("Avis de la réunion de concertation pluridisciplinaire"),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            align="L",
        )
        self.font("B", 11, _ACCENT)
        pdf.multi_cell(
            pdf.epw - version_w - 4,
            5.5,
            printable_text(meeting.rcp_name, single_line=True),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            align="L",
        )
        self.font("", 9.5, _INK)
        pdf.multi_cell(
            pdf.epw - version_w - 4,
            5,
            _("{network} — séance du {date} à {time}").format(
                network=printable_text(meeting.network, single_line=True),
                date=format_long_date(start.date()),
                time=format_time(start),
            ),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
            align="L",
        )
        left_bottom = pdf.get_y()
        # Version box, top right.
        x = _MARGIN_X + pdf.epw - version_w
        pdf.set_xy(x, y + 1)
        pdf.set_draw_color(*_ACCENT)
        pdf.set_fill_color(*_SOFT)
        self.font("B", 11, _ACCENT)
        lines = [_("Version {version}").format(version=data.version)]
        if data.version >= 2 and data.replaces_date is not None:
            lines.append(
                _("remplace la version {version} du {date}").format(
                    version=data.version - 1, date=format_date(data.replaces_date)
                )
            )
        status = _("Avis validé") if data.validation else _("Projet — avis non validé")
        box_top = pdf.get_y()
        pdf.cell(version_w, 7, lines[0], align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.font("", 8, _INK)
        for line in lines[1:]:
            pdf.multi_cell(version_w, 4, line, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self.font("B", 8, _OK if data.validation else _ALERT)
        pdf.cell(version_w, 5.5, status, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.rect(x, box_top, version_w, pdf.get_y() - box_top + 1)
        pdf.set_y(max(left_bottom, pdf.get_y() + 1) + 2)

    def identity_block(self, data: SheetData) -> None:
        pdf = self.pdf
        patient, doctor = data.patient, data.submitter
        meeting_day = _paris(data.meeting.starts_at).date()
        gap = 6.0
        col_w = (pdf.epw - gap) / 2
        top = pdf.get_y() + 2
        sex = printable_text(patient.sex, single_line=True)
        age = _age(patient.birth_date, meeting_day)
        patient_rows = [
            (_("Nom"), printable_text(patient.last_name, single_line=True).upper()),
            (_("Prénom"), printable_text(patient.first_name, single_line=True)),
            (
                _("Né(e) le"),
                # French has always printed « ans »; English needs "year" for 0 and 1.
                ngettext("{date} ({age} ans)", "{date} ({age} ans)", age).format(
                    date=format_date(patient.birth_date), age=age
                ),
            ),
            (_("Sexe"), i18n.label(_SEX_LABELS, sex.upper(), sex) or _("Non renseigné")),
        ]
        doctor_rows = [
            (_("Nom"), printable_text(doctor.name, single_line=True)),
            (
                _("Spécialité"),
                printable_text(_stored_label(doctor.specialty), single_line=True)
                or _("Non renseignée"),
            ),
            (
                _("Établissement"),
                printable_text(doctor.institution, single_line=True) or _("Non renseigné"),
            ),
        ]
        bottoms = []
        for i, (title, rows) in enumerate(
            ((_("Patient"), patient_rows), (_("Médecin demandeur"), doctor_rows))
        ):
            x = _MARGIN_X + i * (col_w + gap)
            pdf.set_xy(x + 3, top + 2)
            self.font("B", 9, _ACCENT)
            pdf.cell(col_w - 6, 5, title.upper(), new_x=XPos.LEFT, new_y=YPos.NEXT)
            for number, (key, value) in enumerate(rows):
                pdf.set_x(x + 3)
                self.font("", 8, _MUTED)
                pdf.cell(25, 5, key)
                self.font("B" if number == 0 else "", _BODY_SIZE, _INK)  # the name
                pdf.multi_cell(col_w - 31, 5, value, new_x=XPos.LEFT, new_y=YPos.NEXT, align="L")
                pdf.set_x(x + 3)
            bottoms.append(pdf.get_y())
        bottom = max(bottoms) + 2
        pdf.set_draw_color(*_RULE)
        for i in range(2):
            pdf.rect(_MARGIN_X + i * (col_w + gap), top, col_w, bottom - top)
        pdf.set_xy(_MARGIN_X, bottom + 1)

    def lab_block(self, data: SheetData) -> None:
        if data.labs:
            self.lab_tables(data.labs)
        elif data.lab_plot_png:
            self.paragraph("", empty=_("Voir l'évolution biologique en annexe."))
        else:
            self.paragraph("", empty=_("Aucun résultat biologique transmis."))

    def lab_tables(self, labs: Sequence[LabRow]) -> None:
        """One row per test, one column per date (chronological), five dates per table."""
        pdf = self.pdf
        tests: dict[tuple[str, str], dict[date, list[str]]] = {}
        for lab in labs:
            key = (
                printable_text(lab.test, single_line=True),
                printable_text(lab.unit, single_line=True),
            )
            tests.setdefault(key, {}).setdefault(lab.taken_on, []).append(
                printable_text(lab.value, single_line=True)
            )
        days = sorted({lab.taken_on for lab in labs})
        label_w = 58.0
        for start in range(0, len(days), _DATES_PER_TABLE):
            chunk = days[start : start + _DATES_PER_TABLE]
            day_w = (pdf.epw - label_w) / _DATES_PER_TABLE
            self.ensure_space(20)
            self.font("", 8.5)
            pdf.set_draw_color(*_RULE)
            # fpdf2 fills the alternate rows with the current fill colour.
            pdf.set_fill_color(*_SOFT)
            with pdf.table(
                width=label_w + day_w * len(chunk),
                align="LEFT",
                col_widths=(label_w, *([day_w] * len(chunk))),
                text_align=("LEFT", *(["RIGHT"] * len(chunk))),
                line_height=4.6,
                padding=(1.0, 1.5),
                borders_layout="HORIZONTAL_LINES",
                headings_style=FontFace(emphasis="BOLD", color=_ACCENT, fill_color=_BAND),
                cell_fill_color=_SOFT,
                cell_fill_mode="ROWS",
                repeat_headings=1,
            ) as table:
                heading = table.row()
                heading.cell(_("Examen (unité)"))
                for day in chunk:
                    heading.cell(format_date(day))
                for (test, unit), by_day in tests.items():
                    row = table.row()
                    row.cell(f"{test} ({unit})" if unit else test)
                    for day in chunk:
                        row.cell(" / ".join(by_day.get(day, [])) or "–")
            pdf.ln(3)

    def image(
        self, png: bytes, *, width: float, max_height: float, field: str, caption: str
    ) -> None:
        pdf = self.pdf
        try:
            with Image.open(io.BytesIO(png)) as probe:
                px_w, px_h = probe.size
        except (UnidentifiedImageError, OSError):
            raise InvalidInput(_("L'image fournie n'est pas lisible."), field=field) from None
        w = width
        h = w * px_h / px_w
        if h > max_height:
            h = max_height
            w = h * px_w / px_h
        caption = printable_text(caption)
        self.ensure_space(h + (10 if caption else 2))
        x = _MARGIN_X + (pdf.epw - w) / 2
        y = pdf.get_y()
        _prime_image(pdf, png)
        pdf.image(png, x=x, y=y, w=w, h=h)
        pdf.set_draw_color(*_RULE)
        pdf.rect(x, y, w, h)
        pdf.set_xy(_MARGIN_X, y + h + 1.5)
        if caption:
            self.font("I", 8, _MUTED)
            pdf.multi_cell(0, 4, caption, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)

    def opinion_block(self, data: SheetData) -> None:
        opinion = data.opinion
        pdf = self.pdf
        if not opinion.follows_guidelines:
            # Keep the flag on the same page as the proposal it qualifies.
            self.ensure_space(48)
            pdf.set_draw_color(*_ALERT)
            pdf.set_fill_color(*_ALERT_FILL)
            pdf.set_line_width(0.6)
            top = pdf.get_y()
            pdf.set_xy(_MARGIN_X + 3, top + 2)
            self.font("B", 10.5, _ALERT)
            pdf.cell(
                pdf.epw - 6,
                6,
                _("⚠  PROPOSITION HORS RECOMMANDATIONS"),
                new_x=XPos.LEFT,
                new_y=YPos.NEXT,
            )
            self.font("", 8.5, _INK)
            pdf.multi_cell(
                pdf.epw - 6,
                4.3,
                _(
                    "La proposition ci-dessous s'écarte des recommandations de bonne pratique. "
                    "L'argumentaire en expose les raisons ; le patient doit en être informé."
                ),
                new_x=XPos.LEFT,
                new_y=YPos.NEXT,
                align="L",
            )
            bottom = pdf.get_y() + 2
            pdf.rect(_MARGIN_X, top, pdf.epw, bottom - top)
            pdf.set_line_width(0.2)
            pdf.set_xy(_MARGIN_X, bottom + 3)
        self.label(_("Proposition de la RCP"))
        proposal = printable_text(opinion.proposal) or _("Non renseignée.")
        self.boxed(proposal, style="B", size=10)
        self.field(_("Argumentaire"), opinion.rationale)
        self.field(_("Références"), opinion.references, empty=_("Aucune référence citée."))
        self.field(_("Essai clinique proposé"), opinion.clinical_trial, empty=_("Aucun."))
        self.field(
            _("Médecin responsable du suivi"),
            printable_text(opinion.follow_up_doctor, single_line=True),
        )

    def attendance_block(self, data: SheetData) -> None:
        pdf = self.pdf
        quorum = data.quorum
        self.ensure_space(14)
        self.font("B", 9.5, _OK if quorum.met else _ALERT)
        status = _("Quorum atteint") if quorum.met else _("Quorum non atteint")
        pdf.cell(0, 5.5, status, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        reason = printable_text(quorum.reason)
        if reason:
            self.font("", _BODY_SIZE)
            pdf.multi_cell(
                0,
                _LINE,
                _("Motif consigné : {reason}").format(reason=reason),
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
                align="L",
            )
        pdf.ln(2)
        if not data.attendees:
            self.paragraph("", empty=_("Aucun participant enregistré."))
            return
        self.ensure_space(16)
        self.font("", 8.5)
        pdf.set_draw_color(*_RULE)
        # fpdf2 fills the alternate rows with the current fill colour, not cell_fill_color.
        pdf.set_fill_color(*_SOFT)
        with pdf.table(
            col_widths=(1, 1),
            line_height=5,
            padding=(0.8, 1.5),
            borders_layout="HORIZONTAL_LINES",
            headings_style=FontFace(emphasis="BOLD", color=_ACCENT, fill_color=_BAND),
            cell_fill_color=_SOFT,
            cell_fill_mode="ROWS",
            repeat_headings=1,
        ) as table:
            heading = table.row()
            heading.cell(_("Participants ({count})").format(count=len(data.attendees)))
            heading.cell(_("Spécialité"))
            for attendee in data.attendees:
                row = table.row()
                row.cell(printable_text(attendee.name, single_line=True))
                row.cell(printable_text(_stored_label(attendee.specialty), single_line=True))
        pdf.ln(2)

    def validation_block(self, data: SheetData) -> None:
        version_line = _("Version {version}").format(version=data.version)
        if data.version >= 2 and data.replaces_date is not None:
            version_line += _(", remplace la version {version} du {date}").format(
                version=data.version - 1, date=format_date(data.replaces_date)
            )
        if data.validation is None:
            self.boxed(
                _("Avis non validé : document provisoire. {version}.").format(version=version_line),
                style="B",
                color=_ALERT,
                fill=_ALERT_FILL,
                bar=_ALERT,
            )
            return
        validator = printable_text(data.validation.validator, single_line=True)
        self.boxed(
            _("Avis validé par {validator} le {when}.\n{version}.").format(
                validator=validator,
                when=format_datetime(data.validation.validated_at),
                version=version_line,
            ),
        )


# --------------------------------------------------------------------------------------------
# Caches shared between documents
# --------------------------------------------------------------------------------------------
#
# Parsing the three DejaVu faces costs fpdf2 ~40 ms a face (fontTools reads cmap and hmtx,
# fpdf2 builds a width table of ~6000 glyphs). fpdf2 has no public way to share a parsed font,
# and its subsetter mutates the fontTools object while writing the PDF, so a parsed font cannot
# simply be reused. What can be reused is everything else: each document gets a copy of a
# template font (its width and glyph tables, copied shallowly) with a fresh lazy fontTools
# object, its own descriptor and an empty subset map. The glyph outlines are still read once
# per document by the subsetter. Should fpdf2 change these internals, the copy fails and we
# fall back to add_font(); tests check both paths give identical bytes, also when documents
# are saved from several threads at once.


@lru_cache(maxsize=len(_FONT_FILES))
def _font_template(style: str) -> TTFFont:
    scratch = FPDF()
    scratch.add_font(_FAMILY, style, _font_dir() / _FONT_FILES[style])
    return scratch.fonts[f"{_FAMILY.lower()}{style}"]  # type: ignore[return-value]


def _copy_font(template: TTFFont, index: int) -> TTFFont:
    # Shallow copy: TTFFont.__deepcopy__ would deep-copy two 6000-entry dicts (~25 ms a face).
    font = copy.copy(template)
    font.i = index
    font.cw = copy.copy(template.cw)  # a defaultdict: copy.copy keeps its default
    font.glyph_ids = dict(template.glyph_ids)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    # fpdf2 writes the object id and the embedded file onto the descriptor while saving: each
    # document needs its own, or two threads saving at once would mix their fonts.
    font.desc = copy.copy(template.desc)
    font.ttfont = ttLib.TTFont(template.ttffile, recalcTimestamp=False, lazy=True)
    font.subset = SubsetMap(font)
    return font


def _add_fonts(pdf: FPDF, *, cached: bool) -> None:
    for style, name in _FONT_FILES.items():
        key = f"{_FAMILY.lower()}{style}"
        if cached:
            try:
                pdf.fonts[key] = _copy_font(_font_template(style), len(pdf.fonts) + 1)
                continue
            except (AttributeError, TypeError, KeyError):  # pragma: no cover - fpdf2 changed
                pdf.fonts.pop(key, None)
        pdf.add_font(_FAMILY, style, _font_dir() / name)


# Decoding and re-compressing a PNG costs fpdf2 15-70 ms; a sheet is often rendered several
# times with the same plot and key image (preview, validation, new version). fpdf2 keys images
# by the MD5 of their bytes in ``pdf.image_cache``; we keep the decoded entries of the last few
# images and hand each document its own copy of the entry.
_IMAGE_CACHE_SIZE = 8
_image_infos: OrderedDict[str, RasterImageInfo] = OrderedDict()
_image_lock = threading.Lock()


def _prime_image(pdf: FPDF, png: bytes) -> None:
    """Put the decoded ``png`` in this document's image cache, decoding it at most once."""
    name = hashlib.md5(png.strip(), usedforsecurity=False).hexdigest()
    images = pdf.image_cache.images
    if name in images:
        return
    with _image_lock:
        info = _image_infos.get(name)
        if info is not None:
            _image_infos.move_to_end(name)
    if info is None:
        _, _, decoded = preload_image(ImageCache(), png)
        if not isinstance(decoded, RasterImageInfo) or decoded.get("iccp_i") is not None:
            return  # colour profiles are numbered per document: let fpdf2 do it
        info = decoded
        with _image_lock:
            _image_infos[name] = info
            while len(_image_infos) > _IMAGE_CACHE_SIZE:
                _image_infos.popitem(last=False)
    entry = RasterImageInfo(info)
    entry["i"] = len(images) + 1
    entry["usages"] = 0
    images[name] = entry


def _check(data: SheetData) -> None:
    if data.version < 1:
        raise InvalidInput(
            _("Le numéro de version doit être supérieur ou égal à 1."), field="version"
        )
    if data.version >= 2 and data.replaces_date is None:
        raise InvalidInput(
            _("Une version corrigée doit indiquer la date de la version qu'elle remplace."),
            field="replaces_date",
        )


def build_sheet_pdf(data: SheetData, *, _cache_fonts: bool = True) -> bytes:
    """Render ``data`` as an A4 PDF in its language (``data.language``); see ``_build``."""
    with i18n.using(data.language):
        return _build(data, cache_fonts=_cache_fonts)


def _build(data: SheetData, *, cache_fonts: bool) -> bytes:
    """Render ``data`` as an A4 PDF and return its bytes.

    The output is deterministic: the PDF creation date is ``data.generated_at`` and nothing
    else depends on the clock, so the same data gives the same bytes (and ``fingerprint``).
    User text is printed literally (no markup is interpreted), with control characters removed.

    Raises
    ------
    InvalidInput
        A version ≥ 2 without the date of the version it replaces, or an unreadable image.
    """
    _check(data)
    patient = data.patient
    identity = (
        f"{printable_text(patient.last_name, single_line=True).upper()} "
        f"{printable_text(patient.first_name, single_line=True)}"
    )
    header_left = (
        f"{printable_text(data.meeting.network, single_line=True)} · "
        f"{printable_text(data.meeting.rcp_name, single_line=True)}"
    )
    header_right = _("{identity} · né(e) le {date}").format(
        identity=identity, date=format_date(patient.birth_date)
    )
    footer_left = _(
        "Fiche RCP, version {version} · générée le {when} · Document médical confidentiel"
    ).format(version=data.version, when=format_datetime(data.generated_at))
    pdf = _SheetPdf(header_left, header_right, footer_left)
    created = _paris(data.generated_at).astimezone(UTC)
    pdf.set_creation_date(created)
    pdf.set_title(_("Fiche RCP : {identity}").format(identity=identity))
    pdf.set_subject(printable_text(data.meeting.rcp_name, single_line=True))
    pdf.set_creator(_("Plateforme RCP"))
    pdf.set_lang(i18n.FORMAT_LOCALES[i18n.current()].replace("_", "-"))
    _add_fonts(pdf, cached=cache_fonts)
    pdf.set_margins(_MARGIN_X, _TOP, _MARGIN_X)
    pdf.set_auto_page_break(True, margin=_BOTTOM)
    pdf.add_page()

    writer = _Writer(pdf)
    writer.title_block(data)
    writer.identity_block(data)

    clinical = data.clinical
    writer.section(_("Question posée à la RCP"))
    writer.boxed(printable_text(clinical.question) or _("Non renseignée."), style="B")
    writer.section(_("Dossier clinique"))
    writer.field(_("Résumé clinique"), clinical.summary)
    writer.field(_("Antécédents"), clinical.history)
    writer.field(_("Traitements en cours"), clinical.treatments)
    writer.field(_("Histologie"), clinical.histology)
    writer.field(_("Génétique"), clinical.genetics)

    writer.section(_("Biologie"))
    writer.lab_block(data)
    writer.section(_("Avis de la RCP"), keep_with=30 if data.opinion.follows_guidelines else 50)
    writer.opinion_block(data)
    writer.section(_("Participants et quorum"))
    writer.attendance_block(data)
    writer.section(_("Validation"), keep_with=14)
    writer.validation_block(data)

    # Figures come last, as annexes: the decision reads first, and they fill pages better.
    if data.lab_plot_png:
        writer.section(_("Annexe : évolution biologique"), keep_with=75)
        writer.image(
            data.lab_plot_png,
            width=pdf.epw,
            max_height=120,
            field="lab_plot_png",
            caption=_(
                "Bande verte : valeurs usuelles de l'adulte ; "
                "la dernière valeur de chaque examen est indiquée."
            ),
        )
    if data.key_image is not None:
        writer.section(_("Annexe : imagerie"), keep_with=60)
        if data.key_image.identity_warning:
            writer.boxed(
                _("⚠  IDENTITÉ À VÉRIFIER — ") + printable_text(data.key_image.identity_warning),
                style="B",
                color=_ALERT,
                fill=_ALERT_FILL,
                bar=_ALERT,
                size=9,
            )
        writer.image(
            data.key_image.png,
            width=90,
            max_height=62,
            field="key_image",
            caption=data.key_image.caption,
        )
    return bytes(pdf.output())
