"""Tags (categories) from the bureau's list, on items and on whole cases: the rows.

The list is kept by administrators and logged in the governance log (``tag.defined``,
``tag.retired``); each tag put on or taken off an item or case is an entry in that case's log
(``tag.added``, ``tag.removed``).  The rules are ``services.tags``; these are the statements, each
run inside the append's transaction (``Draft.rows``) so a row never exists without its entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

#: ``item_tags.blake3`` of a tag on the whole case.
CASE_SCOPE = ""


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    label_zh: str
    label_en: str
    defined_by: str
    retired: bool

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True, slots=True)
class Tagged:
    case_id: str
    blake3: str  # CASE_SCOPE: the whole case
    tag: str
    tagged_by: str


async def define(conn: Any, name: str, label_zh: str, label_en: str, actor: str) -> None:
    """Create a tag or change its labels (a retired tag defined again is in use again)."""
    await conn.execute(
        """INSERT INTO tags (name, label_zh, label_en, defined_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name) DO UPDATE SET label_zh = EXCLUDED.label_zh, label_en = EXCLUDED.label_en,
                                            defined_by = EXCLUDED.defined_by, retired = false""",
        name, label_zh, label_en, actor)


async def retire(conn: Any, name: str) -> None:
    await conn.execute("UPDATE tags SET retired = true WHERE name = $1", name)


async def all_tags(pool: asyncpg.Pool) -> list[Tag]:
    rows = await pool.fetch("SELECT name, label_zh, label_en, defined_by, retired FROM tags ORDER BY name")
    return [Tag(**dict(r)) for r in rows]


async def get(pool: asyncpg.Pool, name: str) -> Tag | None:
    row = await pool.fetchrow("SELECT name, label_zh, label_en, defined_by, retired FROM tags WHERE name = $1", name)
    return Tag(**dict(row)) if row else None


async def add(conn: Any, case_id: str, blake3: str, tag: str, actor: str) -> None:
    await conn.execute("INSERT INTO item_tags (case_id, blake3, tag, tagged_by) VALUES ($1, $2, $3, $4)",
                       case_id, blake3, tag, actor)


async def remove(conn: Any, case_id: str, blake3: str, tag: str) -> None:
    await conn.execute("DELETE FROM item_tags WHERE case_id = $1 AND blake3 = $2 AND tag = $3", case_id, blake3, tag)


async def is_tagged(pool: asyncpg.Pool, case_id: str, blake3: str, tag: str) -> bool:
    return bool(await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM item_tags WHERE case_id = $1 AND blake3 = $2 AND tag = $3)",
        case_id, blake3, tag))


async def of_case(pool: asyncpg.Pool, case_id: str) -> list[Tagged]:
    """Every tag of a case and of its items."""
    rows = await pool.fetch("SELECT case_id, blake3, tag, tagged_by FROM item_tags WHERE case_id = $1 "
                            "ORDER BY blake3, tag", case_id)
    return [Tagged(**dict(r)) for r in rows]
