"""Subcommands for witnesses and trusted timestamps.

On the witness's machine: ``custody witness init`` (a key and the logs to witness), ``custody witness
serve`` and ``custody witness check`` (what it cosigned and refused).  On the locker, as the operator:
``custody witness send`` (one round now), ``custody witness status`` (lag), ``custody timestamp run``.
For an auditor: ``custody verify-bundle OLD.zip --against NEW.zip|URL``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from custody.shell import CliError, as_operator
from foundation.settings import Settings
from ingest.client import CustodyClient
from integrity.bundle import Report, Trust
from integrity.bundle_files import verify_bundle
from integrity.checkpoint import open_checkpoint
from integrity.compare import Comparison, compare_reports, compare_with_proof
from integrity.cosignature import CosignatureVerifier, verify_cosignatures
from integrity.errors import IntegrityError
from integrity.note import Verifier
from integrity.verify import add_trust_arguments, print_comparison, print_report, read_lines, trust_from
from services import timestamping, witnessing
from services.locker import open_locker
from witness import config as witness_config
from witness import server as witness_server


def register(sub: Any) -> None:
    w = sub.add_parser("witness", help="witnesses that cosign case checkpoints").add_subparsers(
        dest="witness_command", required=True)
    p = w.add_parser("init", help="make a witness: a new key, and the logs it witnesses (prints its vkey)")
    p.add_argument("--name", required=True, help="the witness's key name, e.g. witness.court.example/w1")
    p.add_argument("--log-vkey", action="append", type=Path, required=True, metavar="FILE",
                   help="the locker's published vkey file (custody keys show --vkey); repeatable")
    p.add_argument("--log-prefix", help="origin prefix of the logs (default: <vkey name>/case/)")
    p.add_argument("--dir", type=Path, help="witness directory (default: CUSTODY_WITNESS_HOME)")
    p.set_defaults(handler=witness_init)
    p = w.add_parser("serve", help="run the witness (C2SP tlog-witness add-checkpoint)")
    p.add_argument("--dir", type=Path)
    p.add_argument("--port", type=int, help="default: CUSTODY_WITNESS_PORT")
    p.set_defaults(handler=witness_serve)
    p = w.add_parser("check", help="what this witness cosigned, and what it refused as inconsistent")
    p.add_argument("--dir", type=Path)
    p.set_defaults(handler=witness_check)
    w.add_parser("send", help="send every case's latest checkpoint to the witnesses now (operator)").set_defaults(
        handler=witness_send)
    p = w.add_parser("status", help="witnessed size per case and the lag (operator)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=witness_status)

    t = sub.add_parser("timestamp", help="trusted timestamps (RFC 3161)").add_subparsers(
        dest="timestamp_command", required=True)
    t.add_parser("run", help="timestamp the changed case checkpoints now (operator)").set_defaults(
        handler=timestamp_run)


def add_verify_arguments(p: argparse.ArgumentParser) -> None:
    """verify-bundle's witness, timestamp and --against options."""
    add_trust_arguments(p)
    p.add_argument("--against", metavar="NEW.zip|URL",
                   help="a newer bundle of the case, or a server's base URL: is the old history still the log's?")
    p.add_argument("--token", help="with --against URL: a staff token (or $CUSTODY_TOKEN)")
    p.set_defaults(handler=verify_bundle_cmd)


def _dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.dir) if args.dir else settings.witness_dir


async def witness_init(args: argparse.Namespace, settings: Settings) -> int:
    vkeys = read_lines(args.log_vkey)
    try:
        names = {Verifier.from_vkey(v).name for v in vkeys}
    except IntegrityError as exc:
        raise CliError(f"--log-vkey: {exc}") from None
    if not args.log_prefix and len(names) != 1:
        raise CliError("the log keys have several names: give --log-prefix")
    prefix = args.log_prefix or f"{names.pop()}/case/"
    made = witness_config.init(_dir(args, settings), args.name, [(prefix, vkeys)])
    print(f"witness {args.name} in {made.directory}: witnesses {prefix}*", file=sys.stderr)
    print("its verifier key (give it to the locker's CUSTODY_WITNESSES and to verifiers):", file=sys.stderr)
    print(made.cosigner.vkey)
    return 0


async def witness_serve(args: argparse.Namespace, settings: Settings) -> int:
    config = witness_config.load(_dir(args, settings))
    await witness_server.serve(config, settings.host, args.port or settings.witness_port)
    return 0


async def witness_check(args: argparse.Namespace, settings: Settings) -> int:
    config = witness_config.load(_dir(args, settings))
    print(witness_server.overview_text(config), end="")
    return 0


async def witness_send(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        if not locker.witnesses.endpoints:
            raise CliError("no witnesses configured (CUSTODY_WITNESSES)")
        result = await witnessing.send_all(locker.pool, locker.log, locker.witnesses)
    for endpoint in locker.witnesses.endpoints:
        name = endpoint.name
        state = "UNREACHABLE" if name in result.unreachable else "ok"
        print(f"{name}: {state}, {result.cosigned.get(name, 0)} cosigned, {result.refused.get(name, 0)} refused")
    return 1 if result.unreachable or result.refused else 0


async def witness_status(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        policy = locker.witnesses
        found = await witnessing.lag(locker.pool, policy)
        cases = [(c["id"], c["size"], await witnessing.witnessed_size(locker.pool, policy, c["id"]))
                 for c in await locker.log.list_cases()]
    seconds = witnessing.lag_seconds(found)
    if args.json:
        print(json.dumps({"quorum": policy.quorum, "witnesses": list(witnessing.vkeys(policy)),
                          "lag_seconds": seconds, "cases_behind": found.cases_behind,
                          "entries_behind": found.checkpoints_behind,
                          "cases": [{"case": c, "size": s, "witnessed": w} for c, s, w in cases]}))
        return 0
    print(f"witnesses: {len(policy.endpoints)}, quorum {policy.quorum}; lag {seconds:.0f} s, "
          f"{found.cases_behind} case(s) and {found.checkpoints_behind} entries not yet witnessed")
    for case_id, size, witnessed in cases:
        print(f"  {case_id:<32} size {size:>8}  witnessed up to size {witnessed}")
    return 0


async def timestamp_run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.tsa_url_list:
        raise CliError("no time-stamping authority configured (CUSTODY_TSA_URLS)")
    async with open_locker(settings) as locker:
        outcome = await timestamping.run_round(locker.pool, settings.tsa_url_list, who=as_operator())
    if outcome is None:
        print("nothing to timestamp: no case changed since its last timestamp")
        return 0
    print(f"round {outcome.round_id}: {outcome.checkpoints} checkpoint(s), root {outcome.root.hex()}")
    for token in outcome.tokens:
        print(f"  {token.tsa}: token at {token.gen_time:%Y-%m-%dT%H:%M:%SZ}")
    for url, why in outcome.failed.items():
        print(f"  {url}: FAILED {why}")
    return 0


# -- verify-bundle ------------------------------------------------------------------------------


async def verify_bundle_cmd(args: argparse.Namespace, settings: Settings) -> int:
    vkeys = read_lines(args.vkey) or None
    trust = trust_from(args.witness_key, args.quorum, args.tsa_cert)
    report = verify_bundle(args.bundle, vkeys, trust)
    comparison: Comparison | None = None
    newer: Report | None = None
    if args.against and report.ok:
        if args.against.startswith(("http://", "https://")):
            comparison = await _against_server(args, report, vkeys, trust)
        else:
            newer = verify_bundle(Path(args.against), vkeys, trust)
            if newer.ok:
                comparison = compare_reports(report, newer)
    if args.json:
        out = report.as_json()
        if comparison is not None:
            out["against"] = {"verdict": comparison.verdict, "old_size": comparison.old_size,
                              "new_size": comparison.new_size, "detail": comparison.detail}
        if newer is not None and not newer.ok:
            out["against"] = {"verdict": "FAILED", "detail": str(newer.failure)}
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print_report(report)
        if newer is not None and not newer.ok:
            print(f"AGAINST:     the newer bundle does not verify: {newer.failure_place}: {newer.failure}")
        if comparison is not None:
            print_comparison(comparison)
    against_ok = args.against is None or (comparison is not None and comparison.ok)
    return 0 if report.ok and against_ok else 1


async def _against_server(args: argparse.Namespace, report: Report, vkeys: list[str] | None,
                          trust: Trust) -> Comparison:
    """The server's latest checkpoint (with cosignatures, checked like the bundle's) and a consistency
    proof from the bundle's size; every check is made here, nothing of the server's is believed."""
    old = report.checkpoint
    assert old is not None
    token = args.token or _env_token()
    case_id = old.origin.rpartition("/case/")[2]
    async with CustodyClient(args.against, token, vkeys=vkeys or report.log_vkeys) as client:
        note = await client.request("GET", f"/api/v1/cases/{case_id}/checkpoint")
        new, _ = open_checkpoint(note, await client.verifiers(), expected_origin=old.origin)
        keys = list(trust.witness_keys)
        quorum = trust.quorum if trust.quorum is not None else (1 if keys else 0)
        cosigned = verify_cosignatures(note, [CosignatureVerifier.from_vkey(k) for k in keys])
        if len(cosigned) < quorum:
            return Comparison("UNWITNESSED", old.size, new.size,
                              f"the server's checkpoint (size {new.size}) has {len(cosigned)} valid witness "
                              f"cosignature(s), fewer than the quorum {quorum}")
        if new.size < old.size:
            return compare_with_proof(old, new, [])
        body = await client.request("GET", f"/api/v1/cases/{case_id}/proofs/consistency",
                                    params={"old": str(old.size), "new": str(new.size)})
    proof = [bytes.fromhex(h) for h in body["proof"]]
    return compare_with_proof(old, new, proof)


def _env_token() -> str:
    token = os.environ.get("CUSTODY_TOKEN")
    if not token:
        raise CliError("--against URL needs a staff token: --token or $CUSTODY_TOKEN")
    return token
