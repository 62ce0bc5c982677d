"""Searching evidence items with facets: the statements (the rules are ``services.search``).

Every query is confined to the case ids the caller passes in ``readable`` (the cases the reader may
read, decided on each case's log by the service), so neither a row nor a count of a case outside
them is ever computed.  Free text is a case-insensitive substring match (``ILIKE``) over the case
title, the item's file name and title and a text record's text: it finds Chinese words inside
longer runs of Chinese, which needs no word segmentation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

#: The facets, each an exact-match filter on one value and a count per value.
FACETS = ("case", "officer", "camera", "station", "kind", "tag", "stage")
#: Proxies and stills are found through their originals, never listed on their own.
LISTED_KINDS = ("evidence.ingested", "record.added", "evidence.redacted")


@dataclass(frozen=True, slots=True)
class Filters:
    values: dict[str, str]  # facet name -> the value chosen
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    case_id: str
    case_title: str
    seq: int
    kind: str
    blake3: str
    size: int
    media_type: str | None
    file_name: str | None
    title: str
    officer: str | None
    camera: str | None
    station: str | None
    stage: str | None
    recorded_at: dt.datetime | None
    logged_at: dt.datetime
    tags: list[str]


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class _Params(list[Any]):
    def add(self, value: Any) -> str:
        self.append(value)
        return f"${len(self)}"


def _base_where(f: Filters, readable: list[str], params: _Params) -> str:
    """The filters every count shares: readable cases, listed kinds, the period and the free text."""
    clauses = [f"e.case_id = ANY({params.add(readable)}::text[])",
               f"e.kind = ANY({params.add(list(LISTED_KINDS))}::text[])"]
    if f.since is not None:
        clauses.append(f"coalesce(e.recorded_at, en.at) >= {params.add(f.since)}")
    if f.until is not None:
        clauses.append(f"coalesce(e.recorded_at, en.at) < {params.add(f.until)}")
    if f.text:
        like = params.add(_like(f.text))
        clauses.append(f"(c.title ILIKE {like} OR coalesce(e.file_name, '') ILIKE {like} "
                       f"OR coalesce(x.title, '') ILIKE {like} OR coalesce(x.body, '') ILIKE {like})")
    return " AND ".join(clauses)


def _facet_where(f: Filters, params: _Params, omit: str | None = None) -> str:
    """The chosen facet values (but ``omit``'s), over the ``found`` table."""
    clauses = ["true"]
    for name, value in f.values.items():
        if name != omit and value:
            clauses.append(f"{params.add(value)} = ANY(tags)" if name == "tag" else f'"{name}" = {params.add(value)}')
    return " AND ".join(clauses)


_FROM = """FROM evidence e JOIN cases c ON c.id = e.case_id
           JOIN entries en ON en.case_id = e.case_id AND en.seq = e.seq
           LEFT JOIN item_text x ON x.case_id = e.case_id AND x.seq = e.seq"""


async def search(pool: asyncpg.Pool, f: Filters, readable: list[str], *, limit: int, offset: int,
                 ) -> tuple[int, list[Hit], dict[str, list[tuple[str, int]]]]:
    """(total, one page of items newest recording first, facet counts) in one pass over the items.

    The items matching the shared filters (readable cases, period, free text) are found once into a
    temporary table; the page and each facet's counts are read from it.  A facet's counts take every
    *other* chosen facet value, so a chosen value's siblings stay visible."""
    async with pool.acquire() as conn, conn.transaction():
        params = _Params()
        await conn.execute(
            f"""CREATE TEMP TABLE found ON COMMIT DROP AS
                SELECT e.case_id AS "case", e.seq, e.kind, e.officer, e.camera, e.station, e.stage,
                       coalesce(e.recorded_at, en.at) AS at,
                       array(SELECT DISTINCT t.tag FROM item_tags t WHERE t.case_id = e.case_id
                                AND t.blake3 IN (e.blake3, '') ORDER BY 1) AS tags
                  {_FROM} WHERE {_base_where(f, readable, params)}""", *params)
        params = _Params()
        where = _facet_where(f, params)
        total = await conn.fetchval(f"SELECT count(*) FROM found WHERE {where}", *params)
        rows = await conn.fetch(
            f"""SELECT e.case_id, c.title AS case_title, e.seq, e.kind, e.blake3, e.size, e.media_type, e.file_name,
                       coalesce(x.title, '') AS title, e.officer, e.camera, e.station, e.stage, e.recorded_at,
                       en.at AS logged_at, p.tags
                  FROM (SELECT * FROM found WHERE {where} ORDER BY at DESC, "case", seq
                        LIMIT {int(limit)} OFFSET {int(offset)}) p
                  JOIN evidence e ON e.case_id = p."case" AND e.seq = p.seq
                  JOIN cases c ON c.id = e.case_id
                  JOIN entries en ON en.case_id = e.case_id AND en.seq = e.seq
                  LEFT JOIN item_text x ON x.case_id = e.case_id AND x.seq = e.seq
                 ORDER BY p.at DESC, p."case", p.seq""", *params)
        facets: dict[str, list[tuple[str, int]]] = {}
        for name in FACETS:
            params = _Params()
            where = _facet_where(f, params, omit=name)
            value = "unnest(tags)" if name == "tag" else f'"{name}"'
            counted = await conn.fetch(
                f"""SELECT v AS value, count(*) AS n FROM (SELECT {value} AS v FROM found WHERE {where}) s
                     WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT 50""", *params)
            facets[name] = [(str(r["value"]), int(r["n"])) for r in counted]
    return int(total), [Hit(**{**dict(r), "tags": list(r["tags"])}) for r in rows], facets


async def unindexed(pool: asyncpg.Pool, limit: int = 500) -> list[dict[str, Any]]:
    """Listed items whose free text is not indexed yet, with their entry's body."""
    rows = await pool.fetch(
        """SELECT e.case_id, e.seq, e.kind, e.blake3, e.size, e.media_type, en.body
             FROM evidence e JOIN entries en ON en.case_id = e.case_id AND en.seq = e.seq
            WHERE e.kind = ANY($1::text[])
              AND NOT EXISTS (SELECT 1 FROM item_text x WHERE x.case_id = e.case_id AND x.seq = e.seq)
            ORDER BY e.case_id, e.seq LIMIT $2""", list(LISTED_KINDS), limit)
    return [dict(r) for r in rows]


async def index_text(pool: asyncpg.Pool, case_id: str, seq: int, title: str, body: str) -> None:
    await pool.execute("INSERT INTO item_text (case_id, seq, title, body) VALUES ($1, $2, $3, $4) "
                       "ON CONFLICT (case_id, seq) DO NOTHING", case_id, seq, title, body)


async def case_ids(pool: asyncpg.Pool) -> list[str]:
    """Every case id (the service decides which of them the reader may read)."""
    return [r["id"] for r in await pool.fetch("SELECT id FROM cases ORDER BY id")]
