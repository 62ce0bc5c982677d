"""Fault injection: the docking-station agent killed (`kill -9`) at random moments, against a local server.

Each trial docks a fresh camera folder (two short video clips and one larger recording, every one
unique) and runs the real `custody agent --source DIR --removable --once`; at a random moment between
its start and the end of a typical run the agent is killed with SIGKILL, and in some trials the
server (`custody serve`) is killed at the same moment and started again.  Then the agent is run again,
cleanly, and the trial is checked:

- wiped before receipt: a file gone from the camera right after the kill whose bytes the server had
  not logged (`evidence.ingested`);
- lost: a file the server never logged after the clean run;
- duplicated: a file logged more than once;
- stuck: after the clean run, a file still on the camera, a journal row not finished, anything in
  the spool, a live ffmpeg, or a clean run that did not end with exit status 0.

Every total must be 0: a PASS/FAIL row per count, exit 1 on a miss.  The kill points are reported
by the journal state they hit.

    python bench/agent_faults.py [--trials 100] [--server-kills 0.1] [--seed N]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from blake3 import blake3

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from verdict import Verdicts, bench_dir  # noqa: E402

CASE = "FAULTS-1"
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "CUSTODY_", "DATABASE_URL"))}
    env.update({"CUSTODY_LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO), **extra})
    return env


def custody(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "custody", *args], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True).stdout


class Server:
    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.env = clean_env(CUSTODY_HOME=str(home), CUSTODY_PORT=str(self.port), CUSTODY_HOST="127.0.0.1",
                             CUSTODY_ORIGIN="faults.bench")
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "custody", "serve"], cwd=REPO, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            if self.proc.poll() is not None:
                raise SystemExit(f"custody serve exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("custody serve does not listen")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait()

    def entries(self, token: str) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        while True:
            request = urllib.request.Request(f"{self.base}/api/v1/cases/{CASE}/entries?start={len(out)}",
                                             headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=30) as resp:
                page = [json.loads(line) for line in resp.read().splitlines() if line]
            if not page:
                return out
            out.extend(page)


def make_clip(path: Path, seconds: int) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=640x480:rate=25:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
                   check=True)


def dock_camera(camera: Path, clips: list[bytes], big_mib: int, rng: random.Random) -> dict[str, str]:
    """A fresh camera folder; every file unique (a clip with a unique tail still plays); name -> blake3."""
    (camera / "DCIM").mkdir(parents=True)
    files = {f"DCIM/VID_{i:04d}.mp4": clip + rng.randbytes(32) for i, clip in enumerate(clips)}
    files["DCIM/AUD_0001.wav"] = rng.randbytes(big_mib * MIB)
    for name, data in files.items():
        (camera / name).write_bytes(data)
    return {name: blake3(data).hexdigest() for name, data in files.items()}


def ffmpeg_alive(under: Path) -> int:
    alive = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            cmdline = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            state = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and cmdline[0].endswith(b"ffmpeg") and any(str(under).encode() in a for a in cmdline):
            alive += 1
    return alive


def journal_states(journal: Path) -> collections.Counter[str]:
    if not journal.exists():
        return collections.Counter()
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        return collections.Counter(dict(db.execute("SELECT state, count(*) FROM files GROUP BY state").fetchall()))
    finally:
        db.close()


class Agent:
    def __init__(self, home: Path, server: Server, token_file: Path) -> None:
        self.home = home
        self.env = clean_env(CUSTODY_HOME=str(home))
        custody(self.env, "station", "enrol", "--server", server.base, "--token-file", str(token_file))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, camera: Path) -> subprocess.Popen[bytes]:
        self.proc = subprocess.Popen([sys.executable, "-m", "custody", "agent", "--source", str(camera),
                                      "--removable", "--once", "--case", CASE, "--serial", "CAM-F",
                                      "--stable-seconds", "0", "--keep-flagged-hours", "0"], cwd=REPO, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self.proc

    def run(self, camera: Path) -> int:
        return self.start(camera).wait(timeout=600)

    def kill(self) -> None:
        """On the way out: a run left going (a hung clean run) must not outlive its camera and home."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    @property
    def journal(self) -> Path:
        return self.home / "agent" / "journal.sqlite"

    @property
    def spool(self) -> Path:
        return self.home / "agent" / "spool"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--server-kills", type=float, default=0.1, help="share of trials that kill the server too")
    ap.add_argument("--big-mib", type=int, default=48, help="size of the larger recording per camera")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    verdicts = Verdicts("agent_faults")
    with bench_dir("faults") as work:
        totals, hit = run(args, work)
    print("kill points by the journal states they left:")
    for key, n in sorted(hit.items(), key=lambda kv: -kv[1]):
        print(f"  {n:4d}  {key}")
    print(f"trials {args.trials}: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    ok = not any(totals.values())
    print("RESULT: " + ("PASS (all 0)" if ok else "FAIL"))
    for what, count in totals.items():
        verdicts.check(f"{what}, {args.trials} kill -9 trial(s)", ours=str(count), target="0", ok=count == 0)
    # A kill that found the agent already exited tests nothing; how many really hit a run is shown.
    mid_run = sum(n for key, n in hit.items() if key.startswith("killed:"))
    with_server = sum(n for key, n in hit.items() if key.endswith(" +server"))
    verdicts.reference(f"kill points, {args.trials} trial(s)",
                       f"{mid_run} killed mid-run, {args.trials - mid_run} after the agent exited, "
                       f"{with_server} with the server killed too")
    return verdicts.finish()


def run(args: argparse.Namespace, work: Path) -> tuple[collections.Counter[str], collections.Counter[str]]:
    """The trials; the fault totals and the kill points by the journal states they hit."""
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    server = Server(work / "server")
    totals = collections.Counter({"lost": 0, "duplicated": 0, "wiped-before-receipt": 0, "stuck": 0})
    hit: collections.Counter[str] = collections.Counter()
    agent: Agent | None = None
    try:
        custody(server.env, "db", "migrate")
        token_file = work / "station.token"
        token_file.write_text(custody(server.env, "station", "add", "dock-faults").strip().splitlines()[-1] + "\n")
        reader = custody(server.env, "user", "add", "faults-inv", "--role", "investigator").strip().splitlines()[-1]
        custody(server.env, "case", "open", CASE, "--as", "faults-inv")
        server.start()
        agent = Agent(work / "station", server, token_file)
        base = work / "base"
        base.mkdir()
        for i in range(2):
            make_clip(base / f"{i}.mp4", 2 + i)
        clips = [(base / f"{i}.mp4").read_bytes() for i in range(2)]

        # A calibration run, not killed: how long a whole offload takes here.
        started = time.monotonic()
        dock_camera(work / "calibration", clips, args.big_mib, rng)
        if agent.run(work / "calibration") != 0:
            raise SystemExit("the calibration run failed")
        span = time.monotonic() - started
        print(f"seed {seed}; one offload of 3 files ({args.big_mib} MiB + 2 clips) takes {span:.1f} s here; "
              f"kills fall in 0.2 .. {span:.1f} s", flush=True)

        for trial in range(args.trials):
            camera = work / f"camera-{trial:03d}"
            expected = dock_camera(camera, clips, args.big_mib, rng)
            kill_server = rng.random() < args.server_kills
            delay = rng.uniform(0.2, span)
            proc = agent.start(camera)
            time.sleep(delay)
            point = "exited" if proc.poll() is not None else "killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if kill_server:
                server.kill()
                server.start()
            states = journal_states(agent.journal)
            trial_states = [s for s in ("discovered", "pulling", "pulled", "uploaded", "removed", "kept", "proxied",
                                        "no_proxy") if states.get(s)]
            hit[f"{point}:{'+'.join(trial_states) or 'none'}{' +server' if kill_server else ''}"] += 1
            logged = collections.Counter(str(e.get("blake3")) for e in server.entries(reader)
                                         if e.get("kind") == "evidence.ingested")
            wiped = [n for n, b in expected.items() if not (camera / n).exists() and not logged[b]]
            code = agent.run(camera)
            logged = collections.Counter(str(e.get("blake3")) for e in server.entries(reader)
                                         if e.get("kind") == "evidence.ingested")
            lost = [n for n, b in expected.items() if not logged[b]]
            duplicated = [n for n, b in expected.items() if logged[b] > 1]
            left = journal_states(agent.journal)
            unfinished = sum(n for s, n in left.items() if s not in ("done", "superseded"))
            stuck = (code != 0) + sum(1 for p in camera.rglob("*") if p.is_file()) + unfinished \
                + len(list(agent.spool.iterdir())) + ffmpeg_alive(work)
            totals["wiped-before-receipt"] += len(wiped)
            totals["lost"] += len(lost)
            totals["duplicated"] += len(duplicated)
            totals["stuck"] += stuck
            flag = "" if not (wiped or lost or duplicated or stuck) else (
                f"  <-- wiped {wiped} lost {lost} duplicated {duplicated} stuck {stuck} (exit {code}, {dict(left)})")
            print(f"trial {trial + 1:3d}: kill at {delay:5.2f} s {point} {'+ server ' if kill_server else ''}"
                  f"in {'+'.join(trial_states) or '-'}{flag}", flush=True)
            shutil.rmtree(camera, ignore_errors=True)
    finally:
        if agent is not None:
            agent.kill()
        server.stop()
        subprocess.run([sys.executable, "-m", "custody", "db", "stop"], cwd=REPO, env=server.env,
                       capture_output=True)
    return totals, hit


if __name__ == "__main__":
    sys.exit(main())
