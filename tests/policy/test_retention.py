"""Retention arithmetic: calendar periods, the longest class wins, unknown triggers mean indefinitely."""

from __future__ import annotations

from datetime import date

import pytest

from policy.errors import PolicyError
from policy.retention import DEFAULT_CLASSES, RetentionClass, add_period, retain_until

STANDARD = RetentionClass("standard", 2, trigger="recorded")
CASE = RetentionClass("case", 10, trigger="case_closed")
DECISION = RetentionClass("decision", 5, trigger="decision")


@pytest.mark.parametrize(
    ("start", "years", "months", "days", "end"),
    [
        (date(2024, 2, 29), 1, 0, 0, date(2025, 2, 28)),
        (date(2024, 2, 29), 4, 0, 0, date(2028, 2, 29)),
        (date(2026, 1, 31), 0, 1, 0, date(2026, 2, 28)),
        (date(2026, 8, 31), 0, 1, 0, date(2026, 9, 30)),
        (date(2026, 11, 15), 0, 3, 0, date(2027, 2, 15)),
        (date(2026, 3, 1), 1, 11, 0, date(2028, 2, 1)),
        (date(2026, 12, 31), 0, 0, 1, date(2027, 1, 1)),
        (date(2024, 2, 29), 1, 0, 1, date(2025, 3, 1)),  # clamp first, then the days
        (date(2026, 5, 5), 0, 0, 0, date(2026, 5, 5)),
    ],
)
def test_add_period(start: date, years: int, months: int, days: int, end: date) -> None:
    assert add_period(start, years, months, days) == end


@pytest.mark.parametrize(("years", "months", "days"), [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (10_000, 0, 0)])
def test_add_period_refuses(years: int, months: int, days: int) -> None:
    with pytest.raises(PolicyError):
        add_period(date(2026, 1, 1), years, months, days)


def test_longest_wins() -> None:
    assert retain_until([(STANDARD, date(2026, 1, 10)), (DECISION, date(2026, 3, 1))]) == date(2031, 3, 1)
    assert retain_until([(STANDARD, date(2026, 1, 10)), (CASE, date(2026, 6, 30))]) == date(2036, 6, 30)
    assert retain_until([(STANDARD, date(2026, 1, 10))]) == date(2028, 1, 10)


def test_unknown_trigger_means_indefinitely() -> None:
    assert retain_until([(STANDARD, date(2026, 1, 10)), (CASE, None)]) is None
    assert retain_until([(CASE, None)], floor=date(2030, 1, 1)) is None
    assert retain_until([]) is None  # nothing authorises disposal


def test_floor_raises_the_date() -> None:
    pairs = [(STANDARD, date(2026, 1, 10))]
    assert retain_until(pairs, floor=date(2031, 1, 10)) == date(2031, 1, 10)
    assert retain_until(pairs, floor=date(2027, 1, 1)) == date(2028, 1, 10)  # never lowers it


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "Standard", "years": 1},
        {"name": "-x", "years": 1},
        {"name": "a" * 65, "years": 1},
        {"name": "ok", "years": -1},
        {"name": "ok", "years": 1, "months": -1},
        {"name": "ok", "years": True},
        {"name": "ok", "years": 1, "trigger": "closed"},
    ],
)
def test_bad_classes(kwargs: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        RetentionClass(**kwargs)  # type: ignore[arg-type]


def test_zero_period_allowed_and_defaults() -> None:
    assert RetentionClass("until-trigger", 0).until(date(2026, 1, 1)) == date(2026, 1, 1)
    assert {c.name: (c.years, c.trigger) for c in DEFAULT_CLASSES} == {
        "standard": (2, "recorded"),
        "case": (10, "case_closed"),
        "decision": (5, "decision"),
    }
