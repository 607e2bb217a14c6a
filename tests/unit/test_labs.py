"""Lab definitions, validation of typed values, and the trend plot."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np
import pytest
from PIL import Image

from rcp import i18n
from rcp.errors import InvalidInput
from rcp.labs import (
    LAB_TESTS,
    LabValue,
    format_number,
    format_value,
    group_by_test,
    trend_plot_png,
    validate_lab_value,
)

TODAY = date(2026, 11, 25)


def series(code: str, *points: tuple[str, float]) -> list[LabValue]:
    return [validate_lab_value(code, value, day, today=TODAY) for day, value in points]


def test_expected_tests_have_french_labels_units_and_sane_ranges() -> None:
    assert {"creatinine", "egfr", "proteinuria", "albumin"} <= {
        code for code, test in LAB_TESTS.items() if test.expected
    }
    assert LAB_TESTS["creatinine"].unit == "µmol/L"
    assert LAB_TESTS["egfr"].unit == "mL/min/1,73 m²"
    assert LAB_TESTS["proteinuria"].unit == "g/g créatinine"
    assert LAB_TESTS["albumin"].unit == "g/L"
    for test in LAB_TESTS.values():
        assert 0 <= test.plausible_min < test.plausible_max


def test_value_with_decimal_comma_and_french_date_is_accepted() -> None:
    value = validate_lab_value("proteinuria", " 3,25 ", "05/11/2026", today=TODAY)
    assert value == LabValue("proteinuria", 3.25, date(2026, 11, 5))


def test_zero_is_accepted_where_it_is_plausible() -> None:
    assert validate_lab_value("hematuria", 0, date(2026, 1, 1), today=TODAY).value == 0


@pytest.mark.parametrize(
    ("code", "value", "field", "words"),
    [
        ("creatinine", -5, "value", "négative"),
        ("creatinine", 1.2, "value", "invraisemblable"),
        ("egfr", 450, "value", "invraisemblable"),
        ("albumin", "abc", "value", "nombre"),
        ("albumin", "", "value", "obligatoire"),
        ("albumin", float("nan"), "value", "fini"),
        ("albumin", True, "value", "nombre"),
        ("sodium", 140, "code", "inconnu"),
    ],
)
def test_wrong_values_are_refused_with_a_french_message(
    code: str, value: object, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        validate_lab_value(code, value, date(2026, 1, 1), today=TODAY)  # type: ignore[arg-type]
    assert error.value.field == field
    assert words in str(error.value)


@pytest.mark.parametrize(
    ("taken_on", "words"),
    [
        (date(2026, 11, 26), "futur"),
        (date(1899, 12, 31), "1900"),
        ("31/02/2026", "illisible"),
        ("", "obligatoire"),
    ],
)
def test_wrong_dates_are_refused(taken_on: date | str, words: str) -> None:
    with pytest.raises(InvalidInput) as error:
        validate_lab_value("albumin", 35, taken_on, today=TODAY)
    assert error.value.field == "date"
    assert words in str(error.value)


def test_numbers_are_formatted_the_french_way() -> None:
    assert format_number(12345.678, 1) == "12\u00a0345,7"
    assert format_number(3.2, 2) == "3,20"


def test_values_are_grouped_by_test_in_definition_order_and_by_date() -> None:
    values = series("albumin", ("2026-06-01", 30), ("2026-01-01", 28)) + series(
        "creatinine", ("2026-02-01", 150)
    )
    groups = group_by_test(values)
    assert list(groups) == ["creatinine", "albumin"]
    assert [v.value for v in groups["albumin"]] == [28, 30]


def test_empty_input_gives_no_plot() -> None:
    assert trend_plot_png([]) is None


def test_plot_is_a_non_blank_png_of_the_requested_width_with_rows_of_panels() -> None:
    one = trend_plot_png(
        series("egfr", ("2026-01-05", 40)) + series("albumin", ("2026-01-05", 30)),
        width_px=600,
        dpi=100,
    )
    four = trend_plot_png(
        series("creatinine", ("2026-01-05", 150), ("2026-06-05", 180))
        + series("egfr", ("2026-01-05", 40), ("2026-06-05", 32))
        + series("proteinuria", ("2026-01-05", 2.5))
        + series("albumin", ("2026-06-05", 30)),
        width_px=600,
        dpi=100,
    )
    assert one is not None and four is not None
    with Image.open(io.BytesIO(one)) as small, Image.open(io.BytesIO(four)) as big:
        assert small.format == big.format == "PNG"
        assert small.width == big.width == 600
        assert big.height > small.height * 1.6  # two rows of panels against one
        grey = np.asarray(big.convert("L"))
    assert grey.max() == 255  # white paper, not a tinted background
    assert 0.02 < (grey < 200).mean() < 0.5


def test_plot_is_deterministic_and_safe_from_several_threads() -> None:
    values = series("creatinine", ("2026-01-05", 150), ("2026-06-05", 180))
    expected = trend_plot_png(values, width_px=500, dpi=100)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: trend_plot_png(values, width_px=500, dpi=100), range(4)))
    assert results == [expected] * 4


def test_a_plot_being_drawn_is_waited_for_not_drawn_twice(monkeypatch) -> None:
    """The opinion page starts the plot; "Valider l'avis" then waits for it instead of
    drawing it again (no timing: the fake drawing waits for the test's signal)."""
    import threading

    from rcp import labs

    started, release, calls = threading.Event(), threading.Event(), []

    def slow_plot(values):
        calls.append(values)
        started.set()
        release.wait(10)
        return b"PNG"

    monkeypatch.setattr(labs, "trend_plot_png", slow_plot)
    values = (labs.validate_lab_value("creatinine", "131", "2026-02-03"),)
    labs.warm_trend_plot(values)
    assert started.wait(10)
    result: list[bytes | None] = []
    waiter = threading.Thread(target=lambda: result.append(labs.trend_plot_cached(values)))
    waiter.start()
    release.set()
    waiter.join(10)
    assert result == [b"PNG"] and len(calls) == 1
    assert labs.trend_plot_cached(values) == b"PNG" and len(calls) == 1  # kept


def test_numbers_follow_the_language_decimal_comma_in_french_point_in_english() -> None:
    with i18n.using("fr"):
        assert format_number(1234.5, 1) == "1\u00a0234,5"
    with i18n.using("en"):
        assert format_number(1234.5, 1) == "1,234.5"
        assert format_value("proteinuria", 6.8) == "6.80"
