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
_COLUMN = {"case": "e.case_id", "officer": "e.officer", "camera": "e.camera", "station": "e.station",
           "kind": "e.kind", "stage": "e.stage"}
_TAG_VALUES = """(SELECT t.tag FROM item_tags t WHERE t.case_id = e.case_id AND t.blake3 IN (e.blake3, ''))"""


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


def _where(f: Filters, readable: list[str], omit: str | None = None) -> tuple[str, list[Any]]:
    params: list[Any] = [readable, list(LISTED_KINDS)]
    clauses = ["e.case_id = ANY($1::text[])", "e.kind = ANY($2::text[])"]

    def p(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    for name, value in f.values.items():
        if name == omit or not value:
            continue
        if name == "tag":
            clauses.append(f"{p(value)} IN {_TAG_VALUES}")
        else:
            clauses.append(f"{_COLUMN[name]} = {p(value)}")
    if f.since is not None:
        clauses.append(f"coalesce(e.recorded_at, en.at) >= {p(f.since)}")
    if f.until is not None:
        clauses.append(f"coalesce(e.recorded_at, en.at) < {p(f.until)}")
    if f.text:
        like = p(_like(f.text))
        clauses.append(f"(c.title ILIKE {like} OR coalesce(e.file_name, '') ILIKE {like} "
                       f"OR coalesce(x.title, '') ILIKE {like} OR coalesce(x.body, '') ILIKE {like})")
    return " AND ".join(clauses), params


_FROM = """FROM evidence e JOIN cases c ON c.id = e.case_id
           JOIN entries en ON en.case_id = e.case_id AND en.seq = e.seq
           LEFT JOIN item_text x ON x.case_id = e.case_id AND x.seq = e.seq"""


async def hits(pool: asyncpg.Pool, f: Filters, readable: list[str], *, limit: int,
               offset: int) -> tuple[int, list[Hit]]:
    """(total, one page of items), newest recording first."""
    where, params = _where(f, readable)
    total = await pool.fetchval(f"SELECT count(*) {_FROM} WHERE {where}", *params)
    rows = await pool.fetch(
        f"""SELECT e.case_id, c.title AS case_title, e.seq, e.kind, e.blake3, e.size, e.media_type, e.file_name,
                   coalesce(x.title, '') AS title, e.officer, e.camera, e.station, e.stage, e.recorded_at,
                   en.at AS logged_at, array(SELECT DISTINCT t.tag FROM item_tags t WHERE t.case_id = e.case_id
                                                    AND t.blake3 IN (e.blake3, '') ORDER BY 1) AS tags
              {_FROM} WHERE {where}
             ORDER BY coalesce(e.recorded_at, en.at) DESC, e.case_id, e.seq
             LIMIT {int(limit)} OFFSET {int(offset)}""", *params)
    return int(total), [Hit(**{**dict(r), "tags": list(r["tags"])}) for r in rows]


async def facet_counts(pool: asyncpg.Pool, f: Filters, readable: list[str]) -> dict[str, list[tuple[str, int]]]:
    """Per facet, each value with how many items match it and every *other* chosen filter (so a chosen
    value's siblings stay visible), most first."""
    out: dict[str, list[tuple[str, int]]] = {}
    for name in FACETS:
        where, params = _where(f, readable, omit=name)
        value = f"unnest(array{_TAG_VALUES})" if name == "tag" else _COLUMN[name]
        rows = await pool.fetch(
            f"""SELECT v AS value, count(*) AS n FROM (SELECT {value} AS v {_FROM} WHERE {where}) found
                 WHERE v IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT 50""", *params)
        out[name] = [(str(r["value"]), int(r["n"])) for r in rows]
    return out


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
