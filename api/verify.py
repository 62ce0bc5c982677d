"""Verification and the raw log material third-party verifiers need (integrity contract v1).

Everything here is checkable without trusting the server: entries are the exact canonical bytes,
proofs are RFC 9162 hash lists, checkpoints are C2SP signed notes under the published vkeys.
"""

from __future__ import annotations

import asyncio
import json
import re

from aiohttp import web

from api.access import readable, require_read
from api.appkeys import LOCKER
from api.params import blake3_param, json_response, query_int
from foundation.errors import NotFound
from integrity.hashing import ContentHasher, object_key
from services import verification, witnessing
from services.locker import Locker
from services.verification import OBJECT_KINDS

MAX_ENTRIES_PER_PAGE = 10_000


async def _answer(request: web.Request, blake3_hex: str, case_id: str | None) -> dict[str, object]:
    """The matches the caller may see: in case X only if they may read X (else 403); without a case,
    matches in restricted cases they may not read are left out and counted as ``withheld``."""
    if case_id is not None:
        await require_read(request, case_id)
    found = await verification.matches(request.app[LOCKER], blake3_hex, case_id)
    answer: dict[str, object] = {"blake3": blake3_hex}
    if case_id is None:
        allowed = await readable(request, {m.case_id for m in found})
        kept = [m for m in found if m.case_id in allowed]
        answer["withheld"] = len(found) - len(kept)
        found = kept
    return {**answer, **verification.answer(found)}


async def verify_hash(request: web.Request) -> web.Response:
    """Is this BLAKE3 hash evidence (in case X)?  Entry, inclusion proof and checkpoint for each match."""
    hexd = blake3_param(request.match_info["blake3"])
    return json_response(await _answer(request, hexd, request.query.get("case")))


async def verify_upload(request: web.Request) -> web.Response:
    """POST a file: hashed while it streams in, never stored; the same answer as by hash."""
    hasher = ContentHasher()
    async for chunk in request.content.iter_chunked(4 * 1024 * 1024):
        await asyncio.to_thread(hasher.update, chunk)
    digest = hasher.digest()
    answer = await _answer(request, digest.blake3, request.query.get("case"))
    answer.update({"sha256": digest.sha256, "size": digest.size})
    return json_response(answer)


async def verify_stored(request: web.Request) -> web.Response:
    """Re-read and re-hash a stored object now; report whether it still matches its address.

    Only for someone who may read a case holding the object (RULES §三): its recorded SHA-256 and
    size are the case's.
    """
    hexd = blake3_param(request.match_info["blake3"])
    cases = {row.case_id for row in await request.app[LOCKER].log.entries_for_object(hexd)}
    if cases and not await readable(request, cases):
        first = sorted(cases)[0]
        await require_read(request, first)  # refuses, naming that case's level and handler
    return json_response(await check_stored(request.app[LOCKER], hexd))


async def check_stored(locker: Locker, hexd: str) -> dict[str, object]:
    """Re-hash ``blake3/<hexd>`` now and compare with its address and its logged SHA-256 and size."""
    result = await locker.store.verify(object_key(hexd))
    recorded = await locker.log.entries_for_object(hexd)
    expected = next((r for r in recorded if r.kind in OBJECT_KINDS), None)
    entry = json.loads(expected.body) if expected else {}
    ok = result.ok and (not entry or (entry.get("sha256"), entry.get("size")) == (result.digest.sha256,
                                                                                  result.digest.size))
    return {"blake3": hexd, "match": ok, "now": {"blake3": result.digest.blake3,
            "sha256": result.digest.sha256, "size": result.digest.size},
            "recorded": {k: entry.get(k) for k in ("sha256", "size")} if entry else None}


async def checkpoint(request: web.Request) -> web.Response:
    """The latest signed checkpoint (or the one at ``size``), as a C2SP signed note."""
    size = query_int(request, "size", -1, minimum=-1)
    locker = request.app[LOCKER]
    cp = await locker.log.checkpoint(request.match_info["case"], None if size < 0 else size)
    # With the witnesses' cosignature lines, as C2SP tlog-cosignature shows a cosigned checkpoint.
    note = await witnessing.cosigned_note(locker.pool, cp.case_id, cp.size, cp.note)
    return web.Response(body=note, content_type="text/plain", charset="utf-8")


async def entries(request: web.Request) -> web.Response:
    """Entries ``start <= seq < end`` as JSON lines: line i is exactly entry i's canonical bytes."""
    case_id = request.match_info["case"]
    locker = request.app[LOCKER]
    size, _ = await locker.log.head(case_id)
    start = query_int(request, "start", 0)
    end = min(query_int(request, "end", size), size, start + MAX_ENTRIES_PER_PAGE)
    rows = await locker.log.entries(case_id, start, max(end, start))
    return web.Response(body=b"".join(r.body + b"\n" for r in rows), content_type="application/x-ndjson")


async def inclusion(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    index, size = query_int(request, "index"), query_int(request, "size")
    proof = await request.app[LOCKER].log.inclusion_proof(case_id, index, size)
    return json_response({"index": index, "size": size, "proof": [h.hex() for h in proof]})


async def consistency(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    old, new = query_int(request, "old"), query_int(request, "new")
    proof = await request.app[LOCKER].log.consistency_proof(case_id, old, new)
    return json_response({"old": old, "new": new, "proof": [h.hex() for h in proof]})


async def receipt(request: web.Request) -> web.Response:
    case_id = request.match_info["case"]
    raw = request.match_info["seq"]
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        raise NotFound(f"no entry {raw[:30]!r}")
    seq = int(raw)
    return json_response((await request.app[LOCKER].receipt(case_id, seq)).as_json())


async def keys(request: web.Request) -> web.Response:
    """Published verifier keys: pin one at enrolment, check checkpoints against it forever after."""
    locker = request.app[LOCKER]
    return json_response({"current": locker.log.signer.vkey, "vkeys": locker.keys.vkeys(),
                          "origin": locker.log.host})

