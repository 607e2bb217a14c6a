"""Dates and numbers shown to users: Europe/Paris time, in the current language (Babel's
formats: « 1er décembre 2026 » in French, "1 December 2026" in English, 24-hour clock)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers

from rcp import i18n
from rcp.i18n import N_, _, ngettext

PARIS = ZoneInfo("Europe/Paris")


def today_paris(now: datetime | None = None) -> date:
    """The calendar day in Paris (users' day), not the server's: between 23:00 and 00:00 UTC
    (22:00 in summer) the two differ, and a child born "today" must not be "in the future"."""
    return (now or datetime.now(PARIS)).astimezone(PARIS).date()


def to_paris(value: datetime) -> datetime:
    return value.astimezone(PARIS)


def _locale() -> str:
    return i18n.FORMAT_LOCALES[i18n.current()]


def _day(value: date | datetime) -> date:
    return to_paris(value).date() if isinstance(value, datetime) else value


def format_date(value: date | datetime | None) -> str:
    """'25/11/2026' (both languages write day/month/year)."""
    if value is None:
        return "—"
    return babel_dates.format_date(_day(value), "dd/MM/y", locale=_locale())


def format_time(value: datetime | time) -> str:
    """'14:05' (Paris time for datetimes)."""
    moment = to_paris(value).timetz() if isinstance(value, datetime) else value
    return babel_dates.format_time(moment, "HH:mm", locale=_locale())


def format_datetime(value: datetime | None) -> str:
    """'25/11/2026 à 14:05' / '25/11/2026 at 14:05', Paris time."""
    if value is None:
        return "—"
    return _("{date} à {time}").format(date=format_date(value), time=format_time(value))


def format_date_long(value: date | datetime) -> str:
    """'1er décembre 2026' / '1 December 2026' (Paris time for datetimes)."""
    day = _day(value)
    pattern = "d MMMM y"
    if i18n.current() == i18n.FRENCH and day.day == 1:
        pattern = "d'er' MMMM y"  # French ordinal for the first of the month
    return babel_dates.format_date(day, pattern, locale=_locale())


def format_weekday_date(value: date | datetime) -> str:
    """'mardi 1er décembre 2026' / 'Tuesday 1 December 2026'."""
    day = _day(value)
    weekday = babel_dates.format_date(day, "EEEE", locale=_locale())
    return f"{weekday} {format_date_long(day)}"


def format_day_month(value: date | datetime) -> str:
    """'1er déc.' / '1 Dec' (short lists)."""
    day = _day(value)
    pattern = "d'er' MMM" if i18n.current() == i18n.FRENCH and day.day == 1 else "d MMM"
    return babel_dates.format_date(day, pattern, locale=_locale())


def format_number(value: float | int, *, digits: int | None = None) -> str:
    """'1 234,5' / '1,234.5'; ``digits`` fixes the decimals."""
    if digits is None:
        return babel_numbers.format_decimal(value, locale=_locale())
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=_locale())


# A file's size in the units French readers know (1 Ko = 1024 octets), and in English.
_SIZE_UNITS = (N_("{size} Ko"), N_("{size} Mo"), N_("{size} Go"))


def format_size(size: int) -> str:
    """'39,2 Ko' / '39.2 kB', '1,5 Mo' / '1.5 MB', '512 octets' / '512 bytes'."""
    if size < 1024:
        return ngettext("{count} octet", "{count} octets", size).format(count=format_number(size))
    value = size / 1024
    unit = _SIZE_UNITS[0]
    for unit in _SIZE_UNITS:
        if value < 1024 or unit == _SIZE_UNITS[-1]:
            break
        value /= 1024
    pattern = "#,##0.#" if value < 100 else "#,##0"
    number = babel_numbers.format_decimal(value, format=pattern, locale=_locale())
    return _(unit).format(size=number)


def format_megabytes(size: int) -> str:
    """A limit in Mo (2**20 octets): '50 Mo' / '50 MB', '1,5 Mo' / '1.5 MB'."""
    value = size / (1024 * 1024)
    digits = 0 if value >= 10 or value.is_integer() else 1
    return _("{size} Mo").format(size=format_number(value, digits=digits))
