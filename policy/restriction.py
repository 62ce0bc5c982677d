"""Restricted-access cases: need to know (policy §三, 严格记录归档).

§三(三): "对涉及国家秘密、商业秘密、个人隐私的记录资料，归档时要严格执行国家有关规定。"  A case carries one
level — ``none`` (the default), ``privacy`` (个人隐私), ``trade_secret`` (商业秘密) or ``state_secret``
(国家秘密) — and a restricted case is read only by its handler (承办人) and by people granted access to
it, each grant with a reason.  Nobody else reads it, administrators included: an administrator may
grant themselves access, with a reason, and the grant is an entry in the case log like any other.

Raising a level (or setting one) is for an investigator or administrator who may read the case;
lowering it, to ``none`` included, is for an administrator.  Every change, grant and revocation
carries a non-blank reason.  State secrets are not kept here at all by the secrecy rules: marking a
case ``state_secret`` only restricts access in this system (see ``STATE_SECRET_NOTICE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

from policy.errors import NothingChanged, NotPermitted, PolicyError, ReasonRequired, Restricted

Level = Literal["none", "privacy", "trade_secret", "state_secret"]
#: The levels from least to most restricted.
ORDER: tuple[Level, ...] = get_args(Level)
UNRESTRICTED: Level = "none"
#: Level → (English, Chinese); the Chinese are the policy's words.
LEVELS: Mapping[Level, tuple[str, str]] = {
    "none": ("not restricted", "不限制"),
    "privacy": ("personal privacy", "个人隐私"),
    "trade_secret": ("trade secret", "商业秘密"),
    "state_secret": ("state secret", "国家秘密"),
}
#: Roles that change a level or grant and revoke access (within the rules below).
CHANGERS = ("investigator", "admin")
#: Stations upload into cases; they never read one, so they are never granted access.
NEVER_GRANTED = ("station",)
#: Said with every answer about a ``state_secret`` case (API, CLI, pages).
STATE_SECRET_NOTICE: Mapping[str, str] = {
    "zh": "涉及国家秘密的记录资料，须按照国家保密规定在经审查批准的涉密信息系统中存储和归档；"
          "本系统不是涉密信息系统，“国家秘密”标记仅限制本系统内的访问。",
    "en": "State-secret material must be stored and archived in an accredited classified information system "
          "(涉密信息系统) under the state secrecy rules; this system is not one, and this marking only restricts "
          "access here.",
}


def parse_level(value: object) -> Level:
    """``value`` as a level, or a ``PolicyError`` naming the valid ones."""
    for level in ORDER:
        if value == level:
            return level
    raise PolicyError(f"restriction level must be one of {', '.join(ORDER)}, not {value!r}")


def rank(level: Level) -> int:
    return ORDER.index(level)


def label(level: str, lang: str = "en") -> str:
    """The level's name in ``lang`` (``zh`` or ``en``)."""
    en, zh = LEVELS[parse_level(level)]
    return zh if lang == "zh" else en


def notice(level: str) -> Mapping[str, str] | None:
    """The archiving notice that goes with ``level`` (state secrets only)."""
    return STATE_SECRET_NOTICE if level == "state_secret" else None


def is_handler(principal_id: int, handler_id: int | None) -> bool:
    """Whether principal ``principal_id`` is the case handler: ids are compared, never names, so a user
    created later with a handler's display name is nobody's handler."""
    return principal_id > 0 and handler_id is not None and handler_id == principal_id


def may_read(level: str, *, principal_id: int, handler_id: int | None, granted: bool) -> bool:
    """May principal ``principal_id`` read a case at ``level`` (``granted``: it holds an active grant)?

    Unrestricted: yes (whoever the route's roles admit).  Restricted: only the case handler or a
    principal with an active grant; an administrator's role gives no way round it.
    """
    if parse_level(level) == UNRESTRICTED:
        return True
    return granted or is_handler(principal_id, handler_id)


def check_reason(action: str, reason: str | None) -> str:
    """The reason, stripped; a blank one is refused (every change of access is explained)."""
    if reason is None or not reason.strip():
        raise ReasonRequired(action, "reason", f"{action} needs a reason (logged in the case log)")
    return reason.strip()


def check_change(old: str, new: str, *, role: str, may_read: bool, reason: str | None) -> Literal["raise", "lower"]:
    """May someone in ``role`` (who may or may not read the case) move its level from ``old`` to ``new``?

    Returns the direction; raises ``NotPermitted``, ``Restricted``, ``NothingChanged`` or
    ``ReasonRequired`` otherwise.
    """
    before, after = parse_level(old), parse_level(new)
    if role not in CHANGERS:
        raise NotPermitted(f"a case's restriction is changed by an investigator or an administrator, not by {role!r}")
    if after == before:
        raise NothingChanged(f"the case is already restricted at {after!r}")
    if rank(after) > rank(before):
        if not may_read:
            raise Restricted(before, message=f"raising a case's restriction needs someone who may read it "
                                             f"(its handler or a grantee); this case is {before.replace('_', ' ')}")
        check_reason("restricting a case", reason)
        return "raise"
    if role != "admin":
        raise NotPermitted("lowering a case's restriction needs an administrator (with a reason)")
    check_reason("lowering a case's restriction", reason)
    return "lower"


def check_grant(level: str, *, role: str, may_read: bool, grantee_role: str | None, grantee: str,
                reason: str | None) -> None:
    """May someone in ``role`` grant ``grantee`` (whose role is ``grantee_role``; None: unknown or
    revoked) access to a case at ``level``?  Someone who may read it may; so may an administrator
    (themselves included), because need to know is decided by people, and logged."""
    _may_manage(level, role=role, may_read=may_read, what="granting access to")
    if grantee_role is None:
        raise PolicyError(f"no active user {grantee!r}: access is granted to a known, active user")
    if grantee_role in NEVER_GRANTED:
        raise PolicyError(f"{grantee!r} is a docking station: stations upload into cases, they are never granted "
                          "access to read one")
    check_reason("granting access", reason)


def check_revoke(level: str, *, role: str, may_read: bool, reason: str | None) -> None:
    """May someone in ``role`` revoke a grant on a case at ``level``?  The same people who grant."""
    _may_manage(level, role=role, may_read=may_read, what="revoking access to")
    check_reason("revoking access", reason)


def _may_manage(level: str, *, role: str, may_read: bool, what: str) -> None:
    if role not in CHANGERS:
        raise NotPermitted(f"{what} a case is for an investigator or an administrator, not {role!r}")
    if not may_read and role != "admin":
        raise Restricted(parse_level(level), message=f"{what} a restricted case needs someone who may read it "
                                                      "(its handler or a grantee) or an administrator")
