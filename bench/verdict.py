"""Every bench decides: a PASS/FAIL line per target, a non-zero exit on a miss, one summary row each.

A bench makes one ``Verdicts("name")``, calls ``check(...)`` per target (``reference(...)`` for a
figure that is printed but decides nothing, such as a number from another project's paper) and ends
with ``sys.exit(verdicts.finish())``.  Each row also carries the 1-minute load average when it was
measured: the machine may be shared, and a figure means little without it.

``make bench`` runs ``python bench/verdict.py run NAME...``: every bench in turn (a crash is a FAIL
row), their rows gathered through the file named by ``$CUSTODY_BENCH_SUMMARY``, then one table
(bench, ours, peer, ratio, target, verdict, load) and exit status 1 if any target was missed.

``bench_dir(prefix)`` is the temporary directory each bench works in; it is removed on the way out,
whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUMMARY_ENV = "CUSTODY_BENCH_SUMMARY"
#: Data that is slow to build and safe to reuse between runs (``--clean-cache`` removes it).
CACHE_DIR = Path(os.environ.get("CUSTODY_BENCH_CACHE", REPO / "var" / "bench-cache"))


def load() -> str:
    """The 1-, 5- and 15-minute load averages, as `uptime` prints them."""
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


class Verdicts:
    def __init__(self, bench: str) -> None:
        self.bench = bench
        self.rows: list[dict[str, str]] = []

    def check(self, what: str, *, ours: str, peer: str = "", ratio: str = "", target: str, ok: bool) -> bool:
        """Print and record one decided target."""
        verdict = "PASS" if ok else "FAIL"
        row = {"bench": f"{self.bench}: {what}", "ours": ours, "peer": peer, "ratio": ratio,
               "target": target, "verdict": verdict, "load": load()}
        self.rows.append(row)
        print(f"{verdict}  {what}: ours {ours}" + (f", peer {peer}" if peer else "")
              + (f", ratio {ratio}" if ratio else "") + f"  (target {target})  [load {row['load']}]", flush=True)
        return ok

    def reference(self, what: str, value: str) -> None:
        """A figure from elsewhere: printed beside ours, never used in a ratio or a verdict."""
        self.rows.append({"bench": f"{self.bench}: {what}", "ours": "", "peer": value, "ratio": "",
                          "target": "", "verdict": "reference", "load": ""})
        print(f"reference  {what}: {value}", flush=True)

    @property
    def failed(self) -> bool:
        return any(r["verdict"] == "FAIL" for r in self.rows)

    def finish(self) -> int:
        """Append the rows to the summary file, if one is named; the exit status for the bench."""
        summary = os.environ.get(SUMMARY_ENV)
        if summary:
            with open(summary, "a") as fh:
                for row in self.rows:
                    fh.write(json.dumps(row) + "\n")
        return 1 if self.failed else 0


@contextlib.contextmanager
def bench_dir(prefix: str) -> Iterator[Path]:
    """A fresh temporary directory (under ``$BENCH_DIR`` if set), removed on the way out."""
    path = Path(tempfile.mkdtemp(prefix=f"custody-bench-{prefix}-", dir=os.environ.get("BENCH_DIR")))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def table(rows: list[dict[str, str]]) -> str:
    cols = ["bench", "ours", "peer", "ratio", "target", "verdict", "load"]
    widths = {c: max(len(c), *(len(r.get(c, "")) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols), "  ".join("-" * widths[c] for c in cols)]
    lines += ["  ".join(r.get(c, "").ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)


def run_all(names: list[str]) -> int:
    """Run each bench (a crash is a FAIL row), then print one table; 1 if anything failed."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    summary = CACHE_DIR.parent / "bench-summary.jsonl"
    summary.unlink(missing_ok=True)
    env = {**os.environ, SUMMARY_ENV: str(summary)}
    status = 0
    for name in names:
        print(f"== bench/{name}.py  [load {load()}]", flush=True)
        before = summary.read_text().count("\n") if summary.exists() else 0
        code = subprocess.run([sys.executable, str(REPO / "bench" / f"{name}.py")], env=env).returncode
        after = summary.read_text().count("\n") if summary.exists() else 0
        verdict = f"FAIL (exit {code})" if code else "no verdict (prints only)" if after == before else ""
        status = status or (1 if code else 0)
        if verdict:
            with open(summary, "a") as fh:
                fh.write(json.dumps({"bench": name, "ours": "", "peer": "", "ratio": "", "target": "",
                                     "verdict": verdict, "load": load()}) + "\n")
    rows = [json.loads(line) for line in summary.read_text().splitlines()] if summary.exists() else []
    print("\n" + table(rows))
    return status


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "run":
        raise SystemExit("usage: python bench/verdict.py run BENCH...")
    sys.exit(run_all(sys.argv[2:]))
