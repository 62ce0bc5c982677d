"""People: what a user's display fields may hold, beside the login name (``principals.name``).

The login name stays ASCII (``A-Z a-z 0-9 . _ @ -``, 1-64, starting with a letter or digit): it is in
every log entry's actor (``investigator:wang.xm``) and never changes.  The display fields are for
people and may change: the display name in any script (王小明, 欧阳娜娜, Ayşe Kaya), the badge number
(执法证号: letters, digits, hyphens) and the unit (执法单位).  Each refusal names its field and a
problem code, so a page can say it in its own language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from policy.errors import PolicyError

LOGIN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
DISPLAY_NAME_MAX_CHARS = 64
BADGE_NO_MAX_CHARS = 32
UNIT_MAX_CHARS = 100
_BADGE_RE = re.compile(r"^[A-Za-z0-9-]*$")
#: Inside a display name besides letters and marks: spaces, the middle dot of transliterated names
#: (阿卜杜拉·艾买提), and . ' - as in Latin names.
_NAME_PUNCTUATION = frozenset(" ·・.'-")


class ProfileError(PolicyError):
    """A display field that may not be stored; ``field`` and ``problem`` say which and why."""

    code = "invalid_profile"

    def __init__(self, field: str, problem: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Profile:
    display_name: str = ""
    badge_no: str = ""
    unit: str = ""

    def as_fields(self) -> dict[str, str]:
        return {"display_name": self.display_name, "badge_no": self.badge_no, "unit": self.unit}


def check_login_name(name: str) -> str:
    """A login name as the database accepts it, or a refusal saying what is allowed."""
    if not LOGIN_NAME_RE.match(name):
        raise ProfileError("name", "login_ascii",
                           f"login name {name[:80]!r}: 1-64 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit "
                           "(put a Chinese name in the display name)")
    return name


def check_profile(display_name: str, badge_no: str, unit: str) -> Profile:
    """The display fields, trimmed and NFC-normalised, or a ``ProfileError`` for the first bad one."""
    display_name = unicodedata.normalize("NFC", " ".join(display_name.split()))
    unit = unicodedata.normalize("NFC", " ".join(unit.split()))
    badge_no = badge_no.strip().upper()
    if len(display_name) > DISPLAY_NAME_MAX_CHARS:
        raise ProfileError("display_name", "too_long",
                           f"display name: at most {DISPLAY_NAME_MAX_CHARS} characters")
    if any(not (unicodedata.category(c)[0] in "LM" or c in _NAME_PUNCTUATION) for c in display_name):
        raise ProfileError("display_name", "characters",
                           "display name: letters of any script (王小明), spaces, · . ' - only")
    if len(badge_no) > BADGE_NO_MAX_CHARS or not _BADGE_RE.match(badge_no):
        raise ProfileError("badge_no", "characters",
                           f"badge number (执法证号): at most {BADGE_NO_MAX_CHARS} letters, digits or hyphens")
    if len(unit) > UNIT_MAX_CHARS:
        raise ProfileError("unit", "too_long", f"unit: at most {UNIT_MAX_CHARS} characters")
    if any(unicodedata.category(c)[0] == "C" for c in unit):
        raise ProfileError("unit", "characters", "unit: no control characters")
    return Profile(display_name, badge_no, unit)
