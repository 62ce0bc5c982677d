"""``custody share create|list|revoke``: sharing a case with a prosecutor or a court from the shell.

Each acts as the user named by ``--as`` under the same rules as the API (``services.shares``) and is an
entry in the case log.  The token is printed once, at creation; only its hash is kept.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from custody.shell import acting, add_as, dump_json
from foundation.settings import Settings
from services import shares
from services.locker import open_locker
from storage.shares import Share


def register(sub: Any) -> None:
    """Add ``custody share`` and its subcommands."""
    share = sub.add_parser("share", help="share a case with a prosecutor or a court (a link with a token)")
    cmds = share.add_subparsers(dest="share_command", required=True)
    p = cmds.add_parser("create", help="share selected originals or the whole case; prints the link's token once")
    p.add_argument("case_id")
    p.add_argument("--organisation", required=True, help="the recipient's organisation (a procuratorate, a court)")
    p.add_argument("--person", required=True, help="the person it is for")
    p.add_argument("--purpose", required=True, help="why it is shared")
    p.add_argument("--days", type=int, default=30, help=f"days until the link expires (1 to {shares.MAX_DAYS}; "
                                                        "default 30)")
    p.add_argument("--max-downloads", type=int, help="at most this many downloads (default: no limit)")
    p.add_argument("--item", action="append", dest="items", metavar="BLAKE3",
                   help="an original or a redacted render to share (repeat); default: the whole case")
    p.add_argument("--recipient", choices=shares.RECIPIENTS, default="judicial",
                   help="judicial: a prosecutor or a court (default; originals may go); other: anyone else "
                        "(the party's lawyer, the press: redacted renders only)")
    p.add_argument("--base-url", default="", help="the server's address, to print the whole link")
    add_as(p)
    p.set_defaults(handler=create)
    p = cmds.add_parser("list", help="a case's shares, live and ended")
    p.add_argument("case_id")
    p.add_argument("--json", action="store_true")
    add_as(p)
    p.set_defaults(handler=list_shares)
    p = cmds.add_parser("revoke", help="revoke a share at once (logged with the reason)")
    p.add_argument("case_id")
    p.add_argument("share_id", type=int)
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=revoke)


async def create(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        share, token = await shares.create(locker, args.case_id, who=who, organisation=args.organisation,
                                           person=args.person, purpose=args.purpose, days=args.days,
                                           items=args.items, max_downloads=args.max_downloads,
                                           recipient=args.recipient)
    print(f"case {args.case_id}: share {share.id} for {share.person} ({share.organisation}) "
          f"until {share.expires_at:%Y-%m-%d %H:%M} UTC")
    print(f"link (shown once): {args.base_url.rstrip('/')}/s/{token}")
    return 0


def _line(s: Share) -> str:
    state = f"revoked {s.revoked_at:%Y-%m-%d} by {s.revoked_by}" if s.revoked_at else f"until {s.expires_at:%Y-%m-%d}"
    limit = f"{s.downloads}/{s.max_downloads}" if s.max_downloads is not None else f"{s.downloads}"
    what = "whole case" if s.items is None else f"{len(s.items)} item(s)"
    return f"{s.id}\t{s.person} ({s.organisation})\t{what}\t{state}\tdownloads {limit}\t{s.purpose}"


async def list_shares(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        found = await shares.of_case(locker, args.case_id, who=who)
    if args.json:
        print(dump_json([asdict(s) for s in found]))
    else:
        for s in found:
            print(_line(s))
    return 0


async def revoke(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        share = await shares.revoke(locker, args.case_id, args.share_id, who=who, reason=args.reason)
    print(f"case {args.case_id}: share {share.id} revoked: {share.revoke_reason}")
    return 0
