"""What every ``custody`` subcommand shares: who acts, refusals of the command line itself, output.

A command that decides something about a case, a disclosure or a review acts as a real user of the
application: ``--as NAME`` (or ``CUSTODY_CLI_USER``), an existing, active user whose role the services
then check exactly as they check an API caller's.  Nothing else can appear as the actor in a log entry:
there is no free-text ``--actor``.  Commands that keep the installation running (migrations, keys,
scrub, accounts, scheduled jobs) act as the operator, ``operator:<os user>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from foundation.errors import Malformed, Unauthenticated
from foundation.settings import Settings
from policy.errors import PolicyError
from policy.takedown import parse_iso_date
from services.permissions import operator
from storage import principals
from storage.principals import Principal

Handler = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


class CliError(Malformed):
    """The command line itself cannot be used (a missing option, an unreadable file): exit status 2."""

    code = "usage"


def add_as(p: argparse.ArgumentParser) -> None:
    """The ``--as`` option of a command that acts as a user."""
    p.add_argument("--as", dest="as_user", metavar="USER",
                   help="the user acting (must exist and hold the role the action needs; default: CUSTODY_CLI_USER)")


async def acting(args: argparse.Namespace, settings: Settings, pool: asyncpg.Pool) -> Principal:
    """The active user named by ``--as`` (or ``CUSTODY_CLI_USER``), looked up now."""
    name = getattr(args, "as_user", None) or settings.cli_user
    if not name:
        raise CliError("this command acts as a user of Custody: name one with --as USER (or set CUSTODY_CLI_USER)")
    holder = await principals.by_name(pool, name)
    if holder is None:
        raise Unauthenticated(f"no active user {name!r}: --as names an existing user whose token is not revoked")
    return holder.principal


def as_operator() -> Principal:
    """The operator running this command (``operator:<os user>`` in the log)."""
    return operator()


def iso_date(text: str) -> dt.date:
    """An ISO ``YYYY-MM-DD`` argument, refused by argparse (exit 2) when it is not one."""
    try:
        return parse_iso_date(text)
    except PolicyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def dump_json(data: Any) -> str:
    """Indented JSON for ``--json`` output: dates as ISO text, bytes as hex."""
    def default(v: Any) -> Any:
        if isinstance(v, dt.datetime | dt.date):
            return v.isoformat()
        if isinstance(v, bytes):
            return v.hex()
        raise TypeError(type(v))

    return json.dumps(data, ensure_ascii=False, indent=2, default=default)

