"""Rows of redaction projects and renders (the case log's redaction.saved and evidence.redacted entries
are the record; these are for listing and for a render's progress)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class VersionRow:
    project_id: str
    version: int
    case_id: str
    source_blake3: str
    name: str
    hash: str
    body: dict[str, Any]
    saved_by: str
    seq: int


@dataclass(frozen=True, slots=True)
class RenderRow:
    id: uuid.UUID
    project_id: str
    version: int
    case_id: str
    requested_by: str
    state: str
    progress_pct: int
    output_blake3: str | None
    error: str | None


def _version(row: asyncpg.Record) -> VersionRow:
    data = dict(row)
    data.pop("saved_at", None)
    data["body"] = json.loads(data["body"]) if isinstance(data["body"], str) else data["body"]
    return VersionRow(**data)


async def latest_version(pool: asyncpg.Pool, project_id: str) -> VersionRow | None:
    row = await pool.fetchrow("SELECT * FROM redaction_versions WHERE project_id = $1 ORDER BY version DESC LIMIT 1",
                              project_id)
    return _version(row) if row else None


async def get_version(pool: asyncpg.Pool, project_id: str, version: int) -> VersionRow | None:
    row = await pool.fetchrow("SELECT * FROM redaction_versions WHERE project_id = $1 AND version = $2",
                              project_id, version)
    return _version(row) if row else None


async def add_version(conn: asyncpg.Pool | asyncpg.Connection, row: VersionRow) -> bool:
    """Record a saved version (in its ``redaction.saved`` entry's transaction); False when that version
    number was taken meanwhile."""
    status = await conn.execute(
        """INSERT INTO redaction_versions (project_id, version, case_id, source_blake3, name, hash, body, saved_by, seq)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING""",
        # the pool's jsonb codec encodes the body: an object in the column, not a string holding one
        row.project_id, row.version, row.case_id, row.source_blake3, row.name, row.hash, row.body,
        row.saved_by, row.seq)
    return bool(status.endswith(" 1"))


async def case_versions(pool: asyncpg.Pool, case_id: str) -> list[VersionRow]:
    rows = await pool.fetch("SELECT * FROM redaction_versions WHERE case_id = $1 ORDER BY project_id, version",
                            case_id)
    return [_version(r) for r in rows]


async def add_render(pool: asyncpg.Pool, render_id: uuid.UUID, project_id: str, version: int, case_id: str,
                     requested_by: str) -> None:
    await pool.execute(
        """INSERT INTO redaction_renders (id, project_id, version, case_id, requested_by, state)
           VALUES ($1, $2, $3, $4, $5, 'queued')""", render_id, project_id, version, case_id, requested_by)


async def update_render(pool: asyncpg.Pool, render_id: uuid.UUID, *, state: str, progress_pct: int,
                        output_blake3: str | None = None, error: str | None = None) -> None:
    await pool.execute(
        """UPDATE redaction_renders SET state = $2, progress_pct = $3, output_blake3 = $4, error = $5,
                  finished_at = CASE WHEN $2 IN ('done', 'failed') THEN now() END
           WHERE id = $1""", render_id, state, progress_pct, output_blake3, error)


async def get_render(pool: asyncpg.Pool, render_id: uuid.UUID) -> RenderRow | None:
    row = await pool.fetchrow(
        """SELECT id, project_id, version, case_id, requested_by, state, progress_pct, output_blake3, error
           FROM redaction_renders WHERE id = $1""", render_id)
    return RenderRow(**dict(row)) if row else None


async def case_renders(pool: asyncpg.Pool, case_id: str) -> list[RenderRow]:
    rows = await pool.fetch(
        """SELECT id, project_id, version, case_id, requested_by, state, progress_pct, output_blake3, error
           FROM redaction_renders WHERE case_id = $1 ORDER BY requested_at""", case_id)
    return [RenderRow(**dict(r)) for r in rows]


async def fail_unfinished(pool: asyncpg.Pool) -> int:
    """At start-up: renders a stopped server left queued or running failed (they can be asked again)."""
    status = await pool.execute(
        """UPDATE redaction_renders SET state = 'failed', error = 'the server stopped during the render',
                  finished_at = now() WHERE state IN ('queued', 'running')""")
    return int(status.split()[-1])
