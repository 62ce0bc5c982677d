"""Benchmark: the disposition due query and a full dry run over 100,000 items in 1,000 cases.

Target (issue 6): both under 2 s on the embedded PostgreSQL.  Peer, in the same run: the naive way —
fetch every object with its cases and holds and decide in Python — to show what the indexes buy.

The catalogue is seeded in bulk with COPY (cases through the real CaseLog, so each has a real tree
head; objects, evidence rows and holds as the locker would write them).  A third of the objects are
due, a tenth of the cases hold a legal hold, some cases are still open-clock.

    python bench/disposition.py [--items 100000] [--cases 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from verdict import Verdicts, bench_dir  # noqa: E402

from services import retention  # noqa: E402
from services.locker import Locker  # noqa: E402
from services.permissions import operator  # noqa: E402
from storage import db  # noqa: E402
from storage import retention as storage_retention  # noqa: E402
from storage.keys import KeyRing  # noqa: E402
from storage.log import CaseLog  # noqa: E402
from storage.stores import open_store  # noqa: E402

TARGET_S = 2.0


async def seed(pool, log: CaseLog, items: int, cases: int) -> None:
    rng = random.Random(7)
    for c in range(cases):
        await log.open_case(f"B-{c:04d}", "bench")
    now = dt.datetime.now(dt.UTC)
    objects, evidence = [], []
    for i in range(items):
        b3 = os.urandom(32).hex()
        past = rng.random() < 1 / 3
        until = now - dt.timedelta(days=rng.randint(1, 900)) if past else now + dt.timedelta(days=rng.randint(1, 900))
        objects.append((b3, os.urandom(32).hex(), rng.randint(1, 2**31), "file", until, False, past or i % 2 == 0))
        evidence.append((f"B-{i % cases:04d}", 1 + i // cases, "evidence.ingested", b3, 1))
    async with pool.acquire() as conn:
        await conn.copy_records_to_table(
            "objects", records=[(o[0], o[1], o[2], o[3], o[4], o[5], not o[6]) for o in objects],
            columns=["blake3", "sha256", "size", "store", "retain_until", "legal_hold", "retention_open"])
        await conn.copy_records_to_table("evidence", records=evidence,
                                         columns=["case_id", "seq", "kind", "blake3", "size"])
        await conn.copy_records_to_table(
            "holds", records=[(f"B-{c:04d}", "litigation", "bench") for c in range(0, cases, 10)],
            columns=["case_id", "reason", "placed_by"])
        await conn.execute("ANALYZE")


async def naive(pool, now: dt.datetime) -> int:
    """The peer: everything to Python, decided there."""
    objs = await pool.fetch("SELECT blake3, retain_until, retention_open, legal_hold, disposed_at FROM objects")
    ev = await pool.fetch("SELECT blake3, case_id FROM evidence")
    held_cases = {r["case_id"] for r in await pool.fetch("SELECT case_id FROM holds WHERE lifted_at IS NULL")}
    cases_of: dict[str, set[str]] = {}
    for r in ev:
        cases_of.setdefault(r["blake3"], set()).add(r["case_id"])
    return sum(1 for o in objs if o["disposed_at"] is None and not o["retention_open"] and o["retain_until"]
               and o["retain_until"] <= now and not (cases_of.get(o["blake3"], set()) & held_cases))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=1_000)
    args = parser.parse_args()
    verdicts = Verdicts("disposition")
    with bench_dir("disp") as home:
        await run(args, home, verdicts)
    return verdicts.finish()


async def run(args: argparse.Namespace, home: Path, verdicts: Verdicts) -> None:
    url = db.start_embedded(home / "pg")
    try:
        pool = await db.create_pool(url, min_size=2, max_size=4)
        async with pool.acquire() as conn:
            await db.migrate(conn)
        ring = KeyRing(home / "keys")
        log = CaseLog(pool, ring.signer("bench.local"), "bench.local")
        from foundation.settings import Settings

        locker = Locker(pool, open_store(Settings.from_env({}, home=home)), log, ring)
        t0 = time.perf_counter()
        await seed(pool, log, args.items, args.cases)
        print(f"seeded {args.items:,} objects in {args.cases:,} cases in {time.perf_counter() - t0:.1f} s")
        now = dt.datetime.now(dt.UTC)

        t0 = time.perf_counter()
        peer_count = await naive(pool, now)
        peer_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        listed = await storage_retention.due(pool, now)
        due_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = await retention.run_disposition(locker, now=now, dry_run=True, who=operator())
        dry_s = time.perf_counter() - t0
        assert len(report.disposed) == peer_count, (len(report.disposed), peer_count)
        print(f"peer  naive fetch-all + Python filter   {peer_s:6.3f} s   {peer_count:,} disposable")
        print(f"due query                             {due_s:6.3f} s   {len(listed):,} due "
              f"({sum(1 for d in listed if d.held_by):,} held)   ratio vs peer {due_s / peer_s:.2f}  "
              f"(target < {TARGET_S:.0f} s: {'met' if due_s < TARGET_S else 'NOT met'})")
        print(f"dry run                               {dry_s:6.3f} s   {len(report.disposed):,} would go, "
              f"{len(report.held):,} held   ratio vs peer {dry_s / peer_s:.2f}  "
              f"(target < {TARGET_S:.0f} s: {'met' if dry_s < TARGET_S else 'NOT met'})")
        for what, seconds in (("due query", due_s), ("dry run", dry_s)):
            verdicts.check(f"{what}, {args.items:,} items in {args.cases:,} cases", ours=f"{seconds:.3f} s",
                           peer=f"{peer_s:.3f} s", ratio=f"{seconds / peer_s:.2f}", target=f"< {TARGET_S:.0f} s",
                           ok=seconds < TARGET_S)
        plan = await pool.fetch("EXPLAIN SELECT 1 FROM objects o WHERE o.disposed_at IS NULL "
                                "AND o.retain_until <= now() AND NOT o.retention_open")
        print("plan: " + plan[0][0].strip())
        await pool.close()
    finally:
        db.stop_embedded(home / "pg")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
