"""JSON Schema pieces for the route table: what each request field accepts, said once.

The OpenAPI document publishes these schemas and ``api.validation`` enforces them on every request
before a handler runs, so a request the document calls valid is never refused for its form, and one
it calls invalid is never accepted.  Object bodies take no properties beyond those named (numbers
are integers only: evidence records carry no floats).
"""

from __future__ import annotations

from typing import Any

from integrity.hashing import BLAKE3_HEX_PATTERN

#: Text without control characters (a NUL cannot be stored; a newline has no place in a name).
_PRINTABLE = r"^[^\x00-\x1f]*$"
CASE_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
INT64_MAX = 2**63 - 1
JSON_INT_MAX = 2**53 - 1


def text(max_len: int, *, pattern: str | None = None) -> dict[str, Any]:
    """A non-empty string of at most ``max_len`` characters, without control characters."""
    return {"type": "string", "minLength": 1, "maxLength": max_len, "pattern": pattern or _PRINTABLE}


def enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def integer(minimum: int = 0, maximum: int = JSON_INT_MAX) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def obj(required: tuple[str, ...] = (), **properties: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly these properties (``required`` among them), nothing else."""
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


BLAKE3 = {"type": "string", "pattern": BLAKE3_HEX_PATTERN,
          "description": "a BLAKE3 hash: 64 lowercase hex digits"}
CASE_ID = {"type": "string", "pattern": CASE_ID_PATTERN}
NAME = {"type": "string", "pattern": NAME_PATTERN}
DATE = {"type": "string", "format": "date", "description": "a calendar date, YYYY-MM-DD"}
TIME = {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}],
        "description": "an RFC 3339 time, or a date (YYYY-MM-DD)"}
REASON = text(2000)
