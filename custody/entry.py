"""The ``custody`` command's entry point: the offline verifier starts without the server's packages.

``custody verify-bundle`` is what a court clerk or an outside auditor runs, often on a large bundle
(``bench/verify.py`` times it against ``b3sum`` + ``openssl``): importing aiohttp, asyncpg, minio and
the services first costs about 0.7 s it has no use for.  Without ``--against`` (which may ask a
server) it runs ``integrity.verify``, the verifier the contract ships, with the same options, output
and exit status; everything else goes to ``custody.cli``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

#: verify-bundle options that need the whole command (a server, or custody's own help text).
_NOT_OFFLINE = ("--against", "--token", "--file", "-h", "--help")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["verify-bundle"] and not any(a.split("=", 1)[0] in _NOT_OFFLINE for a in args[1:]):
        # Deferred: only the verifier's own modules, so the check starts in a fifth of the time.
        from integrity import verify
        return verify.main(args[1:])
    # Deferred: the full command (server, database, object stores) only when it is asked for.
    from custody import cli
    return cli.main(args)
