"""Watch the USB bus: unlock recorders that dock locked, offload every PTP camera that appears.

pyusb has no hotplug events, so the bus is polled (every 1.5 s).  Each camera is offloaded in its
own task (the agent caps how many run at once); a recorder in locked vendor mode is unlocked with
its configured driver and password, and offloaded when it comes back as a PTP camera.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ingest.agent import Agent, OffloadReport
from ingest.camera_ptp import PtpCamera
from ingest.usb import (
    DeviceId,
    Poller,
    RegisteredDriver,
    UnlockRefused,
    driver_for,
    find_device,
    is_ptp,
)

logger = logging.getLogger("custody.agent")


def loop_time() -> float:
    return asyncio.get_running_loop().time()

POLL_SECONDS = 1.5
#: How often spooled files that could not be uploaded (server down) are retried, camera docked or not.
RETRY_SECONDS = 30.0
#: With ``once``: how many quiet polls (no camera busy, none arriving) end the run.
QUIET_POLLS = 3


async def _offload(agent: Agent, device: Any, identity: tuple[str, str | None] | None) -> OffloadReport:
    serial, officer = identity or (None, None)
    camera = await PtpCamera.open(device, serial=serial, officer=officer)
    try:
        return await agent.offload(camera)
    finally:
        await camera.close()


async def _arrived(agent: Agent, dev_id: DeviceId, backend: Any, drivers: list[RegisteredDriver] | None,
                   identities: dict[str, tuple[str, str | None]]) -> asyncio.Task[OffloadReport] | None:
    device = await asyncio.to_thread(find_device, dev_id, backend)
    if device is None:
        return None
    if await asyncio.to_thread(is_ptp, device):
        logger.info("camera docked: %s", dev_id)
        identity = identities.pop(dev_id.serial, None) if dev_id.serial else None
        return asyncio.create_task(_offload(agent, device, identity), name=f"offload-{dev_id}")
    entry = driver_for(dev_id.vid, dev_id.pid, drivers)
    if entry is None:
        return None  # not a camera we know: a keyboard, a hub, a recorder without a configured driver
    try:
        serial, officer = await asyncio.to_thread(entry.driver.identity, device)
        await asyncio.to_thread(entry.driver.unlock, device, entry.password)
    except UnlockRefused as exc:
        logger.error("ALARM recorder %s would not unlock (wrong password or driver?): %s", dev_id, exc)
        return None
    identities[serial] = (serial, officer)
    logger.info("recorder %s unlocked; waiting for it to come back as a camera", serial)
    return None


async def watch_usb(agent: Agent, *, once: bool = False, backend: Any = None,
                    drivers: list[RegisteredDriver] | None = None, poll_s: float = POLL_SECONDS) -> int:
    """Offload docked cameras until stopped (or, with ``once``, until the bus is quiet); 1 if any file failed."""
    poller = Poller(backend)
    busy: dict[DeviceId, asyncio.Task[OffloadReport]] = {}
    identities: dict[str, tuple[str, str | None]] = {}
    failures = 0
    quiet = 0
    next_retry = loop_time() + RETRY_SECONDS
    while True:
        if loop_time() >= next_retry and not busy:
            # Files spooled while the server was unreachable wait here, safe; push them again.
            retried = await agent.resume()
            if retried.receipted:
                logger.info("uploaded %d spooled file(s) after the server came back", len(retried.receipted))
            next_retry = loop_time() + RETRY_SECONDS
        arrived, _ = await asyncio.to_thread(poller.poll)
        for dev_id in arrived:
            task = await _arrived(agent, dev_id, backend, drivers, identities)
            if task is not None:
                busy[dev_id] = task
        for dev_id, task in list(busy.items()):
            if task.done():
                del busy[dev_id]
                try:
                    report = task.result()
                    failures += len(report.failed)
                except Exception as exc:  # an unplug mid-offload: the journal resumes next time it docks
                    logger.error("camera %s: offload interrupted: %s", dev_id, exc)
                    failures += 1
        quiet = quiet + 1 if not arrived and not busy and not identities else 0
        if once and quiet >= QUIET_POLLS:
            return 1 if failures else 0
        await asyncio.sleep(poll_s)
