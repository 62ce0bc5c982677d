"""Rows of witnessing and timestamping: cosignatures, refusals, timestamp rounds and their tokens.

The SQL behind ``services.witnessing`` and ``services.timestamping`` (migration 0009).  A witness is
named by its key name and 8-hex key id, as its cosignature lines name it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

#: Arbitrary constant: the advisory lock that makes one process of an installation the witness sender.
SENDER_LOCK_ID = 0x0C057_0D2
#: ... and the one that makes one process take a timestamp round at a time.
TIMESTAMP_LOCK_ID = 0x0C057_0D3


@dataclass(frozen=True, slots=True)
class Cosignature:
    case_id: str
    size: int
    witness: str
    key_id: str  # 8 hex
    line: str  # the signature line, newline-terminated
    cosigned_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Pending:
    """A case whose latest checkpoint a witness has not cosigned yet."""

    case_id: str
    size: int
    note: bytes
    witness_size: int  # the largest size of this case the witness cosigned for us (0: none)


@dataclass(frozen=True, slots=True)
class Lag:
    cases_behind: int
    checkpoints_behind: int  # entries not yet under a quorum-cosigned checkpoint, over all cases
    oldest_unwitnessed: dt.datetime | None  # when the oldest checkpoint still waiting was signed


@dataclass(frozen=True, slots=True)
class ChangedCheckpoint:
    case_id: str
    size: int
    note: bytes


@dataclass(frozen=True, slots=True)
class TimestampToken:
    tsa: str
    token: bytes
    gen_time: dt.datetime


@dataclass(frozen=True, slots=True)
class Stamp:
    """The first timestamp of an entry: when, by which TSA, over the checkpoint of which size."""

    gen_time: dt.datetime
    tsa: str
    size: int


@dataclass(frozen=True, slots=True)
class CaseRound:
    """One timestamp round as one case sees it: its leaf, and the round's tree and tokens."""

    round_id: int
    index: int  # this case's leaf index in the round's tree
    size: int  # the case's checkpoint size that was timestamped
    note: bytes  # that checkpoint's signed note: the leaf data
    root: bytes
    leaves: int
    tokens: list[TimestampToken]


async def record_cosignatures(pool: asyncpg.Pool, rows: Sequence[Cosignature]) -> None:
    """Store verified cosignatures (a second cosignature by a witness on the same checkpoint is dropped)."""
    if not rows:
        return
    await pool.executemany(
        """INSERT INTO cosignatures (case_id, size, witness, key_id, line, cosigned_at)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        [(r.case_id, r.size, r.witness, r.key_id, r.line, r.cosigned_at) for r in rows],
    )


async def cosignature_lines(pool: asyncpg.Pool, case_id: str, size: int) -> list[bytes]:
    """Every stored cosignature line on checkpoint ``size`` of a case, oldest first."""
    rows = await pool.fetch(
        "SELECT line FROM cosignatures WHERE case_id = $1 AND size = $2 ORDER BY received_at, witness",
        case_id, size,
    )
    return [r["line"].encode() for r in rows]


async def pending(pool: asyncpg.Pool, witness: str, key_id: str, limit: int = 10_000) -> list[Pending]:
    """Cases whose latest checkpoint is larger than the largest this witness cosigned for us."""
    rows = await pool.fetch(
        """SELECT c.id, c.size, k.note, coalesce(w.size, 0) AS witness_size
             FROM cases c
             JOIN checkpoints k ON k.case_id = c.id AND k.size = c.size
             LEFT JOIN LATERAL (SELECT s.size FROM cosignatures s
                                 WHERE s.witness = $1 AND s.key_id = $2 AND s.case_id = c.id
                                 ORDER BY s.size DESC LIMIT 1) w ON true
            WHERE c.size > coalesce(w.size, 0)
            ORDER BY c.id LIMIT $3""",
        witness, key_id, limit,
    )
    return [Pending(r["id"], r["size"], r["note"].encode(), r["witness_size"]) for r in rows]


async def checkpoint_exists(pool: asyncpg.Pool, case_id: str, size: int) -> bool:
    return bool(await pool.fetchval("SELECT 1 FROM checkpoints WHERE case_id = $1 AND size = $2", case_id, size))


async def record_refusal(pool: asyncpg.Pool, case_id: str, size: int, witness: str, status: int,
                         reason: str) -> bool:
    """Remember that a witness refused a checkpoint as inconsistent; False if already recorded."""
    done = await pool.fetchval(
        """INSERT INTO witness_refusals (case_id, size, witness, status, reason)
           SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (
               SELECT 1 FROM witness_refusals WHERE case_id = $1 AND size = $2 AND witness = $3)
           RETURNING id""",
        case_id, size, witness, status, reason[:1000],
    )
    return done is not None


async def refusal_count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM witness_refusals"))


_QUORUM_SIZES = """
    quorum AS (
        SELECT s.case_id, max(s.size) AS size FROM (
            SELECT case_id, size FROM cosignatures
             WHERE (witness, key_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
             GROUP BY case_id, size HAVING count(DISTINCT (witness, key_id)) >= $3) s
         GROUP BY s.case_id)"""


async def witnessed_size(pool: asyncpg.Pool, case_id: str, witnesses: Sequence[tuple[str, str]],
                         quorum: int) -> int:
    """The largest checkpoint size of a case cosigned by at least ``quorum`` of ``witnesses``; 0 if none."""
    if not witnesses:
        return 0
    names, ids = zip(*witnesses, strict=True)
    size = await pool.fetchval(
        f"WITH {_QUORUM_SIZES} SELECT size FROM quorum WHERE case_id = $4",
        list(names), list(ids), quorum, case_id,
    )
    return int(size or 0)


async def lag(pool: asyncpg.Pool, witnesses: Sequence[tuple[str, str]], quorum: int) -> Lag:
    """How far the quorum's cosignatures trail the log, over every case."""
    names, ids = (zip(*witnesses, strict=True) if witnesses else ((), ()))
    row = await pool.fetchrow(
        f"""WITH {_QUORUM_SIZES}
            SELECT count(*) AS cases, coalesce(sum(c.size - coalesce(q.size, 0)), 0) AS entries,
                   min((SELECT k.signed_at FROM checkpoints k WHERE k.case_id = c.id
                         AND k.size > coalesce(q.size, 0) ORDER BY k.size LIMIT 1)) AS oldest
              FROM cases c LEFT JOIN quorum q ON q.case_id = c.id
             WHERE c.size > coalesce(q.size, 0)""",
        list(names), list(ids), quorum,
    )
    return Lag(int(row["cases"]), int(row["entries"]), row["oldest"])


@asynccontextmanager
async def exclusive(pool: asyncpg.Pool, lock_id: int) -> AsyncIterator[bool]:
    """Hold a session advisory lock on a connection of its own while the block runs; yields whether
    this process got it (another process of the installation may hold it)."""
    async with pool.acquire() as conn:
        got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_id))
        try:
            yield got
        finally:
            if got:
                await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)


# -- timestamps ---------------------------------------------------------------------------------


async def changed_checkpoints(pool: asyncpg.Pool) -> list[ChangedCheckpoint]:
    """The latest checkpoint of every case that changed since it was last timestamped, by case id."""
    rows = await pool.fetch(
        """SELECT c.id, c.size, k.note FROM cases c
             JOIN checkpoints k ON k.case_id = c.id AND k.size = c.size
            WHERE c.size > 0
              AND NOT EXISTS (SELECT 1 FROM timestamp_leaves t WHERE t.case_id = c.id AND t.size = c.size)
            ORDER BY c.id""",
    )
    return [ChangedCheckpoint(r["id"], r["size"], r["note"].encode()) for r in rows]


async def record_round(pool: asyncpg.Pool, root: bytes, leaves: Sequence[ChangedCheckpoint],
                       tokens: Sequence[TimestampToken]) -> int:
    """Store a round: its tree's leaves (in order) and the tokens over its root; returns its id."""
    async with pool.acquire() as conn, conn.transaction():
        round_id: int = await conn.fetchval(
            "INSERT INTO timestamp_rounds (root, leaves) VALUES ($1, $2) RETURNING id", root, len(leaves))
        await conn.executemany(
            "INSERT INTO timestamp_leaves (round_id, idx, case_id, size) VALUES ($1, $2, $3, $4)",
            [(round_id, i, leaf.case_id, leaf.size) for i, leaf in enumerate(leaves)],
        )
        await conn.executemany(
            "INSERT INTO timestamp_tokens (round_id, tsa, token, gen_time) VALUES ($1, $2, $3, $4)",
            [(round_id, t.tsa, t.token, t.gen_time) for t in tokens],
        )
    return round_id


async def case_rounds(pool: asyncpg.Pool, case_id: str, max_size: int) -> list[CaseRound]:
    """Every round that timestamped a checkpoint of this case up to ``max_size``, oldest first."""
    rows = await pool.fetch(
        """SELECT r.id, r.root, r.leaves, l.idx, l.size, k.note FROM timestamp_leaves l
             JOIN timestamp_rounds r ON r.id = l.round_id
             JOIN checkpoints k ON k.case_id = l.case_id AND k.size = l.size
            WHERE l.case_id = $1 AND l.size <= $2 ORDER BY r.id""",
        case_id, max_size,
    )
    if not rows:
        return []
    tokens = await pool.fetch(
        "SELECT round_id, tsa, token, gen_time FROM timestamp_tokens WHERE round_id = ANY($1::bigint[]) "
        "ORDER BY round_id, tsa",
        [r["id"] for r in rows],
    )
    by_round: dict[int, list[TimestampToken]] = {}
    for t in tokens:
        by_round.setdefault(t["round_id"], []).append(TimestampToken(t["tsa"], t["token"], t["gen_time"]))
    return [CaseRound(r["id"], r["idx"], r["size"], r["note"].encode(), r["root"], r["leaves"],
                      by_round.get(r["id"], [])) for r in rows]


async def round_leaf_notes(pool: asyncpg.Pool, round_id: int) -> list[bytes]:
    """A round's leaf data in leaf order: the signed checkpoint notes it timestamped."""
    rows = await pool.fetch(
        """SELECT k.note FROM timestamp_leaves l
             JOIN checkpoints k ON k.case_id = l.case_id AND k.size = l.size
            WHERE l.round_id = $1 ORDER BY l.idx""",
        round_id,
    )
    return [r["note"].encode() for r in rows]


async def last_round_at(pool: asyncpg.Pool) -> dt.datetime | None:
    value: dt.datetime | None = await pool.fetchval("SELECT max(created_at) FROM timestamp_rounds")
    return value


async def first_stamp(pool: asyncpg.Pool, case_id: str, seq: int) -> Stamp | None:
    row = await pool.fetchrow(
        """SELECT t.gen_time, t.tsa, l.size FROM timestamp_leaves l
             JOIN timestamp_tokens t ON t.round_id = l.round_id
            WHERE l.case_id = $1 AND l.size > $2 ORDER BY l.round_id, t.gen_time LIMIT 1""",
        case_id, seq,
    )
    return None if row is None else Stamp(row["gen_time"], row["tsa"], row["size"])
