"""The rows a case's log determines, read back as they stand, for scrub to compare with the log.

What each row must hold is ``policy.log_state``; this module only reads (``TableRows``, the tree
nodes and head) and answers the request path's catch-up query for access entries.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from policy.log_state import (
    ACCESS_KINDS,
    BOOKMARK_FIELDS,
    CLASS_FIELDS,
    DISCLOSURE_FIELDS,
    EVIDENCE_FIELDS,
    REDACTION_VERSION_FIELDS,
    REVIEW_FIELDS,
    SHARE_FIELDS,
    TAG_LIST_FIELDS,
    THUMBNAIL_FIELDS,
    TableRows,
    attachment_key,
    tag_key,
)
from storage import basic_info, principals, releases
from storage.db import fetch_read
from storage.disclosures import logged_law_changes


async def table_rows(pool: asyncpg.Pool, case_id: str, *, with_classes: bool = False) -> TableRows:
    """The ``cases`` row and every evidence, grant, hold, disclosure and review row of one case, and
    (``with_classes``: the governance log) the retention classes, the principals, the basic-information
    pages and the law changes."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        case = await conn.fetchrow(
            """SELECT handler, handler_id, restriction, closed_at, retention_class, title, created_by, meta
                 FROM cases WHERE id = $1""", case_id)
        evidence = await conn.fetch(
            f"SELECT seq, {', '.join(EVIDENCE_FIELDS)} FROM evidence WHERE case_id = $1 ORDER BY seq", case_id)
        grants = await conn.fetch(
            """SELECT principal, granted_by, reason, revoked_by, revoke_reason FROM case_grants
                WHERE case_id = $1 ORDER BY id""", case_id)
        holds = await conn.fetch(
            "SELECT id, blake3, reason, placed_by, lifted_by, lift_reason FROM holds WHERE case_id = $1", case_id)
        disclosures = await conn.fetch(
            f"SELECT id, {', '.join(DISCLOSURE_FIELDS)} FROM disclosures WHERE case_id = $1", case_id)
        reviews = await conn.fetch(
            f"""SELECT r.seq, {', '.join('r.' + f for f in REVIEW_FIELDS)} FROM reviews r
                  JOIN disclosures d ON d.id = r.disclosure_id WHERE d.case_id = $1""", case_id)
        disposed = await conn.fetch(
            """SELECT DISTINCT o.blake3 FROM objects o JOIN evidence e ON e.blake3 = o.blake3
                WHERE e.case_id = $1 AND o.disposed_at IS NOT NULL""", case_id)
        shares = await conn.fetch(f"SELECT id, {', '.join(SHARE_FIELDS)} FROM shares WHERE case_id = $1", case_id)
        attachments = await releases.case_rows(conn, case_id)
        versions = await conn.fetch(
            f"""SELECT project_id, version, {', '.join(REDACTION_VERSION_FIELDS)} FROM redaction_versions
                 WHERE case_id = $1""", case_id)
        bookmarks = await conn.fetch(
            f"SELECT id, {', '.join(BOOKMARK_FIELDS)} FROM bookmarks WHERE case_id = $1", case_id)
        classes = await conn.fetch(
            f"SELECT name, {', '.join(CLASS_FIELDS)} FROM retention_classes") if with_classes else None
        tags = await conn.fetch("SELECT blake3, tag, tagged_by FROM item_tags WHERE case_id = $1", case_id)
        tag_list = await conn.fetch(
            f"SELECT name, {', '.join(TAG_LIST_FIELDS)} FROM tags") if with_classes else None
        thumbnails = await conn.fetch(
            f"SELECT seq, {', '.join(THUMBNAIL_FIELDS)} FROM thumbnails WHERE case_id = $1", case_id)
    by_principal: dict[str, list[dict[str, Any]]] = {}
    for g in grants:
        by_principal.setdefault(g["principal"], []).append(dict(g))
    return TableRows(
        case=dict(case) if case else {},
        evidence={r["seq"]: dict(r) for r in evidence},
        grants=by_principal,
        holds={r["id"]: dict(r) for r in holds},
        disclosures={r["id"]: dict(r) for r in disclosures},
        reviews={r["seq"]: dict(r) for r in reviews},
        disposed=frozenset(r["blake3"] for r in disposed),
        classes=None if classes is None else {r["name"]: dict(r) for r in classes},
        shares={r["id"]: dict(r) for r in shares},
        principals=await principals.logged_rows(pool) if with_classes else None,
        pages=await basic_info.logged_rows(pool) if with_classes else None,
        law_changes=await logged_law_changes(pool) if with_classes else None,
        attachments={attachment_key(r["disclosure_id"], r["blake3"]): r for r in attachments},
        redaction_versions={f"{r['project_id']}/{r['version']}": {**dict(r), "body": _json(r["body"])}
                            for r in versions},
        bookmarks={r["id"]: dict(r) for r in bookmarks},
        tags={tag_key(r["blake3"], r["tag"]): {"tagged_by": r["tagged_by"]} for r in tags},
        tag_list=None if tag_list is None else {r["name"]: dict(r) for r in tag_list},
        thumbnails={r["seq"]: dict(r) for r in thumbnails},
    )


def _json(value: Any) -> Any:
    """A jsonb column as asyncpg hands it over (text unless a codec is set)."""
    return json.loads(value) if isinstance(value, str) else value


async def tree_nodes(pool: asyncpg.Pool, case_id: str) -> list[tuple[int, int, bytes]]:
    """Every stored perfect-subtree node of a case's tree: (level, index, hash)."""
    rows = await pool.fetch("SELECT level, idx, hash FROM tree_nodes WHERE case_id = $1", case_id)
    return [(r["level"], r["idx"], r["hash"]) for r in rows]


async def tree_head(pool: asyncpg.Pool, case_id: str) -> dict[str, Any] | None:
    """The tree head the ``cases`` row keeps: size, root, last leaf, frontier."""
    row = await pool.fetchrow("SELECT size, root, last_leaf, frontier FROM cases WHERE id = $1", case_id)
    return dict(row) if row else None


async def access_entries(pool: asyncpg.Pool, since: dict[str, int]) -> dict[str, tuple[int, list[bytes]]]:
    """Per case: its log size and the bodies of its access entries with ``seq >= since[case]``, in order.

    One round trip for all the cases.  A case with no entries (no such case) is left out.  The size is
    counted from the entries themselves, never taken from the ``cases`` row.
    """
    if len(since) == 1:  # the request path's case: a plainer query, planned once per connection
        [(case_id, start)] = since.items()
        [row] = await fetch_read(  # one round trip: nothing to reset after it
            pool,
            """SELECT (SELECT max(seq) + 1 FROM entries WHERE case_id = $1) AS size,
                      array(SELECT body FROM entries WHERE case_id = $1 AND seq >= $2 AND kind = ANY($3::text[])
                             ORDER BY seq) AS bodies""",
            case_id, start, list(ACCESS_KINDS))
        return {} if row["size"] is None else {case_id: (row["size"], list(row["bodies"]))}
    rows = await pool.fetch(
        """WITH w AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS w(case_id, since)),
                s AS (SELECT w.case_id, w.since,
                             (SELECT max(x.seq) + 1 FROM entries x WHERE x.case_id = w.case_id) AS size FROM w)
           SELECT s.case_id, s.size, e.body FROM s
             LEFT JOIN entries e ON e.case_id = s.case_id AND e.seq >= s.since AND e.kind = ANY($3::text[])
            WHERE s.size IS NOT NULL
            ORDER BY s.case_id, e.seq""",
        list(since), list(since.values()), list(ACCESS_KINDS))
    out: dict[str, tuple[int, list[bytes]]] = {}
    for r in rows:
        _, bodies = out.setdefault(r["case_id"], (r["size"], []))
        if r["body"] is not None:
            bodies.append(r["body"])
    return out
