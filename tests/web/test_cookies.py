"""The session cookie format and its secret, without a server."""

from __future__ import annotations

import dataclasses
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api.cookies import SECRET_FILE, SessionCodec, load_secret


def test_secret_is_made_once_private_and_shared_by_racing_servers(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    with ThreadPoolExecutor(8) as pool:
        secrets = list(pool.map(lambda _: load_secret(keys), range(16)))
    assert len(set(secrets)) == 1 and len(secrets[0]) == 32
    assert stat.S_IMODE((keys / SECRET_FILE).stat().st_mode) == 0o600
    assert [p.name for p in keys.iterdir()] == [SECRET_FILE]  # no temp files left behind
    assert load_secret(keys) == secrets[0]


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_bytes(b"short")
    with pytest.raises(ValueError, match="32"):
        load_secret(tmp_path)


LIFETIME_S = 12 * 3600


def test_cookie_round_trip_and_every_kind_of_tampering() -> None:
    codec = SessionCodec(b"s" * 32)
    session = codec.issue(LIFETIME_S)
    assert session.expires_at - session.issued_at == LIFETIME_S and len(session.id) == 32
    value = codec.encode(session)
    assert codec.decode(value) == session
    body, _, mac = value.partition(".")
    other = SessionCodec(b"s" * 32).encode(dataclasses.replace(session, id="0" * 32)).partition(".")[0]
    longer = SessionCodec(b"s" * 32).encode(dataclasses.replace(session, expires_at=session.expires_at + 3600))
    for bad in (other + "." + mac, longer.partition(".")[0] + "." + mac, body + "." + mac[::-1], body, "", "a.b.c",
                "!!!.???", value + "x", SessionCodec(b"t" * 32).encode(session)):
        assert codec.decode(bad) is None, bad
    assert codec.decode(value, now=session.expires_at) is None  # expired
    assert codec.decode(value, now=session.issued_at - 3600) is None  # from the future
    assert codec.decode(value, now=time.time() + 60) == session


def test_a_signed_cookie_must_still_carry_a_well_formed_session_id() -> None:
    codec = SessionCodec(b"s" * 32)
    session = codec.issue(LIFETIME_S)
    for sid in ("", "0" * 31, "0" * 33, "G" * 32, "A" * 32, "0" * 32 + "\n"):
        assert codec.decode(codec.encode(dataclasses.replace(session, id=sid))) is None, sid


def test_csrf_token_is_bound_to_the_session_and_the_secret() -> None:
    codec = SessionCodec(b"s" * 32)
    one, two = codec.issue(LIFETIME_S), codec.issue(LIFETIME_S)
    assert one.id != two.id and one.nonce == one.id
    assert codec.csrf_ok(one.nonce, codec.csrf(one.nonce))
    assert not codec.csrf_ok(one.nonce, codec.csrf(two.nonce))
    assert not codec.csrf_ok(one.nonce, SessionCodec(b"t" * 32).csrf(one.nonce))
    assert not codec.csrf_ok(one.nonce, None) and not codec.csrf_ok(one.nonce, "")
