"""Getting every case checkpoint cosigned by the configured witnesses, without slowing the log down.

A background sender (one per installation: a PostgreSQL advisory lock elects it among the server
processes) wakes every ``CUSTODY_WITNESS_INTERVAL_SECONDS``, asks each witness's latest cosigned size
per case from the database, and sends each case's *latest* checkpoint with a consistency proof from
that size (C2SP tlog-witness), so a case that grew by a thousand entries in those seconds costs one
request per witness.  Appends never wait for any of this: a witness that is down only makes the lag
grow (``custody_witness_lag_seconds``; an alarm past ``CUSTODY_WITNESS_LAG_ALARM_SECONDS``).

Cosignature lines are verified against the witness's configured key before they are stored; a
witness's refusal that says our checkpoint contradicts one it cosigned (409 at equal size, 422) is
recorded and logged at ERROR: it is how a rewritten log is noticed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
import asyncpg

from foundation.errors import Invalid
from foundation.settings import Settings
from integrity.cosignature import CosignatureVerifier, add_cosignatures, verify_cosignatures
from integrity.errors import IntegrityError
from integrity.witness_protocol import (
    ADD_CHECKPOINT_PATH,
    AddCheckpoint,
    parse_cosignature_lines,
    parse_size_body,
)
from services.permissions import authorize, operator
from storage import witnessing as rows
from storage.log import CaseLog
from storage.witnessing import Cosignature, Lag, Pending

logger = logging.getLogger(__name__)

#: Requests to one witness at a time.
CONCURRENCY = 16
#: One add-checkpoint request, connection included.
REQUEST_TIMEOUT_SECONDS = 10
#: An export waits at most this long for the witnesses to cosign the case's latest checkpoint.
EXPORT_WAIT_SECONDS = 5


class WitnessConfigError(Invalid):
    code = "witness_config"


@dataclass(frozen=True, slots=True)
class WitnessEndpoint:
    """A configured witness: where it listens and the key its cosignatures must verify under."""

    url: str
    verifier: CosignatureVerifier

    @property
    def name(self) -> str:
        return self.verifier.name

    @property
    def ident(self) -> tuple[str, str]:
        return self.verifier.name, self.verifier.key_id.hex()


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    """The witnesses an installation uses and how many of them make a checkpoint witnessed."""

    endpoints: tuple[WitnessEndpoint, ...] = ()
    quorum: int = 1
    interval_seconds: int = 3
    alarm_seconds: int = 600

    @classmethod
    def from_settings(cls, settings: Settings) -> WitnessPolicy:
        endpoints = []
        for url, vkey in settings.witness_entries:
            try:
                endpoints.append(WitnessEndpoint(url, CosignatureVerifier.from_vkey(vkey)))
            except IntegrityError as exc:
                raise WitnessConfigError(f"CUSTODY_WITNESSES: {url}: {exc}") from None
        return cls(tuple(endpoints), settings.witness_quorum, settings.witness_interval_seconds,
                   settings.witness_lag_alarm_seconds)

    @property
    def verifiers(self) -> list[CosignatureVerifier]:
        return [e.verifier for e in self.endpoints]

    @property
    def idents(self) -> list[tuple[str, str]]:
        return [e.ident for e in self.endpoints]


#: An installation without witnesses.
NO_WITNESSES = WitnessPolicy()


@dataclass
class RoundResult:
    """What one sending round did, per witness name."""

    cosigned: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    unreachable: list[str] = field(default_factory=list)


class WitnessRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


async def _post(session: aiohttp.ClientSession, endpoint: WitnessEndpoint, request: AddCheckpoint) -> bytes | int:
    """The 200 body, or the witness's size from a 409 answer; WitnessRefused for any other answer."""
    async with session.post(endpoint.url + ADD_CHECKPOINT_PATH, data=request.encode()) as resp:
        body = await resp.read()
        if resp.status == 200:
            return body
        if resp.status == 409 and resp.headers.get("Content-Type", "").startswith("text/x.tlog.size"):
            try:
                size = parse_size_body(body)
            except IntegrityError:
                raise WitnessRefused(409, body.decode("utf-8", "replace")[:200]) from None
            return size
        raise WitnessRefused(resp.status, body.decode("utf-8", "replace").strip()[:500])


async def submit(session: aiohttp.ClientSession, log: CaseLog, endpoint: WitnessEndpoint, item: Pending) -> bytes:
    """Have one witness cosign a case's checkpoint; returns the verified cosignature line.

    A 409 naming another size (the witness holds a size our records lack, e.g. another process's
    cosignature we did not store) is answered once more with a proof from that size.
    """
    old = item.witness_size
    for _ in range(2):
        proof = await log.consistency_proof(item.case_id, old, item.size) if 0 < old < item.size else []
        answer = await _post(session, endpoint, AddCheckpoint(old, tuple(proof), item.note))
        if isinstance(answer, int):
            if answer > item.size or answer == old:
                raise WitnessRefused(409, f"the witness holds size {answer} of {item.case_id}, our latest is "
                                          f"{item.size}: it saw a checkpoint this log did not sign at that size")
            old = answer
            continue
        lines = parse_cosignature_lines(answer)
        mine = [ln for ln in lines if verify_cosignatures(item.note + ln, [endpoint.verifier])]
        if not mine:
            raise WitnessRefused(200, "the answer carries no cosignature by the configured witness key")
        return mine[0]
    raise WitnessRefused(409, f"the witness keeps changing its size for {item.case_id}")


class Witnessing:
    """The background sender of one installation (see the module docstring)."""

    def __init__(self, pool: asyncpg.Pool, log: CaseLog, policy: WitnessPolicy) -> None:
        self.pool = pool
        self.log = log
        self.policy = policy
        self.up: dict[str, bool] = {e.name: True for e in policy.endpoints}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Witnessing:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Witnessing is used outside 'async with'")
        return self._session

    async def run_round(self, case_id: str | None = None) -> RoundResult:
        """Send every case's latest checkpoint that a witness lacks (or only ``case_id``'s) to each witness."""
        result = RoundResult()
        await asyncio.gather(*(self._round_for(e, result, case_id) for e in self.policy.endpoints))
        return result

    async def _round_for(self, endpoint: WitnessEndpoint, result: RoundResult, case_id: str | None) -> None:
        name, key_id = endpoint.ident
        items = [p for p in await rows.pending(self.pool, name, key_id) if case_id in (None, p.case_id)]
        if not items:
            return
        gate = asyncio.Semaphore(CONCURRENCY)
        stored: list[Cosignature] = []
        failures: list[BaseException] = []

        async def one(item: Pending) -> None:
            async with gate:
                if failures:
                    return  # the witness is down: leave the rest for the next round
                try:
                    line = await submit(self.session, self.log, endpoint, item)
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    failures.append(exc)
                    return
                except WitnessRefused as exc:
                    result.refused[name] = result.refused.get(name, 0) + 1
                    if exc.status in (409, 422) and await rows.record_refusal(
                            self.pool, item.case_id, item.size, name, exc.status, exc.reason):
                        logger.error("witness %s refused checkpoint %d of case %s: %s", name, item.size,
                                     item.case_id, exc.reason)
                    return
                [cosigned] = verify_cosignatures(item.note + line, [endpoint.verifier])
                stored.append(Cosignature(item.case_id, item.size, name, key_id, line.decode(),
                                          dt.datetime.fromtimestamp(cosigned.timestamp, dt.UTC)))

        await asyncio.gather(*(one(item) for item in items))
        if failures:
            if self.up.get(name, True):
                logger.warning("witness %s at %s unreachable: %s", name, endpoint.url, failures[0])
            self.up[name] = False
            result.unreachable.append(name)
        else:
            if not self.up.get(name, True):
                logger.info("witness %s reachable again", name)
            self.up[name] = True
        await rows.record_cosignatures(self.pool, stored)
        result.cosigned[name] = result.cosigned.get(name, 0) + len(stored)

    async def run_forever(self) -> None:
        """Rounds every interval, while this process holds the installation's sender lock."""
        alarmed = False
        while True:
            async with rows.exclusive(self.pool, rows.SENDER_LOCK_ID) as sender:
                while sender:
                    started = time.monotonic()
                    try:
                        await self.run_round()
                        alarmed = await self._check_alarm(alarmed)
                    except (asyncpg.PostgresError, OSError) as exc:
                        logger.warning("witnessing round failed: %s", exc)
                    await asyncio.sleep(max(0.0, self.policy.interval_seconds - (time.monotonic() - started)))
            await asyncio.sleep(self.policy.interval_seconds)  # another process sends; be ready to take over

    async def _check_alarm(self, alarmed: bool) -> bool:
        seconds = lag_seconds(await lag(self.pool, self.policy))
        if seconds > self.policy.alarm_seconds and not alarmed:
            logger.error("witness lag: a checkpoint has waited %.0f s for its quorum of %d (alarm at %d s)",
                         seconds, self.policy.quorum, self.policy.alarm_seconds)
            return True
        return alarmed and seconds > self.policy.alarm_seconds


async def witness_now(pool: asyncpg.Pool, log: CaseLog, policy: WitnessPolicy, case_id: str | None = None,
                      *, timeout: float = EXPORT_WAIT_SECONDS) -> RoundResult:
    """One sending round now (an operator's ``custody witness send``, or an export making its checkpoint
    cosigned); a witness that does not answer within ``timeout`` is left for the background sender."""
    if not policy.endpoints:
        return RoundResult()
    async with Witnessing(pool, log, policy) as sender:
        try:
            return await asyncio.wait_for(sender.run_round(case_id), timeout)
        except TimeoutError:
            return RoundResult(unreachable=[e.name for e in policy.endpoints])


async def send_all(pool: asyncpg.Pool, log: CaseLog, policy: WitnessPolicy) -> RoundResult:
    """The operator's ``custody witness send``: one round over every case, now."""
    authorize(operator(), "witness.send")
    return await witness_now(pool, log, policy, timeout=REQUEST_TIMEOUT_SECONDS * 6)


async def cosigned_note(pool: asyncpg.Pool, case_id: str, size: int, note: bytes) -> bytes:
    """The checkpoint note with every cosignature stored for it appended (as C2SP shows it)."""
    return add_cosignatures(note, await rows.cosignature_lines(pool, case_id, size))


async def witnessed_size(pool: asyncpg.Pool, policy: WitnessPolicy, case_id: str) -> int:
    return await rows.witnessed_size(pool, case_id, policy.idents, policy.quorum)


async def refusal_count(pool: asyncpg.Pool) -> int:
    return await rows.refusal_count(pool)


async def lag(pool: asyncpg.Pool, policy: WitnessPolicy) -> Lag:
    return await rows.lag(pool, policy.idents, policy.quorum)


def lag_seconds(found: Lag, now: dt.datetime | None = None) -> float:
    if found.oldest_unwitnessed is None:
        return 0.0
    return max(0.0, ((now or dt.datetime.now(dt.UTC)) - found.oldest_unwitnessed).total_seconds())


def vkeys(policy: WitnessPolicy) -> Sequence[str]:
    return [e.verifier.vkey for e in policy.endpoints]
