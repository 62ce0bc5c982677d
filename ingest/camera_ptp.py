"""A docked PTP/MTP camera as a :class:`~ingest.sources.CameraSource` for the agent.

The PTP session (``ingest/ptp.py``) is blocking pyusb I/O, so every call runs in a worker thread;
the session serialises transactions itself.  Files are named by their folder path on the camera
(``DCIM/100MEDIA/VID_0001.MP4``), like a mounted volume's, so the journal recognises a file however
the camera was attached; with more than one storage (internal memory and a card) the name is
prefixed by the storage id.  A file's handle is ``"<storage id hex8>:<object handle hex8>"`` and is
valid for this docking only.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import PurePosixPath
from types import TracebackType

import usb.core

from ingest.ptp import DEFAULT_TIMEOUT_MS, INVALID_OBJECT_HANDLE, ObjectInfo, PtpError, PtpSession, iso_datetime
from ingest.sources import MEDIA_SUFFIXES, CameraFile
from ingest.usb import serial_of

logger = logging.getLogger(__name__)


def format_handle(storage_id: int, handle: int) -> str:
    return f"{storage_id:08x}:{handle:08x}"


def parse_handle(value: str) -> tuple[int, int]:
    """(storage id, object handle) from a :class:`CameraFile` handle."""
    storage, sep, handle = value.partition(":")
    if not sep or len(storage) != 8 or len(handle) != 8:
        raise ValueError(f"{value!r} is not a PTP file handle")
    return int(storage, 16), int(handle, 16)


def _listed(name: str, storage_id: int, info: ObjectInfo) -> CameraFile:
    return CameraFile(name=name, size=info.size, recorded_at=iso_datetime(info.captured),
                      handle=format_handle(storage_id, info.handle), modified=info.modified)


def _path(info: ObjectInfo, by_handle: dict[int, ObjectInfo]) -> str:
    parts = [info.name]
    seen = {info.handle}
    parent = by_handle.get(info.parent)
    while parent is not None and parent.handle not in seen:  # a looping parent chain must not hang us
        parts.append(parent.name)
        seen.add(parent.handle)
        parent = by_handle.get(parent.parent)
    return "/".join(reversed(parts))


class PtpCamera:
    """A camera over PTP/MTP; build it with :meth:`open`."""

    def __init__(self, session: PtpSession, serial: str, officer: str | None = None, *,
                 all_files: bool = False) -> None:
        self.session = session
        self.serial = serial
        self.officer = officer
        self.all_files = all_files

    @classmethod
    async def open(cls, device: usb.core.Device, *, serial: str | None = None, officer: str | None = None,
                   all_files: bool = False, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> PtpCamera:
        """Open a session.  ``serial``/``officer`` from an unlock driver win over what the camera says."""
        session = PtpSession(device, timeout_ms=timeout_ms)
        try:
            info = await asyncio.to_thread(session.open)
            serial = serial or info.serial_number.strip() or await asyncio.to_thread(serial_of, device)
        except BaseException:
            await asyncio.to_thread(session.close)
            raise
        if not serial:
            # no serial anywhere: stable across dockings, but shared by identical models
            serial = f"usb-{device.idVendor:04x}-{device.idProduct:04x}"
            logger.warning("camera %s %s reports no serial number; using %s", info.manufacturer, info.model, serial)
        return cls(session, serial, officer, all_files=all_files)

    def _scan(self) -> list[CameraFile]:
        storages = self.session.storage_ids()
        found = []
        for storage_id in storages:
            infos = [self.session.object_info(h) for h in self.session.object_handles(storage_id)]
            by_handle = {i.handle: i for i in infos}
            for info in infos:
                if info.is_folder:
                    continue
                name = _path(info, by_handle)
                if len(storages) > 1:
                    name = f"{storage_id:08x}/{name}"
                if not self.all_files and PurePosixPath(name).suffix.lower() not in MEDIA_SUFFIXES:
                    continue
                found.append(_listed(name, storage_id, info))
        return sorted(found, key=lambda f: f.name)

    async def list_files(self) -> list[CameraFile]:
        return await asyncio.to_thread(self._scan)

    async def read(self, f: CameraFile, offset: int, length: int) -> bytes:
        _, handle = parse_handle(f.handle)
        return await asyncio.to_thread(self.session.read_partial, handle, offset, length)

    async def stat(self, f: CameraFile) -> CameraFile | None:
        """The object's info asked again: size and dates as the camera says now; None if it is gone."""
        storage_id, handle = parse_handle(f.handle)
        try:
            info = await asyncio.to_thread(self.session.object_info, handle)
        except PtpError as exc:
            if exc.code == INVALID_OBJECT_HANDLE:
                return None
            raise
        return _listed(f.name, storage_id, info)

    async def delete(self, f: CameraFile) -> None:
        _, handle = parse_handle(f.handle)
        await asyncio.to_thread(self.session.delete_object, handle)

    async def camera_time(self) -> str | None:
        """The camera's clock as ISO 8601 (no offset: camera-local time), None if it has none to give."""
        return iso_datetime(await asyncio.to_thread(self.session.device_time))

    async def close(self) -> None:
        await asyncio.to_thread(self.session.close)

    async def __aenter__(self) -> PtpCamera:
        return self

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
