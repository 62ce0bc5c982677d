"""Entries: their common fields, how the log builds them, how a chain of them is checked, origins."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from integrity import merkle
from integrity.canonical import canonical_bytes
from integrity.entry import (
    COMMON_FIELDS,
    ZERO_HASH,
    build_entry,
    case_origin,
    check_chain,
    check_draft,
    entry_time,
    parse_case_origin,
)
from integrity.errors import BrokenChain, CanonicalError, NoteFormatError, SeqGap

ORIGIN = "custody.example/case/2024-0042"
T0 = dt.datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)


def chain(n: int, case_id: str = "C-1") -> list[bytes]:
    bodies: list[bytes] = []
    prev: bytes | None = None
    for seq in range(n):
        bodies.append(build_entry(case_id=case_id, seq=seq, prev=prev, time=T0, actor="officer:1",
                                  kind="record.added", fields={"n": seq}))
        prev = merkle.leaf_hash(bodies[-1])
    return bodies


def test_common_fields_and_zero_hash_are_the_contracts() -> None:
    assert COMMON_FIELDS == {"v", "case", "seq", "prev", "time", "actor", "kind"}
    assert ZERO_HASH == "0" * 64


def test_first_entry_bytes() -> None:
    body = build_entry(case_id="2024-0042", seq=0, prev=None, time=T0, actor="station-7", kind="ingest",
                       fields={"size": 1048576, "held": False, "version_id": None})
    assert body == (
        b'{"actor":"station-7","case":"2024-0042","held":false,"kind":"ingest","prev":"' + b"0" * 64
        + b'","seq":0,"size":1048576,"time":"2024-05-01T12:00:00.123Z","v":1,"version_id":null}'
    )


def test_later_entries_link_to_the_leaf_before() -> None:
    bodies = chain(3)
    for seq, body in enumerate(bodies):
        entry = json.loads(body)
        assert entry["seq"] == seq
        assert entry["prev"] == (merkle.leaf_hash(bodies[seq - 1]).hex() if seq else "0" * 64)
        assert canonical_bytes(entry) == body


def test_entry_time_is_utc_to_the_millisecond() -> None:
    assert entry_time(T0) == "2024-05-01T12:00:00.123Z"
    east = dt.timezone(dt.timedelta(hours=8))
    assert entry_time(dt.datetime(2024, 5, 1, 20, 0, 0, 999, tzinfo=east)) == "2024-05-01T12:00:00.000Z"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"fields": {"seq": 5}}, "common fields"),
        ({"fields": {"prev": "x", "v": 2}}, "common fields"),
        ({"kind": ""}, "kind and an actor"),
        ({"actor": ""}, "kind and an actor"),
        ({"seq": 0, "prev": bytes(32)}, "prev must be None"),
        ({"seq": 1, "prev": None}, "leaf hash of entry 0"),
        ({"seq": 1, "prev": b"short"}, "32-byte"),
        ({"seq": -1}, "seq"),
        ({"seq": True}, "seq"),
    ],
)
def test_build_entry_refuses(kwargs: dict[str, object], reason: str) -> None:
    args: dict[str, object] = {"case_id": "C-1", "seq": 0, "prev": None, "time": T0, "actor": "a", "kind": "k",
                               "fields": {}}
    with pytest.raises(ValueError, match=reason):
        build_entry(**{**args, **kwargs})  # type: ignore[arg-type]


def test_check_draft_refuses_before_a_place_is_given() -> None:
    check_draft("record.added", "officer:1", {"n": 1})
    with pytest.raises(ValueError, match="common fields"):
        check_draft("k", "a", {"case": "other"})
    with pytest.raises(CanonicalError, match=r"\$\.size"):
        check_draft("k", "a", {"size": 1.5})


def test_a_good_chain_holds() -> None:
    bodies = chain(4)
    links = list(check_chain(bodies, "C-1"))
    assert all(link.ok for link in links)
    assert [link.seq for link in links] == [0, 1, 2, 3]
    assert [link.leaf for link in links] == [merkle.leaf_hash(b) for b in bodies]
    assert [link.entry["n"] for link in links if link.entry] == [0, 1, 2, 3]
    assert list(check_chain([], "C-1")) == []


def test_reordered_entries_are_a_gap_and_a_broken_link() -> None:
    bodies = chain(3)
    links = list(check_chain([bodies[0], bodies[2], bodies[1]], "C-1"))
    assert links[0].ok
    assert [type(p) for p in links[1].problems] == [SeqGap, BrokenChain]
    assert isinstance(links[1].problems[0], SeqGap) and links[1].problems[0].actual == 2


def test_another_cases_entries_do_not_belong() -> None:
    [link] = check_chain(chain(1, "C-2"), "C-1")
    assert [type(p) for p in link.problems] == [NoteFormatError]
    assert "'C-2'" in str(link.problems[0]) and "'C-1'" in str(link.problems[0])


def test_a_damaged_body_is_reported_once() -> None:
    bodies = chain(3)
    damaged = bodies[1].replace(b'"n":1', b'"n": 1')
    links = list(check_chain([bodies[0], damaged, bodies[2]], "C-1"))
    assert links[1].entry is None and isinstance(links[1].problems[0], CanonicalError)
    assert links[1].leaf == merkle.leaf_hash(damaged)
    # The entry after it named the original body, so its link is broken; nothing else is.
    assert [type(p) for p in links[2].problems] == [BrokenChain]
    links = list(check_chain([bodies[0], damaged], "C-1"))
    assert links[0].ok and not links[1].ok


def test_case_origin() -> None:
    assert case_origin("custody.example", "2024-0042") == ORIGIN
    assert case_origin("custody.example:8443", "A_b.c-9") == "custody.example:8443/case/A_b.c-9"
    assert parse_case_origin(ORIGIN) == ("custody.example", "2024-0042")
    for host, case_id in [("", "x"), ("a b", "x"), ("a+b", "x"), ("a/b", "x"), ("h", ""), ("h", "a b"),
                          ("h", "a/b"), ("h", "a+b"), ("h", "x" * 65), ("h", ".."), ("h", "é")]:
        with pytest.raises(ValueError):
            case_origin(host, case_id)
    for origin in ["custody.example/log", "custody.example/case/", "a/b/case/x", "/case/x"]:
        with pytest.raises(ValueError):
            parse_case_origin(origin)
