"""USB discovery of docked cameras, and unlocking recorders that enumerate locked.

pyusb has no hotplug callbacks, so the station polls: :func:`scan` runs a fresh
``usb.core.find(find_all=True)`` each call and :class:`Poller` turns successive scans into arrivals
and departures.  A device is keyed on bus, address and serial: a replugged or re-enumerated camera
gets a new address and so is a new arrival.

Cameras appear in one of two ways.  Most speak PTP/MTP straight away (:func:`is_ptp`).  Chinese
body-worn enforcement recorders (GA/T 947.4) first enumerate in a locked vendor mode, with only a
vendor-specific interface (class 0xFF); a vendor command carrying the unit's 6-byte password makes
them drop off the bus and come back, at a new address, as USB mass storage or PTP.  Each vendor has
its own command, so unlocking goes through an :class:`UnlockDriver` chosen by vendor and product id.

Adding a vendor's driver
------------------------
If the vendor's unlock is a single vendor OUT control transfer whose data stage is the password
(most are), no code is needed: add an entry to the station's driver config and load it with
:func:`load_drivers`::

    [{"name": "acme-zfy", "vid": "0x1234", "pid": "0x5678", "password": "303030303030",
      "request": "0x5a", "value": 0, "index": 0}]

``password`` is the 6-byte password in hex (the factory default is often ASCII ``000000``, as
above); ``request``, ``value`` and ``index`` are the setup packet's bRequest, wValue and wIndex,
taken from the vendor SDK or a USB capture of the vendor's tool.  Any other scheme (a challenge
and response, SCSI vendor commands, an identity read from the device) is a class with the three
methods of :class:`UnlockDriver`, registered with ``register(MyDriver(...), password)``.  Never pick
bRequest 0xA0 for a guess: on Cypress EZ-USB based devices it writes firmware RAM.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import usb.core
import usb.util

logger = logging.getLogger(__name__)

#: Interface class, subclass and protocol of a PTP (Still Image Capture) interface.
PTP_INTERFACE = (0x06, 0x01, 0x01)
#: Vendor-specific interface class: MTP devices (Android and others) and locked recorders use it.
VENDOR_CLASS = 0xFF
#: Length of a GA/T 947.4 recorder password.
PASSWORD_BYTES = 6
#: bRequest used when a driver entry names none; a placeholder, real entries should give the vendor's.
DEFAULT_UNLOCK_REQUEST = 0x5A
#: bmRequestType of the unlock: host to device, vendor, recipient device.
VENDOR_OUT = usb.util.CTRL_OUT | usb.util.CTRL_TYPE_VENDOR | usb.util.CTRL_RECIPIENT_DEVICE
#: How long a control transfer to a docking camera may take.
CONTROL_TIMEOUT_MS = 2000


class UnlockRefused(Exception):
    """The recorder stalled or failed the unlock command: wrong password, or the wrong driver."""


class DriverConfigError(ValueError):
    """An entry of the driver config is malformed (bad id, password not 6 bytes of hex, ...)."""


@dataclass(frozen=True)
class DeviceId:
    """One enumeration of a USB device; a replug or re-enumeration gives a new ``address``."""

    bus: int
    address: int
    vid: int
    pid: int
    serial: str | None

    def __str__(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x} bus {self.bus} address {self.address} serial {self.serial}"


def _devices(backend: Any) -> Iterator[usb.core.Device]:
    found = usb.core.find(find_all=True, backend=backend)
    assert found is not None  # find_all always gives an iterator
    yield from found


def serial_of(device: usb.core.Device) -> str | None:
    """The USB serial number string, or None when the device has none or will not say."""
    if not device.iSerialNumber:
        return None
    try:
        return str(device.serial_number)
    except (usb.core.USBError, ValueError, NotImplementedError):
        # permissions, a device with no language ids, or one that is already leaving the bus
        return None
    finally:
        usb.util.dispose_resources(device)  # reading a string opened it; scanning must not hold handles


def device_id(device: usb.core.Device) -> DeviceId:
    return DeviceId(int(device.bus or 0), int(device.address or 0), int(device.idVendor), int(device.idProduct),
                    serial_of(device))


def scan(backend: Any = None) -> list[DeviceId]:
    """Every device on the system now (pyusb's default backend unless one is given)."""
    return [device_id(d) for d in _devices(backend)]


def find_device(dev_id: DeviceId, backend: Any = None) -> usb.core.Device | None:
    """The device at ``dev_id``'s bus and address, if it is still that device."""
    for device in _devices(backend):
        if (device.bus, device.address, device.idVendor, device.idProduct) == (
            dev_id.bus, dev_id.address, dev_id.vid, dev_id.pid
        ):
            return device
    return None


def _interface_string(device: usb.core.Device, index: int) -> str:
    if not index:
        return ""
    try:
        return str(usb.util.get_string(device, index) or "")
    except (usb.core.USBError, ValueError, NotImplementedError):
        return ""


def ptp_interface(device: usb.core.Device) -> usb.core.Interface | None:
    """The device's PTP interface: class 6/1/1, or a vendor-class interface whose name says MTP."""
    try:
        for cfg in device:
            for intf in cfg:
                triple = (intf.bInterfaceClass, intf.bInterfaceSubClass, intf.bInterfaceProtocol)
                if triple == PTP_INTERFACE:
                    return intf
                if intf.bInterfaceClass == VENDOR_CLASS and "MTP" in _interface_string(device, intf.iInterface):
                    return intf
    except usb.core.USBError:
        return None  # gone while we looked
    return None


def is_ptp(device: usb.core.Device) -> bool:
    return ptp_interface(device) is not None


class Poller:
    """Successive scans as arrivals and departures (pyusb has no hotplug events)."""

    def __init__(self, backend: Any = None) -> None:
        self.backend = backend
        self.present: set[DeviceId] = set()

    def poll(self) -> tuple[list[DeviceId], list[DeviceId]]:
        now = set(scan(self.backend))
        arrived = sorted(now - self.present, key=lambda d: (d.bus, d.address))
        left = sorted(self.present - now, key=lambda d: (d.bus, d.address))
        self.present = now
        return arrived, left


def find_reenumerated(before: DeviceId, backend: Any = None) -> usb.core.Device | None:
    """The PTP device an unlocked recorder came back as: same bus, a new address, the same serial.

    Recorders that come back as mass storage are the OS's to mount; this finds PTP ones only.  When
    the locked device had no serial, any new PTP device on the same bus is taken.
    """
    for device in _devices(backend):
        if device.bus != before.bus or device.address == before.address:
            continue
        if before.serial is not None and serial_of(device) != before.serial:
            continue
        if is_ptp(device):
            return device
    return None


# -- unlocking -------------------------------------------------------------------------------


class UnlockDriver(Protocol):
    """How one vendor's locked recorders are identified and switched to mass storage or PTP."""

    def matches(self, vid: int, pid: int) -> bool: ...

    def unlock(self, device: usb.core.Device, password: bytes) -> None:
        """Send the unlock; raise :class:`UnlockRefused` if the recorder will not have it."""
        ...

    def identity(self, device: usb.core.Device) -> tuple[str, str | None]:
        """(serial, officer id or None), read while the recorder is still locked."""
        ...


def _is_gone(exc: usb.core.USBError) -> bool:
    return exc.errno == errno.ENODEV or "no such device" in str(exc).lower()


@dataclass(frozen=True)
class GenericVendorUnlock:
    """A recorder unlocked by one vendor OUT control transfer whose data stage is the password."""

    vid: int
    pid: int
    request: int = DEFAULT_UNLOCK_REQUEST
    value: int = 0
    index: int = 0
    name: str = "generic"

    def matches(self, vid: int, pid: int) -> bool:
        return (vid, pid) == (self.vid, self.pid)

    def unlock(self, device: usb.core.Device, password: bytes) -> None:
        if len(password) != PASSWORD_BYTES:
            raise UnlockRefused(f"{self.name}: a password is {PASSWORD_BYTES} bytes, not {len(password)}")
        try:
            sent = device.ctrl_transfer(VENDOR_OUT, self.request, self.value, self.index, password,
                                        timeout=CONTROL_TIMEOUT_MS)
        except usb.core.USBError as exc:
            if _is_gone(exc):
                # some recorders drop off the bus before the status stage completes: that is the switch
                logger.info("%s: recorder left the bus during unlock (re-enumerating)", self.name)
                return
            raise UnlockRefused(f"{self.name}: recorder refused the unlock ({exc})") from exc
        finally:
            usb.util.dispose_resources(device)
        if sent != len(password):
            raise UnlockRefused(f"{self.name}: recorder took {sent} of {len(password)} password bytes")

    def identity(self, device: usb.core.Device) -> tuple[str, str | None]:
        serial = serial_of(device)
        if serial is None:
            raise UnlockRefused(f"{self.name}: recorder {device.idVendor:04x}:{device.idProduct:04x} has no serial")
        return serial, None  # the officer id needs the vendor's own identity command


@dataclass(frozen=True)
class RegisteredDriver:
    """A driver and the password the station's config gives for its recorders."""

    driver: UnlockDriver
    password: bytes


#: Drivers the station knows; filled from config at start-up (:func:`load_drivers`) or by :func:`register`.
DRIVERS: list[RegisteredDriver] = []


def register(driver: UnlockDriver, password: bytes) -> RegisteredDriver:
    entry = RegisteredDriver(driver, password)
    DRIVERS.append(entry)
    return entry


def _int(entry: Mapping[str, Any], key: str, default: int | None = None, limit: int = 0xFFFF) -> int:
    raw = entry.get(key, default)
    if raw is None:
        raise DriverConfigError(f"driver entry {entry!r} has no {key!r}")
    try:
        value = int(raw, 0) if isinstance(raw, str) else int(raw)
    except (TypeError, ValueError):
        raise DriverConfigError(f"driver entry {key!r}: {raw!r} is not a number") from None
    if not 0 <= value <= limit:
        raise DriverConfigError(f"driver entry {key!r}: {raw!r} is out of range")
    return value


def load_drivers(config: Iterable[Mapping[str, Any]], *, install: bool = True) -> list[RegisteredDriver]:
    """Generic vendor-unlock drivers from config entries (see the module docstring for the shape).

    With ``install`` the drivers are also added to :data:`DRIVERS`.
    """
    loaded = []
    for entry in config:
        try:
            password = bytes.fromhex(str(entry["password"]))
        except (KeyError, ValueError):
            raise DriverConfigError(f"driver entry {entry.get('name', '?')!r}: password must be hex") from None
        if len(password) != PASSWORD_BYTES:
            raise DriverConfigError(f"driver entry {entry.get('name', '?')!r}: password must be "
                                    f"{PASSWORD_BYTES} bytes, not {len(password)}")
        driver = GenericVendorUnlock(
            vid=_int(entry, "vid"), pid=_int(entry, "pid"),
            request=_int(entry, "request", DEFAULT_UNLOCK_REQUEST, 0xFF),
            value=_int(entry, "value", 0), index=_int(entry, "index", 0),
            name=str(entry.get("name", "generic")),
        )
        loaded.append(RegisteredDriver(driver, password))
    if install:
        DRIVERS.extend(loaded)
    return loaded


def driver_for(vid: int, pid: int, drivers: Iterable[RegisteredDriver] | None = None) -> RegisteredDriver | None:
    """The first registered driver for this vendor and product id."""
    for entry in DRIVERS if drivers is None else drivers:
        if entry.driver.matches(vid, pid):
            return entry
    return None
