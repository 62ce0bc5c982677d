"""``custody retention|hold|disclosure|calendar|law-change``: the rules of RULES.md from the shell.

Dates are ISO ``YYYY-MM-DD``.  Pure questions (takedown date, working days) need no database; the
rest run against the locker like every other command and log each step as the ``--as`` user.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from custody import disclosure_commands
from custody.shell import acting, add_as, as_operator, dump_json, iso_date
from foundation.settings import Settings
from policy.retention import TRIGGERS, RetentionClass
from services import disclosure, retention
from services.calendar import add_year, load_calendar
from services.locker import open_locker


def register(sub: Any) -> None:
    ret = sub.add_parser("retention", help="retention classes and disposition").add_subparsers(
        dest="retention_command", required=True)
    ret.add_parser("classes", help="list retention classes").set_defaults(handler=retention_classes)
    p = ret.add_parser("set-class", help="create or change a retention class (logged, with reason)")
    p.add_argument("name")
    p.add_argument("--years", type=int, default=0)
    p.add_argument("--months", type=int, default=0)
    p.add_argument("--days", type=int, default=0)
    p.add_argument("--trigger", required=True, choices=TRIGGERS)
    p.add_argument("--description", default="")
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=retention_set_class)
    p = ret.add_parser("assign", help="assign a class to a case or one item of it")
    p.add_argument("case_id")
    p.add_argument("class_name")
    p.add_argument("--blake3", help="one item instead of the whole case")
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=retention_assign)
    p = ret.add_parser("show", help="retention of each object of a case")
    p.add_argument("case_id")
    p.set_defaults(handler=retention_show)
    p = ret.add_parser("run", help="dispose of what is due and not held (logs retention.disposed)")
    p.add_argument("--dry-run", action="store_true", help="list exactly what would go; delete nothing")
    p.add_argument("--now", type=iso_date, help="decide as of this date (default: now)")
    p.add_argument("--json", action="store_true")
    add_as(p)
    p.set_defaults(handler=retention_run)

    hold = sub.add_parser("hold", help="legal holds").add_subparsers(dest="hold_command", required=True)
    p = hold.add_parser("place", help="hold a case (or --blake3 one item): nothing held is disposed")
    p.add_argument("case_id")
    p.add_argument("--blake3")
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=hold_place)
    p = hold.add_parser("lift", help="lift a hold (its placer or an admin)")
    p.add_argument("hold_id", type=int)
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=hold_lift)
    p = hold.add_parser("list", help="active holds")
    p.add_argument("--case", dest="case_id")
    p.add_argument("--all", action="store_true", help="lifted holds too")
    p.set_defaults(handler=hold_list)

    cal = sub.add_parser("calendar", help="the working-day calendar (工作日)").add_subparsers(
        dest="calendar_command", required=True)
    p = cal.add_parser("add-working-days", help="print the date N working days after DATE (DATE not counted)")
    p.add_argument("date", type=iso_date)
    p.add_argument("n", type=int)
    p.set_defaults(handler=calendar_add)
    p = cal.add_parser("add-year", help="install a year from the State Council's notice (TOML file); logged in the "
                                        "governance log (who, which year, the source notice)")
    p.add_argument("file", type=Path)
    add_as(p)
    p.set_defaults(handler=calendar_add_year)
    cal.add_parser("years", help="years the calendar covers, with sources").set_defaults(handler=calendar_years)

    law = sub.add_parser("law-change", help="law or mandate changes").add_subparsers(
        dest="law_command", required=True)
    p = law.add_parser("add", help="record a change; affected published records get a 20-working-day deadline")
    p.add_argument("--title", required=True)
    p.add_argument("--effective", type=iso_date, required=True)
    p.add_argument("--category", action="append", required=True, help="record category it touches (repeatable)")
    p.add_argument("--description", default="")
    add_as(p)
    p.set_defaults(handler=law_add)
    law.add_parser("list", help="recorded changes").set_defaults(handler=law_list)


    disclosure_commands.register(sub)


# -- retention ------------------------------------------------------------------------------------------


async def retention_classes(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        for c in await retention.list_classes(locker.pool):
            period = " ".join(f"{v}{u}" for v, u in ((c.years, "y"), (c.months, "m"), (c.days, "d")) if v) or "0d"
            print(f"{c.name:<16} {period:<10} from {c.trigger:<12} {c.description}")
    return 0


async def retention_set_class(args: argparse.Namespace, settings: Settings) -> int:
    cls = RetentionClass(args.name, args.years, args.months, args.days, args.trigger, args.description)
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        await retention.set_class(locker, cls, who=who, reason=args.reason)
    print(f"retention class {cls.name}: {cls.years}y {cls.months}m {cls.days}d from {cls.trigger}")
    return 0


async def retention_assign(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        extended = await retention.assign_class(locker, args.case_id, args.class_name, blake3=args.blake3,
                                                who=who, reason=args.reason)
    print(f"assigned {args.class_name} to {args.blake3 or 'case ' + args.case_id}; "
          f"{len(extended)} object lock(s) extended")
    return 0


async def retention_show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        await locker.log.head(args.case_id)
        for r in await retention.case_objects(locker.pool, args.case_id):
            until = "open (a clock has not started)" if r["retention_open"] else str(r["retain_until"])
            flags = " HELD" if r["legal_hold"] else ""
            flags += f" disposed {r['disposed_at']:%Y-%m-%d}" if r["disposed_at"] else ""
            print(f"{r['blake3'][:16]}  {r['class']:<10} {r['kind']:<18} until {until}{flags}")
    return 0


async def retention_run(args: argparse.Namespace, settings: Settings) -> int:
    now = retention.day_start(args.now - dt.timedelta(days=1)) if args.now else None
    async with open_locker(settings) as locker:
        if args.dry_run:
            report = await retention.plan_disposition(locker, now=now)
        else:  # the daily timer runs this as the operator; by hand, --as an administrator
            who = await acting(args, settings, locker.pool) if args.as_user else as_operator()
            report = await retention.run_disposition(locker, now=now, who=who)
    if args.json:
        print(dump_json({"dry_run": report.dry_run, "disposed": [asdict(d) for d in report.disposed],
                     "held": [asdict(d) for d in report.held],
                     "failed": [{**asdict(d), "error": e} for d, e in report.failed], "stills": report.stills}))
    else:
        verb = "would dispose" if report.dry_run else "disposed"
        for d in report.disposed:
            print(f"{verb:<13} blake3/{d.blake3}  {d.size} bytes  retained until {d.retain_until:%Y-%m-%d}  "
                  f"cases {','.join(d.cases)}")
        for d in report.held:
            print(f"{'held':<13} blake3/{d.blake3}  due {d.retain_until:%Y-%m-%d} but held by "
                  f"{', '.join('hold ' + str(h) if h else 'store legal hold' for h in d.held_by)}")
        for d, err in report.failed:
            print(f"{'FAILED':<13} blake3/{d.blake3}: {err}")
        stills = f" (and {report.stills} still(s) of disposed proxies)" if report.stills else ""
        print(f"{len(report.disposed)} {verb}{stills}, {len(report.held)} held, {len(report.failed)} failed")
    return 1 if report.failed else 0


# -- holds --------------------------------------------------------------------------------------------------


async def hold_place(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        h = await retention.place_hold(locker, args.case_id, blake3=args.blake3, reason=args.reason,
                                       who=who)
    print(f"legal hold {h.id} placed on {h.blake3 or 'case ' + h.case_id}: {h.reason}")
    return 0


async def hold_lift(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        h = await retention.lift_hold(locker, args.hold_id, who=who,
                                      reason=args.reason)
    print(f"legal hold {h.id} on {h.blake3 or 'case ' + h.case_id} lifted: {args.reason}")
    return 0


async def hold_list(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        holds = await retention.list_holds(locker.pool, args.case_id, active_only=not args.all)
    for h in holds:
        state = f"lifted {h.lifted_at:%Y-%m-%d} by {h.lifted_by}" if h.lifted_at else "active"
        print(f"{h.id:>5}  {h.case_id:<20} {(h.blake3 or 'whole case')[:16]:<16}  {state:<10} "
              f"placed {h.placed_at:%Y-%m-%d} by {h.placed_by}: {h.reason}")
    return 0


# -- calendar and law changes --------------------------------------------------------------------------


def _calendar(settings: Settings) -> Any:
    return load_calendar(settings.calendar_dir)


async def calendar_add(args: argparse.Namespace, settings: Settings) -> int:
    print(_calendar(settings).add_working_days(args.date, args.n).isoformat())
    return 0


async def calendar_add_year(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool) if args.as_user else as_operator()
        year = await add_year(locker, args.file, settings.calendar_dir, who=who)
    print(f"installed the {year.year} calendar ({len(year.holidays)} holidays, {len(year.workdays)} make-up "
          f"working days) from: {year.source}")
    return 0


async def calendar_years(args: argparse.Namespace, settings: Settings) -> int:
    for year in _calendar(settings).calendars:
        print(f"{year.year}: {len(year.holidays)} holidays, {len(year.workdays)} make-up working days — {year.source}")
    return 0


async def law_add(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        result = await disclosure.record_law_change(
            locker, _calendar(settings), title=args.title, effective=args.effective, categories=args.category,
            description=args.description, who=who)
    print(f"law change {result['id']} effective {args.effective}: affected records must be updated by "
          f"{result['update_due']} (20 working days); {len(result['affected'])} affected: "
          f"{', '.join(result['affected']) or 'none'}")
    if result.get("unclassified"):
        print(f"unclassified, check by hand (no category): {', '.join(result['unclassified'])}")
    if result.get("awaiting_publication"):
        print("not yet published (their 20 working days start at publication): "
              f"{', '.join(result['awaiting_publication'])}")
    return 0


async def law_list(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        rows = await disclosure.law_changes(locker.pool)
    for r in rows:
        print(f"{r['id']:>4}  effective {r['effective']}  update by {r['update_due']}  "
              f"{r['updated']}/{r['affected']} updated  {r['title']} ({', '.join(r['categories'])})")
    if not rows:
        print("no law changes recorded", file=sys.stderr)
    return 0
