"""When a published enforcement result may be taken down (policy §二).

§二: "行政执法结果信息在互联网上公开满5年的，可以从公示载体上撤下。行政相对人是自然人的，公开满2年的，
可以从公示载体上撤下。"  So the due date is the publication date plus 2 calendar years for a natural
person (自然人) and plus 5 for a legal person (法人) or other organisation (其他组织); "满" means the
period has run, so the due date itself is the first day a takedown is allowed.  A record published on
29 February is due on 28 February of a common year.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
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


def takedown_due(published: date, party: str) -> date:
    """The first day a result published on ``published`` may be taken down (§二: 2 or 5 years)."""
    return add_period(published, TAKEDOWN_YEARS[check_party_type(party)], 0, 0)


def parse_iso_date(text: str) -> date:
    """A strict ``YYYY-MM-DD`` calendar date: no times, no single-digit months, no impossible days."""
    if not isinstance(text, str) or not _ISO_DATE_RE.fullmatch(text):
        raise PolicyError(f"{text!r} is not a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PolicyError(f"{text!r} is not a calendar date") from None
