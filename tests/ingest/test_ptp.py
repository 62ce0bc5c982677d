"""The PTP/MTP client and USB discovery against an emulated camera below pyusb, with real video files."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import time
from pathlib import Path

import pytest
import usb.core

from ingest.camera_ptp import PtpCamera, parse_handle
from ingest.ptp import (
    DeviceGone,
    Event,
    ObjectTooLarge,
    Op,
    PtpError,
    PtpProtocolError,
    PtpSession,
    PtpTimeout,
    iso_datetime,
)
from ingest.sources import CameraFile
from ingest.usb import (
    DriverConfigError,
    Poller,
    UnlockRefused,
    driver_for,
    find_device,
    find_reenumerated,
    is_ptp,
    load_drivers,
    scan,
)
from tests.ingest.emulated_camera import (
    STORAGE_ID,
    EmulatedBackend,
    LockedCameraModel,
    PtpCameraModel,
    virtual_bytes,
)

CLIP_NAMES = ("DCIM/100MEDIA/CAM7_0001.MP4", "DCIM/100MEDIA/CAM7_0002.MP4")
CAPTURED = {CLIP_NAMES[0]: "20261120T080000", CLIP_NAMES[1]: "20261120T081500"}
GIB = 1024**3


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two real H.264/AAC clips, made once by ffmpeg."""
    root = tmp_path_factory.mktemp("clips")
    paths = {name: root / Path(name).name for name in CLIP_NAMES}
    procs = [
        subprocess.Popen([
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2",
            "-f", "lavfi", "-i", f"sine=frequency={440 * (i + 1)}:duration=2",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(path),
        ])
        for i, path in enumerate(paths.values())
    ]
    for proc in procs:
        assert proc.wait() == 0
    return paths


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def camera_model(clips: dict[str, Path], serial: str = "CAM7-0001", *, supports_64: bool = True,
                 device_time: str | None = "20261127T083000") -> PtpCameraModel:
    return PtpCameraModel(serial, dict(clips), dict(CAPTURED), supports_64=supports_64, device_time=device_time)


def the_device(bus: EmulatedBackend) -> usb.core.Device:
    [dev_id] = scan(bus)
    device = find_device(dev_id, bus)
    assert device is not None
    return device


async def dock(bus: EmulatedBackend, officer: str | None = None) -> PtpCamera:
    return await PtpCamera.open(the_device(bus), officer=officer)


async def pull(camera: PtpCamera, f: CameraFile, chunk: int) -> bytes:
    out = bytearray()
    while len(out) < f.size:
        data = await camera.read(f, len(out), min(chunk, f.size - len(out)))
        assert data, "camera returned nothing before the end"
        out += data
    return bytes(out)


# -- discovery -------------------------------------------------------------------------------


def test_polling_sees_the_camera_arrive_and_leave(clips: dict[str, Path]) -> None:
    bus = EmulatedBackend()
    poller = Poller(bus)
    assert poller.poll() == ([], [])
    model = camera_model(clips)
    bus.plug(model)
    arrived, left = poller.poll()
    assert left == [] and len(arrived) == 1
    cam = arrived[0]
    assert (cam.bus, cam.vid, cam.pid, cam.serial) == (3, 0x1234, 0x5678, "CAM7-0001")
    device = find_device(cam, bus)
    assert device is not None and is_ptp(device)
    assert poller.poll() == ([], [])  # nothing new on the next poll
    bus.replug(model)
    arrived, left = poller.poll()
    assert left == [cam] and arrived[0].address != cam.address  # a replug is a new enumeration
    bus.unplug(model)
    assert poller.poll() == ([], arrived)
    assert find_device(cam, bus) is None


def test_device_info_names_the_camera(clips: dict[str, Path]) -> None:
    bus = EmulatedBackend([camera_model(clips)])
    with PtpSession(the_device(bus)) as session:
        assert session.info is not None
        assert (session.info.manufacturer, session.info.model, session.info.serial_number) == (
            "Emulated Optics", "BodyCam PTP", "CAM7-0001")
        assert Op.GET_PARTIAL_OBJECT_64 in session.info.operations_supported
        assert session.storage_ids() == [STORAGE_ID]
        assert len(session.object_handles(STORAGE_ID)) == 4  # DCIM, 100MEDIA and two clips


# -- listing and reading ---------------------------------------------------------------------


async def test_lists_files_with_sizes_and_capture_dates(clips: dict[str, Path]) -> None:
    bus = EmulatedBackend([camera_model(clips)])
    async with await dock(bus, officer="officer-7") as camera:
        assert (camera.serial, camera.officer) == ("CAM7-0001", "officer-7")
        files = await camera.list_files()
    assert [f.name for f in files] == list(CLIP_NAMES)  # folder path kept, folders themselves not listed
    assert [f.size for f in files] == [clips[n].stat().st_size for n in CLIP_NAMES]
    assert [f.recorded_at for f in files] == ["2026-11-20T08:00:00", "2026-11-20T08:15:00"]
    assert all(parse_handle(f.handle)[0] == STORAGE_ID for f in files)


@pytest.mark.parametrize("chunk", [500, 65_536, 1 << 20])  # 500: 12 + 500 fills whole packets, so a ZLP follows
async def test_reads_each_file_in_chunks_byte_for_byte(clips: dict[str, Path], chunk: int) -> None:
    model = camera_model(clips)
    bus = EmulatedBackend([model])
    async with await dock(bus) as camera:
        for f in await camera.list_files():
            assert sha256(await pull(camera, f, chunk)) == sha256(clips[f.name].read_bytes())
    assert Op.GET_PARTIAL_OBJECT_64 in model.ops and Op.GET_PARTIAL_OBJECT not in model.ops


def test_iter_object_streams_the_whole_object(clips: dict[str, Path]) -> None:
    model = camera_model(clips)
    bus = EmulatedBackend([model])
    with PtpSession(the_device(bus)) as session:
        handle = model.handle_of(CLIP_NAMES[1])
        chunks = list(session.iter_object(handle, chunk=40_000))
    assert max(len(c) for c in chunks) == 40_000
    assert sha256(b"".join(chunks)) == sha256(clips[CLIP_NAMES[1]].read_bytes())


async def test_uses_32_bit_partial_reads_when_the_camera_lacks_the_64_bit_one(clips: dict[str, Path]) -> None:
    model = camera_model(clips, supports_64=False)
    bus = EmulatedBackend([model])
    async with await dock(bus) as camera:
        for f in await camera.list_files():
            assert sha256(await pull(camera, f, 100_000)) == sha256(clips[f.name].read_bytes())
    assert Op.GET_PARTIAL_OBJECT in model.ops and Op.GET_PARTIAL_OBJECT_64 not in model.ops


async def test_reads_larger_than_one_usb_read_and_a_header_sent_on_its_own() -> None:
    model = PtpCameraModel("CAM7-0004", virtual={"DCIM/BIG_0001.MP4": 64 * 1024 * 1024})
    bus = EmulatedBackend([model])
    async with await dock(bus) as camera:
        [f] = await camera.list_files()
        assert await camera.read(f, 3, 20_000_000) == virtual_bytes(3, 20_000_000)  # several USB reads
        model.split_header = True
        assert await camera.read(f, 5, 100_000) == virtual_bytes(5, 100_000)
        assert len(await camera.list_files()) == 1


async def test_a_silent_camera_times_out(clips: dict[str, Path]) -> None:
    model = camera_model(clips)
    bus = EmulatedBackend([model])
    async with await PtpCamera.open(the_device(bus), timeout_ms=200) as camera:
        [f, _] = await camera.list_files()
        model.mute_next = True
        started = time.monotonic()
        with pytest.raises(PtpTimeout):
            await camera.read(f, 0, 1000)
        assert 0.15 < time.monotonic() - started < 2


@pytest.mark.parametrize("supports_64", [True, False])
async def test_objects_past_4_gib_report_their_64_bit_size(supports_64: bool) -> None:
    size = 5 * GIB + 12_345  # ObjectInfo can only say 0xFFFFFFFF; the size comes from ObjectSize (0xDC04)
    model = PtpCameraModel("CAM7-0002", virtual={"DCIM/LONG_0001.MP4": size}, supports_64=supports_64)
    bus = EmulatedBackend([model])
    async with await dock(bus) as camera:
        [f] = await camera.list_files()
        assert f.size == size and Op.GET_OBJECT_PROP_VALUE in model.ops
        below = 4 * GIB - 1000  # a read across the 4 GiB line starts at a 32-bit offset
        assert await camera.read(f, below, 5000) == virtual_bytes(below, 5000)
        tail = size - 100_000
        if supports_64:
            assert await camera.read(f, tail, 1 << 20) == virtual_bytes(tail, 100_000)  # short only at the end
        else:
            with pytest.raises(ObjectTooLarge):
                await camera.read(f, tail, 1 << 20)


# -- deleting, errors, faults ----------------------------------------------------------------


async def test_delete_removes_the_file_and_the_camera_says_so(clips: dict[str, Path]) -> None:
    model = camera_model(clips)
    bus = EmulatedBackend([model])
    async with await dock(bus) as camera:
        first, second = await camera.list_files()
        await camera.delete(first)
        assert [f.name for f in await camera.list_files()] == [second.name]
        assert model.names() == [second.name]
        event = camera.session.poll_event(1000)
        assert event is not None and event.code == Event.OBJECT_REMOVED
        assert event.params == (parse_handle(first.handle)[1],)
        assert camera.session.poll_event(10) is None
        with pytest.raises(PtpError) as err:
            await camera.read(first, 0, 1000)
        assert err.value.name == "InvalidObjectHandle" and "GET_PARTIAL_OBJECT_64" in str(err.value)
        assert len(await pull(camera, second, 1 << 20)) == second.size  # an error answer leaves the session usable


async def test_unplug_mid_transfer_raises_device_gone(clips: dict[str, Path]) -> None:
    model = camera_model(clips)
    bus = EmulatedBackend([model])
    camera = await dock(bus)
    try:
        files = await camera.list_files()
        model.unplug_after_bytes = 100_000
        with pytest.raises(DeviceGone, match="gone"):
            await pull(camera, files[0], 65_536)
        with pytest.raises(DeviceGone):  # and stays gone for this session
            await camera.list_files()
    finally:
        await camera.close()
    assert scan(bus) == []
    model.unplug_after_bytes = None
    bus.plug(model)
    async with await dock(bus) as camera:
        [f, _] = await camera.list_files()
        assert sha256(await pull(camera, f, 65_536)) == sha256(clips[f.name].read_bytes())


@pytest.mark.parametrize("knob", ["garble_next", "short_next"])
@pytest.mark.parametrize("phase", ["data", "response"])
async def test_bad_containers_raise_protocol_error_and_a_fresh_session_works(
    clips: dict[str, Path], knob: str, phase: str
) -> None:
    model = camera_model(clips)
    bus = EmulatedBackend([model])
    camera = await dock(bus)
    try:
        files = await camera.list_files()
        setattr(model, knob, True)
        with pytest.raises(PtpProtocolError):
            if phase == "data":
                await camera.read(files[0], 0, 1 << 20)
            else:
                await camera.delete(files[0])  # DeleteObject has no data phase: the response is hit
        with pytest.raises(PtpProtocolError, match="unusable"):  # out of step: no further guessing
            await camera.list_files()
    finally:
        await camera.close()
    bus.replug(model)
    async with await dock(bus) as camera:
        f = (await camera.list_files())[-1]
        assert sha256(await pull(camera, f, 1 << 20)) == sha256(clips[f.name].read_bytes())


@pytest.mark.parametrize("mode", ["type", "code", "transaction", "length_long", "length_short"])
@pytest.mark.parametrize("phase", ["data", "response"])
async def test_each_garbled_header_field_is_caught(clips: dict[str, Path], mode: str, phase: str) -> None:
    model = camera_model(clips)
    bus = EmulatedBackend([model])
    async with await dock(bus) as camera:
        [f, _] = await camera.list_files()
        model.garble_next, model.garble_mode = True, mode
        with pytest.raises(PtpProtocolError):
            if phase == "data":
                await camera.read(f, 0, 1000)
            else:
                await camera.delete(f)


# -- locked recorders ------------------------------------------------------------------------

DRIVER_CONFIG = [{"name": "emulated-zfy", "vid": "0x1234", "pid": "0x9001", "password": b"123456".hex(),
                  "request": "0x5a"}]


async def test_locked_recorder_unlocks_into_a_ptp_camera(clips: dict[str, Path]) -> None:
    unlocked = camera_model(clips, serial="ZFY-0042")
    locked = LockedCameraModel("ZFY-0042", b"123456", then=unlocked)
    bus = EmulatedBackend([locked])
    [dev_id] = scan(bus)
    device = find_device(dev_id, bus)
    assert device is not None and not is_ptp(device)
    [entry] = load_drivers(DRIVER_CONFIG, install=False)
    assert driver_for(dev_id.vid, dev_id.pid, [entry]) is entry and driver_for(0x1234, 0x5678, [entry]) is None
    serial, officer = entry.driver.identity(device)
    assert (serial, officer) == ("ZFY-0042", None)

    with pytest.raises(UnlockRefused):
        entry.driver.unlock(device, b"000000")
    assert locked.refused == 1 and scan(bus) == [dev_id]  # still locked, still there
    assert find_reenumerated(dev_id, bus) is None

    entry.driver.unlock(device, entry.password)
    ptp_device = find_reenumerated(dev_id, bus)
    assert ptp_device is not None and ptp_device.bus == dev_id.bus and ptp_device.address != dev_id.address
    assert [d.pid for d in scan(bus)] == [0x5678]  # the locked enumeration is gone
    async with await PtpCamera.open(ptp_device, serial=serial, officer="officer-42") as camera:
        assert (camera.serial, camera.officer) == ("ZFY-0042", "officer-42")
        f = (await camera.list_files())[0]
        assert sha256(await pull(camera, f, 1 << 20)) == sha256(clips[f.name].read_bytes())


def test_driver_config_is_checked() -> None:
    good = DRIVER_CONFIG[0]
    with pytest.raises(DriverConfigError, match="6 bytes"):
        load_drivers([{**good, "password": "3132"}], install=False)
    with pytest.raises(DriverConfigError, match="hex"):
        load_drivers([{**good, "password": "not hex"}], install=False)
    with pytest.raises(DriverConfigError, match="vid"):
        load_drivers([{**good, "vid": "zz"}], install=False)
    with pytest.raises(DriverConfigError, match="request"):
        load_drivers([{**good, "request": 0x1FF}], install=False)


# -- the camera's clock ----------------------------------------------------------------------


async def test_camera_time_is_iso_8601(clips: dict[str, Path]) -> None:
    bus = EmulatedBackend([camera_model(clips), camera_model(clips, serial="CAM7-0003", device_time=None)])
    devices = [find_device(dev_id, bus) for dev_id in scan(bus)]
    with_clock, without = [await PtpCamera.open(d) for d in devices if d is not None]
    try:
        assert await with_clock.camera_time() == "2026-11-27T08:30:00"
        assert await without.camera_time() is None  # no DateTime property: nothing is asked
    finally:
        await asyncio.gather(with_clock.close(), without.close())
    assert iso_datetime("20261127T083000.5+0800") == "2026-11-27T08:30:00.500+08:00"
    assert iso_datetime("20261127T083000Z") == "2026-11-27T08:30:00+00:00"
    assert iso_datetime("2026-11-27") is None and iso_datetime("20261327T083000") is None
