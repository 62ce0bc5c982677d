"""``custody demo``: the whole product working, on the embedded defaults, in under a minute.

It starts the server, creates one user per role and a docking station, generates body-camera-like
clips with ffmpeg (test pattern, tone, a clock burnt in, a realistic ``creation_time``), offloads them
through the real agent pipeline (a folder as a mass-storage camera: pull, hash, proxy, resumable
upload, receipt verified, then wiped from the "camera"), adds a text record, exports the court bundle
and verifies it offline, then drafts a disclosure of the decision, passes its legal review and
publishes it — and keeps serving so you can sign in and look, until Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import shutil
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from api.app import create_app
from api.appkeys import LOCKER
from custody import local_tsa
from custody.shell import as_operator
from foundation import clock
from foundation.settings import Settings
from ingest.agent import Agent, AgentConfig
from ingest.client import CustodyClient
from ingest.sources import DirectorySource
from ingest.spool import Journal
from integrity.bundle import Trust
from integrity.bundle_files import verify_bundle
from integrity.verify import print_report, verify_file
from policy.review import CHECKLIST, MAJOR_CRITERIA
from services import accounts, cases, decisions, disclosure, evidence, timestamping
from services.locker import Locker
from storage import db, principals
from storage.keys import KeyRing
from storage.objects import bytes_source
from storage.principals import Principal
from witness import config as witness_config
from witness import server as witness_server

CLIP_SECONDS = 4
USERS = (("demo-investigator", "investigator"), ("demo-disclosure", "disclosure"),
         ("demo-approver", "disclosure"), ("demo-reviewer", "reviewer"), ("demo-admin", "admin"),
         ("dock-01", "station"))
SAMPLE_DECISION = {
    "party_type": "natural", "party_name": "王小明", "party_id_no": "110105198803150018",
    "party_phone": "13912345678", "party_address": "北京市朝阳区建国路88号3单元502",
    "violation": "王小明于{date}在建国路占道经营，经责令改正拒不改正，联系电话13912345678。",
    "legal_basis": "《城市市容和环境卫生管理条例》第三十六条", "penalty": "罚款人民币200元",
    "category": "市容环境",
}


async def make_clip(path: Path, recorded_at: dt.datetime, seconds: int = CLIP_SECONDS) -> None:
    """A small H.264/AAC clip; drawtext needs a font, so fall back to the bare pattern without one."""
    stamp = recorded_at.strftime("%Y-%m-%d %H\\:%M\\:%S")
    base = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    tail = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-metadata", f"creation_time={recorded_at.strftime('%Y-%m-%dT%H:%M:%S.000000Z')}",
            "-movflags", "+faststart", str(path)]
    text = f"drawtext=text='CAM-0042 {stamp}':x=10:y=10:fontsize=20:fontcolor=white:box=1:boxcolor=black"
    err = b""
    for vf in (["-vf", text], []):
        proc = await asyncio.create_subprocess_exec(*base, *vf, *tail, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode == 0:
            return
    raise RuntimeError(f"ffmpeg could not make a sample clip: {err.decode(errors='replace')[-400:]}")


async def _accounts(locker: Locker) -> tuple[dict[str, str], dict[str, Principal]]:
    """One user per role and the station, created by the operator running the demo; a re-run in the same
    home reissues their tokens (old ones stop working).  Returns the tokens and the principals by name."""
    tokens = {}
    for name, role in USERS:
        try:
            _, tokens[name] = await accounts.add(locker, name, role, who=as_operator())
        except principals.PrincipalExists:
            tokens[name] = await accounts.reissue(locker, name, who=as_operator())
    found = {p.name: p for p in await principals.list_principals(locker.pool)}
    return tokens, {name: found[name] for name, _ in USERS}


async def _offload(server: str, token: str, vkey: str, camera: Path, spool: Path, case_id: str) -> Any:
    journal = Journal(spool / "journal.sqlite")
    try:
        async with CustodyClient(server, token, vkeys=[vkey]) as client:
            agent = Agent(AgentConfig(spool_dir=spool / "spool", case=case_id, officer="officer-0042"),
                          journal, client)
            source = DirectorySource(camera, serial="CAM-0042", officer="officer-0042", removable=True)
            return await agent.offload(source)
    finally:
        journal.close()


async def _demo_witness(settings: Settings, work: Path) -> tuple[web.AppRunner | None, Settings, tuple[str, ...]]:
    """A witness for the demo's logs, unless the installation already names its own (CUSTODY_WITNESSES).

    In production a witness is another authority's server (``custody witness serve`` elsewhere); here one
    runs on this machine with a key of its own, so the exported bundle carries a cosigned checkpoint and
    the offline check can demand it.  Returns its runner, the settings that use it, and its vkeys.
    """
    if settings.witness_entries:
        return None, settings, tuple(vkey for _, vkey in settings.witness_entries)
    ring = KeyRing(settings.keys_dir)
    ring.signer(settings.origin)  # the log key the witness will accept (made now if this is a first run)
    config = witness_config.init(work / "witness", "witness.demo.local", [(f"{settings.origin}/case/", ring.vkeys())])
    runner = web.AppRunner(witness_server.create_app(config), access_log=None)
    await runner.setup()
    with socket.socket() as probe:
        probe.bind((settings.host, 0))
        port = probe.getsockname()[1]
    await web.TCPSite(runner, settings.host, port).start()
    witnessed = dataclasses.replace(settings, witnesses=f"http://{settings.host}:{port} {config.cosigner.vkey}",
                                    witness_interval_seconds=1)
    return runner, witnessed, (config.cosigner.vkey,)


@contextlib.asynccontextmanager
async def _demo_tsa(settings: Settings, work: Path) -> AsyncIterator[tuple[Settings, bytes | None]]:
    """An RFC 3161 time-stamping authority for the demo (OpenSSL's, on this machine), unless the
    installation names its own (CUSTODY_TSA_URLS).  Yields the settings that use it and the root
    certificate a verifier trusts (None: the installation's own TSA, its root is not ours to print)."""
    if settings.tsa_url_list or shutil.which("openssl") is None:
        yield settings, None
        return
    tsa = await asyncio.to_thread(local_tsa.make_tsa, work / "tsa", "Custody Demo TSA")
    async with local_tsa.serve_tsa(tsa) as url:
        yield dataclasses.replace(settings, tsa_urls=url, tsa_chain_file=str(tsa.tsa_pem)), tsa.ca_pem.read_bytes()


async def run_demo(settings: Settings, *, clips: int = 3, serve: bool = True) -> int:
    """The main job start to finish; stops the embedded PostgreSQL on the way out if it started it
    (Ctrl-C included), and leaves one that was already running."""
    started_db = not settings.database_url and not await asyncio.to_thread(db.embedded_running, settings.pg_dir)
    try:
        return await _run_demo(settings, clips=clips, serve=serve)
    finally:
        if started_db:
            await asyncio.to_thread(db.stop_embedded, settings.pg_dir)


async def _run_demo(settings: Settings, *, clips: int, serve: bool) -> int:
    work = settings.home / "demo" / f"TSA-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}"  # a new root per run
    async with _demo_tsa(settings, work) as (settings, tsa_root):
        return await _run_story(settings, clips=clips, serve=serve, tsa_root=tsa_root)


async def _run_story(settings: Settings, *, clips: int, serve: bool, tsa_root: bytes | None) -> int:
    if shutil.which("ffmpeg") is None:
        print("custody demo needs ffmpeg (apt-get install ffmpeg; `make demo` installs it)")
        return 2
    started = time.monotonic()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    case_id = f"DEMO-{now:%Y%m%d-%H%M%S}"
    work = settings.home / "demo" / case_id
    camera = work / "camera" / "DCIM"
    camera.mkdir(parents=True, exist_ok=True)

    print(f"1. generating {clips} body-camera clips with ffmpeg")
    times = [now - dt.timedelta(minutes=10 * (clips - i)) for i in range(clips)]
    paths = [work / f"CAM0042_{t:%Y%m%d_%H%M%S}.mp4" for t in times]
    clip_jobs = asyncio.gather(*(make_clip(p, t) for p, t in zip(paths, times, strict=True)))

    http_log = logging.getLogger("custody.http")
    http_log.setLevel(logging.WARNING)  # one line per request would drown the story; back on when serving
    witness_runner, settings, witness_keys = await _demo_witness(settings, work)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=10)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        base = f"http://{settings.host}:{settings.port}"
        locker = app[LOCKER]
        tokens, users = await _accounts(locker)
        investigator, disclosure_staff = users["demo-investigator"], users["demo-disclosure"]
        vkey = locker.log.signer.vkey
        print(f"2. server up at {base} (database {'DATABASE_URL' if settings.database_url else settings.pg_dir}, "
              f"{settings.store} object store); users and station dock-01 created; "
              f"{len(witness_keys)} witness(es) cosign every checkpoint"
              + (" (a demo witness on this machine; in production another authority's)" if witness_runner else ""))
        await cases.open_case(locker, case_id, who=investigator, title="Demo: street-vending inspection 占道经营检查")
        print(f"3. opened case {case_id}")
        await clip_jobs
        for p in paths:  # the "camera": the agent deletes its copies only after a verified receipt
            shutil.copy2(p, camera / p.name)

        print("4. docking station dock-01 offloads the camera (pull, BLAKE3 + SHA-256, proxy, upload, receipt):")
        report = await _offload(base, tokens["dock-01"], vkey, camera.parent, work / "agent", case_id)
        left = sorted(x.name for x in camera.iterdir())
        print(f"   {len(report.receipted)} recording(s) receipted, {report.proxies} proxies, "
              f"{len(report.failed)} failed; left on the camera: {left or 'nothing'}")
        if not report.ok:
            for name, why in report.failed.items():
                print(f"   NOT RECEIPTED {name}: {why}")
            return 1

        record = "现场检查笔录 / on-site inspection record\n当事人在建国路占道经营，经责令改正拒不改正。\n".encode()
        added = await evidence.add_record(locker, case_id, bytes_source(record), who=investigator,
                                          stage="investigation", file_name="inspection-record.txt",
                                          media_type="text/plain; charset=utf-8")
        print(f"5. text record added (调查取证) -> entry {added.seq}")

        if settings.tsa_url_list:  # a round now, rather than at the hourly job: the bundle carries its token
            await timestamping.run_round(locker.pool, settings.tsa_url_list, who=as_operator())
        bundle = work / f"{case_id}.zip"
        n_entries, n_objects = await evidence.export(locker, case_id, bundle, who=investigator, with_media=True,
                                                     purpose="demo export")
        vkey_file = work / "custody.vkey"
        vkey_file.write_text(vkey + "\n")
        witness_file = work / "witness.vkey"
        witness_file.write_text("".join(k + "\n" for k in witness_keys))
        tsa_file = work / "tsa-root.pem"
        if tsa_root:
            tsa_file.write_bytes(tsa_root)
        print(f"6. exported {bundle} ({n_entries} entries, {n_objects} objects); verifying it offline, "
              f"demanding a cosignature from {len(witness_keys)} witness(es)"
              + (" and checking the timestamp against the demo TSA's root:" if tsa_root else ":"))
        verified = verify_bundle(bundle, [vkey], Trust(witness_keys, 1 if witness_keys else None,
                                                        (tsa_root,) if tsa_root else ()))
        print_report(verified)
        matched = verify_file(paths[0], bundle, [vkey])

        today = clock.today()
        decision_no = f"示例城管罚字〔{today:%Y}〕第{now:%H%M%S}号"
        # §四(二): the handler determines, before the decision is recorded, whether it is major.
        await decisions.determine(locker, case_id, decision_no,
                                  answers={c: c == "after_hearing" for c in MAJOR_CRITERIA},
                                  facts={"hearing_held": True, "penalties": ["fine"], "fine_yuan": 500},
                                  who=investigator)
        d = await disclosure.create(locker, case_id, {
            **SAMPLE_DECISION, "violation": SAMPLE_DECISION["violation"].format(date=f"{today:%Y年%m月%d日}"),
            "decision_no": decision_no, "decision_date": today.isoformat()},
            who=disclosure_staff)
        await disclosure.record_review(locker, d.id, who=users["demo-reviewer"], outcome="passed",
                                       checklist=dict.fromkeys(CHECKLIST, True),
                                       opinion="主体合法，程序合法，事实清楚，证据充分，适用法律正确。")
        # Separation of duties (§二): the drafter does not approve, the approver does not publish.
        d = await disclosure.transition(locker, d.id, "approve", who=users["demo-approver"], today=today)
        d = await disclosure.transition(locker, d.id, "publish", who=disclosure_staff, today=today)
        print(f"7. disclosure {d.id} (decision {d.decision_no}) flagged major, legal review passed by "
              f"demo-reviewer, published; takedown due {d.takedown_due} (natural person: 2 years)")

        ok = verified.ok and matched == 0
        print(f"\nset-up finished in {time.monotonic() - started:.1f} s: {'ALL VERIFIED' if ok else 'PROBLEMS'}")
        print(f"\n  open {base}/ and sign in with a token:")
        for name, role in USERS:
            if role != "station":
                print(f"    {role:<13} {tokens[name]}")
        print(f"  public portal (no sign-in): {base}/public")
        print(f"  case log: custody log {case_id}    offline check: custody verify-bundle {bundle} "
              f"--vkey {vkey_file}" + (f" --witness-key {witness_file} --quorum 1" if witness_keys else "")
              + (f" --tsa-cert {tsa_file}" if tsa_root else ""))
        if not serve:
            return 0 if ok else 1
        http_log.setLevel(logging.NOTSET)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # Only now: whoever reads this line may press Ctrl-C at once (the test does); before the
        # handlers, a SIGINT is a KeyboardInterrupt thrown through the event loop instead.
        print("\nserving until Ctrl-C", flush=True)
        await stop.wait()
        return 0 if ok else 1
    finally:
        await runner.cleanup()
        if witness_runner is not None:
            await witness_runner.cleanup()
