"""The working-day calendar: weekends, holiday blocks, make-up days, the 20-working-day deadline, admin years."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from policy.workdays import CalendarError, WorkCalendar, YearCalendar
from services.calendar import install_year, load_calendar


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.load()


YEAR_2027 = """\
year = 2027
source = "test notice for 2027"
holidays = [2027-01-01, 2027-10-01, 2027-10-04]
workdays = [2027-09-26]
"""


def test_packaged_years(cal: WorkCalendar) -> None:
    assert cal.years == (2025, 2026)
    assert all("国务院办公厅" in c.source for c in cal.calendars)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 3, 2), True),  # an ordinary Monday
        (date(2026, 3, 7), False),  # an ordinary Saturday
        (date(2026, 3, 8), False),  # an ordinary Sunday
        *((date(2026, 10, d), False) for d in range(1, 8)),  # National Day block, weekdays included
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # Saturday made a working day
        (date(2026, 2, 14), True),  # Saturday before Spring Festival
        (date(2026, 2, 28), True),  # Saturday after it
        (date(2026, 2, 16), False),
        (date(2026, 1, 4), True),  # Sunday after New Year
        (date(2026, 1, 2), False),
        (date(2026, 9, 20), True),
        (date(2026, 9, 25), False),  # Mid-Autumn, a Friday
        (date(2026, 5, 9), True),
        (date(2026, 6, 19), False),
        (date(2025, 9, 28), True),  # 2025: Sunday made a working day
        (date(2025, 10, 8), False),  # 2025: eighth day of the National Day block
        (date(2025, 10, 11), True),
        (date(2025, 1, 26), True),
        (date(2025, 2, 8), True),
        (date(2025, 4, 27), True),
        (date(2025, 1, 28), False),
        (date(2025, 6, 2), False),
        (date(2025, 1, 1), False),
        (date(2025, 1, 2), True),
    ],
)
def test_is_working_day(cal: WorkCalendar, day: date, working: bool) -> None:
    assert cal.is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # RULES.md's worked example: Sep 25-27 and Oct 1-7 off, Sat Oct 10 worked.
        (date(2026, 9, 21), 20, date(2026, 10, 26)),
        # A change effective on a holiday: the count starts the next day and skips the rest of the block.
        (date(2026, 10, 3), 20, date(2026, 11, 3)),
        (date(2026, 10, 3), 1, date(2026, 10, 8)),
        # Across the new year: Jan 1-3 skipped, Sunday Jan 4 counted.
        (date(2025, 12, 20), 20, date(2026, 1, 19)),
        (date(2025, 12, 31), 1, date(2026, 1, 4)),
        # The start day is never counted, working day or not.
        (date(2026, 3, 2), 1, date(2026, 3, 3)),
        (date(2026, 3, 6), 1, date(2026, 3, 9)),  # Friday → Monday
        (date(2026, 3, 6), 0, date(2026, 3, 6)),
        (date(2026, 2, 13), 1, date(2026, 2, 14)),  # Friday → the make-up Saturday
        (date(2026, 2, 14), 1, date(2026, 2, 24)),  # over Spring Festival
        (date(2025, 9, 26), 2, date(2025, 9, 29)),  # Fri → Sun 28 (worked) → Mon 29
    ],
)
def test_add_working_days(cal: WorkCalendar, start: date, n: int, due: date) -> None:
    assert cal.add_working_days(start, n) == due
    if n:
        assert cal.working_days_between(start, due) == n


def test_update_due_is_twenty_working_days(cal: WorkCalendar) -> None:
    assert cal.update_due(date(2026, 9, 21)) == date(2026, 10, 26)


def test_working_days_between(cal: WorkCalendar) -> None:
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 7)) == 0
    assert cal.working_days_between(date(2026, 9, 30), date(2026, 10, 8)) == 1
    assert cal.working_days_between(date(2026, 3, 2), date(2026, 3, 2)) == 0
    assert cal.working_days_between(date(2026, 3, 9), date(2026, 3, 2)) == -5


@pytest.mark.parametrize("day", [date(2027, 1, 4), date(2024, 12, 31), date(2024, 6, 3)])
def test_dates_outside_the_calendar(cal: WorkCalendar, day: date) -> None:
    with pytest.raises(CalendarError, match=r"outside the working-day calendar \(covers 2025–2026\).*add-year") as e:
        cal.is_working_day(day)
    assert e.value.code == "calendar"
    assert isinstance(e.value, ValueError)


def test_walk_off_the_end_of_the_calendar(cal: WorkCalendar) -> None:
    with pytest.raises(CalendarError, match="2027-01-01 is outside"):
        cal.add_working_days(date(2026, 12, 20), 20)
    with pytest.raises(CalendarError):
        cal.working_days_between(date(2026, 12, 20), date(2027, 1, 20))


@pytest.mark.parametrize("n", [-1, -20])
def test_negative_count_refused(cal: WorkCalendar, n: int) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        cal.add_working_days(date(2026, 3, 2), n)


def test_admin_adds_a_year(cal: WorkCalendar, tmp_path: Path) -> None:
    notice = tmp_path / "notice.toml"
    notice.write_text("# from the 2027 notice\n" + YEAR_2027, encoding="utf-8")
    extra = tmp_path / "calendars"
    installed = install_year(notice, extra)
    assert installed.year == 2027
    assert sorted(p.name for p in extra.iterdir()) == ["2027.toml"]  # no temporary file left behind
    assert (extra / "2027.toml").read_text(encoding="utf-8").startswith("# from the 2027 notice")

    loaded = load_calendar(extra)
    assert loaded.years == (2025, 2026, 2027)
    assert loaded.is_working_day(date(2027, 9, 26))  # a Sunday made a working day
    assert not loaded.is_working_day(date(2027, 10, 1))
    # The deadline that could not be computed before now can.
    assert loaded.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    with pytest.raises(CalendarError, match="covers 2025–2027"):
        loaded.is_working_day(date(2028, 1, 3))


def test_extra_file_replaces_a_packaged_year(tmp_path: Path) -> None:
    corrected = YearCalendar(2026, "corrected notice", frozenset({date(2026, 3, 2)}), frozenset())
    (tmp_path / "2026.toml").write_text(corrected.to_toml(), encoding="utf-8")
    cal = load_calendar(tmp_path)
    assert not cal.is_working_day(date(2026, 3, 2))
    assert cal.is_working_day(date(2026, 10, 1))
    assert cal.calendars[1].source == "corrected notice"


def test_missing_extra_dir_is_fine(tmp_path: Path) -> None:
    assert load_calendar(tmp_path / "absent").years == (2025, 2026)


def test_extra_file_must_be_named_for_its_year(tmp_path: Path) -> None:
    (tmp_path / "notice.toml").write_text(YEAR_2027, encoding="utf-8")
    with pytest.raises(CalendarError, match=r"must be named 2027\.toml"):
        load_calendar(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("this is not toml", "not a valid TOML"),
        ("", "missing key"),
        (YEAR_2027.replace("2027-10-04", "2026-10-04"), "2026-10-04 is not in 2027"),
        (YEAR_2027.replace("workdays = [2027-09-26]", "workdays = [2027-09-26, 2027-01-01]"), "both"),
        (YEAR_2027.replace("2027-10-04]", "2027-10-04, 2027-10-01]"), "listed twice"),
        (YEAR_2027.replace("2027-09-26", "2027-09-27"), "2027-09-27 is a Monday"),
        (YEAR_2027.replace("2027-10-04]", "2027-10-04T09:00:00]"), "not a date"),
        (YEAR_2027.replace('"test notice for 2027"', "2027"), "source"),
        (YEAR_2027.replace('"test notice for 2027"', '"  "'), "source"),
        (YEAR_2027.replace("year = 2027", 'year = "2027"'), "integer in"),
        (YEAR_2027.replace("year = 2027", "year = 227"), "in 2000–2999, not 227"),
        (YEAR_2027.replace("holidays = [2027-01-01, 2027-10-01, 2027-10-04]", "holidays = []"), "empty"),
        (YEAR_2027.replace("holidays =", "holiday ="), "unknown key 'holiday'"),
        (YEAR_2027 + "extra = 1\n", "unknown key 'extra'"),
        (YEAR_2027.replace("workdays = [2027-09-26]", 'workdays = "2027-09-26"'), "list of dates"),
    ],
)
def test_bad_year_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        YearCalendar.from_toml(text)
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    extra = tmp_path / "calendars"
    with pytest.raises(CalendarError, match=r"bad\.toml"):
        install_year(bad, extra)
    assert not extra.exists() or not list(extra.iterdir())  # nothing installed


def test_bad_file_in_extra_dir_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "2027.toml").write_text("year = 2027\n", encoding="utf-8")
    with pytest.raises(CalendarError, match=r"2027\.toml: missing key"):
        load_calendar(tmp_path)


def test_toml_round_trip(cal: WorkCalendar) -> None:
    for year in cal.calendars:
        assert YearCalendar.from_toml(year.to_toml()) == year
    odd = YearCalendar(2027, 'a "quoted" \\ source\twith\ncontrol \x7f', frozenset({date(2027, 1, 1)}), frozenset())
    assert YearCalendar.from_toml(odd.to_toml()) == odd


def test_same_year_twice_refused() -> None:
    year = YearCalendar.from_toml(YEAR_2027)
    with pytest.raises(CalendarError, match="2027 is given twice"):
        WorkCalendar([year, year])
