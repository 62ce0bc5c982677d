"""The timestamping job: anchor the latest checkpoint of every changed case with RFC 3161 tokens.

Every ``CUSTODY_TIMESTAMP_INTERVAL_MINUTES`` (default hourly) one process of the installation (an
advisory lock elects it) collects the latest signed checkpoint of each case that changed since its
last timestamp, builds the round's digest tree over those notes (``integrity.timestamp``), and asks
each configured time-stamping authority for a token over the root (``rfc3161-client`` builds the
request; nonce and imprint of the answer are checked before it is kept).  The round is stored only
if at least one authority answered; otherwise the same checkpoints wait for the next round.  A case's
bundle then carries, per token, the note, its path in the round's tree, the token and the known chain.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import rfc3161_client

from foundation.settings import Settings
from integrity import timestamp
from services.permissions import authorize
from storage import witnessing as rows
from storage.principals import Principal
from storage.witnessing import TimestampToken

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 30
QUERY_TYPE = "application/timestamp-query"


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    round_id: int
    root: bytes
    checkpoints: int
    tokens: list[TimestampToken]
    failed: dict[str, str]  # TSA URL -> why it gave no token


class TimestampFailed(Exception):
    pass


def read_chain(settings: Settings) -> bytes:
    """The configured TSA certificate chain file's bytes (empty if none is configured)."""
    return Path(settings.tsa_chain_file).read_bytes() if settings.tsa_chain_file else b""


async def request_token(session: aiohttp.ClientSession, url: str, root: bytes) -> TimestampToken:
    """One RFC 3161 exchange: a SHA-256 request over ``root`` with a nonce; the answer is checked for
    status, imprint and nonce (its signature is checked by whoever relies on it, against their own
    trust in the authority)."""
    request = (rfc3161_client.TimestampRequestBuilder().data(root)
               .hash_algorithm(rfc3161_client.HashAlgorithm.SHA256).nonce(nonce=True).build())
    async with session.post(url, data=request.as_bytes(), headers={"Content-Type": QUERY_TYPE}) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise TimestampFailed(f"HTTP {resp.status}: {body[:200]!r}")
    try:
        response = rfc3161_client.decode_timestamp_response(body)
    except ValueError as exc:
        raise TimestampFailed(f"not a timestamp response: {exc}") from None
    if rfc3161_client.PKIStatus(response.status) not in (rfc3161_client.PKIStatus.GRANTED,
                                                         rfc3161_client.PKIStatus.GRANTED_WITH_MODS):
        raise TimestampFailed(f"refused: status {response.status} {response.status_string}")
    info = response.tst_info
    if info.message_imprint.message != timestamp.message_imprint(root):
        raise TimestampFailed("the token's message imprint is not SHA-256 of the round root")
    if info.nonce != request.nonce:
        raise TimestampFailed("the token's nonce is not the request's")
    return TimestampToken(url, response.time_stamp_token(), info.gen_time)


async def run_round(pool: asyncpg.Pool, urls: Sequence[str], *, who: Principal) -> RoundOutcome | None:
    """One round now (the operator's ``custody timestamp run``, or the job); None if nothing changed or
    another process is taking a round.  TimestampFailed if no authority gave a token."""
    authorize(who, "timestamp.run")
    async with rows.exclusive(pool, rows.TIMESTAMP_LOCK_ID) as mine:
        if not mine:
            return None
        changed = await rows.changed_checkpoints(pool)
        if not changed or not urls:
            return None
        root = timestamp.digest_root([c.note for c in changed])
        tokens, failed = await _tokens(urls, root)
        if not tokens:
            raise TimestampFailed("no time-stamping authority answered: " +
                                  "; ".join(f"{u}: {why}" for u, why in failed.items()))
        round_id = await rows.record_round(pool, root, changed, tokens)
    for url, why in failed.items():
        logger.error("timestamp round %d: %s gave no token: %s", round_id, url, why)
    return RoundOutcome(round_id, root, len(changed), tokens, failed)


async def _tokens(urls: Sequence[str], root: bytes) -> tuple[list[TimestampToken], dict[str, str]]:
    tokens: list[TimestampToken] = []
    failed: dict[str, str] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)) as session:
        for url in urls:
            try:
                tokens.append(await request_token(session, url, root))
            except (TimestampFailed, aiohttp.ClientError, TimeoutError, OSError) as exc:
                failed[url] = str(exc) or type(exc).__name__
    return tokens, failed


async def run_forever(pool: asyncpg.Pool, urls: Sequence[str], interval_minutes: int, who: Principal) -> None:
    """Rounds at the interval, counted from the last stored round (so restarts do not add rounds)."""
    interval = dt.timedelta(minutes=interval_minutes)
    while True:
        last = await rows.last_round_at(pool)
        due = (last + interval) if last else dt.datetime.now(dt.UTC)
        wait = (due - dt.datetime.now(dt.UTC)).total_seconds()
        if wait > 0:
            await asyncio.sleep(min(wait, 60.0))
            continue
        try:
            outcome = await run_round(pool, urls, who=who)
        except TimestampFailed as exc:
            logger.error("timestamp round failed: %s", exc)
            outcome = None
        except (asyncpg.PostgresError, OSError) as exc:
            logger.warning("timestamp round failed: %s", exc)
            outcome = None
        if outcome is None:
            await asyncio.sleep(60.0)


async def bundle_files(pool: asyncpg.Pool, case_id: str, max_size: int,
                       chain: bytes) -> list[tuple[str, dict[str, bytes]]]:
    """The ``timestamps/`` files of a case's bundle: per token, ``<round>-<k>`` and its four files."""
    out = []
    for found in await rows.case_rounds(pool, case_id, max_size):
        notes = await rows.round_leaf_notes(pool, found.round_id)
        path = timestamp.digest_paths(notes)[found.index]
        proof = timestamp.DigestPath(found.index, found.leaves, tuple(path))
        if proof.root_for(found.note) != found.root:
            raise TimestampFailed(f"round {found.round_id}: the stored tree does not give the stored root")
        for k, token in enumerate(found.tokens):
            files = {timestamp.TOKEN_SUFFIX: token.token, timestamp.CHECKPOINT_SUFFIX: found.note,
                     timestamp.PROOF_SUFFIX: proof.encode()}
            if chain:
                files[timestamp.CHAIN_SUFFIX] = chain
            out.append((f"{found.round_id}-{k}", files))
    return out


async def first_stamp(pool: asyncpg.Pool, case_id: str, seq: int) -> rows.Stamp | None:
    """The earliest token whose round covers entry ``seq`` of a case (its checkpoint size > ``seq``)."""
    return await rows.first_stamp(pool, case_id, seq)
