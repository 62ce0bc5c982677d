"""Canonical entry bytes: RFC 8785 (JCS) restricted to str, int, bool, null, arrays and objects."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from integrity.canonical import MAX_SAFE_INTEGER, canonical_bytes, parse_entry
from integrity.errors import CanonicalError, IntegrityError


def test_entry_shape_example() -> None:
    entry = {"v": 1, "seq": 0, "prev": "0" * 64, "case": "2024-0042", "kind": "ingest",
             "time": "2024-05-01T12:00:00Z", "actor": "station-7", "size": 1048576, "held": False,
             "version_id": None}
    assert canonical_bytes(entry) == (
        b'{"actor":"station-7","case":"2024-0042","held":false,"kind":"ingest","prev":"' + b"0" * 64
        + b'","seq":0,"size":1048576,"time":"2024-05-01T12:00:00Z","v":1,"version_id":null}'
    )


def test_keys_sort_by_utf16_code_units_rfc8785_example() -> None:
    # RFC 8785 §3.2.3: U+1F600 is the surrogate pair D83D DE00, so it sorts before U+FB33 in
    # UTF-16 although its code point is larger.
    obj = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
           "1": "One", "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control",
           "\u00f6": "Latin Small Letter O With Diaeresis"}
    expected = ('{"\\r":"Carriage Return","1":"One","\u0080":"Control",'
                '"\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign",'
                '"\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}')
    assert canonical_bytes(obj) == expected.encode("utf-8")
    assert sorted(obj) != [k for k in json.loads(expected)]  # code point order would differ


def test_key_order_is_by_code_unit_not_length_or_case() -> None:
    assert canonical_bytes({"b": 1, "a": 2, "aa": 3, "B": 4, "": 5}) == b'{"":5,"B":4,"a":2,"aa":3,"b":1}'
    assert canonical_bytes({"z": {"y": 1, "x": [{"d": 1, "c": 2}]}}) == b'{"z":{"x":[{"c":2,"d":1}],"y":1}}'


def test_string_escapes_are_json_stringify_ones() -> None:
    value = '"\\\b\f\n\r\t\x00\x01\x1f\x7f\u2028\u2029/é\U0001f600'
    expected = ('"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u0001\\u001f\x7f\u2028\u2029/é\U0001f600"').encode()
    assert canonical_bytes(value) == expected
    assert canonical_bytes({"\n": "\x1e"}) == b'{"\\n":"\\u001e"}'


def test_scalars() -> None:
    assert canonical_bytes(None) == b"null"
    assert canonical_bytes(True) == b"true"
    assert canonical_bytes(False) == b"false"
    assert canonical_bytes([True, 1, 0, -1]) == b"[true,1,0,-1]"  # bool is not confused with int
    assert canonical_bytes(MAX_SAFE_INTEGER) == b"9007199254740991"
    assert canonical_bytes(-MAX_SAFE_INTEGER) == b"-9007199254740991"
    assert canonical_bytes([]) == b"[]"
    assert canonical_bytes({}) == b"{}"


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({"meta": {"size": 1.5}}, "$.meta.size", "float"),
        ({"meta": {"size": 1.0}}, "$.meta.size", "float"),
        ({"items": [1, 2, float("nan")]}, "$.items[2]", "float"),
        ({"meta": {"size": 2**53}}, "$.meta.size", "outside"),
        ({"n": -(2**53)}, "$.n", "outside"),
        ({"a": {1: "x"}}, "$.a", "not a string"),
        ({"a": {None: "x"}}, "$.a", "not a string"),
        ({"t": (1, 2)}, "$.t", "tuple"),
        ({"s": {1, 2}}, "$.s", "set"),
        ({"b": b"raw"}, "$.b", "bytes"),
        ({"odd key": [{"x": 0.5}]}, '$["odd key"][0].x', "float"),
        ({"s": "\ud800"}, "$.s", "surrogate"),
        ({"\udfff": 1}, '$["\\udfff"]', "surrogate"),
        (3.0, "$", "float"),
    ],
)
def test_refusals_name_the_path(value: Any, path: str, reason: str) -> None:
    with pytest.raises(CanonicalError, match=reason) as info:
        canonical_bytes(value)
    assert info.value.path == path
    assert str(info.value).startswith(path + ": ")
    assert isinstance(info.value, IntegrityError)


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    # BMP text without surrogates: there code point order equals UTF-16 order, so json.dumps with
    # sort_keys is an independent oracle.
    def text() -> str:
        return "".join(chr(rng.choice([rng.randrange(0x20), rng.randrange(0x20, 0x80),
                                       rng.randrange(0x80, 0xD800), rng.randrange(0xE000, 0x10000)]))
                       for _ in range(rng.randrange(6)))

    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    if kind in (3, 4):
        return text()
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {text(): _random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def test_matches_sorted_compact_json_for_bmp_data() -> None:
    rng = random.Random(8785)
    for _ in range(500):
        value = {"v": _random_value(rng)}
        expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        encoded = canonical_bytes(value)
        assert encoded == expected.encode("utf-8")
        assert parse_entry(encoded) == value


def test_parse_entry_round_trip() -> None:
    line = canonical_bytes({"seq": 3, "kind": "access", "note": "caf\u00e9 \U0001f600\n"})
    assert parse_entry(line) == {"seq": 3, "kind": "access", "note": "caf\u00e9 \U0001f600\n"}


@pytest.mark.parametrize(
    "line",
    [
        b'{"a": 1}',  # whitespace
        b' {"a":1}',
        b'{"a":1}\n',  # the line terminator is not part of the entry
        b'{"b":1,"a":2}',  # unsorted
        b'{"\xef\xac\xb3":1,"\xf0\x9f\x98\x80":2}',  # code point order, not UTF-16 order
        b'{"a":"\\u0041"}',  # needless escape
        b'{"a":"\\/"}',
        b'{"a":"\\u001F"}',  # uppercase hex
        b'{"a":"\\u00e9"}',  # non-ASCII must be raw
        b'{"a":"\x7f\\u007f"}',
        b'{"a":-0}',
        b'{"a":1.0}',  # floats in any spelling
        b'{"a":1e2}',
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":01}',
        b'{"a":1,"a":1}',  # duplicate keys
        b'{"a":9007199254740992}',  # beyond 2**53 - 1
        b'{"a":"\\ud800"}',  # lone surrogate
        b'{"a":"\xff"}',  # not UTF-8
        b"\xef\xbb\xbf{}",  # BOM
        b'{"a":1',  # truncated
        b"[1,2]",  # not an object
        b'"text"',
        b"",
        b"{" * 100_000 + b"}" * 100_000,  # hostile nesting
    ],
)
def test_parse_entry_rejects_non_canonical_bytes(line: bytes) -> None:
    with pytest.raises(CanonicalError):
        parse_entry(line)


def test_parse_entry_reports_where_bytes_differ() -> None:
    with pytest.raises(CanonicalError, match="first difference at byte 5"):
        parse_entry(b'{"a": 1}')
