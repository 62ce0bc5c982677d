"""The navigation bar by role, and each role's start page.

An item's roles repeat the route table's for its page (a test holds them equal); items marked
``later`` point at pages another release adds, so they may answer 404 until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.routes import ADMIN, STAFF

DISCLOSERS = ("disclosure", "admin")
REVIEWERS = ("reviewer", "admin")


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    label: str  # i18n key
    roles: tuple[str, ...]
    later: bool = False  # a slot for a page that is not built yet


NAV: tuple[NavItem, ...] = (
    NavItem("/cases", "nav.cases", STAFF),
    NavItem("/verify", "nav.verify", STAFF),
    NavItem("/disclosure", "nav.disclosure", DISCLOSERS, later=True),
    NavItem("/review", "nav.review", REVIEWERS, later=True),
    NavItem("/admin", "nav.admin", ADMIN),
    NavItem("/admin/retention", "nav.retention", ADMIN, later=True),
    NavItem("/admin/law-changes", "nav.law_changes", ADMIN, later=True),
    NavItem("/public", "nav.public", STAFF, later=True),
)

#: Where ``/`` and a fresh sign-in take each role.
HOME = {"investigator": "/cases", "reviewer": "/cases", "disclosure": "/cases", "admin": "/admin"}


def nav_for(role: str) -> list[NavItem]:
    return [item for item in NAV if role in item.roles]


def home_of(role: str) -> str:
    return HOME.get(role, "/cases")
