"""The Chinese working-day calendar, for the 20-working-day update rule (policy §二).

§二: when a law, regulation, rule or normative document is published, amended or repealed, or the
bureau's functions change, affected published content is updated "自…生效、废止或者部门机构职能调整之日起
20个工作日内".  A working day (工作日) is Monday-Friday, minus the public holidays the State Council
announces each year, plus the weekend days it declares working days (调休上班).  Counting follows the
usual rule for periods in Chinese procedural law: the day the period starts is not counted
(期间开始的日不计算在期间内), so the deadline is the 20th working day *after* the effective date.

The holidays are not computable: they come from the State Council General Office's yearly notice
(国务院办公厅关于XXXX年部分节假日安排的通知), which is data.  One TOML file per year ships in
``calendars/`` and names its notice in ``source``; an administrator adds a year (or corrects one) with
``custody calendar add-year FILE``, which lands in a directory of extra files that wins over the
packaged ones.  A date in a year the calendar does not cover is an error, never a guess: a deadline
computed without the holidays would be wrong by a week around Spring Festival.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from policy.errors import CalendarError as CalendarError  # re-exported: the calendar's own error
from policy.errors import PolicyError

#: §二: affected published content is updated within this many working days of the change.
UPDATE_WITHIN_WORKING_DAYS = 20
#: Sanity bounds on a calendar file's ``year``: catches typos like ``year = 226`` or ``20266``.
MIN_YEAR, MAX_YEAR = 2000, 2999
_KEYS = frozenset({"year", "source", "holidays", "workdays"})
_SATURDAY = 5  # date.weekday(): Monday is 0
# Not strftime("%A"), which follows the process locale.
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ADD_YEAR_HINT = "add the year's State Council notice with `custody calendar add-year FILE`"


def _span(years: Iterable[int]) -> str:
    """``2025–2026`` or ``2025–2026, 2028``: the covered years as runs."""
    runs: list[list[int]] = []
    for y in sorted(years):
        if runs and runs[-1][1] == y - 1:
            runs[-1][1] = y
        else:
            runs.append([y, y])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs) or "no years"


def _dates(value: Any, key: str, year: int) -> frozenset[date]:
    if not isinstance(value, list):
        raise CalendarError(f"{key} must be a list of dates (TOML local dates like {year}-10-01)")
    seen: set[date] = set()
    for item in value:
        # tomllib returns a datetime for a local date-time, and datetime is a subclass of date.
        if not isinstance(item, date) or isinstance(item, dt.datetime):
            raise CalendarError(f"{key}: {item!r} is not a date (write TOML local dates like {year}-10-01)")
        if item.year != year:
            raise CalendarError(f"{key}: {item.isoformat()} is not in {year}, the year this file is for")
        if item in seen:
            raise CalendarError(f"{key}: {item.isoformat()} is listed twice")
        seen.add(item)
    return frozenset(seen)


def _toml_string(text: str) -> str:
    """A TOML basic string.  Only ``"``, ``\\`` and control characters need escaping (TOML 1.0 §String)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_dates(days: Iterable[date]) -> str:
    ordered = sorted(days)
    if not ordered:
        return "[]"
    # One line per run of consecutive days, so a holiday block reads as a block.
    lines: list[list[date]] = []
    for d in ordered:
        if lines and lines[-1][-1] == d - timedelta(days=1):
            lines[-1].append(d)
        else:
            lines.append([d])
    body = "".join("    " + ", ".join(d.isoformat() for d in line) + ",\n" for line in lines)
    return "[\n" + body + "]"


@dataclass(frozen=True, slots=True)
class YearCalendar:
    """One State Council notice: the year's days off and its weekend working days."""

    year: int
    #: The notice this year's data comes from (title, issuer, date), shown to whoever audits a deadline.
    source: str
    #: Days off: every day of each announced holiday block, weekend days inside a block included.
    holidays: frozenset[date]
    #: Weekend days declared working days (调休上班).
    workdays: frozenset[date]

    def __post_init__(self) -> None:
        if isinstance(self.year, bool) or not isinstance(self.year, int) or not MIN_YEAR <= self.year <= MAX_YEAR:
            raise CalendarError(f"year must be an integer in {MIN_YEAR}–{MAX_YEAR}, not {self.year!r}")
        if not isinstance(self.source, str) or not self.source.strip():
            raise CalendarError(f"{self.year}: source must name the State Council notice the dates come from")
        for key, days in (("holidays", self.holidays), ("workdays", self.workdays)):
            if stray := sorted(d for d in days if d.year != self.year):
                raise CalendarError(f"{key}: {stray[0].isoformat()} is not in {self.year}, the year this file is for")
        if not self.holidays:
            # Every notice announces holidays; an empty list is a truncated or mistyped file.
            raise CalendarError(f"{self.year}: holidays is empty; every State Council notice announces some")
        if both := sorted(self.holidays & self.workdays):
            raise CalendarError(f"{both[0].isoformat()} is listed both as a holiday and as a working day")
        if weekdays := sorted(d for d in self.workdays if d.weekday() < _SATURDAY):
            # 调休上班 moves work onto a weekend; a Monday-Friday "working day" means a typo in the date.
            raise CalendarError(
                f"workdays: {weekdays[0].isoformat()} is a {_DAY_NAMES[weekdays[0].weekday()]}; "
                "only weekend days are declared working days"
            )

    @classmethod
    def from_toml(cls, text: str) -> YearCalendar:
        """Parse and validate one year file; every problem is a ``CalendarError`` naming the key and date."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise CalendarError(f"not a valid TOML calendar file: {e}") from None
        if unknown := sorted(set(data) - _KEYS):
            raise CalendarError(f"unknown key {unknown[0]!r}; a calendar file has {', '.join(sorted(_KEYS))}")
        if missing := sorted(_KEYS - set(data)):
            raise CalendarError(f"missing key {missing[0]!r}")
        year = data["year"]
        if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
            raise CalendarError(f"year must be an integer in {MIN_YEAR}–{MAX_YEAR}, not {year!r}")
        return cls(
            year=year,
            source=data["source"],
            holidays=_dates(data["holidays"], "holidays", year),
            workdays=_dates(data["workdays"], "workdays", year),
        )

    def to_toml(self) -> str:
        """The file ``from_toml`` reads back to an equal value."""
        return (
            f"year = {self.year}\n"
            f"source = {_toml_string(self.source)}\n"
            "# days off: every day of each holiday block, weekend days inside a block included\n"
            f"holidays = {_toml_dates(self.holidays)}\n"
            "# weekend days declared working days (调休上班)\n"
            f"workdays = {_toml_dates(self.workdays)}\n"
        )


def _packaged_files() -> Iterator[tuple[str, str]]:
    folder = resources.files("policy") / "calendars"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            yield f"packaged calendars/{entry.name}", entry.read_text(encoding="utf-8")


def _parse_named(name: str, text: str) -> YearCalendar:
    try:
        cal = YearCalendar.from_toml(text)
    except CalendarError as e:
        raise CalendarError(f"{name}: {e}") from None
    # One file per year, named for it: two files can never both claim a year.
    if Path(name).name != f"{cal.year}.toml":
        raise CalendarError(f"{name}: the file for {cal.year} must be named {cal.year}.toml")
    return cal


class WorkCalendar:
    """Working days over the years for which a State Council notice is loaded."""

    __slots__ = ("_years",)

    def __init__(self, years: Iterable[YearCalendar]) -> None:
        by_year: dict[int, YearCalendar] = {}
        for cal in years:
            if cal.year in by_year:
                raise CalendarError(f"{cal.year} is given twice")
            by_year[cal.year] = cal
        self._years = dict(sorted(by_year.items()))

    @classmethod
    def load(cls, extra: Iterable[tuple[str, str]] = ()) -> WorkCalendar:
        """The packaged years, with ``extra`` year files ((name, TOML text), named ``<year>.toml``) added
        or replacing them.

        An extra file for a packaged year wins: that is how an administrator corrects a year.  Reading
        the administrator's files is the caller's (``services.calendar``): this module reads only the
        calendars it ships with.
        """
        by_year = {cal.year: cal for cal in (_parse_named(n, t) for n, t in _packaged_files())}
        by_year.update((cal.year, cal) for cal in (_parse_named(n, t) for n, t in extra))
        return cls(by_year.values())

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(self._years)

    @property
    def calendars(self) -> tuple[YearCalendar, ...]:
        return tuple(self._years.values())

    def covers(self, d: date) -> bool:
        return d.year in self._years

    def _year(self, d: date) -> YearCalendar:
        try:
            return self._years[d.year]
        except KeyError:
            raise CalendarError(
                f"{d.isoformat()} is outside the working-day calendar (covers {_span(self._years)}); {_ADD_YEAR_HINT}"
            ) from None

    def is_working_day(self, d: date) -> bool:
        cal = self._year(d)
        if d in cal.workdays:
            return True
        return d not in cal.holidays and d.weekday() < _SATURDAY

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start``; ``start`` itself is not counted, and ``n = 0`` is ``start``.

        ``start`` may be any day (a holiday, a weekend, the last day before a covered year); every day
        the walk passes must be covered.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise PolicyError(f"a number of working days must be a non-negative integer, not {n!r}")
        d = start
        while n:
            d += timedelta(days=1)
            if self.is_working_day(d):
                n -= 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in ``(a, b]``; negative (minus those in ``(b, a]``) when ``b`` is before ``a``.

        ``working_days_between(effective, updated_on) <= 20`` is "updated in time" under §二.
        """
        if b < a:
            return -self.working_days_between(b, a)
        return sum(self.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))

    def update_due(self, effective: date) -> date:
        """§二's deadline: the 20th working day after a change takes effect."""
        return self.add_working_days(effective, UPDATE_WITHIN_WORKING_DAYS)
