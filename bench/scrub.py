"""Benchmark: ``custody scrub`` of one case with about 10,000 entries.

The case is built through the real services: text records (objects scrub re-hashes), reads of them
(``evidence.accessed``), grants, a hold and a restriction, appended a few at a time as a server
would, so the log has thousands of signed checkpoints as well.  Peer, in the same run: the scrub of
the log alone (re-hash every object, recompute the tree, check the chain) — what scrub did before
it compared the tables with the log and the checkpoints with the tree — so the ratio says what the
extra checks cost.  ``--repeat`` runs each a few times and keeps the best.  Target: ratio <= 1.5 (chosen
here, see TARGET_RATIO), and no finding on the case, which is seeded clean.  PASS/FAIL per target, exit 1
on a miss, temporary data removed.

    python bench/scrub.py [--entries 10000] [--objects 500] [--repeat 3]

Measured here (2 shared cores, 10,000 entries, 500 objects, ~1,330 checkpoints, best of 3): the scrub
of main before the table and checkpoint checks 0.97 s; the log-only peer 1.01 s; the full scrub 1.30 s
(ratio 1.28).  The extra third is mostly the ~1,330 checkpoint signatures and consistency proofs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from verdict import Verdicts, bench_dir  # noqa: E402

from foundation.settings import Settings  # noqa: E402
from services import accounts, evidence, restriction, retention  # noqa: E402
from services.locker import Locker  # noqa: E402
from services.permissions import operator  # noqa: E402
from services.scrub import scrub, scrub_log  # noqa: E402
from storage import db  # noqa: E402
from storage.keys import KeyRing  # noqa: E402
from storage.log import CaseLog  # noqa: E402
from storage.principals import Principal  # noqa: E402
from storage.stores import open_store  # noqa: E402

CASE = "BENCH-SCRUB"
#: Appends in flight at once while seeding: a busy case, so the log signs a checkpoint per few entries.
CONCURRENT = 8
#: Full scrub time over the log-only scrub.  No target was ever stated (README: "reported (1.4x the peer
#: here)"); this is the one that row implies: the table and checkpoint checks may add at most half the
#: log-only scrub again.  Measured 1.28 (docstring) and 1.39 (last run), so both pass.
TARGET_RATIO = 1.5


async def _bytes(data: bytes):  # type: ignore[no-untyped-def]
    yield data


async def seed(locker: Locker, entries: int, objects: int) -> None:
    ann, _ = await accounts.add(locker, "ann", "investigator", who=operator())
    bob, _ = await accounts.add(locker, "bob", "investigator", who=operator())
    await accounts.add(locker, "admin1", "admin", who=operator())
    admin = Principal(id=0, name="admin1", role="admin")
    await locker.log.open_case(CASE, ann.actor, handler=ann.actor)
    hexes = []
    for start in range(0, objects, CONCURRENT):
        done = await asyncio.gather(*(
            evidence.add_record(locker, CASE, _bytes(f"note {i}\n".encode() * 20), who=ann, stage="investigation",
                                file_name=f"note-{i}.txt", media_type="text/plain")
            for i in range(start, min(objects, start + CONCURRENT))))
        hexes += [d.body.decode().split('"blake3":"')[1][:64] for d in done]
    await retention.place_hold(locker, CASE, blake3=None, reason="litigation", who=admin)
    await restriction.set_level(locker, CASE, "privacy", who=ann, reason="victim's identity")
    await restriction.grant(locker, CASE, "bob", who=ann, reason="second investigator")
    n = (await locker.log.head(CASE))[0]
    i = 0
    while n < entries:
        batch = min(CONCURRENT, entries - n)
        await asyncio.gather(*(
            evidence.record_access(locker, CASE, bob, action="view", purpose=f"review {i + k}",
                                   blake3=hexes[(i + k) % len(hexes)], file_name="note.txt")
            for k in range(batch)))
        i += batch
        n = (await locker.log.head(CASE))[0]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    verdicts = Verdicts("scrub")
    with bench_dir("scrub") as home:
        await run(args, home, verdicts)
    return verdicts.finish()


async def run(args: argparse.Namespace, home: Path, verdicts: Verdicts) -> None:
    url = db.start_embedded(home / "pg")
    try:
        pool = await db.create_pool(url, min_size=2, max_size=4)
        async with pool.acquire() as conn:
            await db.migrate(conn)
        ring = KeyRing(home / "keys")
        settings = Settings.from_env({}, home=home)
        store = open_store(settings)
        log = CaseLog(pool, ring.signer("bench.local"), "bench.local", archive=store)
        locker = Locker(pool, store, log, ring)
        t0 = time.perf_counter()
        await seed(locker, args.entries, args.objects)
        size, _ = await log.head(CASE)
        checkpoints = await pool.fetchval("SELECT count(*) FROM checkpoints WHERE case_id = $1", CASE)
        print(f"seeded case {CASE}: {size:,} entries, {args.objects:,} objects, {checkpoints:,} signed checkpoints "
              f"in {time.perf_counter() - t0:.1f} s")
        best_peer = best = float("inf")
        findings: list[str] = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            peer_problems = await scrub_log(locker, CASE)
            best_peer = min(best_peer, time.perf_counter() - t0)
            t0 = time.perf_counter()
            problems = await scrub(locker, CASE)
            best = min(best, time.perf_counter() - t0)
            findings += [f"log-only scrub: {p}" for p in peer_problems] + [f"scrub: {p}" for p in problems]
        print(f"peer  scrub of the log alone (objects, chain, tree)   {best_peer:6.3f} s")
        print(f"custody scrub --case {CASE}                       {best:6.3f} s   ratio vs peer "
              f"{best / best_peer:.2f}")
        # A timing of a scrub that finds something on a case seeded clean would time a bug.
        for finding in findings[:5]:
            print(f"      {finding}")
        verdicts.check(f"findings on the clean case, {args.repeat} runs of each", ours=f"{len(findings)}",
                       target="0", ok=not findings)
        verdicts.check(f"custody scrub --case, {size:,} entries, {checkpoints:,} checkpoints, best of {args.repeat}",
                       ours=f"{best:.3f} s", peer=f"{best_peer:.3f} s", ratio=f"{best / best_peer:.2f}",
                       target=f"<= {TARGET_RATIO:.2f}", ok=best / best_peer <= TARGET_RATIO)
        await store.close()
        await pool.close()
    finally:
        db.stop_embedded(home / "pg")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
