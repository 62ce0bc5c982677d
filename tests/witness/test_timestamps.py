"""Trusted timestamps against a real local TSA (OpenSSL's ``openssl ts -reply``), never a mock."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from custody.local_tsa import LocalTsa, make_ca, make_tsa, serve_tsa
from integrity import timestamp
from integrity.bundle import Trust
from integrity.bundle_files import verify_bundle
from services import evidence, timestamping
from services.permissions import operator
from services.witnessing import NO_WITNESSES
from storage.keys import KeyRing
from storage.objects import ObjectStore
from tests.acting import principal
from tests.witness.conftest import locker_with
from tests.witness.test_locker_witnessing import CASE, grow

READER = principal("investigator:ann")


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> LocalTsa:
    return make_tsa(tmp_path_factory.mktemp("tsa"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cert, _ = make_ca(tmp_path_factory.mktemp("other-ca"), "Some Other Root")
    return cert


@pytest.fixture
async def tsa_url(tsa: LocalTsa) -> AsyncIterator[str]:
    async with serve_tsa(tsa) as url:
        yield url


@pytest.mark.parametrize("store", ["file"], indirect=True)
async def test_a_round_anchors_changed_cases_and_bundles_prove_it(
        pool: asyncpg.Pool, store: ObjectStore, tmp_path: Path, tsa: LocalTsa, tsa_url: str, other_ca: Path) -> None:
    ring = KeyRing(tmp_path / "keys")
    locker = locker_with(pool, store, ring, NO_WITNESSES, tsa_chain=tsa.tsa_pem.read_bytes())
    await grow(locker, 3)
    await grow(locker, 2, case_id="2026-XZ-0043")
    first = await timestamping.run_round(pool, [tsa_url], who=operator())
    assert first is not None and first.checkpoints == 2 and not first.failed
    assert await timestamping.run_round(pool, [tsa_url], who=operator()) is None  # nothing changed since
    await grow(locker, 2)
    second = await timestamping.run_round(pool, [tsa_url], who=operator())
    assert second is not None and second.checkpoints == 1  # only the case that changed

    out = tmp_path / "case.zip"
    await evidence.export(locker, CASE, out, who=READER)
    with zipfile.ZipFile(out) as z:
        names = sorted(n for n in z.namelist() if n.startswith("timestamps/"))
        token = z.read(names[-1])  # the second round's .tst
        proof = timestamp.DigestPath.decode(z.read(names[-2]))
        stamped = z.read(names[-4])
    assert [n.rsplit(".", 1)[1] for n in names] == ["checkpoint", "pem", "proof", "tst"] * 2

    report = verify_bundle(out, locker.keys.vkeys(), Trust(tsa_certs=(tsa.ca_pem.read_bytes(),)))
    assert report.ok, report.failure
    sizes = [t.size for t in report.timestamps]
    assert sizes == [4, 6] and all(t.checked for t in report.timestamps)
    assert report.timestamps[0].tsa == "CN=Custody Test TSA" and report.timestamps[0].gen_time.endswith("Z")

    wrong = verify_bundle(out, locker.keys.vkeys(), Trust(tsa_certs=(other_ca.read_bytes(),)))
    assert isinstance(wrong.failure, timestamp.TimestampInvalid), wrong.failure

    root = proof.root_for(stamped)
    trusted, chain = [tsa.ca_pem.read_bytes()], tsa.tsa_pem.read_bytes()
    assert timestamp.verify_token(token, root, trusted=trusted, chain=chain).checked
    changed = bytes([root[0] ^ 1]) + root[1:]  # one byte of the digest changed
    with pytest.raises(timestamp.TimestampInvalid):
        timestamp.verify_token(token, changed, trusted=trusted, chain=chain)

    # OpenSSL agrees on what the token stamps: SHA-256 of the round root
    token_file = tmp_path / "t.tst"
    token_file.write_bytes(token)
    checked = subprocess.run(["openssl", "ts", "-verify", "-token_in", "-in", str(token_file), "-digest",
                              timestamp.message_imprint(root).hex(), "-CAfile", str(tsa.ca_pem),
                              "-untrusted", str(tsa.tsa_pem)], capture_output=True, text=True, timeout=60)
    assert "Verification: OK" in checked.stdout, checked.stdout + checked.stderr
    assert hashlib.sha256(root).digest() == timestamp.message_imprint(root)

    cli = subprocess.run([sys.executable, "-m", "custody", "verify-bundle", str(out), "--tsa-cert", str(tsa.ca_pem)],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "entries 0..5 existed by" in cli.stdout and "according to CN=Custody Test TSA" in cli.stdout

    # a verifier without rfc3161-client still verifies the rest, and says the timestamp was not checked
    no_client = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['rfc3161_client'] = None; "
                               "from integrity.verify import main; sys.exit(main())", str(out)],
        capture_output=True, text=True, timeout=60)
    assert no_client.returncode == 0, no_client.stdout + no_client.stderr
    assert "not checked: rfc3161-client is not installed" in no_client.stdout


@pytest.mark.parametrize("store", ["file"], indirect=True)
async def test_no_answer_no_round(pool: asyncpg.Pool, store: ObjectStore, tmp_path: Path) -> None:
    locker = locker_with(pool, store, KeyRing(tmp_path / "keys"), NO_WITNESSES)
    await grow(locker, 1)
    with pytest.raises(timestamping.TimestampFailed):
        await timestamping.run_round(pool, ["http://127.0.0.1:9/tsa"], who=operator())
    assert await pool.fetchval("SELECT count(*) FROM timestamp_rounds") == 0
