"""Dates shown to users: Europe/Paris, French formats."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def today_paris(now: datetime | None = None) -> date:
    """The calendar day in Paris (users' day), not the server's: between 23:00 and 00:00 UTC
    (22:00 in summer) the two differ, and a child born "today" must not be "in the future"."""
    return (now or datetime.now(PARIS)).astimezone(PARIS).date()


def to_paris(value: datetime) -> datetime:
    return value.astimezone(PARIS)


def format_datetime(value: datetime | None) -> str:
    """'25/11/2026 à 14:05' in Paris time."""
    if value is None:
        return "—"
    local = to_paris(value)
    return local.strftime("%d/%m/%Y à %H:%M")


def format_date_long(value: date | datetime) -> str:
    """'7 avril 2021' (Paris time for datetimes)."""
    if isinstance(value, datetime):
        value = to_paris(value).date()
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def format_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"
