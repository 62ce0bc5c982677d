"""When a published enforcement result may be taken down (policy §二).

§二: "行政执法结果信息在互联网上公开满5年的，可以从公示载体上撤下。行政相对人是自然人的，公开满2年的，
可以从公示载体上撤下。"  The period is 2 years for a natural person (自然人) and 5 for a legal person (法人)
or other organisation (其他组织), counted as the Civil Code counts periods:

- art. 201: the day of publication is not counted (按照年、月、日计算期间的，开始的当日不计入，自下一日开始计算);
- art. 202: a period in years ends on the corresponding day of the last year, or on that month's last
  day where there is none (按照年、月计算期间的，到期月的对应日为期间的最后一日；没有对应日的，月末日为期间的最后一日).

So a record published on 2025-03-15 for a natural person is on display through 2027-03-15 (the last
day of the period, ``display_until``) and may be taken down from 2027-03-16 (``takedown_due``: "满" means
the period has run).  Published on 2024-02-29: on display through 2026-02-28, taken down from 2026-03-01.
Art. 203 (a last day falling on a holiday moves to the next working day) protects someone who must act
within a period; nobody must act within this one, so the display period is not extended.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Literal, get_args

from policy.errors import PolicyError
from policy.retention import add_period

PartyType = Literal["natural", "legal", "other"]
PARTY_TYPES: tuple[PartyType, ...] = get_args(PartyType)
#: Party type → (English, Chinese) label as the policy names them.
PARTY_LABELS: Mapping[PartyType, tuple[str, str]] = {
    "natural": ("natural person", "自然人"),
    "legal": ("legal person", "法人"),
    "other": ("other organisation", "其他组织"),
}
#: Years a result stays published before it may come down, by party type.
TAKEDOWN_YEARS: Mapping[PartyType, int] = {"natural": 2, "legal": 5, "other": 5}

# ASCII digits only: \d would accept full-width and other scripts' digits.
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def check_party_type(party: object) -> PartyType:
    """``party`` as a ``PartyType``, or a ``PolicyError`` listing the valid ones."""
    for known in PARTY_TYPES:
        if party == known:
            return known
    raise PolicyError(f"party type must be one of {', '.join(PARTY_TYPES)}, not {party!r}")


def display_until(published: date, party: str) -> date:
    """The last day of the publication period of a result published on ``published`` (arts. 201–202)."""
    return add_period(published, TAKEDOWN_YEARS[check_party_type(party)], 0, 0)


def takedown_due(published: date, party: str) -> date:
    """The first day a result published on ``published`` may be (and should no longer be) shown: the day
    after the period's last day (§二: 公开满2年/5年)."""
    return display_until(published, party) + timedelta(days=1)


def parse_iso_date(text: str) -> date:
    """A strict ``YYYY-MM-DD`` calendar date: no times, no single-digit months, no impossible days."""
    if not isinstance(text, str) or not _ISO_DATE_RE.fullmatch(text):
        raise PolicyError(f"{text!r} is not a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PolicyError(f"{text!r} is not a calendar date") from None
