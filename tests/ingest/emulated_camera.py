"""An emulated USB camera below pyusb's API, so the real PTP and discovery code runs in the tests.

:class:`EmulatedBackend` is a pyusb backend (``usb.backend.IBackend``): pass it to
``usb.core.find(backend=...)`` and everything above it (``usb.core.Device``, ``usb.util``, our
``ingest.usb`` and ``ingest.ptp``) runs unchanged.  Cameras can be plugged and unplugged while the
tests run; each plug is a new enumeration at a new address, and handles from an earlier
enumeration fail with ENODEV as libusb's do.

:class:`PtpCameraModel` answers real PTP containers on its bulk endpoints from real files (or from
deterministic "virtual" objects, for sizes past 4 GiB without 4 GiB on disk).  Its bulk IN pipe
behaves like hardware: a container is one transfer of max-packet-size packets, ended by a short
packet or a zero-length packet; a read whose buffer is not a whole number of packets and is too
small for what comes is an overflow.  Containers are packed here with ``struct`` directly, not
with ``ingest.ptp``'s helpers, so a framing bug there cannot hide behind the same bug here.

:class:`LockedCameraModel` is a GA/T 947.4-style recorder: it enumerates with only a vendor
interface and, on the right vendor control transfer, leaves the bus and comes back as its
``then`` model at a new address.
"""

from __future__ import annotations

import array
import errno
import hashlib
import os
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import usb.core
from usb.backend import IBackend

# -- errors as pyusb's libusb1 backend raises them ---------------------------------------------


def gone() -> usb.core.USBError:
    return usb.core.USBError("No such device (it may have been disconnected)", -4, errno.ENODEV)


def stall() -> usb.core.USBError:
    return usb.core.USBError("Pipe error", -9, errno.EPIPE)


def overflow() -> usb.core.USBError:
    return usb.core.USBError("Overflow", -8, errno.EOVERFLOW)


def timed_out() -> usb.core.USBTimeoutError:
    return usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)


# -- descriptors -------------------------------------------------------------------------------

BULK, INTERRUPT = 0x02, 0x03
LANGID_EN_US = 0x0409


@dataclass(frozen=True)
class EndpointSpec:
    address: int
    attributes: int
    max_packet: int
    interval: int = 0


@dataclass(frozen=True)
class InterfaceSpec:
    cls: int
    subclass: int
    protocol: int
    name: str
    endpoints: tuple[EndpointSpec, ...] = ()


class EmulatedCamera:
    """A USB device the backend can enumerate; subclasses give it interfaces and behaviour."""

    def __init__(self, serial: str, *, vid: int, pid: int, manufacturer: str, product: str) -> None:
        self.serial = serial
        self.vid = vid
        self.pid = pid
        self.manufacturer = manufacturer
        self.product = product
        self.backend: EmulatedBackend | None = None
        self.enumeration: Enumeration | None = None
        self.configuration = 1  # Linux configures a device as it enumerates

    @property
    def plugged(self) -> bool:
        return self.enumeration is not None

    def interfaces(self) -> list[InterfaceSpec]:
        raise NotImplementedError

    def strings(self) -> dict[int, str]:
        table = {1: self.manufacturer, 2: self.product, 3: self.serial}
        for i, intf in enumerate(self.interfaces()):
            table[4 + i] = intf.name
        return table

    def power_on(self) -> None:
        """Called at every plug: the state a device has when it gets power."""
        self.configuration = 1

    def control(self, request_type: int, request: int, value: int, index: int, data: array.array[int]) -> int:
        raise stall()  # no class or vendor requests unless a model has some

    def bulk_out(self, ep: int, data: bytes) -> int:
        raise stall()

    def bulk_in(self, ep: int, buff: array.array[int], timeout_ms: int) -> int:
        raise stall()

    def intr_in(self, ep: int, buff: array.array[int], timeout_ms: int) -> int:
        raise stall()

    # .. descriptors as pyusb wants them (attribute bags, like libusb's structs)

    def device_descriptor(self, bus: int, address: int) -> SimpleNamespace:
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0, bDeviceProtocol=0,
            bMaxPacketSize0=64, idVendor=self.vid, idProduct=self.pid, bcdDevice=0x0100, iManufacturer=1,
            iProduct=2, iSerialNumber=3, bNumConfigurations=1, address=address, bus=bus, port_number=1,
            port_numbers=(1,), speed=3,  # high speed
        )

    def raw_descriptor(self, kind: int) -> bytes:
        """GET_DESCRIPTOR answers: 1 device, 2 the whole configuration."""
        if kind == 1:
            return struct.pack("<BBHBBBBHHHBBBB", 18, 1, 0x0200, 0, 0, 0, 64, self.vid, self.pid, 0x0100, 1, 2, 3, 1)
        body = b""
        for i, intf in enumerate(self.interfaces()):
            body += struct.pack("<9B", 9, 4, i, 0, len(intf.endpoints), intf.cls, intf.subclass, intf.protocol, 4 + i)
            for ep in intf.endpoints:
                body += struct.pack("<BBBBHB", 7, 5, ep.address, ep.attributes, ep.max_packet, ep.interval)
        return struct.pack("<BBHBBBBB", 9, 2, 9 + len(body), len(self.interfaces()), 1, 0, 0x80, 250) + body


@dataclass(eq=False)
class Enumeration:
    """One appearance of a camera on the bus: what ``enumerate_devices`` yields."""

    camera: EmulatedCamera
    bus: int
    address: int

    @property
    def live(self) -> bool:
        return self.camera.enumeration is self


@dataclass(eq=False)
class Handle:
    dev: Enumeration
    claimed: set[int] = field(default_factory=set)


class EmulatedBackend(IBackend):  # type: ignore[misc]  # pyusb ships no types
    """A USB bus holding emulated cameras; plug and unplug them while the code under test runs."""

    def __init__(self, cameras: list[EmulatedCamera] | None = None, *, bus: int = 3) -> None:
        super().__init__()
        self.bus = bus
        self._lock = threading.RLock()
        self._next_address = 2  # 1 is the root hub
        self.cameras: list[EmulatedCamera] = []
        for camera in cameras or []:
            self.plug(camera)

    # .. the tests' side

    def plug(self, camera: EmulatedCamera) -> None:
        with self._lock:
            if camera.plugged:
                raise RuntimeError(f"{camera.serial} is already plugged in")
            address = self._next_address
            self._next_address = self._next_address + 1 if self._next_address < 127 else 2
            camera.backend = self
            camera.power_on()
            camera.enumeration = Enumeration(camera, self.bus, address)
            self.cameras.append(camera)

    def unplug(self, camera: EmulatedCamera) -> None:
        with self._lock:
            camera.enumeration = None
            if camera in self.cameras:
                self.cameras.remove(camera)

    def replug(self, camera: EmulatedCamera) -> None:
        self.unplug(camera)
        self.plug(camera)

    # .. pyusb's side

    def _live(self, dev: Enumeration) -> EmulatedCamera:
        if not dev.live:
            raise gone()
        return dev.camera

    def enumerate_devices(self) -> list[Enumeration]:
        with self._lock:
            return [c.enumeration for c in self.cameras if c.enumeration is not None]

    def get_parent(self, dev: Enumeration) -> None:
        return None

    def get_device_descriptor(self, dev: Enumeration) -> SimpleNamespace:
        return dev.camera.device_descriptor(dev.bus, dev.address)

    def get_configuration_descriptor(self, dev: Enumeration, config: int) -> SimpleNamespace:
        if config != 0:
            raise IndexError(config)
        raw = dev.camera.raw_descriptor(2)
        return SimpleNamespace(bLength=9, bDescriptorType=2, wTotalLength=len(raw),
                               bNumInterfaces=len(dev.camera.interfaces()), bConfigurationValue=1, iConfiguration=0,
                               bmAttributes=0x80, bMaxPower=250, extra_descriptors=[])

    def _interface(self, dev: Enumeration, intf: int, alt: int, config: int) -> InterfaceSpec:
        interfaces = dev.camera.interfaces()
        if config != 0 or alt != 0 or not 0 <= intf < len(interfaces):
            raise IndexError((intf, alt, config))  # pyusb stops iterating alternate settings on IndexError
        return interfaces[intf]

    def get_interface_descriptor(self, dev: Enumeration, intf: int, alt: int, config: int) -> SimpleNamespace:
        spec = self._interface(dev, intf, alt, config)
        return SimpleNamespace(bLength=9, bDescriptorType=4, bInterfaceNumber=intf, bAlternateSetting=0,
                               bNumEndpoints=len(spec.endpoints), bInterfaceClass=spec.cls,
                               bInterfaceSubClass=spec.subclass, bInterfaceProtocol=spec.protocol,
                               iInterface=4 + intf, extra_descriptors=[])

    def get_endpoint_descriptor(self, dev: Enumeration, ep: int, intf: int, alt: int,
                                config: int) -> SimpleNamespace:
        spec = self._interface(dev, intf, alt, config).endpoints[ep]
        return SimpleNamespace(bLength=7, bDescriptorType=5, bEndpointAddress=spec.address,
                               bmAttributes=spec.attributes, wMaxPacketSize=spec.max_packet,
                               bInterval=spec.interval, bRefresh=0, bSynchAddress=0, extra_descriptors=[])

    def open_device(self, dev: Enumeration) -> Handle:
        self._live(dev)
        return Handle(dev)

    def close_device(self, dev_handle: Handle) -> None:
        dev_handle.claimed.clear()  # closing a handle to a departed device is fine, as in libusb

    def set_configuration(self, dev_handle: Handle, config_value: int) -> None:
        self._live(dev_handle.dev).configuration = config_value

    def get_configuration(self, dev_handle: Handle) -> int:
        return self._live(dev_handle.dev).configuration

    def set_interface_altsetting(self, dev_handle: Handle, intf: int, altsetting: int) -> None:
        self._live(dev_handle.dev)

    def claim_interface(self, dev_handle: Handle, intf: int) -> None:
        camera = self._live(dev_handle.dev)
        if not 0 <= intf < len(camera.interfaces()):
            raise usb.core.USBError("Entity not found", -5, errno.ENOENT)
        dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle: Handle, intf: int) -> None:
        self._live(dev_handle.dev)
        dev_handle.claimed.discard(intf)

    def bulk_write(self, dev_handle: Handle, ep: int, intf: int, data: array.array[int], timeout: int) -> int:
        return self._live(dev_handle.dev).bulk_out(ep, data.tobytes())

    def bulk_read(self, dev_handle: Handle, ep: int, intf: int, buff: array.array[int], timeout: int) -> int:
        return self._live(dev_handle.dev).bulk_in(ep, buff, timeout)

    def intr_read(self, dev_handle: Handle, ep: int, intf: int, buff: array.array[int], timeout: int) -> int:
        return self._live(dev_handle.dev).intr_in(ep, buff, timeout)

    def ctrl_transfer(self, dev_handle: Handle, bmRequestType: int, bRequest: int, wValue: int, wIndex: int,
                      data: array.array[int], timeout: int) -> int:
        camera = self._live(dev_handle.dev)
        if bmRequestType & 0x60 == 0:  # standard request
            return self._standard(camera, bmRequestType, bRequest, wValue, data)
        return camera.control(bmRequestType, bRequest, wValue, wIndex, data)

    @staticmethod
    def _standard(camera: EmulatedCamera, request_type: int, request: int, value: int,
                  data: array.array[int]) -> int:
        if request_type == 0x80 and request == 0x00:  # GET_STATUS
            answer = b"\x00\x00"
        elif request_type == 0x80 and request == 0x06:  # GET_DESCRIPTOR
            kind, index = value >> 8, value & 0xFF
            if kind in (1, 2):
                answer = camera.raw_descriptor(kind)
            elif kind == 3 and index == 0:
                answer = struct.pack("<BBH", 4, 3, LANGID_EN_US)
            elif kind == 3 and index in camera.strings():
                text = camera.strings()[index].encode("utf-16-le")
                answer = struct.pack("<BB", 2 + len(text), 3) + text
            else:
                raise stall()
        else:
            raise stall()
        n = min(len(data), len(answer))
        memoryview(data)[:n] = answer[:n]
        return n

    def clear_halt(self, dev_handle: Handle, ep: int) -> None:
        self._live(dev_handle.dev)

    def reset_device(self, dev_handle: Handle) -> None:
        self._live(dev_handle.dev).power_on()

    def is_kernel_driver_active(self, dev_handle: Handle, intf: int) -> bool:
        self._live(dev_handle.dev)
        return False

    def detach_kernel_driver(self, dev_handle: Handle, intf: int) -> None:
        self._live(dev_handle.dev)

    def attach_kernel_driver(self, dev_handle: Handle, intf: int) -> None:
        self._live(dev_handle.dev)


# -- a PTP camera --------------------------------------------------------------------------------

STORAGE_ID = 0x00010001
FORMAT_ASSOCIATION, FORMAT_UNDEFINED, FORMAT_MP4 = 0x3001, 0x3000, 0xB982
OK, SESSION_NOT_OPEN, OP_NOT_SUPPORTED = 0x2001, 0x2003, 0x2005
INVALID_STORAGE, INVALID_HANDLE, PROP_NOT_SUPPORTED = 0x2008, 0x2009, 0x200A
INVALID_PARAMETER, SESSION_ALREADY_OPEN, OBJECT_PROP_NOT_SUPPORTED = 0x201D, 0x201E, 0xA80A
EVENT_OBJECT_REMOVED = 0x4003

#: Deterministic content of virtual objects: a prime-length block of hash output, repeated.
_PATTERN = b"".join(hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(2048))[:65521]


def virtual_bytes(offset: int, length: int) -> bytes:
    """Bytes ``offset .. offset+length`` of every virtual object."""
    start = offset % len(_PATTERN)
    repeats = (start + length) // len(_PATTERN) + 1
    return (_PATTERN * repeats)[start:start + length]


def _add_to_u32(header: bytearray, at: int, delta: int) -> None:
    struct.pack_into("<I", header, at, (struct.unpack_from("<I", header, at)[0] + delta) & 0xFFFFFFFF)


#: Ways garble_next breaks a container header (length u32 @0, type u16 @4, code u16 @6, transaction u32 @8).
GARBLES: dict[str, Any] = {
    "type": lambda h: struct.pack_into("<H", h, 4, 0x0007),  # no such container type
    "code": lambda h: struct.pack_into("<H", h, 6, 0xBAD0) if h[4] == 2 else struct.pack_into("<H", h, 4, 1),
    "transaction": lambda h: _add_to_u32(h, 8, 7),
    "length_long": lambda h: _add_to_u32(h, 0, 4096),  # claims more than is sent
    "length_short": lambda h: _add_to_u32(h, 0, -4),  # claims less than is sent
}


def ptp_string(text: str) -> bytes:
    if not text:
        return b"\x00"
    raw = (text + "\x00").encode("utf-16-le")
    return struct.pack("<B", len(raw) // 2) + raw


def u16_array(values: list[int]) -> bytes:
    return struct.pack(f"<I{len(values)}H", len(values), *values)


def u32_array(values: list[int]) -> bytes:
    return struct.pack(f"<I{len(values)}I", len(values), *values)


@dataclass
class StoredObject:
    handle: int
    name: str
    parent: int  # 0: the storage root
    format: int
    size: int
    captured: str = ""
    path: Path | None = None  # a real file; None with size > 0 is a virtual object

    def read(self, offset: int, length: int) -> bytes:
        length = max(0, min(length, self.size - offset))
        if self.path is None:
            return virtual_bytes(offset, length)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)


@dataclass
class _Transfer:
    data: bytes
    is_data: bool  # a data-phase container (counted for unplug_after_bytes)
    pos: int = 0


class PtpCameraModel(EmulatedCamera):
    """A PTP camera serving ``files`` (name -> path on disk; ``/`` in a name makes folders)."""

    BULK_IN, BULK_OUT, INTR_IN = 0x81, 0x02, 0x83

    def __init__(self, serial: str, files: dict[str, Path] | None = None, captured: dict[str, str] | None = None,
                 *, vid: int = 0x1234, pid: int = 0x5678, supports_64: bool = True,
                 device_time: str | None = "20261127T083000", virtual: dict[str, int] | None = None,
                 max_packet: int = 512, manufacturer: str = "Emulated Optics", product: str = "BodyCam PTP") -> None:
        super().__init__(serial, vid=vid, pid=pid, manufacturer=manufacturer, product=product)
        self.supports_64 = supports_64
        self.device_time = device_time
        self.max_packet = max_packet
        # fault knobs: each one-shot flag applies to the next container the camera sends
        self.unplug_after_bytes: int | None = None
        self.garble_next = False
        self.garble_mode = "type"  # which header field garble_next breaks: see GARBLES
        self.short_next = False
        self.mute_next = False  # swallow the next command: no data, no response
        self.split_header = False  # a known quirk: the data container's header as a transfer of its own
        # what the tests may look at
        self.ops: list[int] = []
        self.data_bytes_sent = 0
        self.objects: dict[int, StoredObject] = {}
        self._lock = threading.Condition()
        self._bulk: deque[_Transfer] = deque()
        self._events: deque[bytes] = deque()
        self._session: int | None = None
        captured = captured or {}
        for name, path in (files or {}).items():
            self._add(name, path.stat().st_size, captured.get(name, ""), path)
        for name, size in (virtual or {}).items():
            self._add(name, size, captured.get(name, ""), None)

    def _add(self, name: str, size: int, captured: str, path: Path | None) -> None:
        parent = 0
        *folders, leaf = name.split("/")
        for folder in folders:
            existing = [o for o in self.objects.values() if o.parent == parent and o.name == folder]
            if existing:
                parent = existing[0].handle
                continue
            handle = len(self.objects) + 1
            self.objects[handle] = StoredObject(handle, folder, parent, FORMAT_ASSOCIATION, 0)
            parent = handle
        handle = len(self.objects) + 1
        fmt = FORMAT_MP4 if leaf.lower().endswith(".mp4") else FORMAT_UNDEFINED
        self.objects[handle] = StoredObject(handle, leaf, parent, fmt, size, captured, path)

    def names(self) -> list[str]:
        """Paths of the files still on the camera."""
        def path(o: StoredObject) -> str:
            return o.name if o.parent == 0 else f"{path(self.objects[o.parent])}/{o.name}"

        return sorted(path(o) for o in self.objects.values() if o.format != FORMAT_ASSOCIATION)

    def handle_of(self, name: str) -> int:
        leaf = name.rsplit("/", 1)[-1]
        return next(o.handle for o in self.objects.values() if o.name == leaf)

    # .. USB

    def interfaces(self) -> list[InterfaceSpec]:
        return [InterfaceSpec(0x06, 0x01, 0x01, "PTP", (
            EndpointSpec(self.BULK_IN, BULK, self.max_packet),
            EndpointSpec(self.BULK_OUT, BULK, self.max_packet),
            EndpointSpec(self.INTR_IN, INTERRUPT, 64, interval=8),
        ))]

    def power_on(self) -> None:
        super().power_on()
        with self._lock:
            self._bulk.clear()
            self._events.clear()
            self._session = None

    def control(self, request_type: int, request: int, value: int, index: int, data: array.array[int]) -> int:
        if request_type == 0x21 and request == 0x66:  # still image class: Device Reset Request
            self.power_on()
            return 0
        if request_type == 0xA1 and request == 0x67:  # Get Device Status: OK
            answer = struct.pack("<HH", 4, OK)
            memoryview(data)[:4] = answer
            return 4
        raise stall()

    def bulk_out(self, ep: int, data: bytes) -> int:
        if ep != self.BULK_OUT or len(data) < 12:
            raise stall()
        length, ctype, code, tid = struct.unpack_from("<IHHI", data)
        if ctype != 1 or length != len(data) or (length - 12) % 4:
            raise stall()  # not a command container: a real camera stalls the pipe
        params = struct.unpack_from(f"<{(length - 12) // 4}I", data, 12)
        with self._lock:
            self.ops.append(code)
            if self.mute_next:
                self.mute_next = False
                return len(data)
            payload, response, response_params = self._dispatch(code, params)
            if payload is not None:
                self._queue(struct.pack("<IHHI", 12 + len(payload), 2, code, tid) + payload, is_data=True)
            self._queue(struct.pack(f"<IHHI{len(response_params)}I", 12 + 4 * len(response_params), 3, response, tid,
                                    *response_params), is_data=False)
            self._lock.notify_all()
        return len(data)

    def _queue(self, container: bytes, *, is_data: bool) -> None:
        if self.garble_next:
            self.garble_next = False
            header = bytearray(container[:12])
            GARBLES[self.garble_mode](header)
            container = bytes(header) + container[12:]
        elif self.short_next:
            self.short_next = False
            cut = max(1, len(container) // 2)
            if cut % self.max_packet == 0:
                cut -= 1
            container = container[:cut]  # the length field still claims the whole container
        if is_data and self.split_header:
            self._bulk.append(_Transfer(container[:12], is_data))
            container = container[12:]
        self._bulk.append(_Transfer(container, is_data))

    def bulk_in(self, ep: int, buff: array.array[int], timeout_ms: int) -> int:
        if ep != self.BULK_IN:
            raise stall()
        with self._lock:
            if not self._bulk and not self._lock.wait_for(lambda: bool(self._bulk), timeout_ms / 1000):
                raise timed_out()
            t = self._bulk[0]
            remaining = len(t.data) - t.pos
            if remaining == 0:  # the zero-length packet after a transfer of whole packets
                self._bulk.popleft()
                return 0
            if remaining > len(buff) and len(buff) % self.max_packet:
                raise overflow()  # the camera sends a whole packet the buffer cannot hold
            n = min(len(buff), remaining)
            if t.is_data and self.unplug_after_bytes is not None and self.data_bytes_sent + n > self.unplug_after_bytes:
                assert self.backend is not None
                self.backend.unplug(self)
                raise gone()
            memoryview(buff)[:n] = memoryview(t.data)[t.pos:t.pos + n]
            t.pos += n
            if t.is_data:
                self.data_bytes_sent += n
            # a transfer of whole packets ends with a ZLP; it ends this read only if the buffer had room
            if t.pos == len(t.data) and (len(t.data) % self.max_packet or n < len(buff)):
                self._bulk.popleft()
            return n

    def intr_in(self, ep: int, buff: array.array[int], timeout_ms: int) -> int:
        if ep != self.INTR_IN:
            raise stall()
        with self._lock:
            if not self._events and not self._lock.wait_for(lambda: bool(self._events), timeout_ms / 1000):
                raise timed_out()
            event = self._events.popleft()
        memoryview(buff)[:len(event)] = event
        return len(event)

    # .. PTP

    def _dispatch(self, code: int, params: tuple[int, ...]) -> tuple[bytes | None, int, tuple[int, ...]]:
        """(data or None, response code, response params) for one operation."""
        if code == 0x1001:
            return self._device_info(), OK, ()
        if code == 0x1002:
            if not params or params[0] == 0:
                return None, INVALID_PARAMETER, ()
            if self._session is not None:
                return None, SESSION_ALREADY_OPEN, (self._session,)
            self._session = params[0]
            return None, OK, ()
        if code not in self._operations():
            return None, OP_NOT_SUPPORTED, ()
        if self._session is None:
            return None, SESSION_NOT_OPEN, ()
        handler = getattr(self, f"_op_{code:04x}")
        result: tuple[bytes | None, int, tuple[int, ...]] = handler(*params)
        return result

    def _operations(self) -> list[int]:
        ops = [0x1001, 0x1002, 0x1003, 0x1004, 0x1007, 0x1008, 0x100B, 0x101B, 0x9803]
        if self.device_time is not None:
            ops.append(0x1015)
        if self.supports_64:
            ops.append(0x95C1)
        return ops

    def _device_info(self) -> bytes:
        return (struct.pack("<HIH", 100, 6, 100) + ptp_string("microsoft.com: 1.0") + struct.pack("<H", 0)
                + u16_array(self._operations()) + u16_array([EVENT_OBJECT_REMOVED])
                + u16_array([0x5011] if self.device_time is not None else []) + u16_array([])
                + u16_array([FORMAT_ASSOCIATION, FORMAT_MP4, FORMAT_UNDEFINED])
                + ptp_string(self.manufacturer) + ptp_string(self.product) + ptp_string("1.0")
                + ptp_string(self.serial))

    def _op_1003(self, *_: int) -> tuple[bytes | None, int, tuple[int, ...]]:
        self._session = None
        return None, OK, ()

    def _op_1004(self, *_: int) -> tuple[bytes | None, int, tuple[int, ...]]:
        return u32_array([STORAGE_ID]), OK, ()

    def _op_1007(self, storage: int = 0, fmt: int = 0, parent: int = 0, *_: int) -> tuple[
            bytes | None, int, tuple[int, ...]]:
        if storage not in (STORAGE_ID, 0xFFFFFFFF):
            return None, INVALID_STORAGE, ()
        objects = [o for o in self.objects.values() if not fmt or o.format == fmt]
        if parent:
            objects = [o for o in objects if o.parent == (0 if parent == 0xFFFFFFFF else parent)]
        return u32_array([o.handle for o in objects]), OK, ()

    def _op_1008(self, handle: int = 0, *_: int) -> tuple[bytes | None, int, tuple[int, ...]]:
        obj = self.objects.get(handle)
        if obj is None:
            return None, INVALID_HANDLE, ()
        size32 = obj.size if obj.size < 0xFFFFFFFF else 0xFFFFFFFF
        info = (struct.pack("<IHHI", STORAGE_ID, obj.format, 0, size32) + struct.pack("<HIII", 0, 0, 0, 0)
                + struct.pack("<III", 0, 0, 0) + struct.pack("<IHII", obj.parent, 1 if obj.parent == 0 else 0, 0, 0)
                + ptp_string(obj.name) + ptp_string(obj.captured) + ptp_string(obj.captured) + ptp_string(""))
        return info, OK, ()

    def _op_100b(self, handle: int = 0, *_: int) -> tuple[bytes | None, int, tuple[int, ...]]:
        if handle not in self.objects:
            return None, INVALID_HANDLE, ()
        del self.objects[handle]
        self._events.append(struct.pack("<IHHII", 16, 4, EVENT_OBJECT_REMOVED, 0, handle))
        return None, OK, ()

    def _op_1015(self, prop: int = 0, *_: int) -> tuple[bytes | None, int, tuple[int, ...]]:
        if prop != 0x5011 or self.device_time is None:
            return None, PROP_NOT_SUPPORTED, ()
        return ptp_string(self.device_time), OK, ()

    def _partial(self, handle: int, offset: int, length: int) -> tuple[bytes | None, int, tuple[int, ...]]:
        obj = self.objects.get(handle)
        if obj is None or obj.format == FORMAT_ASSOCIATION:
            return None, INVALID_HANDLE, ()
        data = obj.read(offset, length)
        return data, OK, (len(data),)

    def _op_101b(self, handle: int = 0, offset: int = 0, length: int = 0, *_: int) -> tuple[
            bytes | None, int, tuple[int, ...]]:
        return self._partial(handle, offset, length)

    def _op_95c1(self, handle: int = 0, low: int = 0, high: int = 0, length: int = 0, *_: int) -> tuple[
            bytes | None, int, tuple[int, ...]]:
        return self._partial(handle, high << 32 | low, length)

    def _op_9803(self, handle: int = 0, prop: int = 0, *_: int) -> tuple[bytes | None, int, tuple[int, ...]]:
        obj = self.objects.get(handle)
        if obj is None:
            return None, INVALID_HANDLE, ()
        if prop == 0xDC04:
            return struct.pack("<Q", obj.size), OK, ()
        if prop == 0xDC07:
            return ptp_string(obj.name), OK, ()
        return None, OBJECT_PROP_NOT_SUPPORTED, ()


# -- a locked recorder ---------------------------------------------------------------------------


class LockedCameraModel(EmulatedCamera):
    """A recorder in locked vendor mode; the right password makes it re-enumerate as ``then``."""

    def __init__(self, serial: str, password: bytes, then: EmulatedCamera, *, vid: int = 0x1234,
                 pid: int = 0x9001, request: int = 0x5A) -> None:
        super().__init__(serial, vid=vid, pid=pid, manufacturer="Emulated Optics", product="ZFY Recorder")
        self.password = password
        self.then = then
        self.request = request
        self.refused = 0

    def interfaces(self) -> list[InterfaceSpec]:
        return [InterfaceSpec(0xFF, 0x00, 0x00, "Vendor Mode", (
            EndpointSpec(0x81, BULK, 512), EndpointSpec(0x02, BULK, 512),
        ))]

    def control(self, request_type: int, request: int, value: int, index: int, data: array.array[int]) -> int:
        if request_type != 0x40 or request != self.request:
            raise stall()
        if data.tobytes() != self.password:
            self.refused += 1
            raise stall()
        backend = self.backend
        assert backend is not None
        # the status stage completes, then the recorder drops off the bus and comes back switched
        backend.unplug(self)
        backend.plug(self.then)
        return len(data)


def find_all(backend: EmulatedBackend) -> list[Any]:
    """Every device on the emulated bus, through pyusb."""
    return list(usb.core.find(find_all=True, backend=backend))
