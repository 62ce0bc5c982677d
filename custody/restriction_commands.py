"""``custody case restrict|grant|revoke-grant|access|handover``: need to know (RULES §三) from the shell.

A handover is here because the handler is who reads a restricted case (and who may not review it).

Each change acts as the user named by ``--as`` under the same rules as the API (``services.restriction``)
and is an entry in the case log with that user and the reason.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from custody.shell import acting, add_as, dump_json
from foundation.settings import Settings
from policy import restriction as policy
from policy.restriction import ORDER, notice
from services import handover, restriction
from services.locker import open_locker
from storage.log import CaseNotFound


def register(case: Any) -> None:
    """Add the subcommands to ``custody case``."""
    p = case.add_parser("restrict", help="set a case's restriction level (need to know; logged with the reason)")
    p.add_argument("case_id")
    p.add_argument("--level", required=True, choices=ORDER,
                   help="none | privacy (个人隐私) | trade_secret (商业秘密) | state_secret (国家秘密)")
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=restrict)
    p = case.add_parser("grant", help="grant a user access to a restricted case (logged with the reason)")
    p.add_argument("case_id")
    p.add_argument("principal", help="the user's name")
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=grant)
    p = case.add_parser("revoke-grant", help="revoke a user's access to a case (logged with the reason)")
    p.add_argument("case_id")
    p.add_argument("principal")
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=revoke_grant)
    p = case.add_parser("handover", help="hand the case to another investigator (承办人变更; logged with the reason)")
    p.add_argument("case_id")
    p.add_argument("--to", required=True, help="the investigator's user name")
    p.add_argument("--reason", required=True)
    add_as(p)
    p.set_defaults(handler=hand_over)
    p = case.add_parser("access", help="a case's restriction level, handler and grants (JSON)")
    p.add_argument("case_id")
    p.set_defaults(handler=show_access)


def _notice(level: str) -> None:
    if (said := notice(level)) is not None:
        print(f"注意：{said['zh']}")
        print(f"NOTE: {said['en']}")


async def restrict(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        previous, level = await restriction.set_level(locker, args.case_id, args.level, who=who,
                                                      reason=args.reason)
    print(f"case {args.case_id}: restriction {previous} -> {level}")
    _notice(level)
    return 0


async def grant(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        g = await restriction.grant(locker, args.case_id, args.principal, who=who,
                                    reason=args.reason)
    print(f"case {args.case_id}: {g.principal} granted access (grant {g.id}): {g.reason}")
    return 0


async def revoke_grant(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        g = await restriction.revoke(locker, args.case_id, args.principal, who=who,
                                     reason=args.reason)
    print(f"case {args.case_id}: access of {g.principal} revoked: {args.reason} "
          "(running servers stop honouring it within seconds)")
    return 0


async def show_access(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        state = await restriction.access(locker.pool, args.case_id, "")
        if state is None:
            raise CaseNotFound(args.case_id)
        grants = await restriction.grants(locker.pool, args.case_id, active_only=False)
    answer: dict[str, Any] = {
        "case": args.case_id, "restriction": state.level,
        "label": {"en": policy.label(state.level), "zh": policy.label(state.level, "zh")}, "handler": state.handler,
        "grants": [asdict(g) for g in grants if g.revoked_at is None],
        "revoked_grants": [asdict(g) for g in grants if g.revoked_at is not None],
    }
    if (said := policy.notice(state.level)) is not None:
        answer["notice"] = dict(said)
    print(dump_json(answer))
    return 0


async def hand_over(args: argparse.Namespace, settings: Settings) -> int:
    async with open_locker(settings) as locker:
        who = await acting(args, settings, locker.pool)
        previous, new = await handover.hand_over(locker, args.case_id, args.to, who=who,
                                                 reason=args.reason)
    print(f"case {args.case_id}: handler {previous} -> {new}")
    return 0
