"""Unified social credit codes (统一社会信用代码, GB 32100-2015): an organisation's public identifier.

A legal person's code is published with its name, so masking must never take one for a bank card or an
ID number, even when it is all digits.  A code is 18 characters from ``0-9A-HJ-NP-RTUWXY`` (no I, O, Z, S,
V): registration authority (1), type (1), region (6), organisation code (9), check character (1).  The
check character is ``31 - (Σ cᵢ·wᵢ mod 31)`` over the first 17, with weights ``3^i mod 31`` (GB 32100 §5),
read back through the same alphabet (31 → 0).
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
#: Registration authorities (first character): 1 机构编制, 5 民政, 9 工商, Y 其他 and the rest of GB 32100 table 1.
AUTHORITIES = "123456789ANY"


def check_character(first17: str) -> str:
    """The check character for the first 17 characters of a code (upper case)."""
    total = sum(_VALUE[c] * w for c, w in zip(first17.upper(), WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """Whether ``code`` is a well-formed unified social credit code with a correct check character."""
    code = code.upper()
    if len(code) != 18 or code[0] not in AUTHORITIES or any(c not in _VALUE for c in code):
        return False
    return check_character(code[:17]) == code[17]
