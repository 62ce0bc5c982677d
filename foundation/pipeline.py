"""Overlap the two halves of a stream: read the next block while the last one is hashed and written.

Shared by the object stores (server) and the docking-station agent (pull into the spool).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any


async def pipelined(source: AsyncIterable[Any], absorb: Callable[[Any], Awaitable[None]]) -> None:
    """Feed blocks to ``absorb`` while the next block is read: reading overlaps hashing/writing.

    ``absorb`` runs shielded, and on any failure (cancellation included) it is allowed to finish
    before the error propagates: its worker thread may still hold the file the caller cleans up.
    """
    pending: asyncio.Future[None] | None = None
    try:
        async for block in source:
            if pending is not None:
                await asyncio.shield(pending)
            pending = asyncio.ensure_future(absorb(block))
        if pending is not None:
            await asyncio.shield(pending)
    finally:
        if pending is not None:
            await settle(pending)


async def settle(fut: asyncio.Future[Any]) -> None:
    """Wait until ``fut`` is done, even if we are cancelled meanwhile (the cancel is re-raised).

    For clean-up that must not be cut short: a worker thread still using a file or a buffer.
    """
    cancelled = False
    while not fut.done():
        try:
            await asyncio.wait({fut})
        except asyncio.CancelledError:
            cancelled = True
    if not fut.cancelled():
        fut.exception()  # mark retrieved: the caller is already handling the real error
    if cancelled:
        raise asyncio.CancelledError
