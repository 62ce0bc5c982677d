"""Takedown due dates (2 years for natural persons, 5 otherwise) and strict ISO dates."""

from __future__ import annotations

from datetime import date

import pytest

from policy.errors import PolicyError
from policy.takedown import PARTY_LABELS, PARTY_TYPES, display_until, parse_iso_date, takedown_due


@pytest.mark.parametrize(
    ("published", "party", "last", "due"),
    [
        # Civil Code arts. 201-202: the publication day is not counted; the period ends on the
        # corresponding day of the last year; the record comes down the day after.
        (date(2025, 3, 15), "natural", date(2027, 3, 15), date(2027, 3, 16)),  # the example
        (date(2026, 3, 15), "legal", date(2031, 3, 15), date(2031, 3, 16)),
        (date(2026, 3, 15), "other", date(2031, 3, 15), date(2031, 3, 16)),
        (date(2025, 12, 31), "natural", date(2027, 12, 31), date(2028, 1, 1)),
        # 29 February: no corresponding day in a common year, so the month's last day ends the period.
        (date(2024, 2, 29), "natural", date(2026, 2, 28), date(2026, 3, 1)),
        (date(2024, 2, 29), "legal", date(2029, 2, 28), date(2029, 3, 1)),
        (date(2028, 2, 29), "other", date(2033, 2, 28), date(2033, 3, 1)),
        (date(2026, 2, 28), "natural", date(2028, 2, 28), date(2028, 2, 29)),  # not moved to the leap day
    ],
)
def test_takedown_due(published: date, party: str, last: date, due: date) -> None:
    assert display_until(published, party) == last and takedown_due(published, party) == due


@pytest.mark.parametrize("party", ["", "Natural", "person", "company", "自然人"])
def test_unknown_party_type(party: str) -> None:
    with pytest.raises(PolicyError, match="party type must be one of natural, legal, other") as e:
        takedown_due(date(2026, 1, 1), party)
    assert e.value.code == "policy"


def test_party_labels() -> None:
    assert PARTY_TYPES == ("natural", "legal", "other")
    assert [PARTY_LABELS[p][1] for p in PARTY_TYPES] == ["自然人", "法人", "其他组织"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-03", date(2026, 2, 3)),
        ("2024-02-29", date(2024, 2, 29)),
        ("2026-12-31", date(2026, 12, 31)),
    ],
)
def test_parse_iso_date(text: str, expected: date) -> None:
    assert parse_iso_date(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-2-3", "not a date written YYYY-MM-DD"),
        ("2026-02-30", "not a calendar date"),
        ("2025-02-29", "not a calendar date"),
        ("2026-13-01", "not a calendar date"),
        ("2026-02-03T10:00:00", "YYYY-MM-DD"),
        ("2026-02-03 10:00", "YYYY-MM-DD"),
        ("20260203", "YYYY-MM-DD"),
        ("2026/02/03", "YYYY-MM-DD"),
        (" 2026-02-03", "YYYY-MM-DD"),
        ("2026-02-03\n", "YYYY-MM-DD"),
        ("２０２６-02-03", "YYYY-MM-DD"),  # full-width digits
        ("", "YYYY-MM-DD"),
        (20260203, "YYYY-MM-DD"),
    ],
)
def test_parse_iso_date_refuses(text: object, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_iso_date(text)  # type: ignore[arg-type]
