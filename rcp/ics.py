"""Calendar invitations (.ics, RFC 5545 with iTIP METHOD) for meetings, made with icalendar."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from icalendar import Calendar, Event, vCalAddress, vText

from rcp.config import get_settings
from rcp.dates import PARIS
from rcp.i18n import _
from rcp.models import Meeting, utcnow

PRODID = "-//Plateforme RCP//RCP ORKID//FR"  # i18n: exempt (an identifier, RFC 5545)


def meeting_uid(meeting: Meeting) -> str:
    """Stable across updates and cancellation, so calendars replace instead of duplicating."""
    host = urlsplit(get_settings().base_url).hostname or "rcp.invalid"
    return f"rcp-meeting-{meeting.id}@{host}"


def meeting_ics(
    meeting: Meeting,
    *,
    title: str,
    description: str,
    url: str,
    attendee_email: str,
    attendee_name: str,
    method: str = "REQUEST",
    stamp: datetime | None = None,
) -> bytes:
    """One VEVENT in Europe/Paris with its VTIMEZONE; ``method`` is REQUEST or CANCEL."""
    settings = get_settings()
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported iTIP method {method!r}")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    event = Event()
    event.add("uid", meeting_uid(meeting))
    event.add("sequence", meeting.ics_sequence)
    event.add("dtstamp", (stamp or utcnow()))
    event.add("dtstart", meeting.starts_at.astimezone(PARIS))
    event.add("dtend", meeting.ends_at.astimezone(PARIS))
    event.add("summary", title)
    event.add("description", description)
    event.add("url", url)
    # The caller builds the invitation in its recipient's language (rcp.meetings).
    event.add("location", vText(_("Visioconférence sur la plateforme : {url}").format(url=url)))
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{_address(settings.smtp_from)}")
    organizer.params["cn"] = vText(settings.platform_name)
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{attendee_email}")
    attendee.params["cn"] = vText(attendee_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("NEEDS-ACTION")
    attendee.params["rsvp"] = vText("FALSE")
    event.add("attendee", attendee)
    cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def _address(from_header: str) -> str:
    if "<" in from_header and ">" in from_header:
        return from_header.split("<", 1)[1].split(">", 1)[0]
    return from_header
