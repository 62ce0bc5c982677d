"""``custody tag``, ``custody search``, ``custody assign`` and ``custody thumbnails``: organising and finding
from the shell (issue 18, item 3), under the same services and rules as the API and the pages.

Search dates are days in the bureau's zone (``CUSTODY_TIMEZONE``), as on the web page; ``--to``
includes its whole day.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import asdict
from typing import Any

from custody.shell import acting, add_as, as_operator, dump_json, iso_date
from foundation.settings import Settings
from services import assignment, search, tags, thumbnails
from services.locker import open_locker
from storage.search import FACETS


def register(sub: Any) -> None:
    """Add ``custody tag``, ``custody search``, ``custody assign`` and ``custody thumbnails``."""
    tag = sub.add_parser("tag", help="the bureau's tag list; tags on cases and items")
    cmds = tag.add_subparsers(dest="tag_command", required=True)
    p = cmds.add_parser("define", help="add a tag to the bureau's list or relabel it (admins; logged)")
    p.add_argument("name")
    p.add_argument("--zh", required=True, help="the Chinese label")
    p.add_argument("--en", required=True, help="the English label")
    add_as(p)
    p.set_defaults(handler=define)
    p = cmds.add_parser("retire", help="retire a tag of the list (admins; logged)")
    p.add_argument("name")
    add_as(p)
    p.set_defaults(handler=retire)
    p = cmds.add_parser("list", help="the bureau's tag list")
    p.add_argument("--retired", action="store_true", help="with retired tags")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=list_tags)
    for name, what in (("add", "put a tag on a case or one item (logged)"), ("remove", "take a tag off (logged)")):
        p = cmds.add_parser(name, help=what)
        p.add_argument("case_id")
        p.add_argument("tag")
        p.add_argument("--item", metavar="BLAKE3", help="the item; default: the whole case")
        add_as(p)
        p.set_defaults(handler=add if name == "add" else remove)
    p = cmds.add_parser("show", help="the tags of a case and its items")
    p.add_argument("case_id")
    p.add_argument("--json", action="store_true")
    add_as(p)
    p.set_defaults(handler=show)

    p = sub.add_parser("search", help="find evidence items by facets, dates (local days) and free text")
    for facet in FACETS:
        p.add_argument(f"--{facet}", help=f"only items whose {facet} is this")
    p.add_argument("--from", dest="since", type=iso_date, help="first day (YYYY-MM-DD, CUSTODY_TIMEZONE)")
    p.add_argument("--to", dest="until", type=iso_date, help="last day, included")
    p.add_argument("--text", help="free text in titles, file names and text records (Chinese too)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    add_as(p)
    p.set_defaults(handler=run_search)

    p = sub.add_parser("assign", help="assign a recording of an intake case to its case (logged in both)")
    p.add_argument("case_id", help="the intake case")
    p.add_argument("blake3", help="the original's BLAKE3")
    p.add_argument("--to", required=True, dest="to_case", help="the case it belongs to")
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=assign)

    thumbs = sub.add_parser("thumbnails", help="stills and durations of recordings, from their proxies")
    tcmds = thumbs.add_subparsers(dest="thumbnails_command", required=True)
    p = tcmds.add_parser("backfill", help="make the stills of proxies ingested before they were made (operator)")
    p.add_argument("--limit", type=int, help="at most this many")
    p.set_defaults(handler=backfill)


async def define(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        tag = await tags.define(locker, args.name, label_zh=args.zh, label_en=args.en, who=who)
    print(f"tag {tag.name}: {tag.label_zh} / {tag.label_en}")
    return 0


async def retire(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        await tags.retire(locker, args.name, who=await acting(args, settings, locker.pool))
    print(f"tag {args.name} retired")
    return 0


async def list_tags(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        found = await tags.bureau_list(locker, include_retired=args.retired)
    if args.json:
        print(dump_json([asdict(t) for t in found]))
    for t in [] if args.json else found:
        print(f"{t.name}\t{t.label_zh}\t{t.label_en}{chr(9) + 'retired' if t.retired else ''}")
    return 0


async def add(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        done = await tags.tag(locker, args.case_id, args.tag, who=await acting(args, settings, locker.pool),
                              blake3=args.item)
    print(f"case {args.case_id}: tag {args.tag} on {args.item or 'the case'} (entry {done.seq})")
    return 0


async def remove(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        done = await tags.untag(locker, args.case_id, args.tag, who=await acting(args, settings, locker.pool),
                                blake3=args.item)
    print(f"case {args.case_id}: tag {args.tag} off {args.item or 'the case'} (entry {done.seq})")
    return 0


async def show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        found = await tags.of_case(locker, args.case_id, who=await acting(args, settings, locker.pool))
    if args.json:
        print(dump_json([asdict(t) for t in found]))
    for t in [] if args.json else found:
        print(f"{t.tag}\t{t.blake3 or 'case'}\t{t.tagged_by}")
    return 0


def _day(day: dt.date | None, settings: Settings, *, end: bool = False) -> dt.datetime | None:
    if day is None:
        return None
    day += dt.timedelta(days=1) if end else dt.timedelta()
    return dt.datetime(day.year, day.month, day.day, tzinfo=settings.zone)


async def run_search(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        found = await search.search(
            locker, who=await acting(args, settings, locker.pool),
            values={f: getattr(args, f) for f in FACETS if getattr(args, f)},
            since=_day(args.since, settings), until=_day(args.until, settings, end=True), text=args.text,
            limit=args.limit)
    if args.json:
        print(dump_json({"total": found.total, "items": [asdict(h) for h in found.hits],
                         "facets": {k: [{"value": v, "count": n} for v, n in c] for k, c in found.facets.items()}}))
        return 0
    print(f"{found.total} item(s)")
    for h in found.hits:
        when = (h.recorded_at or h.logged_at).astimezone(settings.zone)
        print(f"{h.case_id}\t{when:%Y-%m-%d %H:%M}\t{h.kind}\t{h.file_name or ''}\t{h.officer or ''}\t"
              f"{h.blake3}\t{','.join(h.tags)}")
    for facet, counts in found.facets.items():
        if counts:
            print(f"{facet}: " + ", ".join(f"{v} ({n})" for v, n in counts))
    return 0


async def assign(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        done = await assignment.assign(locker, args.case_id, args.blake3, args.to_case,
                                       who=await acting(args, settings, locker.pool), reason=args.reason)
    print(f"{done.blake3} assigned to case {done.to_case} (entry {done.to_seq}, {done.proxies} proxy/proxies); "
          f"logged in {args.case_id} as entry {done.from_seq}")
    return 0


async def backfill(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        made, failed = await thumbnails.backfill(locker, who=as_operator(), limit=args.limit)
    print(f"{made} still(s) made")
    for line in failed:
        print(f"not made: {line}")
    return 0 if not failed else 1
