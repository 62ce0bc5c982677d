"""``custody disclosure ...``: disclosure records (公示) and their legal review (法制审核) from the shell."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from custody.shell import CliError, acting, add_as, as_operator, dump_json, iso_date
from foundation import clock
from foundation.settings import Settings
from policy.lifecycle import TAKEDOWN_REASONS
from policy.review import CHECKLIST, MAJOR_CRITERIA, PENALTY_TYPES, RECORDED_OUTCOMES
from policy.takedown import display_until, takedown_due
from services import decisions, disclosure, publication_check, release
from services.locker import open_locker
from storage.principals import Principal

FIELDS = ("decision_no", "party_type", "party_name", "violation", "legal_basis", "penalty", "decision_date",
          "party_id_no", "party_phone", "party_address", "category")
ACTIONS = ("approve", "publish", "correct", "update", "take-down", "revoke", "withdraw")


def register(sub: Any) -> None:
    dec = sub.add_parser("decision", help="decisions (§四): the major-decision determination").add_subparsers(
        dest="decision_command", required=True)
    p = dec.add_parser("determine", help="the case handler's §四(二) determination for a decision: every "
                                         "criterion answered (--major names those that apply; the rest are no)")
    p.add_argument("case_id")
    p.add_argument("decision_no")
    p.add_argument("--major", action="append", default=[], choices=list(MAJOR_CRITERIA), metavar="CRITERION",
                   help="a §四(二) criterion that applies: " + ", ".join(MAJOR_CRITERIA))
    p.add_argument("--hearing", action="store_true", help="fact: decided after a hearing (听证)")
    p.add_argument("--penalty", action="append", default=[], choices=list(PENALTY_TYPES), help="fact: a penalty type")
    p.add_argument("--fine", type=int, default=0, help="fact: the fine in yuan")
    p.add_argument("--public-interest", action="store_true", help="fact: a public-interest matter")
    p.add_argument("--reason", default="", help="why, where the answers differ from what the facts suggest")
    add_as(p)
    p.set_defaults(handler=determine)

    dis = sub.add_parser("disclosure", help="disclosure records (公示)").add_subparsers(
        dest="disclosure_command", required=True)

    p = dis.add_parser("takedown-date", help="print the last day on display and, on a line 'take down on:', the "
                                             "first day it must no longer be shown (Civil Code arts. 201-202)")
    p.add_argument("--published", type=iso_date, required=True)
    p.add_argument("--party", required=True, help="natural | legal | other")
    p.set_defaults(handler=takedown_date)

    p = dis.add_parser("add", help="draft a record linked to its case (fields from --file JSON and/or flags)")
    p.add_argument("case_id")
    p.add_argument("--file", type=Path, help="JSON object of record fields")
    for name in FIELDS:
        p.add_argument("--" + name.replace("_", "-"), dest=name)
    p.add_argument("--other-name", action="append", dest="other_names", help="another person named in the text")
    p.add_argument("--exclude", action="append", dest="excluded_fields",
                   help="field kept out of the public text (trade secret / privacy)")
    add_as(p)
    p.set_defaults(handler=add)

    p = dis.add_parser("major", help="flag the decision major by §四(二) criteria")
    p.add_argument("id")
    p.add_argument("--criterion", action="append", required=True, dest="criteria")
    add_as(p)
    p.set_defaults(handler=major)

    p = dis.add_parser("review", help="record a legal review (passed / failed) or a disagreement (disputed)")
    p.add_argument("id")
    p.add_argument("outcome", choices=[*RECORDED_OUTCOMES, "coordinated"])
    p.add_argument("--decision", choices=list(disclosure.COORDINATOR_DECISIONS),
                   help="coordinated (the coordinator, §四(四)): proceed, or uphold the failed review")
    p.add_argument("--check", action="append", default=[], help="§四(三) item that holds (repeatable)")
    p.add_argument("--all-checks", action="store_true", help="every §四(三) item holds")
    p.add_argument("--opinion", default="")
    add_as(p)
    p.set_defaults(handler=review_cmd)

    for action in ACTIONS:
        p = dis.add_parser(action, help=f"{action} a record")
        p.add_argument("id")
        p.add_argument("--reason")
        p.add_argument("--explanation", help="published notice (required when the decision fell, or emergency)")
        p.add_argument("--why", dest="takedown_reason",
                       choices=list(TAKEDOWN_REASONS), help="take-down: the ground")
        p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="correct/update: a change")
        p.add_argument("--law-change", type=int)
        p.add_argument("--today", type=iso_date, help="act as of this date (default: today in the bureau's zone)")
        add_as(p)
        p.set_defaults(handler=act, action=action)

    p = dis.add_parser("treat", help="record the secrets treatment of a draft (trade-secret / privacy cases)")
    p.add_argument("id")
    p.add_argument("--withhold", action="append", default=[], metavar="FIELD", help="a field kept out of the text")
    p.add_argument("--rewrite", action="append", default=[], metavar="FIELD:PASSAGE=>REPLACEMENT",
                   help="a passage rewritten in a field (repeatable)")
    p.add_argument("--reason", required=True, help="why these are withheld or rewritten")
    add_as(p)
    p.set_defaults(handler=treat)

    p = dis.add_parser("findings", help="what the publication check suspects is personal data in a record's "
                                        "public text, open or cleared")
    p.add_argument("id")
    add_as(p)
    p.set_defaults(handler=findings_cmd)

    p = dis.add_parser("resolve", help="resolve a finding: --mask it (drafts) or mark it --not-personal data")
    p.add_argument("id")
    p.add_argument("finding", help="the suspicious text, as `custody disclosure findings` shows it")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--mask", dest="resolution", action="store_const", const="mask")
    how.add_argument("--not-personal", dest="resolution", action="store_const", const="not_personal")
    p.add_argument("--reason", required=True, help="why (logged in the case)")
    add_as(p)
    p.set_defaults(handler=resolve_cmd)

    p = dis.add_parser("list", help="records with status and dates (restricted cases: only those --as may read)")
    p.add_argument("--state")
    p.add_argument("--case", dest="case_id")
    p.add_argument("--json", action="store_true")
    add_as(p)
    p.set_defaults(handler=list_cmd)

    p = dis.add_parser("show", help="a record: raw, secrets treatment, masked public preview, reviews")
    p.add_argument("id")
    add_as(p)
    p.set_defaults(handler=show)

    p = dis.add_parser("due", help="records due for takedown and law-change updates outstanding")
    p.add_argument("--today", type=iso_date)
    p.add_argument("--json", action="store_true")
    p.add_argument("--take-down", action="store_true",
                   help="take the expired ones down (reason: period expired) — the scheduled job passes this "
                        "when the admin enabled automatic takedown")
    add_as(p)
    p.set_defaults(handler=due)

    p = dis.add_parser("sweep", help="the scheduled job: list what is due; take expired records down when "
                                     "CUSTODY_AUTO_TAKEDOWN is on")
    p.add_argument("--today", type=iso_date)
    p.add_argument("--json", action="store_true")
    add_as(p)
    p.set_defaults(handler=sweep, take_down=False)

    p = dis.add_parser("links", help="check a record's linked evidence: exists, verifies, proof, retention")
    p.add_argument("id")
    add_as(p)
    p.set_defaults(handler=links)

    p = dis.add_parser("attach", help="attach a redacted render of the case to a draft or approved record (shown "
                                      "on the portal while it is published); an original or a proxy is refused")
    p.add_argument("id")
    p.add_argument("blake3", help="the render's BLAKE3 hash (an evidence.redacted object of the case)")
    add_as(p)
    p.set_defaults(handler=attach)
    p = dis.add_parser("detach", help="take a render off a draft or approved record, with a reason")
    p.add_argument("id")
    p.add_argument("blake3")
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=detach)


async def determine(args: argparse.Namespace, settings: Settings) -> int:
    facts = {"hearing_held": args.hearing, "penalties": args.penalty, "fine_yuan": args.fine,
             "public_interest": args.public_interest}
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        found = await decisions.determine(locker, args.case_id, args.decision_no,
                                          answers={c: c in args.major for c in MAJOR_CRITERIA}, facts=facts,
                                          reason=args.reason, who=who)
    verdict = f"major ({', '.join(found.criteria)}): a legal review must pass first" if found.major else "not major"
    print(f"{args.decision_no}: {verdict}; proposed from the facts: {', '.join(found.proposed) or 'none'}")
    return 0


async def takedown_date(args: argparse.Namespace, settings: Settings) -> int:
    print(f"on display through: {display_until(args.published, args.party).isoformat()}")
    print(f"take down on: {takedown_due(args.published, args.party).isoformat()}")
    return 0


async def add(args: argparse.Namespace, settings: Settings) -> int:
    fields: dict[str, Any] = {}
    if args.file:
        try:
            fields = json.loads(args.file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"{args.file}: cannot read the record: {exc}") from None
        if not isinstance(fields, dict):
            raise CliError(f"{args.file}: the record must be a JSON object of fields")
    for name in (*FIELDS, "other_names", "excluded_fields"):
        if getattr(args, name, None):
            fields[name] = getattr(args, name)
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        d = await disclosure.create(locker, args.case_id, fields, who=who)
    print(d.id)
    return 0


async def major(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        d = await disclosure.flag_major(locker, args.id, args.criteria, who=who)
    print(f"{d.id} flagged major ({', '.join(d.major)}): a legal review must pass before approval")
    return 0


async def review_cmd(args: argparse.Namespace, settings: Settings) -> int:
    checks = set(CHECKLIST) if args.all_checks else set(args.check)
    checklist = {code: code in checks for code in CHECKLIST}
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        d = await disclosure.record_review(locker, args.id, who=who,
                                           outcome=args.outcome,
                                           checklist=checklist, opinion=args.opinion, decision=args.decision)
    print(f"{d.id}: review {args.outcome} (review state {d.review_state})")
    return 0


async def act(args: argparse.Namespace, settings: Settings) -> int:
    changes = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--set expects FIELD=VALUE, got {item!r}")
        changes[name] = value
    action = args.action.replace("-", "_")
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        d = await disclosure.transition(
            locker, args.id, action, who=who, today=args.today or clock.today(),
            reason=args.reason,
            explanation=args.explanation, takedown_reason=args.takedown_reason, changes=changes or None,
            law_change=args.law_change)
    extra = f", takedown due {d.takedown_due}" if action == "publish" else ""
    if d.pending_end and d.state == "published":
        extra = f", {action} asked by {d.pending_end['by']}: another person confirms it"
    print(f"{d.id}: {d.state}{extra}")
    return 0


async def _reader(args: argparse.Namespace, settings: Settings, pool: Any) -> Principal:
    """Who reads: ``--as`` (or CUSTODY_CLI_USER); else the operator, who sees the records of unrestricted
    cases only (need to know is never bypassed at the shell, RULES §三)."""
    if getattr(args, "as_user", None) or settings.cli_user:
        return await acting(args, settings, pool)
    return as_operator()


async def treat(args: argparse.Namespace, settings: Settings) -> int:
    rewritten = []
    for item in args.rewrite:
        field, sep, rest = item.partition(":")
        passage, arrow, replacement = rest.partition("=>")
        if not sep or not passage:
            raise CliError(f"--rewrite expects FIELD:PASSAGE=>REPLACEMENT, got {item!r}")
        rewritten.append({"field": field, "passage": passage, "replacement": replacement if arrow else ""})
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        d = await disclosure.record_treatment(locker, args.id, {"withheld": args.withhold, "rewritten": rewritten,
                                                                "reason": args.reason}, who=who)
    print(f"{d.id}: secrets treatment recorded")
    return 0


async def list_cmd(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        rows, withheld = await disclosure.records_for(locker.pool, who=await _reader(args, settings, locker.pool),
                                                      state=args.state, case_id=args.case_id)
    if args.json:
        print(dump_json([{"id": d.id, "case": d.case_id, "decision_no": d.decision_no, "state": d.state,
                      "party_type": d.party_type, "published_on": d.published_on, "takedown_due": d.takedown_due,
                      "review_state": d.review_state, "major": d.major} for d in rows]))
        return 0
    for d in rows:
        due = f"takedown {d.takedown_due}" if d.takedown_due else ""
        review = f" review:{d.review_state}" if d.major else ""
        print(f"{d.id:<14} {d.state:<11} {d.decision_no:<28} case {d.case_id:<16} {due}{review}")
    if withheld:
        print(f"({withheld} record(s) of restricted cases not shown: no need to know)")
    return 0


async def show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        d = await disclosure.read(locker.pool, args.id, who=await _reader(args, settings, locker.pool))
        reviews = await disclosure.reviews(locker.pool, d.id)
    preview = d.preview()
    print(f"{d.id}  {d.state}  case {d.case_id}  decision {d.decision_no}  party {d.party_type}")
    if d.published_on:
        print(f"published {d.published_on}, takedown due {d.takedown_due}")
    if d.major:
        print(f"major ({', '.join(d.major)}), review {d.review_state}")
    if treatment := d.treatment():
        print(f"secrets treatment: withheld {', '.join(treatment.withheld) or '-'}; "
              f"{len(treatment.rewritten)} passage(s) rewritten; why: {treatment.reason}")
    print("\n-- public text (masked) --\n" + preview.text)
    for r in reviews:
        print(f"review {r['outcome']} by {r['reviewer']} at {r['at']:%Y-%m-%d %H:%M}: {r['opinion'][:200]}")
    return 0


async def due(args: argparse.Namespace, settings: Settings) -> int:
    today = args.today or clock.today()
    async with open_locker(settings) as locker:
        result, _ = await disclosure.due_for(locker.pool, today, who=await _reader(args, settings, locker.pool))
        taken = await disclosure.take_down_expired(locker, today, who=await _taker(args, settings, locker.pool)) \
            if args.take_down else []
    if args.json:
        print(dump_json({"today": today, "takedowns": [{"id": d.id, "case": d.case_id, "decision_no": d.decision_no,
                                                    "party_type": d.party_type, "published_on": d.published_on,
                                                    "takedown_due": d.takedown_due} for d in result.takedowns],
                     "updates": result.updates, "taken_down": [d.id for d in taken]}))
        return 0
    for d in result.takedowns:
        done = " -> taken down" if any(t.id == d.id for t in taken) else ""
        print(f"takedown due {d.takedown_due}  {d.id}  {d.decision_no}  ({d.party_type}, published "
              f"{d.published_on}){done}")
    for u in result.updates:
        flag = "OVERDUE" if u["overdue"] else "due"
        print(f"update {flag} {u['due']}  {u['disclosure_id']}  {u['decision_no']}  (law change {u['law_change_id']}: "
              f"{u['title']})")
    if not result.takedowns and not result.updates:
        print(f"nothing due on {today}")
    return 0


async def sweep(args: argparse.Namespace, settings: Settings) -> int:
    args.take_down = settings.auto_takedown
    args.sweeping = True
    return await due(args, settings)


async def _taker(args: argparse.Namespace, settings: Settings, pool: Any) -> Principal:
    """Who takes expired records down: the scheduled sweep is the operator's job; by hand, a user (--as)."""
    if getattr(args, "sweeping", False) and not getattr(args, "as_user", None):
        return as_operator()
    return await acting(args, settings, pool)


async def links(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        result = await disclosure.check_links(locker, args.id, who=who)
    for item in result["items"]:
        marks = " ".join(f"{k}={'yes' if item[k] else 'NO'}"
                         for k in ("exists", "verifies", "proof_valid", "retention_covers"))
        print(f"{item['blake3'][:16]}  entry {item['seq']:<4} {marks}")
    print(f"linked evidence of {args.id} (case {result['case']}): {'OK' if result['ok'] else 'PROBLEMS'}")
    return 0 if result["ok"] else 1


def _print_findings(result: dict[str, Any]) -> None:
    for f in result["findings"]:
        state = f"cleared: {f['reason']}" if f["cleared"] else "OPEN"
        print(f"{f['kind']:<7} {f['text']}  …{f['context']}…  {state}")
    print(f"{result['disclosure']}: {result['open']} open finding(s) of {len(result['findings'])}")


async def findings_cmd(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        result = await publication_check.suspects(locker, args.id, who=who)
    _print_findings(result)
    return 1 if result["open"] else 0


async def resolve_cmd(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        result = await publication_check.resolve(locker, args.id, args.finding, resolution=args.resolution,
                                                 reason=args.reason, who=who)
    _print_findings(result)
    return 0


async def attach(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        a = await release.attach(locker, args.id, args.blake3, who=who)
    print(f"{a.disclosure_id}: render {a.blake3} ({a.file_name}, {a.size} bytes) attached (entry {a.seq})")
    return 0


async def detach(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        await release.detach(locker, args.id, args.blake3, who=who, reason=args.reason)
    print(f"{args.id}: render {args.blake3} detached")
    return 0
