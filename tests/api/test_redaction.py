"""Redaction over HTTP: save a project, queue a render, poll it to done, while uploads carry on."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from blake3 import blake3

from tests.api.conftest import Api
from tests.redaction_clip import make_clip

TRACK = {"mode": "pixelate", "label": "bystander",
         "keyframes": [{"t_ms": 0, "x": 10, "y": 60, "w": 240, "h": 240},
                       {"t_ms": 2000, "x": 210, "y": 60, "w": 240, "h": 240}]}


async def test_save_render_and_poll(file_api: Api, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=2).read_bytes()
    await file_api.upload(clip)
    source = blake3(clip).hexdigest()
    path = "/api/v1/cases/CASE-1/redactions"

    status, body = await file_api.call("POST", path, "reviewer", json={"source": source, "tracks": [TRACK]})
    assert status == 403, body
    status, body = await file_api.call("POST", path, "investigator",
                                       json={"source": source, "tracks": [{**TRACK, "mode": "smear"}]})
    assert status == 422 and "tracks[0].mode" in body["message"], body
    status, saved = await file_api.call("POST", path, "investigator",
                                        json={"source": source, "name": "for the lawyer", "tracks": [TRACK],
                                              "audio": [{"start_ms": 500, "end_ms": 1000, "mode": "bleep"}]})
    assert status == 201 and saved["version"] == 1, saved

    status, queued = await file_api.call("POST", f"{path}/{saved['project_id']}/renders", "investigator", json={})
    assert status == 202, queued
    # an upload while the render runs is answered at once
    await file_api.upload(os.urandom(10_000))
    for _ in range(300):
        status, render = await file_api.call("GET", f"/api/v1/cases/CASE-1/renders/{queued['render']}", "reviewer")
        assert status == 200, render
        if render["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    assert (render["state"], render["progress_pct"]) == ("done", 100), render
    status, listing = await file_api.call("GET", path, "reviewer")
    assert [v["version"] for v in listing["versions"]] == [1]
    assert listing["renders"][0]["output_blake3"] == render["output_blake3"]
    status, body = await file_api.call("GET", "/api/v1/cases/CASE-1/renders/not-a-uuid", "reviewer")
    assert status == 422, body
