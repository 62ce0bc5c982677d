"""``custody basic-info ...``: the portal's basic enforcement information (§二 行政执法基本信息) from the shell."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

from custody.shell import CliError, acting, add_as, dump_json
from foundation import clock
from foundation.settings import Settings
from services import basic_info
from services.locker import open_locker


def register(sub: Any) -> None:
    bi = sub.add_parser("basic-info", help="basic enforcement information pages of the portal (§二)").add_subparsers(
        dest="basic_info_command", required=True)
    p = bi.add_parser("list", help="every page with its state, and the law-change updates due")
    p.add_argument("--json", action="store_true")
    add_as(p)
    p.set_defaults(handler=list_cmd)
    p = bi.add_parser("add", help="draft a page")
    p.add_argument("kind", choices=basic_info.KINDS)
    p.add_argument("title")
    p.add_argument("--file", type=Path, required=True, help="the page's text (UTF-8)")
    p.add_argument("--category", default="", help="the category law changes name (as records' categories)")
    add_as(p)
    p.set_defaults(handler=add)
    for step in basic_info.STEPS:
        p = bi.add_parser(step, help=f"{step} a page")
        p.add_argument("id")
        if step in ("update", "withdraw"):
            p.add_argument("--reason", required=True)
        if step == "update":
            p.add_argument("--file", type=Path, required=True, help="the new text (UTF-8)")
            p.add_argument("--law-change", type=int, help="the law change this update answers")
        add_as(p)
        p.set_defaults(handler=act, step=step)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"{path}: cannot read the page's text: {e}") from None


async def list_cmd(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        pages = await basic_info.pages(locker, who=who)
        updates = await basic_info.updates_due(locker, who=who)
    if args.json:
        print(dump_json({"pages": [asdict(p) for p in pages], "updates": updates}))
        return 0
    for p in pages:
        print(f"{p.id}  {p.state:<9} {p.kind:<17} {p.title}  published {p.published_on or '—'}")
    for u in updates:
        print(f"update {u['page_id']} for law change {u['law_change_id']} ({u['law_title']}) by "
              f"{u['due'] or '20 working days after publication'}")
    return 0


async def add(args: argparse.Namespace, settings: Settings) -> int:
    text = _read(args.file)
    async with open_locker(settings) as locker:
        page = await basic_info.create(locker, kind=args.kind, title=args.title, body=text, category=args.category,
                                       who=await acting(args, settings, locker.pool))
    print(f"{page.id}: drafted ({page.kind})")
    return 0


async def act(args: argparse.Namespace, settings: Settings) -> int:
    body = _read(args.file) if getattr(args, "file", None) else None
    async with open_locker(settings) as locker:
        page = await basic_info.act(locker, args.id, args.step, who=await acting(args, settings, locker.pool),
                                    today=clock.today(), reason=getattr(args, "reason", None), body=body,
                                    law_change=getattr(args, "law_change", None))
    print(f"{page.id}: {page.state}")
    return 0
