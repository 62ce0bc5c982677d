"""The witness's HTTP server: ``POST /add-checkpoint`` (C2SP tlog-witness) and a monitoring page.

``GET /`` lists, for the witness's operator or anyone auditing the locker, every log it witnesses:
the latest checkpoint it cosigned, how many it cosigned, and the refusals that are evidence against
the log (a checkpoint inconsistent with one it cosigned).  ``GET /vkey`` is its verifier key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
from collections.abc import AsyncIterator

from aiohttp import web

from integrity.errors import IntegrityError
from integrity.witness_protocol import (
    ADD_CHECKPOINT_PATH,
    SIZE_CONTENT_TYPE,
    Refusal,
    parse_add_checkpoint,
)
from witness import state as witness_state
from witness.config import WitnessConfig
from witness.state import WitnessState

logger = logging.getLogger("custody.witness")

CONFIG = web.AppKey("witness_config", WitnessConfig)
STATE = web.AppKey("witness_state", WitnessState)
#: A request body larger than this is no checkpoint (63 proof lines and a note with 100 signatures fit).
MAX_BODY_BYTES = 64 * 1024
TEXT = "text/plain; charset=utf-8"


async def add_checkpoint(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        parsed = parse_add_checkpoint(body)
    except IntegrityError as exc:
        return web.Response(status=400, text=f"{exc}\n", content_type="text/plain")
    try:
        line = await request.app[STATE].add_checkpoint(parsed)
    except Refusal as refusal:
        if refusal.misbehaviour:
            logger.error("refused a checkpoint that contradicts one this witness cosigned: %s", refusal.reason)
        if refusal.status == 409 and refusal.size is not None:
            return web.Response(status=409, body=f"{refusal.size}\n".encode(),
                                headers={"Content-Type": SIZE_CONTENT_TYPE})
        return web.Response(status=refusal.status, text=f"{refusal.reason}\n", content_type="text/plain")
    return web.Response(body=line, headers={"Content-Type": TEXT})


async def overview(request: web.Request) -> web.Response:
    """What this witness cosigned, per log, and what it refused as inconsistent."""
    config = request.app[CONFIG]
    return web.Response(text=overview_text(config), content_type="text/plain")


def overview_text(config: WitnessConfig) -> str:
    out = [f"witness {config.cosigner.name}\nkey     {config.cosigner.vkey}\n"]
    for log in config.logs:
        out.append(f"witnesses logs {log.origin_prefix}* signed by {', '.join(v.vkey for v in log.verifiers)}\n")
    rows = witness_state.held(config.state_path)
    out.append(f"\n{len(rows)} log(s) cosigned:\n")
    for row in rows:
        out.append(f"  {row.origin}  size {row.size}  root {row.root.hex()}  at {_when(row.cosigned_at)}  "
                   f"({row.cosignings} cosignings)\n")
    refused = witness_state.refusals(config.state_path)
    out.append(f"\n{len(refused)} refusal(s) that are evidence against a log:\n")
    for r in refused:
        out.append(f"  {_when(r.at)}  {r.origin}  HTTP {r.status}  from size {r.old_size}: {r.reason}\n")
    return "".join(out)


def _when(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def vkey(request: web.Request) -> web.Response:
    return web.Response(text=request.app[CONFIG].cosigner.vkey + "\n", content_type="text/plain")


def create_app(config: WitnessConfig) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[CONFIG] = config

    async def state_ctx(app: web.Application) -> AsyncIterator[None]:
        st = WitnessState(config.state_path, config.cosigner, config.verifiers_for)
        app[STATE] = st
        yield
        st.close()

    app.cleanup_ctx.append(state_ctx)
    app.router.add_routes([
        web.post(ADD_CHECKPOINT_PATH, add_checkpoint),
        web.get("/", overview),
        web.get("/vkey", vkey),
    ])
    return app


async def serve(config: WitnessConfig, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM."""
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    logger.info("witness %s serving on http://%s:%d", config.cosigner.name, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
