"""How long evidence is kept: calendar arithmetic only.

§三 asks that records be kept completely and be "易保存、防删改"; how long is a matter for the archive
rules (档案管理规定) a bureau applies, so periods are configuration: named ``RetentionClass``es, each a
period counted from a trigger date (when the evidence was recorded, when its case closed, or the
decision date).  This module only does the arithmetic; it decides nothing about deleting anything.

Two rules keep the arithmetic on the safe side: when several classes apply the longest wins, and a
class whose trigger has not happened yet (a case still open) makes the answer "indefinite" (``None``),
because the end cannot be known until it has.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, get_args

from policy.errors import PolicyError

Trigger = Literal["recorded", "case_closed", "decision"]
TRIGGERS: tuple[Trigger, ...] = get_args(Trigger)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"{what} must be a non-negative integer, not {value!r}")
    return value


def add_period(start: date, years: int, months: int, days: int) -> date:
    """``start`` plus years and months on the calendar, then plus days.

    A day that does not exist in the target month is clamped to its last day (2024-02-29 + 1 year is
    2025-02-28; 2026-01-31 + 1 month is 2026-02-28), the usual reading of "N years from" a date.
    """
    years, months, days = _count(years, "years"), _count(months, "months"), _count(days, "days")
    month_index = start.month - 1 + months + 12 * years
    year, month = start.year + month_index // 12, month_index % 12 + 1
    try:
        clamped = date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
        return clamped + timedelta(days=days)
    except (ValueError, OverflowError):
        raise PolicyError(f"{start.isoformat()} + {years}y {months}m {days}d is past the year 9999") from None


@dataclass(frozen=True, slots=True)
class RetentionClass:
    """A named retention period counted from a trigger date."""

    #: Stable identifier (``standard``, ``case``, ``decision``): lower-case, digits, ``_`` and ``-``.
    name: str
    years: int
    months: int = 0
    days: int = 0
    #: The date the period counts from: when recorded, when the case closed, or the decision date.
    trigger: Trigger = "recorded"
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise PolicyError(f"retention class name {self.name!r} must match {_NAME_RE.pattern}")
        for what in ("years", "months", "days"):
            _count(getattr(self, what), f"{self.name}: {what}")
        # A zero period is allowed: "keep until the trigger" is a legitimate (if short) rule.
        if self.trigger not in TRIGGERS:
            raise PolicyError(f"{self.name}: trigger must be one of {', '.join(TRIGGERS)}, not {self.trigger!r}")

    def until(self, trigger_date: date | None) -> date | None:
        """The last day of retention, or ``None`` while the trigger date is unknown."""
        if trigger_date is None:
            return None
        return add_period(trigger_date, self.years, self.months, self.days)


def retain_until(classes: Iterable[tuple[RetentionClass, date | None]], floor: date | None = None) -> date | None:
    """The date until which evidence under these (class, trigger date) pairs is kept; ``None`` is indefinitely.

    The longest period wins.  ``None`` comes back when any class's trigger date is unknown (the case is
    not closed yet, so its period has not started) and when no class applies at all (nothing authorises
    disposal).  ``floor`` — say, the takedown date of a disclosure the evidence supports — raises a
    computed date to at least itself; it never turns "indefinitely" into a date.
    """
    ends: list[date] = []
    for cls, trigger_date in classes:
        end = cls.until(trigger_date)
        if end is None:
            return None
        ends.append(end)
    if not ends:
        return None
    longest = max(ends)
    return max(longest, floor) if floor is not None else longest


#: Defaults for a fresh installation; an administrator configures the bureau's own.  Archive rules
#: set 10- or 30-year terms (定期10年 / 定期30年) or permanent keeping depending on the file, so
#: ``case`` is a floor to adjust, not a legal answer.
DEFAULT_CLASSES: tuple[RetentionClass, ...] = (
    RetentionClass("standard", 2, trigger="recorded", description="evidence not linked to a decision: 2 years"),
    RetentionClass("case", 10, trigger="case_closed", description="a case's evidence: 10 years after it closes"),
    RetentionClass(
        "decision", 5, trigger="decision", description="evidence behind a decision: 5 years, the disclosure period"
    ),
)
