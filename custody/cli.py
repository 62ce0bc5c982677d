"""The ``custody`` command: one console script, one subcommand per job.

Each handler is a small async function; argument parsing and exit codes live here, the work lives
in the packages below (``services/`` for every use case, ``ingest/`` for the station, ``api/`` to serve).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence

import uvloop

from custody import commands
from custody.shell import CliError, Handler, as_operator
from foundation import logs
from foundation.errors import Status
from foundation.settings import Settings, SettingsError
from services import storecheck
from services.errors import USER_ERRORS, status_of
from storage import db
from storage.stores import open_store

logger = logging.getLogger("custody")

#: Exit status per kind of failure: 2 for a command line that cannot be used, 1 for a refusal or a
#: failure of the work itself (the one line on stderr says which), as the API's status codes do.
EXIT_STATUS: dict[Status, int] = {status: 1 for status in Status} | {Status.MALFORMED: 2}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="custody", description=__doc__.splitlines()[0])
    parser.add_argument("--home", help="data directory (overrides CUSTODY_HOME)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("migrate", help="apply pending migrations").set_defaults(handler=_db_migrate)
    db.add_parser("stop", help="stop the embedded PostgreSQL").set_defaults(handler=_db_stop)

    store = sub.add_parser("store", help="object store").add_subparsers(dest="store_command", required=True)
    check = store.add_parser("check", help="write, read back and verify a sample; prove the store itself "
                                              "refuses deleting a locked object or shortening its retention")
    check.set_defaults(handler=_store_check)


    commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        overrides = {"home": args.home} if args.home else {}
        settings = Settings.from_env(**overrides)
    except SettingsError as exc:
        print(f"custody: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    logging.getLogger("asyncpg.pool").addFilter(_outage_without_traceback)
    handler: Handler = args.handler
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(handler(args, settings))
    except KeyboardInterrupt:
        return 130
    except USER_ERRORS as exc:
        # One line a person can act on, ending in the stable code a script can match (as the API's body has).
        print(f"custody: {exc} [{exc.code}]", file=sys.stderr)
        return EXIT_STATUS[status_of(exc)]
    except Exception as exc:
        # A database outage (or a value it refuses) is what the API answers 503 (400) for, not a fault of ours.
        if (known := db.translate(exc)) is None:
            raise
        print(f"custody: {known} [{known.code}]", file=sys.stderr)
        return EXIT_STATUS[status_of(known)]


def _outage_without_traceback(record: logging.LogRecord) -> bool:
    """The driver's own warnings during an outage (the pool retrying its connections) in one line each: the
    command ends with its ``[database_unavailable]`` line, a traceback would only bury it."""
    if record.exc_info and record.exc_info[1] is not None and db.outage(record.exc_info[1]) is not None:
        record.msg = f"{record.getMessage()} ({record.exc_info[1]})"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
    return True


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop: it roughly doubles aiohttp + asyncpg request rates."""
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def _db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    async with db.open_pool(settings, run_migrations=False) as pool, pool.acquire() as conn:
        applied = await db.migrate(conn)
    print("applied: " + ", ".join(applied) if applied else "database is up to date")
    return 0


async def _db_stop(args: argparse.Namespace, settings: Settings) -> int:
    if settings.database_url:
        raise CliError("DATABASE_URL is set: the database is not embedded, nothing to stop")
    if await asyncio.to_thread(db.stop_embedded, settings.pg_dir):
        print(f"stopped the embedded PostgreSQL in {settings.pg_dir}")
    else:
        print(f"no embedded PostgreSQL was running in {settings.pg_dir}")
    return 0


async def _store_check(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    try:
        report = await storecheck.check_store(store, who=as_operator())
        probe = report.probe
        print(f"store:   {report.store}")
        print(f"server:  {probe.server}")
        print(f"wrote:   {report.key} ({report.size} bytes, sha256 {report.sha256})")
        print(f"verify:  {'OK' if report.verified else 'MISMATCH'}")
        print(f"lock:    probe {probe.key} locked until {probe.retain_until.isoformat(timespec='seconds')} "
              f"(it stays until then)")
        for what, refused in (("delete of the locked version", probe.delete_refused),
                              ("shortening its retention", probe.shorten_refused)):
            print(f"{what + ':':<31} {'REFUSED by the store (good)' if refused else 'ACCEPTED: NOT WRITE-ONCE'}")
        return 0 if report.ok else 1
    finally:
        await store.close()
