"""Subcommands for cases, ingest, bundles, verification, scrub and keys."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import mimetypes
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from api.app import serve as run_server
from custody import (
    basic_info_commands,
    bookmark_commands,
    governance_commands,
    organise_commands,
    redaction_commands,
    restriction_commands,
    share_commands,
    station_commands,
    witness_commands,
)
from custody.demo import run_demo
from custody.shell import CliError, acting, add_as, as_operator
from foundation.settings import Settings
from ingest.agent import Agent, AgentConfig
from ingest.client import CustodyClient
from ingest.probe import media_fields
from ingest.sources import DirectorySource
from ingest.spool import Journal
from ingest.station import Enrolment, NotEnrolled, read_token_file
from integrity.verify import verify_file
from policy.cases import STAGES
from policy.people import check_profile
from services import accounts, cases, evidence, retention, scrub
from services.locker import open_locker
from storage import db, principals
from storage.keys import KeyRing
from storage.objects import file_source
from storage.principals import ROLES, PrincipalNotFound


def register(sub: Any) -> None:
    """Add this module's subcommands to the ``custody`` parser."""
    case = sub.add_parser("case", help="cases").add_subparsers(dest="case_command", required=True)
    p = case.add_parser("open", help="open a case (its log starts with case.opened)")
    p.add_argument("case_id")
    p.add_argument("--title", default="")
    # dest: ``handler`` is the subcommand's function (set_defaults below), which this option used to clobber
    p.add_argument("--handler", dest="case_handler",
                   help="the case handler (承办人; may not legally review it): an active investigator's user "
                        "name; default: the --as user")
    add_as(p)
    p.set_defaults(handler=case_open)
    case.add_parser("list", help="list cases").set_defaults(handler=case_list)
    p = case.add_parser("close", help="record the case as closed (starts case_closed retention clocks)")
    p.add_argument("case_id")
    p.add_argument("--reason", default="")
    add_as(p)
    p.set_defaults(handler=case_close)

    restriction_commands.register(case)

    p = sub.add_parser("ingest", help="store recordings or records in a case and log them")
    p.add_argument("files", nargs="+", type=Path, help="files, or folders (every file in them, recursively)")
    p.add_argument("--case", required=True, dest="case_id")
    p.add_argument("--officer", default="")
    p.add_argument("--camera", default="", help="camera serial")
    p.add_argument("--station", default="")
    p.add_argument("--kind", default="evidence.ingested", choices=["evidence.ingested", "record.added"])
    p.add_argument("--stage", choices=list(STAGES),
                   help="for record.added: " + ", ".join(f"{k} ({v})" for k, v in STAGES.items()))
    p.add_argument("--server", help="import through a Custody server (the agent's pipeline) instead of locally")
    p.add_argument("--token-file", type=Path, help="with --server: a station token")
    p.add_argument("--no-proxies", action="store_true")
    add_as(p)
    p.set_defaults(handler=ingest)

    p = sub.add_parser("log", help="print a case's log entries")
    p.add_argument("case_id")
    p.add_argument("--json", action="store_true", help="the raw canonical entries, one per line")
    p.set_defaults(handler=show_log)

    p = sub.add_parser("export", help="write a case's court bundle")
    p.add_argument("case_id")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--with-media", action="store_true", help="include the objects (logged as an access)")
    p.add_argument("--purpose", default="court bundle export")
    add_as(p)
    p.set_defaults(handler=export)

    p = sub.add_parser("verify-bundle", help="verify a bundle offline; exit 0 only when all holds")
    p.add_argument("bundle", type=Path)
    p.add_argument("--vkey", action="append", type=Path, help="trusted verifier key file (repeatable)")
    p.add_argument("--json", action="store_true")
    witness_commands.add_verify_arguments(p)

    p = sub.add_parser("verify", help="is this exact file evidence? (in a bundle, or asking a server)")
    p.add_argument("file", type=Path)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--bundle", type=Path)
    where.add_argument("--server", help="base URL of a Custody server; every proof is checked here")
    p.add_argument("--case", dest="case_id")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token-file", type=Path,
                       help="with --server: a file holding the bearer token (preferred: not in the process list)")
    token.add_argument("--token", default=os.environ.get("CUSTODY_TOKEN"),
                       help="bearer token (or $CUSTODY_TOKEN); visible to every user in the process list, "
                            "so prefer --token-file")
    p.add_argument("--vkey", action="append", type=Path, help="pinned verifier key file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=verify_file_cmd)

    p = sub.add_parser("scrub", help="re-hash stored objects, re-check case trees and issued checkpoints, and "
                                     "compare every table row the log determines with the log")
    p.add_argument("--case", dest="case_id")
    p.add_argument("--archive-missing", action="store_true",
                   help="copy checkpoints that verify but have no write-once copy in the object store yet into "
                        "it (once, after upgrading from a version without the checkpoint archive)")
    p.add_argument("--orphan-grace-minutes", type=float, default=scrub.ORPHAN_GRACE.total_seconds() / 60,
                   help="report an object no entry names (orphan_object) once it is this old; younger ones may be "
                        "between their store write and their entry (default: %(default)g)")
    p.set_defaults(handler=run_scrub)

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(dest="keys_command", required=True)
    p = keys.add_parser("show", help="print the published verifier keys")
    p.add_argument("--vkey", action="store_true",
                   help="exactly the vkey lines, one per key, oldest first (what signed-note libraries read)")
    p.set_defaults(handler=keys_show)
    keys.add_parser("rotate", help="start signing with a new key").set_defaults(handler=keys_rotate)

    p = sub.add_parser("serve", help="run the HTTP API server")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, help="server processes sharing the port (default: CUSTODY_WORKERS)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # a child of --workers N
    p.set_defaults(handler=serve)

    user = sub.add_parser("user", help="users and their tokens").add_subparsers(dest="user_command", required=True)
    p = user.add_parser("add", help="create a user and print its token (shown once)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=[r for r in ROLES if r != "station"])
    _profile_args(p)
    p.set_defaults(handler=principal_add)
    p = user.add_parser("edit", help="change a user's display name, badge number (执法证号) or unit (logged in "
                                     "the governance log; the login name never changes)")
    p.add_argument("name")
    _profile_args(p)
    p.set_defaults(handler=principal_edit)
    user.add_parser("list", help="list users and stations").set_defaults(handler=principal_list)
    user.add_parser("record-existing", help="once, after upgrading a store whose accounts predate account "
                                            "entries: log each user and station in the governance log, so "
                                            "scrub holds the principals table to it").set_defaults(
        handler=principal_record_existing)
    station = sub.add_parser("station", help="docking stations").add_subparsers(dest="station_command", required=True)
    p = station.add_parser("add", help="create a station on the server and print its token (shown once)")
    p.add_argument("name")
    p.set_defaults(handler=principal_add, role="station")
    token = sub.add_parser("token", help="tokens").add_subparsers(dest="token_command", required=True)
    p = token.add_parser("revoke", help="revoke a user's or station's token")
    p.add_argument("name")
    p.set_defaults(handler=token_revoke)
    p = token.add_parser("reissue", help="replace a token (the old one stops working)")
    p.add_argument("name")
    p.set_defaults(handler=token_reissue)

    station_commands.register(sub, station)
    governance_commands.register(sub)
    witness_commands.register(sub)
    share_commands.register(sub)
    basic_info_commands.register(sub)
    redaction_commands.register(sub)
    bookmark_commands.register(sub)
    organise_commands.register(sub)

    p = sub.add_parser("demo", help="the main job on the embedded defaults, start to finish")
    p.add_argument("--clips", type=int, default=3)
    p.add_argument("--port", type=int, help="serve on this port (default: CUSTODY_PORT)")
    p.add_argument("--no-serve", action="store_true", help="exit after the set-up instead of serving")
    p.set_defaults(handler=demo)


async def case_open(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        result = await cases.open_case(locker, args.case_id, who=await acting(args, settings, locker.pool),
                                       title=args.title, handler=args.case_handler)
    print(f"opened case {args.case_id} (entry {result.seq}, tree size {result.tree_size})")
    return 0


async def case_close(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        extended = await retention.close_case(locker, args.case_id, who=await acting(args, settings, locker.pool),
                                              reason=args.reason)
    print(f"closed case {args.case_id}; {len(extended)} object lock(s) extended")
    return 0


async def case_list(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        for case in await locker.log.list_cases():
            print(f"{case['id']:<24} {case['size']:>6} entries  opened {case['created_at']:%Y-%m-%d %H:%M} "
                  f"by {case['created_by']}  {case['title']}")
    return 0


def _files_in(paths: list[Path]) -> list[Path]:
    """The files named, and every file inside the folders named (recursively, hidden ones left out)."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise CliError("no such file or folder: " + ", ".join(missing))
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(f for f in path.rglob("*")
                            if f.is_file() and not any(part.startswith(".") for part in f.relative_to(path).parts))
        else:
            found.append(path)
    if not found:
        raise CliError("no files to ingest in " + ", ".join(map(str, paths)))
    return found


async def ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.server:
        return await _ingest_via_server(args, settings)
    files = _files_in(args.files)
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        for path in files:
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            fields: dict[str, Any] = {"file_name": path.name, "media_type": media_type}
            for name in ("officer", "camera", "station", "stage"):
                if getattr(args, name):
                    fields[name] = getattr(args, name)
            fields.update(await media_fields(path, media_type))
            result = await evidence.import_file(locker, args.case_id, file_source(path), who=who, kind=args.kind,
                                                fields=fields)
            entry = json.loads(result.body)
            state = "logged" if result.created else "already logged"
            print(f"{path.name}: {state} as entry {result.seq} of case {args.case_id}  "
                  f"blake3 {entry['blake3']}  sha256 {entry['sha256']}  {entry['size']} bytes")
    return 0


async def _ingest_via_server(args: argparse.Namespace, settings: Settings) -> int:
    """Files or folders through the agent's pipeline (spool, receipt check); non-zero if any is not receipted."""
    if not args.token_file:
        raise CliError("--server needs --token-file (a station token)")
    missing = [str(f) for f in args.files if not f.exists()]
    if missing:
        raise CliError("no such file or folder: " + ", ".join(missing))
    home = settings.home / "agent"
    try:
        vkeys = Enrolment.load(home / "station.json").vkeys
    except Exception:
        vkeys = []
    journal = Journal(home / "journal.sqlite")
    failed = 0
    try:
        config = AgentConfig(spool_dir=home / "spool", case=args.case_id, officer=args.officer or None,
                             make_proxies=not args.no_proxies)
        async with CustodyClient(args.server, read_token_file(args.token_file), vkeys=vkeys or None) as client:
            runner = Agent(config, journal, client)
            for path in args.files:
                report = await runner.offload(DirectorySource(path, serial=args.camera or None,
                                                              officer=args.officer or None))
                for name in report.receipted:
                    print(f"receipted: {name}")
                for name, why in report.failed.items():
                    print(f"NOT RECEIPTED: {name}: {why}")
                failed += len(report.failed)
    finally:
        journal.close()
    return 1 if failed else 0


async def show_log(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        rows = await locker.log.entries(args.case_id)
        for row in rows:
            if args.json:
                sys.stdout.buffer.write(row.body + b"\n")
            else:
                entry = json.loads(row.body)
                extra = entry.get("file_name") or entry.get("title") or entry.get("purpose") or ""
                print(f"{row.seq:>6}  {entry['time']}  {row.kind:<20} {row.actor:<20} {extra}")
    return 0


async def export(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        n_entries, n_objects = await evidence.export(locker, args.case_id, args.output,
                                                     who=await acting(args, settings, locker.pool),
                                                     with_media=args.with_media, purpose=args.purpose)
    print(f"wrote {args.output}: {n_entries} entries, {n_objects} objects")
    return 0


def _vkeys(paths: list[Path] | None) -> list[str] | None:
    if not paths:
        return None
    return [line.strip() for p in paths for line in p.read_text().splitlines() if line.strip()]


async def verify_file_cmd(args: argparse.Namespace, settings: Settings) -> int:
    if args.bundle:
        return verify_file(args.file, args.bundle, _vkeys(args.vkey), as_json=args.json)
    return await _verify_with_server(args)


async def _verify_with_server(args: argparse.Namespace) -> int:
    token = args.token
    if args.token_file is not None:
        try:
            token = read_token_file(args.token_file)
        except (OSError, NotEnrolled) as exc:
            raise CliError(f"cannot read the token file: {exc}") from None
    if not token:
        raise CliError("--server needs a token: --token-file FILE (or --token, $CUSTODY_TOKEN)")
    if not args.file.is_file():
        raise CliError(f"not a file: {args.file}")
    async with CustodyClient(args.server, token, vkeys=_vkeys(args.vkey)) as client:
        digest, entries = await client.verify_file(args.file, args.case_id)
    if args.json:
        print(json.dumps({"file": str(args.file), "blake3": digest.blake3, "sha256": digest.sha256,
                          "size": digest.size, "match": bool(entries), "entries": entries}, ensure_ascii=False))
    for e in entries if not args.json else []:
        who = "".join(f", {k} {e[k]}" for k in ("camera", "officer", "recorded_at") if e.get(k))
        print(f"MATCH: {args.file.name} is entry {e['seq']} ({e['kind']}) of case {e['case']}, logged {e['time']}"
              f"{who}; inclusion proof and checkpoint signature verified here")
    if not entries and not args.json:
        print(f"NO MATCH: blake3 {digest.blake3} is not evidence{' in case ' + args.case_id if args.case_id else ''}")
    return 0 if entries else 1


async def run_scrub(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        problems = await scrub.scrub(locker, args.case_id, archive_missing=args.archive_missing,
                                     orphan_grace=dt.timedelta(minutes=max(0.0, args.orphan_grace_minutes)),
                                     upload_idle=dt.timedelta(hours=settings.upload_idle_hours))
    for problem in problems:
        print(f"SCRUB FAILURE: {problem}")
    print(f"scrub: {len(problems)} problem(s)" if problems else
          "scrub: every object and tree verifies, and every table row agrees with the log")
    return 1 if problems else 0


async def keys_show(args: argparse.Namespace, settings: Settings) -> int:
    ring = KeyRing(settings.keys_dir)
    current = ring.signer(settings.origin)
    for vkey in ring.vkeys():
        # --vkey: the lines alone, for a signed-note library or a file a verifier pins.
        print(vkey if args.vkey or vkey != current.vkey else f"{vkey}  (current)")
    return 0


async def keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    signer = KeyRing(settings.keys_dir).rotate(settings.origin)
    print(f"now signing with {signer.vkey}; earlier keys stay published for earlier checkpoints")
    return 0


async def demo(args: argparse.Namespace, settings: Settings) -> int:


    if args.port:
        settings = dataclasses.replace(settings, port=args.port)
    return await run_demo(settings, clips=args.clips, serve=not args.no_serve)


async def serve(args: argparse.Namespace, settings: Settings) -> int:


    if args.port:
        settings = dataclasses.replace(settings, port=args.port)
    workers = args.workers or settings.workers
    if args.worker or workers <= 1:
        await run_server(settings, reuse_port=args.worker)
        return 0

    async with db.open_pool(settings):
        pass  # the embedded database is up and migrated once, before the workers start together
    cmd = [sys.executable, "-m", "custody", "serve", "--worker", "--port", str(settings.port)]
    children = [subprocess.Popen(cmd) for _ in range(workers - 1)]
    try:
        await run_server(settings, reuse_port=True)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)  # each finishes its in-flight requests, as this one did
        for child in children:
            await asyncio.to_thread(child.wait)
    return 0


def _profile_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--display-name", help="the name people read (any script: 王小明)")
    p.add_argument("--badge-no", help="badge number (执法证号): letters, digits, hyphens")
    p.add_argument("--unit", help="unit (执法单位)")


def _profile_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, k, None) is not None for k in ("display_name", "badge_no", "unit"))


async def principal_add(args: argparse.Namespace, settings: Settings) -> int:
    if _profile_given(args):
        check_profile(args.display_name or "", args.badge_no or "", args.unit or "")  # refuse before creating
    async with open_locker(settings) as locker:
        principal, token = await accounts.add(locker, args.name, args.role, who=as_operator())
    if _profile_given(args):
        await _set_profile(args, settings)
    # The token alone on stdout (so `> dock.token` captures exactly it); the words go to stderr.
    print(f"{principal.role} {principal.name} created.  Token (shown once, store it safely):", file=sys.stderr)
    print(token)
    return 0


async def _set_profile(args: argparse.Namespace, settings: Settings) -> None:
    async with open_locker(settings) as locker:
        current = await principals.account(locker.pool, args.name)
        if current is None:
            raise PrincipalNotFound(f"no principal {args.name!r}")
        await accounts.set_profile(
            locker, args.name, who=as_operator(),
            display_name=current.display_name if args.display_name is None else args.display_name,
            badge_no=current.badge_no if args.badge_no is None else args.badge_no,
            unit=current.unit if args.unit is None else args.unit)


async def principal_edit(args: argparse.Namespace, settings: Settings) -> int:
    if not _profile_given(args):
        print("nothing to change: give --display-name, --badge-no or --unit", file=sys.stderr)
        return 2
    await _set_profile(args, settings)
    print(f"updated {args.name} (logged in the governance log)", file=sys.stderr)
    return 0


async def principal_list(args: argparse.Namespace, settings: Settings) -> int:
    async with db.open_pool(settings) as pool:
        for p in await principals.accounts(pool):
            state = f"revoked {p.revoked_at:%Y-%m-%d %H:%M}" if p.revoked_at else "active"
            print(f"{p.role:<13} {p.name:<32} {state:<24} {p.display_name} {p.badge_no} {p.unit}".rstrip())
    return 0


async def principal_record_existing(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        done = await accounts.record_existing(locker, who=as_operator())
    print(f"recorded {len(done)} principal(s) in the governance log: {', '.join(done)}" if done else
          "every principal is already in the governance log", file=sys.stderr)
    return 0


async def token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        await accounts.revoke(locker, args.name, who=as_operator())
    print(f"revoked the token of {args.name}")
    return 0


async def token_reissue(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        token = await accounts.reissue(locker, args.name, who=as_operator())
    print(f"new token for {args.name} (shown once; the old one no longer works):", file=sys.stderr)
    print(token)
    return 0
