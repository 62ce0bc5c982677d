"""The offline verifier: ``python -m integrity.verify BUNDLE [--vkey FILE] [--file F] [--json]``
``[--witness-key FILE --quorum K] [--tsa-cert FILE] [--against NEWER_BUNDLE]``.

Needs only ``blake3`` and ``cryptography`` (and ``rfc3161-client`` to check timestamp tokens: without
it the rest is verified and the report says the timestamp was not checked); no database, no server,
nothing of Custody's trusted.  Exit status 0 only when everything holds (and, with ``--file``, the
file is in the case; with ``--against``, the newer bundle's history extends this one's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from integrity.bundle import Report, Trust, find_in_report, hash_stream
from integrity.bundle_files import verify_bundle
from integrity.compare import Comparison, compare_reports


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
    if report.cosigned_by or report.quorum:
        names = ", ".join(f"{c.name} (at {_utc(c.timestamp)})" for c in report.cosigned_by) or "none"
        w(f"witnesses:   {len(report.cosigned_by)} valid cosignature(s), quorum {report.quorum}: {names}"
          f"  (keys from {report.witness_keys_from})\n")
    for t in report.timestamps:
        if t.checked:
            w(f"timestamp:   entries 0..{t.size - 1} existed by {t.gen_time} according to {t.tsa} ({t.note})\n")
        else:
            w(f"timestamp:   entries 0..{t.size - 1}, token says {t.gen_time or '?'} by {t.tsa or '?'}: "
              f"{t.note}\n")
    for lack in report.lacks:
        w(f"lacks:       {lack}\n")
    if report.ok:
        w("RESULT:      VERIFIED — signature, tree, chain and every included object hold\n")
    else:
        w(f"RESULT:      FAILED at {report.failure_place}\n")
        w(f"reason:      {report.failure}\n")


def _utc(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_lines(paths: list[Path] | None) -> list[str]:
    """The non-empty lines of key files (a file may hold several vkeys)."""
    return [line.strip() for p in paths or [] for line in p.read_text().splitlines() if line.strip()]


def trust_from(witness_keys: list[Path] | None, quorum: int | None, tsa_certs: list[Path] | None) -> Trust:
    """What ``--witness-key``, ``--quorum`` and ``--tsa-cert`` ask a verification to check."""
    return Trust(tuple(read_lines(witness_keys)), quorum, tuple(p.read_bytes() for p in tsa_certs or []))


def add_trust_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--witness-key", action="append", type=Path, metavar="FILE",
                    help="a witness's cosignature vkey file (repeatable)")
    ap.add_argument("--quorum", type=int, metavar="K",
                    help="valid cosignatures needed (default: 1 with --witness-key, else only reported)")
    ap.add_argument("--tsa-cert", action="append", type=Path, metavar="FILE",
                    help="a time-stamping authority's (root) certificate, PEM or DER (repeatable)")


def print_comparison(result: Comparison, out: TextIO = sys.stdout) -> None:
    out.write(f"AGAINST:     {result.verdict} — {result.detail}\n")


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
    add_trust_arguments(ap)
    ap.add_argument("--against", type=Path, metavar="NEWER_BUNDLE",
                    help="check that a newer bundle of the same case extends this one's history")
    args = ap.parse_args(argv)
    vkeys = read_lines(args.vkey) or None
    if args.file:
        return verify_file(args.file, args.bundle, vkeys, as_json=args.json)
    trust = trust_from(args.witness_key, args.quorum, args.tsa_cert)
    report = verify_bundle(args.bundle, vkeys, trust)
    comparison = None
    if args.against and report.ok:
        newer = verify_bundle(args.against, vkeys, trust)
        if not newer.ok:
            print_report(newer)
            return 1
        comparison = compare_reports(report, newer)
    if args.json:
        out = report.as_json()
        if comparison is not None:
            out["against"] = {"verdict": comparison.verdict, "detail": comparison.detail}
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print_report(report)
        if comparison is not None:
            print_comparison(comparison)
    return 0 if report.ok and (comparison is None or comparison.ok) else 1


if __name__ == "__main__":
    raise SystemExit(main())
