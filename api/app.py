"""The application factory: ``create_app(settings)``; no I/O until the app starts.

Resources are cleanup contexts, opened in order and closed in reverse: the locker (database pool,
object store, signing key), then the upload manager (whose in-flight sessions are cancelled cleanly
on shutdown, after aiohttp has let running requests finish).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import os
import re
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from api.access import ACCESS, AccessCache
from api.appkeys import CALENDAR, LOCKER, METRICS, PRINCIPAL, RENDERS, REQUEST_ID, SETTINGS, UPLOADS, WITNESSING
from api.auth import TOKEN_CACHE_SECONDS, TOKENS, TokenCache
from api.client import client_address
from api.errors import error_middleware
from api.metrics import Metrics
from api.params import refuse_nul
from api.routes import add_routes
from api.throttle import LIMITER, FailureLimiter
from api.uploads import READ_CHUNK_BYTES
from api.web import setup_web
from foundation.settings import Settings
from policy import names
from services import timestamping
from services.calendar import live as live_calendar
from services.housekeeping import sweep_forever
from services.intake import UploadManager
from services.locker import open_locker
from services.permissions import operator
from services.redaction import RenderPool
from services.witnessing import Witnessing
from storage import changes

logger = logging.getLogger("custody.http")  # one line per request
server_logger = logging.getLogger("custody.server")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Request ids: 32 hex digits, random per process then counted (uuid4 read the OS's random source for
#: every request, about 1.5 % of a verification request's CPU).
_RID_PREFIX = os.urandom(8).hex()
_RID_COUNTER = itertools.count(1)
#: How often abandoned upload sessions and temp files are swept (besides at start-up).
UPLOAD_SWEEP_INTERVAL_S = 3600.0


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, one structured log line, latency and count per route."""
    incoming = request.headers.get("X-Request-Id", "")
    rid = incoming if _REQUEST_ID.match(incoming) else f"{_RID_PREFIX}{next(_RID_COUNTER):016x}"
    request[REQUEST_ID] = rid
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers["X-Request-Id"] = rid
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Cache-Control", "no-store")
        return response
    finally:
        elapsed = time.perf_counter() - start
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        request.app[METRICS].request_done(request.method, route, status, elapsed)
        if logger.isEnabledFor(logging.INFO):  # the same line as ever; its fields built only to be written
            principal = request.get(PRINCIPAL)
            logger.info("%s %s %d %.1fms", request.method, request.path, status, elapsed * 1000,
                        extra={"request_id": rid, "status": status, "route": route,
                               "principal": principal.actor if principal else None,
                               "client": client_address(request),
                               "duration_ms": round(elapsed * 1000, 2)})


async def _locker_ctx(app: web.Application) -> AsyncIterator[None]:
    async with open_locker(app[SETTINGS]) as locker, changes.listening(locker.pool) as heard:
        # Kept verification and access state is dropped as the cases change (storage.changes).
        app[ACCESS].hear(heard)
        app[LOCKER] = locker
        app[CALENDAR] = await asyncio.to_thread(live_calendar, app[SETTINGS].calendar_dir)
        yield


async def _warm_up_ctx(app: web.Application) -> AsyncIterator[None]:
    """With ``CUSTODY_WARM_UP_NAMES``: load jieba's dictionary (~1.5 s, ~170 MiB) in the background at
    start-up, so the first approval or publication (the publication check) is not the one that waits;
    start-up itself does not wait.  Off (the default), the first masking loads it."""
    if not app[SETTINGS].warm_up_names:
        yield
        return
    task = asyncio.create_task(asyncio.to_thread(names.warm_up), name="jieba-warm-up")
    yield
    # A thread cannot be cancelled; it finishes in about a second and a half.
    await asyncio.gather(task, return_exceptions=True)


async def _housekeeping_ctx(app: web.Application) -> AsyncIterator[None]:
    """The object store's sweep: at start-up (what a killed server left), then on a timer."""
    task = asyncio.create_task(sweep_forever(app[LOCKER].store), name="store-sweep")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _uploads_ctx(app: web.Application) -> AsyncIterator[None]:
    """The upload sessions, and their sweep: at start-up (what a killed server left) and then on a timer."""
    settings = app[SETTINGS]
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    manager = UploadManager(app[LOCKER], owner)
    app[UPLOADS] = manager

    async def sweep_forever() -> None:
        while True:
            try:
                await manager.sweep(idle_s=settings.upload_idle_hours * 3600.0,
                                    part_grace_s=settings.upload_part_grace_s, here=socket.gethostname())
            except Exception:  # a failed sweep is retried on the next round; it never stops the server
                server_logger.exception("upload sweep failed")
            await asyncio.sleep(UPLOAD_SWEEP_INTERVAL_S)

    await manager.sweep(idle_s=settings.upload_idle_hours * 3600.0, part_grace_s=settings.upload_part_grace_s,
                        here=socket.gethostname())
    sweeper = asyncio.create_task(sweep_forever(), name="upload-sweep")
    yield
    sweeper.cancel()
    await asyncio.gather(sweeper, return_exceptions=True)
    await manager.close()


async def _witnessing_ctx(app: web.Application) -> AsyncIterator[None]:
    """The witness sender and the timestamping job, in the background; appends never wait for them."""
    locker, settings = app[LOCKER], app[SETTINGS]
    tasks: list[asyncio.Task[None]] = []
    sender = Witnessing(locker.pool, locker.log, locker.witnesses)
    async with sender:
        if locker.witnesses.endpoints:
            app[WITNESSING] = sender
            tasks.append(asyncio.create_task(sender.run_forever(), name="witnessing"))
        if settings.tsa_url_list:
            tasks.append(asyncio.create_task(timestamping.run_forever(
                locker.pool, settings.tsa_url_list, settings.timestamp_interval_minutes, operator()),
                name="timestamping"))
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _renders_ctx(app: web.Application) -> AsyncIterator[None]:
    """The redaction render pool: renders a stopped server left unfinished are marked failed at start-up."""
    settings = app[SETTINGS]
    pool = RenderPool(app[LOCKER], max(1, settings.redaction_workers), threads=settings.redaction_threads)
    await pool.start()
    app[RENDERS] = pool
    yield
    await pool.close()


#: What the ``Server`` header says: the product, never the Python or aiohttp version an attacker would match.
SERVER_HEADER = "custody"


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_HEADER


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[observe, error_middleware, refuse_nul], client_max_size=1024 * 1024)
    app[SETTINGS] = settings
    app.on_response_prepare.append(_server_header)
    app[METRICS] = Metrics()
    app[TOKENS] = TokenCache()
    app[LIMITER] = FailureLimiter(settings.auth_failures_per_burst)
    # A revoked grant takes effect when the server hears the case change (storage.changes), or, while it
    # hears nothing, as fast as a revoked token (RULES §三 need to know).
    app[ACCESS] = AccessCache(TOKEN_CACHE_SECONDS)
    app.cleanup_ctx.append(_locker_ctx)
    app.cleanup_ctx.append(_housekeeping_ctx)
    app.cleanup_ctx.append(_uploads_ctx)
    app.cleanup_ctx.append(_witnessing_ctx)
    app.cleanup_ctx.append(_warm_up_ctx)
    app.cleanup_ctx.append(_renders_ctx)
    add_routes(app)
    setup_web(app)
    return app


async def serve(settings: Settings, *, reuse_port: bool = False) -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests then get up to a minute to finish.

    ``reuse_port``: several worker processes bind the same port and the kernel spreads connections.
    """
    # read_bufsize: aiohttp's default 64 KiB made an upload's body arrive in ~64-128 KiB pieces,
    # each paused/resumed and passed through the intake queue; one upload read chunk per wake-up
    # costs less CPU per GiB (issue 17 item 4), and 20 concurrent uploads stay under 200 MiB.
    runner = web.AppRunner(create_app(settings), access_log=None, shutdown_timeout=60,
                           read_bufsize=READ_CHUNK_BYTES)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port or None)
    await site.start()
    # What start-up made (modules, classes, routes: ~100,000 objects) lives as long as the process:
    # out of the collector's reach, a full collection scans only what requests made since, not 35-45 ms
    # every second or so that stalled every request in flight (issue 17 item 2: p99 at 64 connections).
    gc.freeze()
    server_logger.info("custody serving on http://%s:%d (API docs at /api/v1/docs; pid %d)", settings.host,
                       settings.port, os.getpid())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        server_logger.info("shutting down: finishing in-flight requests")
    finally:
        await runner.cleanup()
