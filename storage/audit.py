"""Reads of the case logs for the audit view: who viewed, downloaded, exported or shared what, across cases.

The rows are the log's own entries (``entries``), never a second record: an ``evidence.accessed`` entry
carries its action (view, download, export, ...) in its canonical JSON body; a sharing entry's kind
begins with ``share.``.  Filters are parameters, never text pasted into the query.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import asyncpg

#: The kind of an access entry, and the prefix of the sharing entries' kinds.
ACCESS_KIND = "evidence.accessed"
SHARE_PREFIX = "share."


@dataclass(frozen=True, slots=True)
class AuditRow:
    case_id: str
    seq: int
    at: dt.datetime
    actor: str
    kind: str
    action: str  # view / download / export / ... for an access; "share" for a sharing entry
    object: str  # BLAKE3 of the item, "" for the whole case
    file_name: str
    purpose: str
    client: str
    share: str  # the share id a sharing entry or a recipient's access names


async def accesses(pool: asyncpg.Pool, *, user: str | None = None, case_id: str | None = None,
                   action: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None,
                   limit: int = 200, offset: int = 0) -> list[AuditRow]:
    """Access and sharing entries matching every given filter, newest first.

    ``user`` is a login name (the part of the actor after ``role:``); ``action`` an access's action, or
    ``share`` for the sharing entries; ``until`` is exclusive.
    """
    rows = await pool.fetch(
        """SELECT case_id, seq, at, actor, kind, convert_from(body, 'UTF8')::jsonb AS body
             FROM entries
            WHERE (kind = $1 OR kind LIKE $2 || '%')
              AND ($3::text IS NULL OR substr(actor, strpos(actor, ':') + 1) = $3)
              AND ($4::text IS NULL OR case_id = $4)
              AND ($5::text IS NULL
                   OR ($5 = 'share' AND kind LIKE $2 || '%')
                   OR (kind = $1 AND convert_from(body, 'UTF8')::jsonb ->> 'action' = $5))
              AND ($6::timestamptz IS NULL OR at >= $6)
              AND ($7::timestamptz IS NULL OR at < $7)
            ORDER BY at DESC, case_id, seq DESC
            LIMIT $8 OFFSET $9""",
        ACCESS_KIND, SHARE_PREFIX, user, case_id, action, since, until, limit, offset)
    return [_row(r) for r in rows]


def _row(r: asyncpg.Record) -> AuditRow:
    body = r["body"] if isinstance(r["body"], dict) else json.loads(r["body"])
    kind = str(r["kind"])
    action = "share" if kind.startswith(SHARE_PREFIX) else str(body.get("action", ""))
    return AuditRow(
        case_id=r["case_id"], seq=int(r["seq"]), at=r["at"], actor=r["actor"], kind=kind, action=action,
        object=str(body.get("object") or body.get("blake3") or ""), file_name=str(body.get("file_name") or ""),
        purpose=str(body.get("purpose") or ""), client=str(body.get("client") or ""),
        share=str(body.get("share") or body.get("share_id") or ""))
