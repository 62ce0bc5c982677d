"""Court bundles on disk: writing a zip, reading a zip or a directory, verifying either.

The edge of ``integrity``: the only module here that opens files.  ``integrity.bundle`` holds the
layout and does the verifying over a ``BundleSource``; ``BundleReader`` is that source for a zip file
or a directory, and also checks that a zip holds no bytes outside its listed members.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from integrity.bundle import (
    CHECKPOINT,
    ENTRIES,
    OBJECTS_DIR,
    TIMESTAMPS_DIR,
    Report,
    Trust,
    unreadable,
    verify_source,
    vkey_file_name,
    witness_file_name,
)
from integrity.errors import IntegrityError, NoteFormatError
from integrity.hashing import is_blake3_hex

# -- writing ------------------------------------------------------------------------------------


class BundleWriter:
    """Writes a zip bundle.  Media is stored uncompressed: video does not compress, reads stay fast."""

    def __init__(self, path: str | Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True)

    def write_checkpoint(self, note: bytes) -> None:
        self._zip.writestr(CHECKPOINT, note)

    def write_entries(self, bodies: Iterable[bytes]) -> None:
        with self._zip.open(ENTRIES, "w", force_zip64=True) as out:
            for body in bodies:
                out.write(body + b"\n")

    def write_vkey(self, vkey: str) -> None:
        self._zip.writestr(vkey_file_name(vkey), vkey.strip() + "\n")

    def write_witness_vkey(self, vkey: str) -> None:
        self._zip.writestr(witness_file_name(vkey), vkey.strip() + "\n")

    def write_index(self, files: dict[str, bytes]) -> None:
        """The readable index members (``integrity.bundle_index``), written last: they describe the rest."""
        for name, data in files.items():
            self._zip.writestr(name, data)

    def write_timestamp(self, name: str, files: dict[str, bytes]) -> None:
        """``timestamps/<name><suffix>`` for each suffix given (see ``integrity.timestamp``)."""
        for suffix, data in files.items():
            self._zip.writestr(f"{TIMESTAMPS_DIR}{name}{suffix}", data)

    def open_object(self, blake3_hex: str) -> IO[bytes]:
        if not is_blake3_hex(blake3_hex):
            raise ValueError(f"not a BLAKE3 hex digest: {blake3_hex!r}")
        info = zipfile.ZipInfo(OBJECTS_DIR + blake3_hex, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        return self._zip.open(info, "w", force_zip64=True)

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- reading ------------------------------------------------------------------------------------


class BundleReader:
    """A zip or directory bundle as a ``BundleSource``: names are bundle-relative with ``/`` separators."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_dir():
            return
        try:
            self._zip = zipfile.ZipFile(self.path)
        except Exception as exc:  # BadZipFile, OSError, NotImplementedError (a mangled version field), ...
            raise NoteFormatError(f"{self.path}: not a bundle (neither a zip file nor a directory): {exc}") from exc

    def check_container(self) -> None:
        """A zip's members must tile the file up to its central directory: no unlisted bytes.

        Python's zipfile trusts the directory; a damaged count or offset there could silently hide
        members (a bundle that lost its media would still look like a valid media-less bundle).
        """
        if self._zip is None:
            return
        with open(self.path, "rb") as fh:
            pos = 0
            for info in sorted(self._zip.infolist(), key=lambda i: i.header_offset):
                if info.header_offset != pos:
                    raise NoteFormatError(f"zip: bytes {pos}..{info.header_offset} belong to no listed member")
                fh.seek(pos)
                header = fh.read(30)
                if len(header) != 30 or header[:4] != b"PK\x03\x04":
                    raise NoteFormatError(f"zip: no local header for {info.filename} at {pos}")
                name_len, extra_len = struct.unpack("<HH", header[26:30])
                pos += 30 + name_len + extra_len + info.compress_size
                if info.flag_bits & 0x08:  # a data descriptor follows the data
                    fh.seek(pos)
                    sig = fh.read(4)
                    zip64 = info.compress_size >= 0xFFFFFFFF or info.file_size >= 0xFFFFFFFF
                    pos += (4 if sig == b"PK\x07\x08" else 0) + (20 if zip64 else 12)
            start_dir = getattr(self._zip, "start_dir", pos)
            if pos != start_dir:
                raise NoteFormatError(f"zip: bytes {pos}..{start_dir} belong to no listed member")

    def names(self) -> list[str]:
        if self._zip is not None:
            return [n for n in self._zip.namelist() if not n.endswith("/")]
        return sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*") if p.is_file())

    def open(self, name: str) -> IO[bytes]:
        if self._zip is not None:
            try:
                info = self._zip.getinfo(name)
            except KeyError:
                raise FileNotFoundError(f"bundle has no {name}") from None
            if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x01:
                return _stored_member(self.path, info)
            return self._zip.open(info)
        target = (self.path / name).resolve()
        if self.path.resolve() not in target.parents:
            raise FileNotFoundError(f"bundle has no {name}")
        return open(target, "rb")

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



def _stored_member(path: Path, info: zipfile.ZipInfo) -> io.BufferedReader:
    """An uncompressed zip member read straight from the file: ``readinto`` fills the caller's buffer.

    ``zipfile`` would copy every block on the way; here the caller's buffer is filled in place (the
    verifier's hashing pipeline) and the CRC-32 the zip records is still checked at the end, so a
    bundle that ``unzip`` would call damaged fails here too.
    """
    if info.file_size != info.compress_size:
        raise NoteFormatError(f"zip: {info.filename} is stored, yet its two sizes differ")
    fh = open(path, "rb", buffering=0)
    try:
        fh.seek(info.header_offset)
        header = fh.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise NoteFormatError(f"zip: no local header for {info.filename} at {info.header_offset}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        if fh.read(name_len) != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"):
            raise NoteFormatError(f"zip: the local header at {info.header_offset} names another member")
        fh.seek(info.header_offset + 30 + name_len + extra_len)
    except BaseException:
        fh.close()
        raise
    return io.BufferedReader(_Slice(fh, info.compress_size, info.CRC, info.filename), buffer_size=64 * 1024)


class _Slice(io.RawIOBase):
    """The next ``length`` bytes of an open raw file, then end of file; their CRC-32 must be ``crc``."""

    def __init__(self, raw: io.FileIO, length: int, crc: int, name: str) -> None:
        self._raw, self._left, self._expected, self._name = raw, length, crc, name
        self._crc = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        n = self._raw.readinto(view[: min(len(view), self._left)]) if self._left else 0
        if n is None:
            return 0
        self._left -= n
        if n == 0 and self._left:
            raise NoteFormatError(f"zip: {self._name} ends {self._left} bytes early")
        self._crc = zlib.crc32(view[:n], self._crc)
        if not self._left and n and self._crc != self._expected:
            raise NoteFormatError(f"zip: bad CRC-32 for {self._name}")
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


# -- verifying ----------------------------------------------------------------------------------


def verify_bundle(path: str | Path, vkeys: list[str] | None = None, trust: Trust | None = None) -> Report:
    """Verify a zip or directory bundle; the report names the first failure and where, never raises."""
    try:
        reader = BundleReader(path)
    except IntegrityError as exc:
        return _failed(path, str(path), exc)
    with reader:
        try:
            reader.check_container()
        except NoteFormatError as exc:
            return _failed(path, str(reader.path), exc)
        except Exception as exc:  # the zip's own bookkeeping cannot even be read through
            return _failed(path, str(path), unreadable(exc))
        return verify_source(reader, vkeys, bundle=str(path), trust=trust)


def _failed(path: str | Path, place: str, error: IntegrityError) -> Report:
    report = Report(bundle=str(path))
    report.fail(place, error)
    return report
