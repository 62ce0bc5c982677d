"""What responses say about the server and how a browser may treat evidence bytes (issue 14, item 12)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from blake3 import blake3

from tests.api.conftest import Api
from tests.api.test_serve import REPO


async def test_the_server_header_names_no_versions(file_api: Api) -> None:
    for path in ("/healthz", "/api/v1/keys", "/api/v1/nowhere", "/public/api/records"):
        async with file_api.http.get(file_api.base + path) as resp:
            assert resp.headers["Server"] == "custody", path
            assert "Python" not in resp.headers["Server"] and "aiohttp" not in resp.headers["Server"]


async def _read(api: Api, data: bytes, **extra: str) -> tuple[int, dict[str, str]]:
    hexd = blake3(data).hexdigest()
    async with api.http.get(f"{api.base}/api/v1/cases/CASE-1/objects/{hexd}",
                            params={"purpose": "review", **extra}, headers=api.auth("investigator")) as resp:
        await resp.read()
        return resp.status, dict(resp.headers)


async def test_station_chosen_active_types_are_attachments_in_a_sandbox(file_api: Api) -> None:
    page = b"<script>alert(document.cookie)</script>"
    await file_api.upload(page, media_type="text/html")
    status, headers = await _read(file_api, page)
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp
    assert headers["Content-Disposition"].startswith("attachment")
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    await file_api.upload(svg, media_type="image/svg+xml; charset=utf-8")
    assert (await _read(file_api, svg))[1]["Content-Disposition"].startswith("attachment")
    video = b"\x00\x00\x00\x18ftypmp42 not really a video"
    await file_api.upload(video, media_type="video/mp4")
    status, headers = await _read(file_api, video)
    assert status == 200 and "Content-Disposition" not in headers  # the player shows it inline
    assert headers["Content-Type"] == "video/mp4" and "sandbox" in headers["Content-Security-Policy"]


async def test_verify_against_a_server_takes_the_token_from_a_file(file_api: Api, tmp_path: Path) -> None:
    data = b"a recording to check"
    await file_api.upload(data)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(data)
    token_file = tmp_path / "token"
    token_file.write_text(file_api.tokens["investigator"] + "\n")
    env = {"CUSTODY_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    help_text = subprocess.run([sys.executable, "-m", "custody", "verify", "--help"], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=60).stdout
    assert "--token-file" in help_text and "process list" in help_text
    code, out, err = await _custody(env, "verify", str(clip), "--server", file_api.base,
                                    "--token-file", str(token_file), "--json")
    assert code == 0, err
    assert '"match": true' in out
    token_file.write_text("cst_not-a-real-token\n")
    code, out, err = await _custody(env, "verify", str(clip), "--server", file_api.base,
                                    "--token-file", str(token_file))
    assert code != 0


async def _custody(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """The CLI as a subprocess, awaited (the server under test runs on this event loop)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "custody", *args, cwd=REPO, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
