"""Users and docking stations: creating them, revoking and reissuing their tokens.

The token is returned once and stored only as a hash (``storage.principals``).  The operator at the
server's command line may do this too: someone has to create the first administrator.
"""

from __future__ import annotations

import asyncpg

from services.permissions import authorize
from storage import principals
from storage.principals import Principal


async def add(pool: asyncpg.Pool, name: str, role: str, *, who: Principal) -> tuple[Principal, str]:
    """Create a user or station; returns it and its token (shown once, never stored)."""
    authorize(who, "principal.add")
    return await principals.add_principal(pool, name, role, who.actor)


async def revoke(pool: asyncpg.Pool, name: str, *, who: Principal) -> None:
    """Revoke ``name``'s token: it stops working at once (cached answers within seconds)."""
    authorize(who, "principal.revoke")
    await principals.revoke(pool, name)


async def reissue(pool: asyncpg.Pool, name: str, *, who: Principal) -> str:
    """A new token for ``name``; the old one stops working."""
    authorize(who, "principal.reissue")
    return await principals.reissue_token(pool, name)
