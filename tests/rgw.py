"""A real S3 server with Object Lock for the tests and benchmarks: a throwaway Ceph RADOS Gateway.

One monitor (no authentication, v1 messenger only), one OSD on ``memstore`` (RAM; the suite's data is
small), pools of size 1 and ``radosgw`` with the beast frontend on a loopback port, all under one
directory, no systemd.  ``paxos propose interval = 0.05`` matters most: the monitor otherwise waits
about a second before committing each change, and RGW creates its pools one by one at first start.

Debian's ``ceph-mon ceph-osd ceph-common radosgw`` (deploy/bootstrap.sh installs them) provide the
programs.  Nothing is mocked: what the tests see is Ceph's own S3 implementation.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROGRAMS = ("ceph-mon", "ceph-osd", "ceph", "radosgw", "radosgw-admin", "monmaptool")
ACCESS_KEY = "custody-rgw-test"
SECRET_KEY = "custody-rgw-test-secret"
START_TIMEOUT_S = 120
PR_SET_PDEATHSIG = 1  # prctl(2)

CONF = """\
[global]
fsid = {fsid}
mon host = v1:127.0.0.1:{mon_port}
mon initial members = a
public addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
run dir = {d}/run
admin socket = {d}/run/$name.asok
log file = {d}/log/$name.log
pid file = {d}/run/$name.pid
crash dir = {d}/crash
keyring = {d}/keyring
# One node, one copy: nothing to replicate to, and nothing to warn about.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
# The monitor commits each change after this many seconds (default 1): RGW's first start creates
# its pools one after another, each a monitor change.
paxos propose interval = 0.05
paxos min wait = 0.01
mon lease = 1
mon data avail warn = 1
mon data avail crit = 0
mon osd full ratio = 0.99
mon osd backfillfull ratio = 0.99
mon osd nearfull ratio = 0.99
osd objectstore = memstore
memstore device bytes = {memstore_bytes}
osd data = {d}/osd/$id
mon data = {d}/mon/$id
osd max object name len = 460
osd max object namespace len = 64
osd memory target = 268435456
osd op num shards = 1
osd op num threads per shard = 2
osd heartbeat grace = 60
# The OSD's own CRUSH commands at boot race its monitor session now and then ("wrong fsid", the OSD
# exits); start() places it in the CRUSH map itself instead.
osd crush update on start = false
osd class update on start = false
mon osd down out interval = 0
debug ms = 0
debug osd = 0
debug mon = 0
debug rgw = 0

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}
rgw data = {d}/rgw
rgw dns name = 127.0.0.1
rgw enable usage log = false
rgw thread pool size = 64
rgw lc debug interval = 10
rgw gc obj min wait = 5
rgw gc processor period = 5
"""


def missing_programs() -> list[str]:
    return [p for p in PROGRAMS if shutil.which(p) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Rgw:
    """A running single-node Ceph cluster with one RADOS Gateway; ``endpoint`` is ``127.0.0.1:port``."""

    directory: Path
    mon_port: int
    rgw_port: int
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.rgw_port}"

    @property
    def conf(self) -> Path:
        return self.directory / "ceph.conf"

    def run(self, *args: str, timeout: float = 60) -> str:
        """Run a Ceph command-line tool against this cluster; returns its stdout."""
        for _ in range(20):
            result = subprocess.run([args[0], "-c", str(self.conf), *args[1:]], capture_output=True, text=True,
                                    timeout=timeout)
            # Now and then a client's first command reaches a monitor that has not settled its map
            # yet ("wrong fsid", EPERM): asking again a moment later works.
            if result.returncode == 0 or "EPERM" not in result.stderr:
                break
            time.sleep(0.2)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
        return result.stdout

    def _spawn(self, name: str, *args: str) -> None:
        # -f: stay in the foreground (our child, ended by us); stderr to a file for the failure message.
        err = open(self.directory / "log" / f"{name}.stderr", "wb")
        self.procs[name] = subprocess.Popen([args[0], "-c", str(self.conf), "-f", *args[1:]],
                                            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                                            preexec_fn=_die_with_parent)
        err.close()

    def start_rgw(self) -> None:
        self._spawn("rgw", "radosgw", "-n", "client.rgw")
        self.wait_rgw()

    def stop_rgw(self, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop("rgw", None)
        if proc is not None:
            _stop(proc, sig)

    @contextlib.contextmanager
    def down(self, sig: int = signal.SIGKILL) -> Iterator[None]:
        """The gateway is gone (killed) inside the block and serving again after it, even on error."""
        self.stop_rgw(sig)
        try:
            yield
        finally:
            self.start_rgw()

    def wait_rgw(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            proc = self.procs.get("rgw")
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"radosgw exited ({proc.returncode}): {self._tail('rgw')}")
            try:
                with urllib.request.urlopen(f"http://{self.endpoint}/", timeout=2) as resp:
                    resp.read()
                return
            except urllib.error.HTTPError:
                return  # an S3 error answer (anonymous request) means it is serving
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"radosgw did not answer in {timeout:.0f} s: {self._tail('rgw')}") from None
                time.sleep(0.05)

    def _tail(self, name: str) -> str:
        """The end of a daemon's stderr and log file, for a failure message."""
        logs = {"rgw": "client.rgw.log", "osd": "osd.0.log", "mon": "mon.a.log"}
        parts = []
        for path in (self.directory / "log" / f"{name}.stderr", self.directory / "log" / logs[name]):
            if path.exists():
                parts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def version(self) -> str:
        return subprocess.run(["radosgw", "--version"], capture_output=True, text=True).stdout.strip()

    def make_user(self, uid: str, access_key: str, secret_key: str) -> None:
        self.run("radosgw-admin", "user", "create", "--uid", uid, "--display-name", uid,
                 "--access-key", access_key, "--secret", secret_key)

    def stop(self) -> None:
        # SIGKILL: a throwaway cluster in RAM has nothing to flush, and an OSD whose monitor is gone
        # takes seconds to give up on SIGTERM.
        for name in ("rgw", "osd", "mon"):
            proc = self.procs.pop(name, None)
            if proc is not None:
                _stop(proc, signal.SIGKILL)

    def rss_bytes(self) -> dict[str, int]:
        """Resident memory of each daemon (for the benchmarks)."""
        out = {}
        for name, proc in self.procs.items():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out[name] = int(line.split()[1]) * 1024
        return out


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills the daemon if the test process dies (no leaks)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def start(directory: Path, *, memstore_mib: int = 4096) -> Rgw:
    """Start a fresh cluster and gateway under ``directory`` (which must not exist or be empty) and
    create the S3 user ``ACCESS_KEY``/``SECRET_KEY``.  Raises RuntimeError with the daemons' own words
    if anything fails; the caller must ``stop()`` the result."""
    directory.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "log", "crash", "mon", "osd/0", "rgw"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    rgw = Rgw(directory, free_port(), free_port())
    fsid = str(uuid.uuid4())
    rgw.conf.write_text(CONF.format(fsid=fsid, mon_port=rgw.mon_port, rgw_port=rgw.rgw_port, d=directory,
                                    memstore_bytes=memstore_mib * 1024 * 1024))
    try:
        monmap = directory / "monmap"
        subprocess.run(["monmaptool", "--create", "--fsid", fsid, "--addv", "a",
                        f"[v1:127.0.0.1:{rgw.mon_port}]", str(monmap)], check=True, capture_output=True)
        rgw.run("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(monmap))
        rgw._spawn("mon", "ceph-mon", "-i", "a")
        osd_uuid = str(uuid.uuid4())
        osd_id = rgw.run("ceph", "osd", "new", osd_uuid).strip()
        if osd_id != "0":
            raise RuntimeError(f"expected OSD 0, the monitor gave {osd_id!r}")
        rgw.run("ceph-osd", "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
        rgw.run("ceph", "osd", "crush", "add-bucket", "localhost", "host")
        rgw.run("ceph", "osd", "crush", "move", "localhost", "root=default")
        rgw.run("ceph", "osd", "crush", "add", "osd.0", "1.0", "host=localhost")
        rgw._spawn("osd", "ceph-osd", "-i", "0")
        _wait_osd_up(rgw)
        rgw.start_rgw()
        rgw.make_user("custody", ACCESS_KEY, SECRET_KEY)
    except BaseException:
        rgw.stop()
        raise
    return rgw


def _wait_osd_up(rgw: Rgw) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        osd = rgw.procs["osd"]
        if osd.poll() is not None:
            raise RuntimeError(f"ceph-osd exited ({osd.returncode}): {rgw._tail('osd')}")
        status = json.loads(rgw.run("ceph", "osd", "stat", "--format", "json"))
        if status.get("num_up_osds", 0) >= 1:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the OSD did not come up in {START_TIMEOUT_S} s: {rgw._tail('osd')}")


@contextlib.contextmanager
def running(directory: Path, **kwargs: int) -> Iterator[Rgw]:
    rgw = start(directory, **kwargs)
    try:
        yield rgw
    finally:
        rgw.stop()
        if os.environ.get("CUSTODY_KEEP_RGW") is None:
            shutil.rmtree(directory, ignore_errors=True)
