"""The navigation bar by role, and each role's start page.

An item's roles repeat the route table's for its page (a test holds them equal; the public portal,
which needs no sign-in, is in every staff member's bar); items marked ``later`` point at pages another
release adds, so they may answer 404 until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.permissions import ADMIN, DISCLOSURE_READERS, STAFF

#: Who sees the legal-review queue and pages (only the reviewer role records a review).
REVIEWERS = ("reviewer", "coordinator", "admin")


@dataclass(frozen=True, slots=True)
class NavItem:
    path: str
    label: str  # i18n key
    roles: tuple[str, ...]
    later: bool = False  # a slot for a page that is not built yet


NAV: tuple[NavItem, ...] = (
    NavItem("/cases", "nav.cases", STAFF),
    NavItem("/verify", "nav.verify", STAFF),
    NavItem("/disclosure", "nav.disclosure", DISCLOSURE_READERS),
    NavItem("/review", "nav.review", REVIEWERS),
    NavItem("/admin", "nav.admin", ADMIN),
    NavItem("/admin/retention", "nav.retention", ADMIN),
    NavItem("/admin/law-changes", "nav.law_changes", ADMIN),
    NavItem("/public", "nav.public", STAFF),
    NavItem("/admin/audit", "nav.audit", ADMIN),
    NavItem("/search", "nav.search", STAFF),
)

#: Where ``/`` and a fresh sign-in take each role.
HOME = {"investigator": "/cases", "reviewer": "/review", "disclosure": "/disclosure", "admin": "/admin"}


def nav_for(role: str) -> list[NavItem]:
    return [item for item in NAV if role in item.roles]


def home_of(role: str) -> str:
    return HOME.get(role, "/cases")
