"""Rows of decisions: the handler's major-decision determinations and the latest review of a decision.

``services.decisions`` decides; this module only runs its statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from storage.db import like_literal


async def insert_determination(pool: Any, case_id: str, decision_no: str, *, answers: Mapping[str, Any],
                               facts: Mapping[str, Any], proposed: Sequence[str], major: bool, reason: str,
                               by_actor: str, by_id: int, seq: int) -> dict[str, Any]:
    row = await pool.fetchrow(
        """INSERT INTO determinations (case_id, decision_no, answers, facts, proposed, major, reason, by_actor,
                                       by_id, seq)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *""",
        case_id, decision_no, dict(answers), dict(facts), list(proposed), major, reason, by_actor, by_id, seq)
    return dict(row)


async def latest_determination(pool: asyncpg.Pool, case_id: str, decision_no: str) -> dict[str, Any] | None:
    row = await pool.fetchrow(
        "SELECT * FROM determinations WHERE case_id = $1 AND decision_no = $2 ORDER BY id DESC LIMIT 1",
        case_id, decision_no)
    return None if row is None else dict(row)


async def latest_review(pool: asyncpg.Pool, case_id: str, decision_no: str) -> tuple[str, str | None, int] | None:
    """The latest review of a decision: its outcome, a coordinator's decision, and its log seq."""
    row = await pool.fetchrow(
        """SELECT outcome, decision, seq FROM reviews WHERE case_id = $1 AND decision_no = $2
            ORDER BY id DESC LIMIT 1""", case_id, decision_no)
    return None if row is None else (row["outcome"], row["decision"], int(row["seq"]))


async def logged(pool: asyncpg.Pool, case_id: str, kind_prefix: str) -> list[tuple[int, bytes]]:
    """(seq, body) of a case's entries whose kind starts with ``kind_prefix``, in order: the decisions'
    own record, which the ``determinations`` and ``reviews`` rows only cache."""
    found = await pool.fetch(
        "SELECT seq, body FROM entries WHERE case_id = $1 AND kind LIKE $2 ORDER BY seq",
        case_id, like_literal(kind_prefix) + "%")
    return [(int(r["seq"]), bytes(r["body"])) for r in found]
