"""The client address recorded for requests, evidence reads and sign-ins: X-Forwarded-For only via trusted proxies."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from pathlib import Path

import pytest
from blake3 import blake3

from api.client import resolve
from tests.api.conftest import Api, serving, settings_for

PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"),
           ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(("peer", "forwarded", "trusted", "client"), [
    # No trusted proxy configured: the header is anyone's to write, so it is ignored.
    ("192.0.2.7", ["203.0.113.9"], [], "192.0.2.7"),
    ("127.0.0.1", ["203.0.113.9"], [], "127.0.0.1"),
    # The peer is not a trusted proxy: same.
    ("192.0.2.7", ["203.0.113.9"], PROXIES, "192.0.2.7"),
    # One trusted proxy: the address it saw.
    ("10.0.0.2", ["203.0.113.9"], PROXIES, "203.0.113.9"),
    # A chain: skip trusted hops from the right; what the client wrote on the left is not believed.
    ("10.0.0.2", ["1.2.3.4, 203.0.113.9, 10.0.0.5"], PROXIES, "203.0.113.9"),
    ("10.0.0.2", ["1.2.3.4", "203.0.113.9"], PROXIES, "203.0.113.9"),  # two header lines
    ("10.0.0.2", ["fd00::1, 2001:db8::5"], PROXIES, "2001:db8::5"),
    # Every hop trusted: the leftmost (the proxy nearest the client is ours too).
    ("10.0.0.2", ["10.9.9.9, 10.0.0.5"], PROXIES, "10.9.9.9"),
    # A garbled hop: believe nothing beyond the proxy.
    ("10.0.0.2", ["203.0.113.9, not-an-ip"], PROXIES, "10.0.0.2"),
    ("10.0.0.2", [], PROXIES, "10.0.0.2"),
    ("", ["203.0.113.9"], PROXIES, ""),
])
def test_resolve(peer: str, forwarded: list[str], trusted: list[ipaddress.IPv4Network], client: str) -> None:
    assert resolve(peer, forwarded, trusted) == client


async def read_and_get_client(api: Api, forwarded: str) -> str:
    data = os.urandom(2000)
    await api.upload(data)
    url = f"/api/v1/cases/CASE-1/objects/{blake3(data).hexdigest()}?purpose=check"
    status, _ = await api.call("GET", url, "investigator", headers={"X-Forwarded-For": forwarded})
    assert status == 200
    [entry] = [json.loads(r.body) for r in await api.locker.log.entries("CASE-1")
               if r.kind == "evidence.accessed" and json.loads(r.body)["object"] == blake3(data).hexdigest()]
    return str(entry["client"])


async def test_an_evidence_read_records_the_connecting_address_when_no_proxy_is_trusted(file_api: Api) -> None:
    assert await read_and_get_client(file_api, "203.0.113.9") == "127.0.0.1"


async def test_behind_a_trusted_proxy_an_evidence_read_records_the_browser(database_url: str, tmp_path: Path) -> None:
    settings = dataclasses.replace(settings_for("file", tmp_path, database_url, None), trusted_proxies="127.0.0.1")
    async with serving(settings) as api:
        assert await read_and_get_client(api, "198.51.100.1, 203.0.113.9") == "203.0.113.9"
