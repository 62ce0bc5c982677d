"""Station-side subcommands: enrol, run the agent, import files through the agent's pipeline."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from foundation.settings import Settings
from ingest.agent import Agent, AgentConfig
from ingest.client import ApiError, CustodyClient
from ingest.sources import DirectorySource
from ingest.spool import Journal
from ingest.station import Enrolment, read_token_file
from ingest.usb import load_drivers
from ingest.watch import watch_usb

logger = logging.getLogger("custody.agent")


def _positive(kind: type[int] | type[float]) -> Any:
    """An argparse type that refuses zero and negatives with a clear message (not a silent clamp)."""
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
        return value
    return parse


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def register(sub: Any, station: Any) -> None:
    """Add the agent command to ``sub`` and ``enrol`` to the ``station`` group."""
    enrol = station.add_parser("enrol", help="pin the server's vkey and store this station's token")
    enrol.add_argument("--server", required=True)
    enrol.add_argument("--token-file", type=Path, required=True)
    enrol.add_argument("--vkey-file", type=Path, help="the vkey obtained out of band (else: trust on first use)")
    enrol.set_defaults(handler=station_enrol)

    p = sub.add_parser("agent", help="offload docked cameras: pull, upload, verify receipt, then wipe")
    p.add_argument("--server", help="override the enrolled server")
    p.add_argument("--token-file", type=Path, help="override the enrolled token")
    p.add_argument("--source", type=Path, help="treat this folder as a docked mass-storage camera")
    p.add_argument("--removable", action="store_true", help="with --source: delete files once receipted")
    p.add_argument("--serial", help="with --source: the camera serial to record")
    p.add_argument("--officer")
    p.add_argument("--case", dest="case_id")
    p.add_argument("--once", action="store_true", help="offload what is docked now, then exit")
    p.add_argument("--no-proxies", action="store_true")
    p.add_argument("--bandwidth-mib", type=_positive(float), help="cap on bytes pulled per second, in MiB")
    p.add_argument("--max-cameras", type=_positive(int), default=2, help="cameras offloaded at once (default 2)")
    p.add_argument("--stable-seconds", type=_non_negative, default=AgentConfig.stable_s,
                   help="a file must be unchanged this long before it is pulled: a recorder may still be "
                        f"writing it (default {AgentConfig.stable_s:g})")
    p.add_argument("--keep-flagged-hours", type=_non_negative, default=AgentConfig.flag_keep_s / 3600,
                   help="keep the spool copy of a file flagged 'no proxy' this long, for --retry-proxies "
                        f"(default {AgentConfig.flag_keep_s / 3600:g})")
    p.add_argument("--retry-proxies", action="store_true",
                   help="first send the files flagged 'no proxy' whose spool copy is kept through ffmpeg again")
    p.add_argument("--drivers", type=Path,
                   help="JSON list of unlock drivers for recorders that dock locked (default: "
                        "$CUSTODY_HOME/agent/drivers.json if present); see ingest/usb.py")
    p.set_defaults(handler=agent)


def _agent_dir(settings: Settings) -> Path:
    return settings.home / "agent"


async def station_enrol(args: argparse.Namespace, settings: Settings) -> int:
    token = read_token_file(args.token_file)
    async with CustodyClient(args.server, token) as client:
        keys = await client.request("GET", "/api/v1/keys")
        vkeys = [args.vkey_file.read_text().strip()] if args.vkey_file else [keys["current"]]
        # Proves the token is a station's: a missing upload is 404 for anyone who may upload (stations,
        # and users since browser intake), and only a station is refused the staff's case list.
        try:
            await client.request("GET", "/api/v1/uploads/00000000-0000-0000-0000-000000000000")
        except ApiError as exc:
            if exc.status != 404:
                raise
        try:
            await client.request("GET", "/api/v1/cases?limit=1")
        except ApiError as exc:
            if exc.status != 403:
                raise
        else:
            raise ApiError(403, {"error": "not_a_station",
                                 "message": "this token is a user's, not a docking station's: create one with "
                                            "`custody station add NAME` on the server"})
    Enrolment(args.server, token, vkeys).save(_agent_dir(settings) / "station.json")
    pinned = "from --vkey-file" if args.vkey_file else "as published by the server now (trust on first use)"
    print(f"enrolled with {args.server}; pinned vkey {vkeys[0]} {pinned}")
    return 0


def agent_config(args: argparse.Namespace, home: Path) -> AgentConfig:
    """The agent's limits and routing as the command line sets them."""
    return AgentConfig(
        spool_dir=home / "spool", case=args.case_id, officer=args.officer, make_proxies=not args.no_proxies,
        bandwidth_bytes_s=int(args.bandwidth_mib * 1024 * 1024) if args.bandwidth_mib else None,
        max_cameras=args.max_cameras, stable_s=args.stable_seconds, flag_keep_s=args.keep_flagged_hours * 3600,
    )


async def agent(args: argparse.Namespace, settings: Settings) -> int:
    home = _agent_dir(settings)
    if args.server and args.token_file:
        enrolment = Enrolment(args.server, read_token_file(args.token_file), [])
        try:
            enrolment = Enrolment(args.server, enrolment.token, Enrolment.load(home / "station.json").vkeys)
        except Exception:
            logger.warning("no enrolment: receipts are checked against the server's current key only")
    else:
        enrolment = Enrolment.load(home / "station.json")
    config = agent_config(args, home)
    journal = Journal(home / "journal.sqlite")
    try:
        async with CustodyClient(enrolment.server, enrolment.token, vkeys=enrolment.vkeys or None) as client:
            runner = Agent(config, journal, client)
            if args.retry_proxies:
                for name in await runner.retry_flagged():
                    print(f"proxy to be tried again: {name}")
            if args.source:
                source = DirectorySource(args.source, serial=args.serial, officer=args.officer,
                                         removable=args.removable)
                return await _offload_until_done(runner, source, once=args.once)


            drivers_file = args.drivers or home / "drivers.json"
            drivers = []
            if drivers_file.is_file():
                drivers = load_drivers(json.loads(drivers_file.read_text()), install=False)
            if args.drivers and not drivers:
                logger.warning("%s lists no drivers: locked recorders will not be unlocked", args.drivers)
            return await watch_usb(runner, once=args.once, drivers=drivers)
    finally:
        journal.close()


async def _offload_until_done(runner: Any, source: Any, *, once: bool) -> int:
    """Offload; while the server is unreachable, files wait in the spool and are retried with backoff."""
    delay = 1.0
    while True:
        resumed = await runner.resume([source])
        report = await runner.offload(source)
        for name, why in {**resumed.failed, **report.failed}.items():
            print(f"NOT RECEIPTED: {name}: {why}")
        waiting = {**resumed.waiting, **report.waiting}
        for name, why in waiting.items():
            print(f"WAITING: {name}: {why}")
        print(f"{source.serial}: {len(report.receipted)} file(s) receipted, {len(report.failed)} not"
              f"{', ' + str(len(report.no_proxy)) + ' without proxy' if report.no_proxy else ''}"
              f"{', ' + str(len(waiting)) + ' waiting' if waiting else ''}")
        if report.ok and resumed.ok and not waiting:
            if once:
                return 0
            delay = 1.0
        elif once:
            return 1
        await asyncio.sleep(delay)
        delay = min(delay * 2, 60.0)
