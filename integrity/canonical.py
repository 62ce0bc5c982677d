"""Canonical entry bytes: RFC 8785 (JCS) restricted to strings, integers, booleans, null, arrays, objects.

Integrity contract v1, "Entries": one JSON object per log event, UTF-8, keys sorted, no insignificant
whitespace, no floats.  Within that restriction JCS reduces to:

- object members sorted by their names compared as arrays of UTF-16 code units (RFC 8785 §3.2.3);
- strings as ECMAScript ``JSON.stringify`` writes them (RFC 8785 §3.2.2.2): only ``"`` and ``\\``
  and the C0 controls are escaped, the controls with the short forms ``\\b \\f \\n \\r \\t`` where
  they exist and ``\\u00xx`` (lowercase hex) otherwise; everything else is raw UTF-8;
- integers in plain decimal, which is what JCS's number serialisation yields for the integers that
  an IEEE 754 double holds exactly — hence the ±(2**53 - 1) bound (I-JSON, RFC 7493 §2.2).

The leaf hash covers these bytes exactly, so ``parse_entry`` refuses anything that would not
re-serialise to the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from integrity.errors import CanonicalError

#: Largest magnitude an entry integer may have: beyond it a double (and so JCS) cannot hold it exactly.
MAX_SAFE_INTEGER = 2**53 - 1

# JSON.stringify's escapes; every other code point, U+007F and U+2028/9 included, is written raw.
_ESCAPES: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESCAPES.update({0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r",
                 0x22: '\\"', 0x5C: "\\\\"})

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _member_path(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _string(value: str, path: str) -> str:
    try:
        # Lone surrogates can sit in a Python str but have no UTF-8 (or I-JSON) form.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalError(path, "string contains a lone surrogate, which is not valid Unicode") from None
    return '"' + value.translate(_ESCAPES) + '"'


def _utf16_key(name: str) -> bytes:
    # Big-endian UTF-16 compares byte-wise exactly as its 16-bit code units compare, which is
    # the JCS order; it differs from code point order once a key holds a character above U+FFFF.
    return name.encode("utf-16-be")


def _serialise(value: object, path: str, out: list[str]) -> None:
    # bool before int: bool is an int subclass but must come out as true/false.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value, path))
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalError(path, f"integer {value} is outside ±(2**53 - 1)")
        out.append(str(int(value)))
    elif isinstance(value, float):
        raise CanonicalError(path, f"floats are not allowed in entries (got {value!r})")
    elif isinstance(value, list):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _serialise(item, f"{path}[{i}]", out)
        out.append("]")
    elif isinstance(value, Mapping):
        _serialise_object(value, path, out)
    else:
        raise CanonicalError(path, f"{type(value).__name__} is not a JSON type allowed in entries")


def _serialise_object(value: Mapping[Any, object], path: str, out: list[str]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise CanonicalError(path, f"object key {key!r} is not a string")
        _string(key, _member_path(path, key))  # refuse unencodable keys before sorting needs them
    out.append("{")
    for i, key in enumerate(sorted(value, key=_utf16_key)):
        if i:
            out.append(",")
        member = _member_path(path, key)
        out.append(_string(key, member))
        out.append(":")
        _serialise(value[key], member, out)
    out.append("}")


def canonical_bytes(obj: object) -> bytes:
    """Serialise ``obj`` as RFC 8785 canonical JSON.

    Raises CanonicalError, naming the offending path (``$.meta.size``), for floats, non-string keys,
    integers outside ±(2**53 - 1), lone surrogates, and any type other than str, int, bool, None,
    list and dict (tuples and sets included: they have no single JSON reading).
    """
    out: list[str] = []
    try:
        _serialise(obj, "$", out)
    except RecursionError:
        raise CanonicalError("$", "nesting too deep") from None
    return "".join(out).encode("utf-8")


def _refuse_float(text: str) -> object:
    raise CanonicalError("$", f"number {text} is not an integer (floats are not allowed)")


def _refuse_constant(text: str) -> object:
    raise CanonicalError("$", f"{text} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            # json.loads would silently keep the last one; the two readings of the entry differ.
            raise CanonicalError("$", f"duplicate object key {key!r}")
        result[key] = value
    return result


def parse_entry(line: bytes) -> dict[str, Any]:
    """Parse one entry's bytes (without the ``\\n`` line terminator) and check they are canonical.

    Returns the entry as a dict.  Raises CanonicalError if the bytes are not UTF-8, not a JSON
    object, or differ in any byte from ``canonical_bytes`` of what they parse to (whitespace, key
    order, escapes, number spelling, duplicate keys).
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CanonicalError("$", f"not valid UTF-8 at byte {exc.start}") from None
    try:
        value = json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_constant,
                           object_pairs_hook=_no_duplicates)
    except CanonicalError:
        raise
    except RecursionError:
        raise CanonicalError("$", "nesting too deep") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise CanonicalError("$", f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CanonicalError("$", f"an entry must be a JSON object, not {type(value).__name__}")
    canonical = canonical_bytes(value)
    if canonical != line:
        at = next((i for i, (a, b) in enumerate(zip(canonical, line, strict=False)) if a != b),
                  min(len(canonical), len(line)))
        raise CanonicalError("$", f"bytes are not in canonical form (first difference at byte {at})")
    return value
