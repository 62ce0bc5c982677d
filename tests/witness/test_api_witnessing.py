"""The server with a witness configured: uploads are cosigned in the background and served cosigned."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

from integrity.cosignature import verify_cosignatures
from storage.keys import KeyRing
from tests.api.conftest import serving, settings_for
from tests.witness.conftest import make_witness, witness_server


async def test_uploads_are_witnessed_in_the_background_and_served_cosigned(database_url: str, tmp_path: Path) -> None:
    KeyRing(tmp_path / "keys").signer("evidence.test")
    config = make_witness(tmp_path / "witness", KeyRing(tmp_path / "keys").vkeys())
    async with witness_server(config) as url:
        settings = dataclasses.replace(settings_for("file", tmp_path, database_url, None),
                                       witnesses=f"{url} {config.cosigner.vkey}", witness_interval_seconds=1)
        async with serving(settings) as api:
            await api.upload(os.urandom(100_000), case="CASE-1")
            for _ in range(100):  # the sender's interval is 1 s
                status, case = await api.call("GET", "/api/v1/cases/CASE-1", "investigator")
                if case["witnessed_size"] == case["size"]:
                    break
                await asyncio.sleep(0.1)
            assert (status, case["witnessed_size"], case["witness_quorum"]) == (200, 2, 1)
            status, note = await api.call("GET", "/api/v1/cases/CASE-1/checkpoint", "investigator")
            [cosigned] = verify_cosignatures(note, [config.cosigner.verifier])
            assert cosigned.name == config.cosigner.name
            status, published = await api.call("GET", "/api/v1/witnesses")
            assert published == {"quorum": 1, "witnesses": [{"name": config.cosigner.name,
                                                              "vkey": config.cosigner.vkey}]}
            status, metrics = await api.call("GET", "/metrics", "admin")
            assert b"custody_witness_lag_seconds 0.0" in metrics and b"custody_witness_alarm 0.0" in metrics
            assert f'custody_witness_up{{witness="{config.cosigner.name}"}} 1.0'.encode() in metrics

            # an auditor's old bundle, checked against the live server with every proof checked locally
            old = tmp_path / "old.zip"
            await api.locker.write_bundle("CASE-1", old)
            await api.upload(os.urandom(1000), case="CASE-1")
            wkey = tmp_path / "w.vkey"
            wkey.write_text(config.cosigner.vkey + "\n")
            vkey = tmp_path / "log.vkey"
            vkey.write_text("\n".join(api.locker.keys.vkeys()) + "\n")
            await asyncio.sleep(1.5)
            cli = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "custody", "verify-bundle", str(old), "--vkey", str(vkey),
                                 "--against", api.base, "--token", api.tokens["investigator"],
                                 "--witness-key", str(wkey)], capture_output=True, text=True, timeout=60)
            assert cli.returncode == 0, cli.stdout + cli.stderr
            assert "AGAINST:     CONSISTENT — size 2 → 3" in cli.stdout
