"""PTP/MTP over USB: container framing, the datasets the agent reads, and one session with a camera.

Specs: PIMA 15740:2000 / ISO 15740 (PTP operations, response codes, datasets, strings); the USB
Still Image Capture Device Definition 1.0 (bulk-pipe containers, the interrupt-pipe events); MTP
1.1 (object properties: ObjectSize 0xDC04 through GetObjectPropValue, for objects of 4 GiB and
more, whose 32-bit ObjectCompressedSize says 0xFFFFFFFF); GetPartialObject64 0x95C1 is the Android
MTP extension (offset as two 32-bit halves), used only when DeviceInfo lists it.

Every container is little-endian: length u32 (header included), type u16, code u16, transaction
id u32, then up to five u32 parameters (command, response, event) or the payload (data).  A
container travels as one USB bulk transfer, ended by a short packet or a zero-length packet, so a
data phase spans many packets and is read until its declared length has arrived.  Objects are read
a chunk at a time (GetPartialObject); nothing here ever holds more than the requested chunk.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import logging
import re
import struct
import threading
import time
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from types import TracebackType
from typing import NoReturn

import usb.core
import usb.util

from ingest.usb import ptp_interface

logger = logging.getLogger(__name__)


class ContainerType(IntEnum):
    COMMAND = 1
    DATA = 2
    RESPONSE = 3
    EVENT = 4


class Op(IntEnum):
    GET_DEVICE_INFO = 0x1001
    OPEN_SESSION = 0x1002
    CLOSE_SESSION = 0x1003
    GET_STORAGE_IDS = 0x1004
    GET_OBJECT_HANDLES = 0x1007
    GET_OBJECT_INFO = 0x1008
    GET_OBJECT = 0x1009
    DELETE_OBJECT = 0x100B
    GET_DEVICE_PROP_VALUE = 0x1015
    GET_PARTIAL_OBJECT = 0x101B
    GET_OBJECT_PROP_VALUE = 0x9803  # MTP
    GET_PARTIAL_OBJECT_64 = 0x95C1  # Android MTP extension


class Event(IntEnum):
    OBJECT_ADDED = 0x4002
    OBJECT_REMOVED = 0x4003
    STORE_ADDED = 0x4004
    STORE_REMOVED = 0x4005
    DEVICE_INFO_CHANGED = 0x4008
    STORE_FULL = 0x400A
    DEVICE_RESET = 0x400B
    STORAGE_INFO_CHANGED = 0x400C


OK = 0x2001
#: Response codes a person may meet in a log; the rest print as hex.
RESPONSE_NAMES: dict[int, str] = {
    0x2001: "OK", 0x2002: "GeneralError", 0x2003: "SessionNotOpen", 0x2004: "InvalidTransactionID",
    0x2005: "OperationNotSupported", 0x2006: "ParameterNotSupported", 0x2007: "IncompleteTransfer",
    0x2008: "InvalidStorageID", 0x2009: "InvalidObjectHandle", 0x200A: "DevicePropNotSupported",
    0x200B: "InvalidObjectFormatCode", 0x200C: "StoreFull", 0x200D: "ObjectWriteProtected",
    0x200E: "StoreReadOnly", 0x200F: "AccessDenied", 0x2010: "NoThumbnailPresent", 0x2012: "PartialDeletion",
    0x2013: "StoreNotAvailable", 0x2015: "NoValidObjectInfo", 0x2019: "DeviceBusy",
    0x201A: "InvalidParentObject", 0x201D: "InvalidParameter", 0x201E: "SessionAlreadyOpen",
    0x201F: "TransactionCancelled", 0xA801: "InvalidObjectPropCode", 0xA802: "InvalidObjectPropFormat",
    0xA803: "InvalidObjectPropValue", 0xA80A: "ObjectPropNotSupported",
}
SESSION_ALREADY_OPEN = 0x201E
INVALID_OBJECT_HANDLE = 0x2009  # the object is gone (deleted since it was listed)
UNSUPPORTED = frozenset({0x2005, 0x200A, 0xA80A})  # "not supported" answers that mean: go without

#: Device property DateTime: a PTP string 'YYYYMMDDThhmmss[.s][Z|+hhmm]'.
PROP_DATE_TIME = 0x5011
#: MTP object property ObjectSize (UINT64).
PROP_OBJECT_SIZE = 0xDC04
#: ObjectFormat of a folder.
FORMAT_ASSOCIATION = 0x3001
#: ObjectCompressedSize meaning "4 GiB or more: ask ObjectSize".
SIZE_FOLLOWS = 0xFFFFFFFF

HEADER = struct.Struct("<IHHI")
HEADER_BYTES = HEADER.size
MAX_PARAMS = 5
MAX_EVENT_PARAMS = 3
#: Largest dataset (DeviceInfo, ObjectInfo, a handle array) accepted; bounds memory against a bad length field.
MAX_DATASET_BYTES = 64 * 1024 * 1024
#: First read of a container of unknown size; a multiple of every bulk packet size.
FIRST_READ_BYTES = 16 * 1024
#: Largest single USB read; larger containers arrive over several reads.
MAX_READ_BYTES = 8 * 1024 * 1024
#: A transfer making no progress for this long is a dead camera or a dead link.
DEFAULT_TIMEOUT_MS = 5000
SESSION_ID = 1
U32 = 0xFFFFFFFF


def op_name(op: int) -> str:
    return Op(op).name if op in Op._value2member_map_ else f"0x{op:04X}"


class PtpError(Exception):
    """The camera answered an operation with a response code other than OK."""

    def __init__(self, code: int, op: int) -> None:
        self.code = code
        self.op = op
        self.name = RESPONSE_NAMES.get(code, f"0x{code:04X}")
        super().__init__(f"{op_name(op)} failed: {self.name} (0x{code:04X})")


class PtpProtocolError(Exception):
    """A container was short, garbled or out of step; the session can no longer be trusted."""


class PtpTimeout(PtpProtocolError):
    """The camera stopped sending in the middle of a transaction."""


class DeviceGone(ConnectionError):
    """The camera left the bus (unplugged, or re-enumerating)."""


class ObjectTooLarge(Exception):
    """A read past 4 GiB on a camera that lacks GetPartialObject64."""


class NotPtpDevice(Exception):
    """The device has no PTP/MTP interface with bulk in and out endpoints."""


# -- containers ------------------------------------------------------------------------------


def pack_command(code: int, transaction_id: int, params: Sequence[int] = ()) -> bytes:
    if len(params) > MAX_PARAMS:
        raise ValueError(f"a command carries at most {MAX_PARAMS} parameters")
    return HEADER.pack(HEADER_BYTES + 4 * len(params), ContainerType.COMMAND, code, transaction_id) + struct.pack(
        f"<{len(params)}I", *params
    )


def unpack_params(payload: bytes, limit: int = MAX_PARAMS) -> tuple[int, ...]:
    if len(payload) % 4 or len(payload) > 4 * limit:
        raise PtpProtocolError(f"parameter block of {len(payload)} bytes is not 0..{limit} u32 values")
    return struct.unpack(f"<{len(payload) // 4}I", payload)


# -- datasets --------------------------------------------------------------------------------


class DatasetReader:
    """Reads a PTP dataset field by field; running off the end is a protocol error, not an IndexError."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._what = what

    def _take(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        if self._pos + size > len(self._data):
            raise PtpProtocolError(f"{self._what} dataset ends early at byte {self._pos}")
        (value,) = struct.unpack_from(fmt, self._data, self._pos)
        self._pos += size
        return int(value)

    def u8(self) -> int:
        return self._take("<B")

    def u16(self) -> int:
        return self._take("<H")

    def u32(self) -> int:
        return self._take("<I")

    def u64(self) -> int:
        return self._take("<Q")

    def string(self) -> str:
        """A PTP string: u8 character count (terminating NUL included), then UTF-16LE; 0 is empty."""
        count = self.u8()
        end = self._pos + 2 * count
        if end > len(self._data):
            raise PtpProtocolError(f"{self._what} dataset: string runs past the end")
        raw = self._data[self._pos:end]
        self._pos = end
        try:
            return raw.decode("utf-16-le").rstrip("\x00")
        except UnicodeDecodeError as exc:
            raise PtpProtocolError(f"{self._what} dataset: string is not UTF-16") from exc

    def _array(self, item: str) -> tuple[int, ...]:
        count = self.u32()
        size = struct.calcsize(item)
        if self._pos + count * size > len(self._data):
            raise PtpProtocolError(f"{self._what} dataset: array of {count} runs past the end")
        values = struct.unpack_from(f"<{count}{item}", self._data, self._pos)
        self._pos += count * size
        return tuple(values)

    def u16_array(self) -> tuple[int, ...]:
        return self._array("H")

    def u32_array(self) -> tuple[int, ...]:
        return self._array("I")


@dataclass(frozen=True)
class DeviceInfo:
    standard_version: int
    vendor_extension_id: int
    vendor_extension_version: int
    vendor_extension_desc: str
    functional_mode: int
    operations_supported: frozenset[int]
    events_supported: frozenset[int]
    device_properties_supported: frozenset[int]
    capture_formats: tuple[int, ...]
    playback_formats: tuple[int, ...]
    manufacturer: str
    model: str
    device_version: str
    serial_number: str

    @classmethod
    def parse(cls, data: bytes) -> DeviceInfo:
        r = DatasetReader(data, "DeviceInfo")
        return cls(
            standard_version=r.u16(), vendor_extension_id=r.u32(), vendor_extension_version=r.u16(),
            vendor_extension_desc=r.string(), functional_mode=r.u16(),
            operations_supported=frozenset(r.u16_array()), events_supported=frozenset(r.u16_array()),
            device_properties_supported=frozenset(r.u16_array()),
            capture_formats=r.u16_array(), playback_formats=r.u16_array(),
            manufacturer=r.string(), model=r.string(), device_version=r.string(), serial_number=r.string(),
        )


@dataclass(frozen=True)
class ObjectInfo:
    """One object (file or folder).  ``size`` is the true size, past 4 GiB included."""

    handle: int
    storage_id: int
    name: str
    size: int
    captured: str | None  # PTP DateTime string as the camera gave it
    modified: str | None
    format: int
    parent: int

    @property
    def is_folder(self) -> bool:
        return self.format == FORMAT_ASSOCIATION

    @classmethod
    def parse(cls, handle: int, data: bytes) -> ObjectInfo:
        r = DatasetReader(data, "ObjectInfo")
        storage_id, fmt, _protection, size = r.u32(), r.u16(), r.u16(), r.u32()
        _thumb_format, _thumb_size, _tw, _th = r.u16(), r.u32(), r.u32(), r.u32()
        _iw, _ih, _depth = r.u32(), r.u32(), r.u32()
        parent, _assoc_type, _assoc_desc, _seq = r.u32(), r.u16(), r.u32(), r.u32()
        name, captured, modified = r.string(), r.string(), r.string()
        return cls(handle=handle, storage_id=storage_id, name=name, size=size, captured=captured or None,
                   modified=modified or None, format=fmt, parent=parent)


@dataclass(frozen=True)
class PtpEvent:
    code: int
    transaction_id: int
    params: tuple[int, ...]


_DATETIME = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(?:\.(\d))?(Z|[+-]\d{4})?")


def parse_datetime(value: str | None) -> dt.datetime | None:
    """A PTP DateTime string as a datetime (naive when the camera gives no zone); None if malformed."""
    match = _DATETIME.fullmatch(value.strip()) if value else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    tenths, zone = match.group(7), match.group(8)
    tz: dt.tzinfo | None = None
    if zone == "Z":
        tz = dt.UTC
    elif zone:
        sign = -1 if zone[0] == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])))
    try:
        return dt.datetime(year, month, day, hour, minute, second, int(tenths or 0) * 100_000, tzinfo=tz)
    except ValueError:
        return None


def iso_datetime(value: str | None) -> str | None:
    """A PTP DateTime string as ISO 8601 (no offset when the camera gives none: camera-local time)."""
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    return parsed.isoformat(timespec="milliseconds" if parsed.microsecond else "seconds")


# -- session ---------------------------------------------------------------------------------


def _round_up(n: int, unit: int) -> int:
    return -(-n // unit) * unit


@dataclass
class _Endpoints:
    interface: int
    bulk_in: int
    bulk_out: int
    interrupt_in: int | None
    packet: int  # bulk IN wMaxPacketSize
    event_packet: int


def _endpoints(device: usb.core.Device) -> _Endpoints:
    intf = ptp_interface(device)
    if intf is None:
        raise NotPtpDevice(f"{device.idVendor:04x}:{device.idProduct:04x} has no PTP/MTP interface")
    found: dict[tuple[int, int], usb.core.Endpoint] = {}
    for ep in intf:
        key = (usb.util.endpoint_direction(ep.bEndpointAddress), usb.util.endpoint_type(ep.bmAttributes))
        found.setdefault(key, ep)
    bulk_in = found.get((usb.util.ENDPOINT_IN, usb.util.ENDPOINT_TYPE_BULK))
    bulk_out = found.get((usb.util.ENDPOINT_OUT, usb.util.ENDPOINT_TYPE_BULK))
    intr_in = found.get((usb.util.ENDPOINT_IN, usb.util.ENDPOINT_TYPE_INTR))
    if bulk_in is None or bulk_out is None:
        raise NotPtpDevice("the PTP interface lacks a bulk in or bulk out endpoint")
    return _Endpoints(
        interface=int(intf.bInterfaceNumber), bulk_in=int(bulk_in.bEndpointAddress),
        bulk_out=int(bulk_out.bEndpointAddress),
        interrupt_in=None if intr_in is None else int(intr_in.bEndpointAddress),
        packet=int(bulk_in.wMaxPacketSize) or 512, event_packet=int(intr_in.wMaxPacketSize) if intr_in else 0,
    )


class PtpSession:
    """One PTP session with a camera over pyusb.  Blocking; one transaction at a time (thread-safe).

    After a :class:`PtpProtocolError` or :class:`DeviceGone` the session refuses further work:
    close it, and open a fresh one once the camera is back.
    """

    def __init__(self, device: usb.core.Device, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        self.device = device
        self.timeout_ms = timeout_ms
        self.info: DeviceInfo | None = None
        self._ep: _Endpoints | None = None
        self._tid = 0
        self._open = False
        self._failure: PtpProtocolError | DeviceGone | None = None
        self._lock = threading.Lock()
        self._event_lock = threading.Lock()
        self._buffers: dict[int, array[int]] = {}

    # .. lifecycle

    def open(self) -> DeviceInfo:
        """Claim the PTP interface, read DeviceInfo and open a session."""
        try:
            self._claim()
        except usb.core.USBError as exc:
            self._raise_usb(exc, "claiming the interface")
        self.info = self.device_info()
        self._tid = 0  # OpenSession is transaction 0; the session's first transaction is 1
        try:
            self._transact(Op.OPEN_SESSION, (SESSION_ID,))
        except PtpError as exc:
            if exc.code != SESSION_ALREADY_OPEN:  # left open by a host that died: carry on in it
                raise
        self._open = True
        return self.info

    def _claim(self) -> None:
        try:
            self.device.get_active_configuration()
        except usb.core.USBError:
            self.device.set_configuration()
        self._ep = _endpoints(self.device)
        try:
            if self.device.is_kernel_driver_active(self._ep.interface):
                self.device.detach_kernel_driver(self._ep.interface)
        except (NotImplementedError, usb.core.USBError):
            pass  # backends without kernel drivers (and non-Linux hosts) have nothing to detach
        usb.util.claim_interface(self.device, self._ep.interface)

    def close(self) -> None:
        """Close the session if the camera is still there; always release the device."""
        try:
            if self._open and self._failure is None:
                self._transact(Op.CLOSE_SESSION)
        except (PtpError, PtpProtocolError, DeviceGone) as exc:
            logger.info("closing PTP session: %s", exc)
        finally:
            self._open = False
            self._failure = self._failure or PtpProtocolError("the session is closed")
            usb.util.dispose_resources(self.device)

    def __enter__(self) -> PtpSession:
        self.open()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # .. operations

    def device_info(self) -> DeviceInfo:
        data, _ = self._transact(Op.GET_DEVICE_INFO, data_in=True)
        return DeviceInfo.parse(data)

    def supports(self, op: int) -> bool:
        return self.info is not None and op in self.info.operations_supported

    def storage_ids(self) -> list[int]:
        data, _ = self._transact(Op.GET_STORAGE_IDS, data_in=True)
        return list(DatasetReader(data, "StorageIDs").u32_array())

    def object_handles(self, storage_id: int, *, format_code: int = 0, parent: int = 0) -> list[int]:
        """Every object in the storage (``parent`` 0: all levels; 0xFFFFFFFF: the root only)."""
        data, _ = self._transact(Op.GET_OBJECT_HANDLES, (storage_id, format_code, parent), data_in=True)
        return list(DatasetReader(data, "ObjectHandles").u32_array())

    def object_info(self, handle: int) -> ObjectInfo:
        data, _ = self._transact(Op.GET_OBJECT_INFO, (handle,), data_in=True)
        info = ObjectInfo.parse(handle, data)
        if info.size == SIZE_FOLLOWS:
            info = dataclasses.replace(info, size=self.object_size(handle))
        return info

    def object_size(self, handle: int) -> int:
        """The 64-bit ObjectSize property (MTP)."""
        data, _ = self._transact(Op.GET_OBJECT_PROP_VALUE, (handle, PROP_OBJECT_SIZE), data_in=True, expect=8)
        if len(data) != 8:
            raise PtpProtocolError(f"ObjectSize of object {handle:#x} is {len(data)} bytes, not 8")
        return int.from_bytes(data, "little")

    def read_partial(self, handle: int, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes of an object from ``offset``; fewer only at the end of the object."""
        if not 0 < length <= U32 - HEADER_BYTES or offset < 0:
            raise ValueError(f"cannot read {length} bytes at {offset}")
        params: tuple[int, ...]
        if self.supports(Op.GET_PARTIAL_OBJECT_64):
            op, params = Op.GET_PARTIAL_OBJECT_64, (handle, offset & U32, offset >> 32, length)
        elif offset > U32:
            raise ObjectTooLarge(f"offset {offset} of object {handle:#x} needs GetPartialObject64, "
                                 "which this camera lacks")
        else:
            op, params = Op.GET_PARTIAL_OBJECT, (handle, offset, length)
        data, response = self._transact(op, params, data_in=True, expect=length)
        if len(data) > length or (response and response[0] != len(data)):
            raise PtpProtocolError(f"{op_name(op)}: asked {length} bytes, got {len(data)}, "
                                   f"response says {response[0] if response else '-'}")
        return data

    def iter_object(self, handle: int, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        """The whole object, ``chunk`` bytes at a time."""
        size = self.object_info(handle).size
        offset = 0
        while offset < size:
            data = self.read_partial(handle, offset, min(chunk, size - offset))
            if not data:
                raise PtpProtocolError(f"object {handle:#x} ended at {offset} of {size} bytes")
            offset += len(data)
            yield data

    def delete_object(self, handle: int) -> None:
        self._transact(Op.DELETE_OBJECT, (handle, 0))

    def device_time(self) -> str | None:
        """The camera's clock as its PTP DateTime string, or None when it does not offer one."""
        info = self.info
        if info is None or Op.GET_DEVICE_PROP_VALUE not in info.operations_supported or (
            PROP_DATE_TIME not in info.device_properties_supported
        ):
            return None
        try:
            data, _ = self._transact(Op.GET_DEVICE_PROP_VALUE, (PROP_DATE_TIME,), data_in=True)
        except PtpError as exc:
            if exc.code in UNSUPPORTED:
                return None
            raise
        return DatasetReader(data, "DateTime").string() or None

    def poll_event(self, timeout_ms: int = 0) -> PtpEvent | None:
        """The next event from the interrupt endpoint, or None if none arrives within ``timeout_ms``."""
        ep = self._endpoints()
        if ep.interrupt_in is None:
            return None
        size = _round_up(HEADER_BYTES + 4 * MAX_EVENT_PARAMS, ep.event_packet or 64)
        with self._event_lock:
            try:
                raw = self.device.read(ep.interrupt_in, size, timeout=max(1, timeout_ms))
            except usb.core.USBTimeoutError:
                return None
            except usb.core.USBError as exc:
                self._raise_usb(exc, "reading an event")
        data = bytes(raw)
        if len(data) < HEADER_BYTES:
            raise PtpProtocolError(f"event of {len(data)} bytes is shorter than a container header")
        length, ctype, code, tid = HEADER.unpack_from(data)
        if ctype != ContainerType.EVENT or length != len(data):
            raise PtpProtocolError(f"bad event container: type {ctype}, length {length}, {len(data)} bytes read")
        return PtpEvent(code, tid, unpack_params(data[HEADER_BYTES:], MAX_EVENT_PARAMS))

    # .. transactions

    def _endpoints(self) -> _Endpoints:
        if self._ep is None:
            raise PtpProtocolError("the session is not open")
        return self._ep

    def _transact(self, op: int, params: Sequence[int] = (), *, data_in: bool = False,
                  expect: int = 0) -> tuple[bytes, tuple[int, ...]]:
        """One operation: command, optional data from the camera, response.  Returns (data, response params)."""
        with self._lock:
            if self._failure is not None:
                # same class as the first failure: a gone camera stays DeviceGone for every later call
                raise type(self._failure)(f"session unusable ({self._failure}); open a new one")
            tid = self._tid
            self._tid = self._tid + 1 if self._tid < U32 - 1 else 1
            try:
                return self._exchange(op, tid, params, data_in, expect)
            except (PtpProtocolError, DeviceGone) as exc:
                self._failure = exc
                raise

    def _exchange(self, op: int, tid: int, params: Sequence[int], data_in: bool,
                  expect: int) -> tuple[bytes, tuple[int, ...]]:
        ep = self._endpoints()
        command = pack_command(op, tid, params)
        try:
            sent = self.device.write(ep.bulk_out, command, timeout=self.timeout_ms)
        except usb.core.USBError as exc:
            self._raise_usb(exc, f"sending {op_name(op)}")
        if sent != len(command):
            raise PtpProtocolError(f"camera took {sent} of {len(command)} command bytes")
        limit = HEADER_BYTES + (expect or MAX_DATASET_BYTES)
        ctype, code, body = self._receive(op, tid, HEADER_BYTES + expect if expect else FIRST_READ_BYTES, limit)
        data = b""
        if ctype == ContainerType.DATA:
            if not data_in:
                raise PtpProtocolError(f"camera sent a data phase for {op_name(op)}, which has none")
            data = body
            ctype, code, body = self._receive(op, tid, HEADER_BYTES + 4 * MAX_PARAMS, HEADER_BYTES + 4 * MAX_PARAMS)
            if ctype != ContainerType.RESPONSE:
                raise PtpProtocolError(f"{op_name(op)}: a second data container where the response belongs")
        response = unpack_params(body)
        if code != OK:
            raise PtpError(code, op)
        return data, response

    def _receive(self, op: int, tid: int, first: int, limit: int) -> tuple[int, int, bytes]:
        """One container from bulk IN: (type, code, payload).

        ``first`` sizes the first read (the whole container when the caller knows it); ``limit`` is
        the largest length field accepted, so a garbled header cannot make us buffer gigabytes.
        """
        ep = self._endpoints()
        ask = min(_round_up(first, ep.packet), MAX_READ_BYTES)
        buf = self._buffer(ask)
        n = self._read(buf, skip_zlp=True)
        if n < HEADER_BYTES:
            raise PtpProtocolError(f"{op_name(op)}: transfer of {n} bytes is shorter than a container header")
        length, ctype, code, ctid = HEADER.unpack_from(buf)
        self._check_header(op, tid, length, ctype, code, ctid, limit)
        view = memoryview(buf)
        if n > length:
            raise PtpProtocolError(f"{op_name(op)}: container declares {length} bytes but the transfer has {n}")
        if n == length:
            return ctype, code, bytes(view[HEADER_BYTES:n])
        if n < ask and n != HEADER_BYTES:  # a short packet ended the transfer early (a lone header is a known quirk)
            raise PtpProtocolError(f"{op_name(op)}: container declares {length} bytes, transfer ended after {n}")
        out = bytearray(length)
        out[:n] = view[:n]
        got = n
        while got < length:
            ask = min(_round_up(length - got, ep.packet), MAX_READ_BYTES)
            buf = self._buffer(ask)
            k = self._read(buf, skip_zlp=False)
            if got + k > length:
                raise PtpProtocolError(f"{op_name(op)}: container declares {length} bytes, camera sent {got + k}")
            out[got:got + k] = memoryview(buf)[:k]
            got += k
            if got < length and k < ask:
                raise PtpProtocolError(f"{op_name(op)}: container declares {length} bytes, transfer ended after {got}")
        return ctype, code, bytes(memoryview(out)[HEADER_BYTES:])

    @staticmethod
    def _check_header(op: int, tid: int, length: int, ctype: int, code: int, ctid: int, limit: int) -> None:
        if ctype not in (ContainerType.DATA, ContainerType.RESPONSE):
            raise PtpProtocolError(f"{op_name(op)}: container of type {ctype} where data or a response belongs")
        if ctid != tid:
            raise PtpProtocolError(f"{op_name(op)}: container for transaction {ctid}, expected {tid}")
        if ctype == ContainerType.DATA and code != op:
            raise PtpProtocolError(f"{op_name(op)}: data container carries code {code:#06x}")
        if ctype == ContainerType.RESPONSE and (length < HEADER_BYTES or (length - HEADER_BYTES) % 4
                                                or length > HEADER_BYTES + 4 * MAX_PARAMS):
            raise PtpProtocolError(f"{op_name(op)}: response container length {length} is not 12 + 4n")
        if not HEADER_BYTES <= length <= limit:
            raise PtpProtocolError(f"{op_name(op)}: container length {length} outside {HEADER_BYTES}..{limit}")

    def _buffer(self, size: int) -> array[int]:
        # reads repeat the same few sizes (whole chunks, responses): reuse their buffers
        buf = self._buffers.get(size)
        if buf is None:
            if len(self._buffers) >= 4:
                self._buffers.clear()
            buf = self._buffers[size] = array("B", bytes(size))
        return buf

    def _read(self, buf: array[int], *, skip_zlp: bool) -> int:
        """One bulk IN transfer into ``buf``; zero-length packets before a container are skipped."""
        ep = self._endpoints()
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise PtpTimeout(f"no data from the camera for {self.timeout_ms} ms")
            try:
                n = int(self.device.read(ep.bulk_in, buf, timeout=left_ms))
            except usb.core.USBTimeoutError as exc:
                raise PtpTimeout(f"no data from the camera for {self.timeout_ms} ms") from exc
            except usb.core.USBError as exc:
                self._raise_usb(exc, "reading")
            if n or not skip_zlp:
                return n

    def _raise_usb(self, exc: usb.core.USBError, what: str) -> NoReturn:
        """Map a pyusb error: unplugged -> DeviceGone; a stall on a present camera -> protocol error.

        Anything else (permissions, a busy interface) is re-raised as the USBError it is.
        """
        if isinstance(exc, usb.core.USBTimeoutError):
            raise PtpTimeout(f"{what}: {exc}") from exc
        if exc.errno == errno.ENODEV or "no such device" in str(exc).lower():
            raise DeviceGone(f"camera gone while {what}: {exc}") from exc
        if exc.errno in (errno.EPIPE, errno.EIO, errno.EPROTO):
            # on unplug some host controllers report a stall or I/O error first: ask the device if it is there
            try:
                self.device.ctrl_transfer(0x80, 0x00, 0, 0, 2, timeout=500)  # GET_STATUS
            except usb.core.USBError:
                raise DeviceGone(f"camera gone while {what}: {exc}") from exc
            raise PtpProtocolError(f"{what}: {exc}") from exc
        raise exc
