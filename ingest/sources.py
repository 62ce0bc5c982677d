"""Where recordings come from: a docked camera (PTP/MTP over USB, or a mounted mass-storage volume).

Every source has the same small async shape, so the agent's pipeline does not care how a camera is
attached.  A directory source treats a folder as a docked mass-storage camera: the OS-mounted
volume of an unlocked recorder, or a folder for a manual import.  Its files being local, it is
also a :class:`MountedSource`, which the agent copies in the kernel rather than through ``read``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

#: Recording files a body camera writes; everything else on the volume (logs, firmware) is left alone.
MEDIA_SUFFIXES = frozenset({".mp4", ".mov", ".avi", ".mkv", ".ts", ".m4v", ".3gp", ".wav", ".mp3", ".m4a",
                            ".jpg", ".jpeg", ".png", ".amr"})


@dataclass(frozen=True)
class CameraFile:
    """One recording on a camera.  ``handle`` is valid for this docking session only."""

    name: str
    size: int
    recorded_at: str | None
    handle: str
    #: The source's modification stamp, compared for equality only (a mounted file's mtime in ns, a
    #: PTP camera's ModificationDate); None if the source keeps none.
    modified: str | None = None
    #: When the file was last written, in epoch seconds, if the source knows (a mounted volume does).
    mtime: float | None = None

    def same_version(self, other: CameraFile) -> bool:
        """Whether ``other`` lists the same bytes as far as the listing can tell (not a content check)."""
        return (self.name, self.size, self.recorded_at, self.modified) == (
            other.name, other.size, other.recorded_at, other.modified)


class CameraSource(Protocol):
    serial: str
    officer: str | None

    async def list_files(self) -> list[CameraFile]: ...

    async def read(self, f: CameraFile, offset: int, length: int) -> bytes: ...

    async def stat(self, f: CameraFile) -> CameraFile | None:
        """``f`` as the camera lists it now (size, stamps), or None if it is gone."""
        ...

    async def delete(self, f: CameraFile) -> None: ...

    async def camera_time(self) -> str | None: ...

    async def close(self) -> None: ...


@runtime_checkable
class MountedSource(Protocol):
    """A camera whose recordings are files on this machine (a mounted volume, a folder).

    The agent copies such files into the spool inside the kernel, as ``cp`` does, instead of
    reading them through ``CameraSource.read``.
    """

    def local_path(self, f: CameraFile) -> Path: ...


class DirectorySource:
    """A folder as a camera.  ``removable`` False (manual imports): files are never deleted."""

    def __init__(self, root: Path, *, serial: str | None = None, officer: str | None = None,
                 removable: bool = False, all_files: bool = False) -> None:
        self.root = Path(root)
        self.serial = serial or f"dir:{self.root.resolve().name}"
        self.officer = officer
        self.removable = removable
        self.all_files = all_files

    @property
    def _base(self) -> Path:
        return self.root.parent if self.root.is_file() else self.root

    def _scan(self) -> list[CameraFile]:
        found = []
        single = self.root.is_file()  # one file named on the command line: taken whatever its type
        for path in [self.root] if single else sorted(self.root.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            if not (single or self.all_files) and path.suffix.lower() not in MEDIA_SUFFIXES:
                continue
            found.append(_listed(path.relative_to(self._base).as_posix(), path.stat()))
        return found

    async def list_files(self) -> list[CameraFile]:
        return await asyncio.to_thread(self._scan)

    def local_path(self, f: CameraFile) -> Path:
        """Where ``f`` is on this machine; never outside the source folder."""
        path = (self._base / f.handle).resolve()
        if self._base.resolve() not in path.parents:
            raise ValueError(f"{f.handle!r} is outside the source folder")
        return path

    async def read(self, f: CameraFile, offset: int, length: int) -> bytes:
        def pread() -> bytes:
            fd = os.open(self.local_path(f), os.O_RDONLY)
            try:
                return os.pread(fd, length, offset)
            finally:
                os.close(fd)

        return await asyncio.to_thread(pread)

    async def stat(self, f: CameraFile) -> CameraFile | None:
        try:
            st = await asyncio.to_thread(os.stat, self.local_path(f))
        except FileNotFoundError:
            return None
        return _listed(f.handle, st)

    async def delete(self, f: CameraFile) -> None:
        if not self.removable:
            return  # a manual import never deletes the user's files
        await asyncio.to_thread(self.local_path(f).unlink)

    async def camera_time(self) -> str | None:
        return None  # a plain volume has no clock to ask

    async def close(self) -> None:
        return None


def _listed(rel: str, st: os.stat_result) -> CameraFile:
    recorded = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return CameraFile(name=rel, size=st.st_size, recorded_at=recorded, handle=rel, modified=str(st.st_mtime_ns),
                      mtime=st.st_mtime)
