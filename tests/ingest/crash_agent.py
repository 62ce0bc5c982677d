"""The agent as a process of its own, for tests and the fault bench that kill it: one offload of a camera.

    python -m tests.ingest.crash_agent SERVER TOKEN VKEY CAMERA_DIR WORK {source|ptp}

``source``: the folder is a mounted camera (``--source``).  ``ptp``: the folder backs an emulated PTP
camera on an emulated USB bus (``tests/ingest/emulated_camera.py``), whose deletes remove the backing
file, so what the camera holds survives the process like a real camera's card.  The run resumes the
journal, offloads the camera and exits 0 only if every file is finished (``CRASH_ENV`` may end it
earlier, abruptly, at a chosen point).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from ingest.agent import Agent, AgentConfig, OffloadReport
from ingest.camera_ptp import PtpCamera
from ingest.client import CustodyClient
from ingest.sources import CameraSource, DirectorySource
from ingest.spool import Journal
from ingest.usb import find_device, scan
from tests.ingest.emulated_camera import EmulatedBackend, PtpCameraModel

SERIAL = "CAM7"


class CardCamera(PtpCameraModel):
    """An emulated PTP camera over a folder: a delete removes the file from the folder too."""

    def __init__(self, root: Path) -> None:
        files = {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}
        super().__init__(SERIAL, files, {n: "20261120T080000" for n in files})

    def _op_100b(self, handle: int = 0, *rest: int) -> tuple[bytes | None, int, tuple[int, ...]]:
        obj = self.objects.get(handle)
        answer = super()._op_100b(handle, *rest)
        if obj is not None and obj.path is not None:
            obj.path.unlink()
        return answer


async def _run(agent: Agent, source: CameraSource) -> tuple[OffloadReport, OffloadReport]:
    resumed = await agent.resume([source])
    return resumed, await agent.offload(source)


async def main(server: str, token: str, vkey: str, camera: str, work: str, mode: str) -> int:
    journal = Journal(Path(work) / "journal.sqlite")
    try:
        async with CustodyClient(server, token, vkeys=[vkey]) as client:
            config = AgentConfig(spool_dir=Path(work) / "spool", case="CASE-A",
                                 stable_s=float(os.environ.get("CUSTODY_AGENT_STABLE_S", "0")))
            agent = Agent(config, journal, client)
            if mode == "source":
                resumed, report = await _run(agent, DirectorySource(Path(camera), serial=SERIAL, removable=True))
            else:
                bus = EmulatedBackend([CardCamera(Path(camera))])
                [dev_id] = scan(bus)
                device = find_device(dev_id, bus)
                async with await PtpCamera.open(device) as ptp:
                    resumed, report = await _run(agent, ptp)
    finally:
        journal.close()
    for name, why in {**resumed.failed, **report.failed, **resumed.waiting, **report.waiting}.items():
        print(f"unfinished: {name}: {why}", file=sys.stderr)
    return 0 if resumed.finished and report.finished else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:])))
