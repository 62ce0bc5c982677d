"""Log entries (integrity contract v1, "Entries"): how one is built, how a case's chain is checked.

An entry is one canonical JSON object (``integrity.canonical``) with the common fields

- ``v``: the contract version, 1;
- ``case``: the case id, also the last part of the case log's origin ``<host>/case/<case-id>``;
- ``seq``: the entry's 0-based, gap-free position in its case log (its leaf index in the tree);
- ``prev``: the lowercase hex RFC 6962 leaf hash of entry ``seq - 1``, and 64 zeros for ``seq`` 0;
- ``time``: when it was logged, RFC 3339 UTC with milliseconds;
- ``actor`` (who) and ``kind`` (what happened);

and kind-specific fields beside them, which may not reuse those names.  This module is the one place
that knows them: the log builds entries with ``build_entry``, the bundle verifier and the server's
scrub check a case's entries with ``check_chain``, and a case log's origin line is made and read with
``case_origin`` and ``parse_case_origin``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from integrity import merkle
from integrity.canonical import canonical_bytes, parse_entry
from integrity.errors import BrokenChain, CanonicalError, IntegrityError, NoteFormatError, SeqGap

#: The contract version every entry carries in ``v``.
VERSION = 1
#: Fields every entry has; kind-specific fields may not reuse these names.
COMMON_FIELDS = frozenset({"v", "case", "seq", "prev", "time", "actor", "kind"})
#: ``prev`` of entry 0, which has no entry before it: 64 zeros.
ZERO_HASH = "0" * 2 * merkle.HASH_SIZE
#: Starts with a letter or digit so that no case id is "." or "..".
CASE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
#: The path segment between host and case id in a case log's origin.
CASE_SEGMENT = "/case/"


# -- origins ------------------------------------------------------------------------------------


def _check_host(host: str) -> None:
    if not host or any(c in "+/" or c.isspace() or c < " " for c in host):
        raise ValueError(f"origin host {host!r} must be non-empty, without spaces, '+' or '/'")


def case_origin(host: str, case_id: str) -> str:
    """The origin line of a case's log: ``<host>/case/<case-id>``; ValueError if either part is invalid."""
    _check_host(host)
    if not CASE_ID_PATTERN.match(case_id):
        raise ValueError(f"case id {case_id!r} must be 1-64 of A-Z a-z 0-9 . _ -, "
                         "starting with a letter or digit")
    return f"{host}{CASE_SEGMENT}{case_id}"


def parse_case_origin(origin: str) -> tuple[str, str]:
    """Split ``<host>/case/<case-id>`` into (host, case id); ValueError if it is not of that form."""
    host, segment, case_id = origin.partition(CASE_SEGMENT)
    if not segment:
        raise ValueError(f"origin {origin!r} is not of the form <host>/case/<case-id>")
    case_origin(host, case_id)
    return host, case_id


# -- building -----------------------------------------------------------------------------------


def entry_time(t: dt.datetime) -> str:
    """An entry's ``time``: RFC 3339 in UTC, to the millisecond (``2024-05-01T12:00:00.000Z``)."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _check_own_fields(kind: str, actor: str, fields: Mapping[str, Any]) -> None:
    clash = COMMON_FIELDS & set(fields)
    if clash:
        raise ValueError(f"entry fields may not override the common fields: {sorted(clash)}")
    if not kind or not actor:
        raise ValueError("an entry needs a kind and an actor")


def check_draft(kind: str, actor: str, fields: Mapping[str, Any]) -> None:
    """Refuse, before the log gives it a place, what could never become an entry.

    ValueError if ``fields`` reuse a common field or ``kind`` or ``actor`` is empty; CanonicalError
    (naming the path) if a field value has no canonical JSON form, a float for instance.
    """
    _check_own_fields(kind, actor, fields)
    canonical_bytes(dict(fields))


def build_entry(*, case_id: str, seq: int, prev: bytes | None, time: dt.datetime, actor: str, kind: str,
                fields: Mapping[str, Any]) -> bytes:
    """The canonical bytes of entry ``seq`` of a case log.

    ``prev`` is the leaf hash of entry ``seq - 1``, and None for ``seq`` 0 (the entry then links to
    ``ZERO_HASH``).  Raises what ``check_draft`` raises, and ValueError if ``seq`` and ``prev`` do not fit.
    """
    _check_own_fields(kind, actor, fields)
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValueError(f"entry seq must be an integer >= 0, not {seq!r}")
    if seq == 0 and prev is not None:
        raise ValueError("entry 0 has no entry before it: its prev must be None")
    if seq > 0 and (prev is None or len(prev) != merkle.HASH_SIZE):
        raise ValueError(f"entry {seq}: prev must be the {merkle.HASH_SIZE}-byte leaf hash of entry {seq - 1}")
    return canonical_bytes({
        **fields,
        "v": VERSION,
        "case": case_id,
        "seq": seq,
        "prev": ZERO_HASH if prev is None else prev.hex(),
        "time": entry_time(time),
        "actor": actor,
        "kind": kind,
    })


# -- checking -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """One entry of a chain as ``check_chain`` found it."""

    seq: int  # its position in the chain, which is the seq it must carry
    body: bytes
    leaf: bytes  # RFC 6962 leaf hash of ``body``
    entry: dict[str, Any] | None  # None when the body is not canonical JSON
    problems: tuple[IntegrityError, ...]  # empty when the entry holds; in the order checked

    @property
    def ok(self) -> bool:
        return not self.problems


def check_chain(bodies: Iterable[bytes], case_id: str) -> Iterator[Link]:
    """Check a case log's entries, given as their bodies in order from ``seq`` 0; one Link per body.

    Each body must be a canonical entry (else CanonicalError), carry its position as ``seq``
    (SeqGap), link by ``prev`` to the leaf hash of the body before it (BrokenChain), and be version
    1 of an entry of ``case_id`` (NoteFormatError).  A failed body still counts as the link the
    next one must name, so one damaged entry is reported once, not again by its successor.
    """
    prev = ZERO_HASH
    for seq, body in enumerate(bodies):
        leaf = merkle.leaf_hash(body)
        try:
            entry = parse_entry(body)
        except CanonicalError as exc:
            yield Link(seq, body, leaf, None, (exc,))
        else:
            yield Link(seq, body, leaf, entry, tuple(_entry_problems(entry, seq, prev, case_id)))
        prev = leaf.hex()


def _entry_problems(entry: Mapping[str, Any], seq: int, prev: str, case_id: str) -> Iterator[IntegrityError]:
    if entry.get("seq") != seq:
        yield SeqGap(seq, seq, entry.get("seq"))
    if entry.get("prev") != prev:
        yield BrokenChain(seq, prev, str(entry.get("prev")))
    if entry.get("case") != case_id or entry.get("v") != VERSION:
        yield NoteFormatError(f"entry is for case {entry.get('case')!r} (v {entry.get('v')!r}); "
                              f"the checkpoint is for case {case_id!r} (v {VERSION})")
