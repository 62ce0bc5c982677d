"""Bookmarks at a moment of a recording (issue 18 item 4): the rows the player lists.

The rules (who may bookmark, the author-only edit) are ``services.bookmarks``; each row is written by
its log entry's ``Draft.rows`` inside the append's transaction, so a row never exists without its entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import asyncpg

_COLUMNS = "case_id, id, blake3, at_ms, note, author, author_id, edited_by, edits, removed_by, created_at"


@dataclass(frozen=True, slots=True)
class Bookmark:
    case_id: str
    id: int  # the seq of its evidence.bookmarked entry
    blake3: str
    at_ms: int
    note: str
    author: str
    author_id: int
    edited_by: str | None
    edits: int
    removed_by: str | None
    created_at: dt.datetime


async def insert(conn: asyncpg.Connection, case_id: str, seq: int, *, blake3: str, at_ms: int, note: str,
                 author: str, author_id: int) -> None:
    await conn.execute(
        """INSERT INTO bookmarks (case_id, id, blake3, at_ms, note, author, author_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""", case_id, seq, blake3, at_ms, note, author, author_id)


async def edit(conn: asyncpg.Connection, case_id: str, bookmark_id: int, *, at_ms: int, note: str,
               actor: str) -> None:
    await conn.execute(
        """UPDATE bookmarks SET at_ms = $3, note = $4, edited_by = $5, edits = edits + 1
            WHERE case_id = $1 AND id = $2""", case_id, bookmark_id, at_ms, note, actor)


async def remove(conn: asyncpg.Connection, case_id: str, bookmark_id: int, *, actor: str) -> None:
    await conn.execute("UPDATE bookmarks SET removed_by = $3 WHERE case_id = $1 AND id = $2",
                       case_id, bookmark_id, actor)


async def of_item(pool: asyncpg.Pool, case_id: str, blake3: str | None = None) -> list[Bookmark]:
    """The live (not removed) bookmarks of a case, or of one of its items, in time order."""
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM bookmarks
             WHERE case_id = $1 AND ($2::text IS NULL OR blake3 = $2) AND removed_by IS NULL
             ORDER BY blake3, at_ms, id""", case_id, blake3)
    return [Bookmark(**dict(r)) for r in rows]


async def get(pool: asyncpg.Pool, case_id: str, bookmark_id: int) -> Bookmark | None:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM bookmarks WHERE case_id = $1 AND id = $2", case_id, bookmark_id)
    return Bookmark(**dict(row)) if row else None
