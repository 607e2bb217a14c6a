"""The catalogue at run time: the language of a string, dates and numbers in it, plurals."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from rcp import dates, i18n
from rcp.i18n import _


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"),
        ("en-GB,en;q=0.9", "en"),
        ("en-US,en;q=0.9,fr;q=0.8", "en"),
        ("de-DE,de;q=0.9,fr;q=0.5", "fr"),  # French is among the browser's languages
        ("de-DE,de;q=0.9", "en"),  # a German member of a European panel: English
        ("it", "en"),
        ("fr;q=0.2, en;q=0.8", "en"),  # quality values, not order
        ("en;q=0, fr", "fr"),  # q=0 means "not this one"
        ("", "fr"),
        (None, "fr"),
        (";;;,", "fr"),
        ("*", "fr"),  # any language: the reference one
    ],
)
def test_the_browser_language_is_negotiated_from_accept_language(header, expected) -> None:
    assert i18n.negotiate(header) == expected


def test_strings_come_out_in_the_language_of_the_block_and_french_outside() -> None:
    assert _("Page introuvable") == "Page introuvable"
    with i18n.using("en"):
        assert _("Page introuvable") == "Page not found"
        with i18n.using("fr"):
            assert _("Page introuvable") == "Page introuvable"
        assert _("Page introuvable") == "Page not found"
    assert _("Page introuvable") == "Page introuvable"


def test_an_unsupported_language_falls_back_to_french() -> None:
    with i18n.using("de"):
        assert i18n.current() == "fr"
        assert _("Page introuvable") == "Page introuvable"


def test_the_page_provider_gives_the_language_outside_any_block(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # monkeypatch puts back the provider rcp.ui.language registered: clearing it here left
    # every later AppTest page of this process in French (an order-dependent failure).
    monkeypatch.setattr(i18n, "_provider", i18n._provider)
    i18n.set_language_provider(lambda: "en")
    assert _("Page introuvable") == "Page not found"
    with i18n.using("fr"):  # an email to a French recipient, built from an English page
        assert _("Page introuvable") == "Page introuvable"


def test_a_message_absent_from_the_catalogue_stays_french_rather_than_failing() -> None:
    with i18n.using("en"):
        assert _("Une phrase que le catalogue ne connaît pas") == (
            "Une phrase que le catalogue ne connaît pas"
        )


def test_french_plural_takes_the_singular_for_zero_and_one() -> None:
    forms = ("{n} inscription en attente", "{n} inscriptions en attente")
    assert [i18n.ngettext(*forms, n) for n in (0, 1, 2)] == [forms[0], forms[0], forms[1]]


def test_recipient_language_prefers_the_person_then_the_rcp_then_the_current_one() -> None:
    french_rcp = SimpleNamespace(language="fr")
    english_rcp = SimpleNamespace(language="en")
    chose_en = SimpleNamespace(language="en")
    chose_nothing = SimpleNamespace(language=None)
    assert i18n.recipient_language(chose_en, rcp=french_rcp) == "en"
    assert i18n.recipient_language(chose_nothing, rcp=english_rcp) == "en"
    assert i18n.recipient_language(chose_nothing) == "fr"
    with i18n.using("en"):  # they asked for it from an English page (a sign-in code)
        assert i18n.recipient_language(chose_nothing) == "en"
        assert i18n.recipient_language(chose_nothing, rcp=french_rcp) == "fr"


def test_long_dates_follow_the_language_with_the_french_ordinal_first() -> None:
    first = date(2026, 12, 1)
    assert dates.format_date_long(first) == "1er décembre 2026"
    assert dates.format_date_long(date(2026, 12, 2)) == "2 décembre 2026"
    assert dates.format_weekday_date(first) == "mardi 1er décembre 2026"
    with i18n.using("en"):
        assert dates.format_date_long(first) == "1 December 2026"
        assert dates.format_weekday_date(first) == "Tuesday 1 December 2026"


def test_date_times_are_in_paris_time_with_the_language_s_connector() -> None:
    moment = datetime(2026, 7, 14, 12, 5, tzinfo=UTC)  # 14:05 in Paris (summer time)
    assert dates.format_datetime(moment) == "14/07/2026 à 14:05"
    with i18n.using("en"):
        assert dates.format_datetime(moment) == "14/07/2026 at 14:05"
    assert dates.format_datetime(None) == "—"


def test_numbers_use_the_language_s_separators() -> None:
    assert dates.format_number(1234.5) == "1\u202f234,5"
    assert dates.format_number(2, digits=1) == "2,0"
    with i18n.using("en"):
        assert dates.format_number(1234.5) == "1,234.5"
        assert dates.format_number(2, digits=1) == "2.0"


def test_a_missing_or_stale_compiled_catalogue_is_compiled_from_the_po(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout without the install step never speaks an old catalogue."""
    locale = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR / "en", locale / "en")
    mo = locale / "en" / "LC_MESSAGES" / "messages.mo"
    mo.unlink(missing_ok=True)
    monkeypatch.setattr(i18n, "LOCALE_DIR", locale)
    i18n.translations.cache_clear()
    try:
        with i18n.using("en"):
            assert _("Page introuvable") == "Page not found"  # no .mo at all
        from rcp import catalogue

        catalogue.compile_all()  # the .mo, then a newer .po that says otherwise
        po = locale / "en" / "LC_MESSAGES" / "messages.po"
        po.write_text(
            po.read_text(encoding="utf-8").replace('"Page not found"', '"Nowhere to be found"'),
            encoding="utf-8",
        )
        stamp = mo.stat().st_mtime + 10
        os.utime(po, (stamp, stamp))
        i18n.translations.cache_clear()
        with i18n.using("en"):
            assert _("Page introuvable") == "Nowhere to be found"
    finally:
        i18n.translations.cache_clear()
