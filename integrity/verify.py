"""The offline verifier: ``python -m integrity.verify BUNDLE [--vkey FILE] [--file F] [--json]``.

Needs only ``blake3`` and ``cryptography``; no database, no server, nothing of Custody's trusted.
Exit status 0 only when everything holds (and, with ``--file``, the file is in the case).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from integrity.bundle import Report, find_in_report, hash_stream
from integrity.bundle_files import verify_bundle


def print_report(report: Report, out: TextIO = sys.stdout) -> None:
    w = out.write
    cp = report.checkpoint
    w(f"bundle:      {report.bundle}\n")
    if cp is not None:
        w(f"log:         {cp.origin}\n")
        w(f"checkpoint:  size {cp.size}, root {cp.root.hex()}\n")
        w(f"signed by:   {', '.join(report.signed_by)}  (keys from {report.trusted_from})\n")
    if report.entries:
        w(f"entries:     {len(report.entries)}, seq 0..{len(report.entries) - 1}, chain and root verified\n")
        for e in report.entries:
            what = e.get("file_name") or e.get("title") or e.get("purpose") or e.get("blake3", "")
            w(f"  {e['seq']:>5}  {e.get('time', '')}  {e.get('kind', ''):<20} {e.get('actor', ''):<20} {what}\n")
    if report.objects:
        w(f"objects:     {len(report.objects)} included\n")
        for o in report.objects:
            status = "OK " if o.ok else "BAD"
            w(f"  {status} {o.blake3}  {o.size} bytes  (entries {', '.join(map(str, o.entries))})\n")
    if report.referenced_not_included:
        w(f"not included: {len(report.referenced_not_included)} object(s) named by entries "
          "(export with --with-media to include them)\n")
    if report.ok:
        w("RESULT:      VERIFIED — signature, tree, chain and every included object hold\n")
    else:
        w(f"RESULT:      FAILED at {report.failure_place}\n")
        w(f"reason:      {report.failure}\n")


def verify_file(path: Path, bundle: Path, vkeys: list[str] | None, *, as_json: bool = False,
                out: TextIO = sys.stdout) -> int:
    """Is this exact file in the bundle's case?  Verifies the bundle first, then the inclusion proof."""
    report = verify_bundle(bundle, vkeys)
    with open(path, "rb") as fh:
        digest = hash_stream(fh)
    found = find_in_report(report, digest.blake3)
    matched = [(e, p) for e, p in found if e.get("sha256") == digest.sha256 and e.get("size") == digest.size]
    result: dict[str, Any] = {
        "file": str(path), "blake3": digest.blake3, "sha256": digest.sha256, "size": digest.size,
        "bundle_ok": report.ok, "match": bool(matched),
        "entries": [{"seq": e["seq"], "kind": e.get("kind"), "time": e.get("time"),
                     "camera": e.get("camera"), "officer": e.get("officer"),
                     "recorded_at": e.get("recorded_at"), "proof": [h.hex() for h in p]} for e, p in matched],
    }
    if report.checkpoint is not None:
        result["log"] = report.checkpoint.origin
    if as_json:
        out.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    elif not report.ok:
        out.write(f"bundle does not verify, so nothing can be said about the file:\n"
                  f"  {report.failure_place}: {report.failure}\n")
    elif matched:
        for e, p in matched:
            out.write(f"MATCH: {path.name} is entry {e['seq']} ({e.get('kind')}) of {result['log']}, "
                      f"logged {e.get('time')}")
            if e.get("camera") or e.get("officer"):
                out.write(f", camera {e.get('camera') or '?'}, officer {e.get('officer') or '?'}")
            if e.get("recorded_at"):
                out.write(f", recorded {e['recorded_at']}")
            out.write(f"; inclusion proof of {len(p)} hashes verified against the signed checkpoint\n")
    else:
        out.write(f"NO MATCH: blake3 {digest.blake3} is not evidence in {result.get('log')}\n")
    return 0 if report.ok and matched else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m integrity.verify", description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--vkey", action="append", type=Path, help="trusted verifier key file (repeatable)")
    ap.add_argument("--file", type=Path, help="also check that this file is evidence in the case")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    vkeys = [ln.strip() for p in args.vkey or [] for ln in p.read_text().splitlines() if ln.strip()] or None
    if args.file:
        return verify_file(args.file, args.bundle, vkeys, as_json=args.json)
    report = verify_bundle(args.bundle, vkeys)
    if args.json:
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
