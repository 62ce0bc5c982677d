"""Benchmark: masking recall and precision per kind of personal data over the decision corpus.

Corpus: tests/data/masking_corpus.jsonl (66 城管 / 市场监管 / 交通 decisions; each piece of personal
data marked with its kind and expected masked form; legal persons' names, credit codes and officers'
names and certificate numbers listed as ``keep``).  Only the text is given to the masking: no record
fields, so names must be found in the text itself.

- recall(kind): marked pieces of that kind wholly covered by what the masking masked;
- precision(kind): what the masking masked as that kind that overlaps a marked piece (of any kind);
- kept: ``keep`` values that come out unchanged (target: all);
- exact: texts whose masked output equals the expected output character for character;
- gate: texts whose masked output the publication check passes with no finding (fail-closed noise).

Targets (issue 13): recall 100 % for id, phone, account, email, plate, passport; >= 98 % for names and
addresses; no legal-person name or credit code masked (kept: all).  Each is a PASS/FAIL row, and so is
the gate: every masked text clean (what the masking leaves, the publication check must pass).  Precision,
the kinds without a target and exact output are reference rows.  Exits 1 on a miss.

    python bench/masking.py [--corpus tests/data/masking_corpus.jsonl] [--misses]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from verdict import Verdicts  # noqa: E402

from policy import masking, names, publication_check  # noqa: E402

TARGETS = {"id": 1.0, "phone": 1.0, "account": 1.0, "email": 1.0, "plate": 1.0, "passport": 1.0,
           "name": 0.98, "address": 0.98}


def evaluate(corpus: list[dict]) -> dict:
    found_total: Counter[str] = Counter()
    found_right: Counter[str] = Counter()
    gold_total: Counter[str] = Counter()
    gold_hit: Counter[str] = Counter()
    kept = kept_total = exact = gate_clean = 0
    misses: list[str] = []
    for item in corpus:
        text = item["text"]
        found = masking.find(text)
        masked = masking.mask_text(text)
        covered = [False] * len(text)
        for f in found:
            for i in range(f.start, f.end):
                covered[i] = True
        gold_spans = [(p["start"], p["start"] + len(p["value"])) for p in item["pii"]]
        for p, (s, e) in zip(item["pii"], gold_spans, strict=True):
            gold_total[p["kind"]] += 1
            if all(covered[s:e]):
                gold_hit[p["kind"]] += 1
            else:
                misses.append(f"{item['id']} {p['kind']} {p['value']!r}")
        for f in found:
            found_total[f.kind] += 1
            if any(s < f.end and f.start < e for s, e in gold_spans):
                found_right[f.kind] += 1
            else:
                misses.append(f"{item['id']} extra {f.kind} {text[f.start:f.end]!r}")
        for value in item["keep"]:
            kept_total += 1
            kept += value in masked
            if value not in masked:
                misses.append(f"{item['id']} keep-lost {value!r}")
        exact += masked == item["expected"]
        gate_clean += not publication_check.findings(masked)
    return {"found_total": found_total, "found_right": found_right, "gold_total": gold_total,
            "gold_hit": gold_hit, "kept": kept, "kept_total": kept_total, "exact": exact,
            "gate_clean": gate_clean, "texts": len(corpus), "misses": misses}


def share(n: int, of: int, unit: str) -> str:
    """``99.6% (225/226)``, or why there is no share."""
    return f"{n / of:.1%} ({n}/{of})" if of else f"n/a (none {unit})"


def decide(verdicts: Verdicts, r: dict[str, Any], kinds: list[str]) -> None:
    """One row per figure: a check where a target is stated, a reference row otherwise."""
    for k in kinds:
        gold, hit = r["gold_total"][k], r["gold_hit"][k]
        precision = share(r["found_right"][k], r["found_total"][k], "masked")
        target = TARGETS.get(k)
        if target is None:
            verdicts.reference(k, f"recall {share(hit, gold, 'marked')}, precision {precision}")
            continue
        # A kind with a target but nothing marked in the corpus proves nothing: a miss, as the table says.
        verdicts.check(f"recall, {k}", ours=share(hit, gold, "marked"),
                       target="100%" if target == 1.0 else f">= {target:.0%}", ok=bool(gold) and hit / gold >= target)
        verdicts.reference(f"precision, {k}", precision)
    verdicts.check("kept (legal persons, credit codes, officers)", ours=f"{r['kept']}/{r['kept_total']}",
                   target="all", ok=r["kept"] == r["kept_total"])
    verdicts.check("publication check clean after masking", ours=f"{r['gate_clean']}/{r['texts']}",
                   target="all", ok=r["gate_clean"] == r["texts"])
    # No target for exact output (issue 13 names recall and kept): a piece masked short shows in recall too.
    verdicts.reference("exact expected output", f"{r['exact']}/{r['texts']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO / "tests" / "data" / "masking_corpus.jsonl")
    parser.add_argument("--misses", action="store_true", help="list every miss and extra span")
    args = parser.parse_args()
    verdicts = Verdicts("masking")
    corpus = [json.loads(line) for line in args.corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    t0 = time.perf_counter()
    names.warm_up()
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    r = evaluate(corpus)
    run = time.perf_counter() - t0
    kinds = sorted(set(r["gold_total"]) | set(r["found_total"]), key=lambda k: (k not in TARGETS, k))
    print(f"corpus: {args.corpus.name}, {r['texts']} texts")
    print(f"{'kind':<9} {'marked':>6} {'recall':>8} {'masked':>6} {'precision':>9} {'target':>8}  ok")
    for k in kinds:
        gold, hit = r["gold_total"][k], r["gold_hit"][k]
        tot, right = r["found_total"][k], r["found_right"][k]
        recall = hit / gold if gold else float("nan")
        precision = right / tot if tot else float("nan")
        target = TARGETS.get(k)
        ok = "" if target is None else ("yes" if gold and recall >= target else "NO")
        print(f"{k:<9} {gold:>6} {recall:>8.1%} {tot:>6} {precision:>9.1%} "
              f"{'' if target is None else f'{target:.0%}':>8}  {ok}")
    all_gold, all_hit = sum(r["gold_total"].values()), sum(r["gold_hit"].values())
    all_found, all_right = sum(r["found_total"].values()), sum(r["found_right"].values())
    print(f"{'all':<9} {all_gold:>6} {all_hit / all_gold:>8.1%} {all_found:>6} {all_right / all_found:>9.1%}")
    print(f"kept (legal persons, credit codes, officers): {r['kept']}/{r['kept_total']}")
    print(f"exact expected output: {r['exact']}/{r['texts']}; "
          f"publication check clean after masking: {r['gate_clean']}/{r['texts']}")
    print(f"time: jieba load {load:.2f} s, {run / r['texts'] * 1000:.1f} ms a text")
    if args.misses:
        print("\n".join(r["misses"]))
    decide(verdicts, r, kinds)
    verdicts.reference("all kinds", f"recall {share(all_hit, all_gold, 'marked')}, "
                       f"precision {share(all_right, all_found, 'masked')}")
    return verdicts.finish()


if __name__ == "__main__":
    sys.exit(main())
