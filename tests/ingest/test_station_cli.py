"""The station's commands as an operator runs them: enrol, then `agent --source` and `ingest --server`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.ingest.conftest import Station, make_clip

REPO = Path(__file__).resolve().parents[2]


async def custody(home: Path, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "CUSTODY_", "DATABASE_URL"))}
    env.update({"CUSTODY_HOME": str(home), "PYTHONPATH": str(REPO)})
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "custody", *args, cwd=REPO, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_enrol_then_agent_source_then_ingest(station: Station, camera_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "station-home"
    token = tmp_path / "station.token"
    token.write_text(station.token + "\n")
    code, out = await custody(home, "station", "enrol", "--server", station.api.base, "--token-file", str(token))
    assert code == 0, out
    saved = json.loads((home / "agent" / "station.json").read_text())
    assert saved["vkeys"] == [station.vkey] and (home / "agent" / "station.json").stat().st_mode & 0o077 == 0

    code, out = await custody(home, "agent", "--source", str(camera_dir), "--removable", "--once",
                              "--case", "CASE-A", "--serial", "CAM7", "--no-proxies")
    assert code == 0, out
    assert "CAM7: 3 file(s) receipted, 0 not" in out
    assert list(camera_dir.rglob("*.mp4")) == []

    folder = tmp_path / "exports"
    folder.mkdir()
    await make_clip(folder / "handheld.mp4")
    code, out = await custody(home, "ingest", str(folder), "--case", "CASE-A", "--server", station.api.base,
                              "--token-file", str(token), "--no-proxies")
    assert code == 0, out
    assert "receipted: handheld.mp4" in out
    assert (folder / "handheld.mp4").exists()  # an import never deletes the user's files

    code, out = await custody(home, "ingest", str(tmp_path / "missing"), "--case", "CASE-A", "--server",
                              station.api.base, "--token-file", str(token))
    assert code == 2 and "no such file or folder" in out


async def test_enrol_refuses_a_non_station_token(station: Station, tmp_path: Path) -> None:
    token = tmp_path / "inv.token"
    token.write_text(station.api.tokens["investigator"])
    code, out = await custody(tmp_path / "h", "station", "enrol", "--server", station.api.base,
                              "--token-file", str(token))
    assert code != 0 and "403" in out
