"""``custody bookmark add|list|edit|remove``: bookmarks and notes at a moment of a recording.

Each acts as the user named by ``--as`` under the same rules as the API and the web player
(``services.bookmarks``: whoever may read the evidence bookmarks it; only the author or an admin edits
or removes a bookmark) and is an entry in the case log.  Times are given as ``[[H:]M:]S[.mmm]``.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import asdict
from typing import Any

from custody.shell import CliError, acting, add_as, dump_json
from foundation.settings import Settings
from services import bookmarks
from services.locker import open_locker
from storage.bookmarks import Bookmark

_TIME = re.compile(r"^(?:(?:(\d+):)?(\d{1,2}):)?(\d+)(?:\.(\d{1,3}))?$")


def parse_time(text: str) -> int:
    """``1:02:03.5`` or ``62.040`` or ``75`` as milliseconds."""
    m = _TIME.match(text.strip())
    if not m:
        raise CliError(f"a time is [[H:]M:]S[.mmm], e.g. 1:02.040, not {text!r}")
    hours, minutes, seconds, frac = (int(m.group(1) or 0), int(m.group(2) or 0), int(m.group(3)),
                                     (m.group(4) or "").ljust(3, "0"))
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + int(frac or 0)


def format_time(ms: int) -> str:
    seconds, milli = divmod(ms, 1000)
    minutes, sec = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours:d}:{minute:02d}:{sec:02d}.{milli:03d}"


def register(sub: Any) -> None:
    """Add ``custody bookmark`` and its subcommands."""
    mark = sub.add_parser("bookmark", help="bookmarks and notes at a moment of a recording (logged)")
    cmds = mark.add_subparsers(dest="bookmark_command", required=True)
    p = cmds.add_parser("add", help="bookmark an item of a case at a time, with a note")
    p.add_argument("case_id")
    p.add_argument("blake3", help="the item's BLAKE3")
    p.add_argument("time", help="from the start of the recording: [[H:]M:]S[.mmm]")
    p.add_argument("--note", default="", help="what happens there")
    add_as(p)
    p.set_defaults(handler=add)
    p = cmds.add_parser("list", help="a case's bookmarks (or one item's), in time order")
    p.add_argument("case_id")
    p.add_argument("--item", metavar="BLAKE3", help="only this item's")
    p.add_argument("--json", action="store_true")
    add_as(p)
    p.set_defaults(handler=list_bookmarks)
    p = cmds.add_parser("edit", help="change a bookmark's time or note (its author or an admin)")
    p.add_argument("case_id")
    p.add_argument("bookmark_id", type=int)
    p.add_argument("--time", help="the new time: [[H:]M:]S[.mmm]")
    p.add_argument("--note", help="the new note")
    add_as(p)
    p.set_defaults(handler=edit)
    p = cmds.add_parser("remove", help="remove a bookmark from the list (its author or an admin); its entries stay")
    p.add_argument("case_id")
    p.add_argument("bookmark_id", type=int)
    add_as(p)
    p.set_defaults(handler=remove)


def _line(m: Bookmark) -> str:
    edited = f"\tedited by {m.edited_by}" if m.edited_by else ""
    return f"{m.id}\t{m.blake3[:16]}…\t{format_time(m.at_ms)}\t{m.author}\t{m.note}{edited}"


async def add(args: argparse.Namespace, settings: Settings) -> int:
    at_ms = parse_time(args.time)
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        mark = await bookmarks.add(locker, args.case_id, args.blake3, at_ms=at_ms, note=args.note, who=who)
    print(f"case {args.case_id}: bookmark {mark.id} at {format_time(mark.at_ms)}")
    return 0


async def list_bookmarks(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        found = await bookmarks.of_item(locker, args.case_id, who=who, blake3=args.item)
    if args.json:
        print(dump_json([asdict(m) for m in found]))
    else:
        for m in found:
            print(_line(m))
    return 0


async def edit(args: argparse.Namespace, settings: Settings) -> int:
    at_ms = parse_time(args.time) if args.time is not None else None
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        mark = await bookmarks.edit(locker, args.case_id, args.bookmark_id, who=who, at_ms=at_ms, note=args.note)
    print(f"case {args.case_id}: bookmark {mark.id} now at {format_time(mark.at_ms)}: {mark.note}")
    return 0


async def remove(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        mark = await bookmarks.remove(locker, args.case_id, args.bookmark_id, who=who)
    print(f"case {args.case_id}: bookmark {mark.id} removed")
    return 0
