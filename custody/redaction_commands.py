"""``custody redact save|suggest|render|list``: redaction projects from the shell (issue 19).

Each command acts as the user named by ``--as`` under the same rules as the API (``services.redaction``).
A project file is JSON with ``tracks`` and ``audio`` (``policy.redaction``); ``suggest`` prints one.
``render`` waits for its render and prints the redacted object's BLAKE3.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from custody.shell import acting, add_as, dump_json
from foundation.errors import Invalid
from foundation.settings import Settings
from services import redaction
from services.locker import open_locker


def register(sub: Any) -> None:
    r = sub.add_parser("redact", help="redaction of recordings for release").add_subparsers(
        dest="redact_command", required=True)
    p = r.add_parser("suggest", help="print face and plate tracks the detectors propose for a recording "
                                     "(project JSON)")
    p.add_argument("case_id")
    p.add_argument("source", help="BLAKE3 of the recording (an original or its proxy)")
    p.add_argument("--every-ms", type=int, default=200, help="sampling interval (default 200 ms)")
    p.add_argument("--detect", action="append", choices=("face", "plate"),
                   help="what to look for (repeat; default: faces and plates)")
    add_as(p)
    p.set_defaults(handler=suggest)
    p = r.add_parser("save", help="save a new version of a project from a JSON file (tracks, audio)")
    p.add_argument("case_id")
    p.add_argument("source", help="BLAKE3 of the recording")
    p.add_argument("project_file", type=Path)
    p.add_argument("--name", default="")
    p.add_argument("--project", help="an existing project's id (default: a new project)")
    add_as(p)
    p.set_defaults(handler=save)
    p = r.add_parser("render", help="render a project version and store it as evidence.redacted (waits)")
    p.add_argument("case_id")
    p.add_argument("project")
    p.add_argument("--version", type=int, help="default: the latest")
    add_as(p)
    p.set_defaults(handler=render)
    p = r.add_parser("list", help="a case's projects and renders (JSON)")
    p.add_argument("case_id")
    add_as(p)
    p.set_defaults(handler=show)


async def suggest(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        tracks = await redaction.suggest(locker, args.case_id, args.source, who=who, every_ms=args.every_ms,
                                         detect=tuple(args.detect or ("face", "plate")))
    print(dump_json({"tracks": tracks, "audio": []}))
    return 0


async def save(args: argparse.Namespace, settings: Settings) -> int:
    try:
        body = json.loads(args.project_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Invalid(f"{args.project_file}: not a readable JSON project ({exc})") from None
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        saved = await redaction.save(locker, args.case_id, who=who, source_blake3=args.source, body=body,
                                     name=args.name, project_id=args.project)
    print(f"project {saved.project_id} version {saved.version} saved (BLAKE3 {saved.hash}, entry {saved.seq})")
    return 0


async def render(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        pool = redaction.RenderPool(locker, 1, threads=settings.redaction_threads)
        render_id = await pool.submit(args.case_id, args.project, args.version, who=who)
        await pool.wait()
        row = await redaction.render_status(locker, args.case_id, render_id, who=who)
    if row.state != "done":
        print(f"render {render_id} failed: {row.error}")
        return 1
    print(f"render {render_id}: evidence.redacted {row.output_blake3}")
    return 0


async def show(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        versions = await redaction.projects(locker, args.case_id, who=who)
        renders = await redaction.renders(locker, args.case_id, who=who)
    print(dump_json({"versions": [asdict(v) for v in versions],
                     "renders": [{**asdict(r), "id": str(r.id)} for r in renders]}))
    return 0
