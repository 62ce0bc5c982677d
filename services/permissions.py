"""Who may do what: the roles each use case admits, in one table that every front end asks.

A use case is named by a short action (``case.open``, ``review.record``); :func:`authorize` is the
check, and the services call it for the principal that acts, so the API and the CLI get the same
answer from the same line.  The API's route table takes its roles from here too (``roles_for``), so
a request is refused before its body is read, with the same outcome the service would give.

Rules that depend on more than the role (need to know for a restricted case, the handler's bar on
reviewing their own case, who may lift a hold) are decided by ``policy`` inside the use case; this
table is only the first gate.

The **operator** is whoever runs ``custody`` on the server with access to its data directory: the
database, the object store and the signing key are already theirs.  They are not a user of the
application, so they may do only what keeps the installation running (migrations, keys, scrub,
users and stations, scheduled jobs) and nothing that decides a case; those need ``--as USER``.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping

from foundation.errors import Forbidden
from storage.principals import Principal

OPERATOR = "operator"

# Role groups, in the order the API's documents list them.
STAFF = ("investigator", "disclosure", "reviewer", "coordinator", "admin")
#: May see evidence content.
READERS = ("investigator", "reviewer", "admin")
INVESTIGATORS = ("investigator", "admin")
ADMIN = ("admin",)
STATION = ("station",)
DISCLOSURE = ("disclosure", "admin")
DISCLOSURE_READERS = ("disclosure", "investigator", "reviewer", "coordinator", "admin")
#: A legal review (passed/failed) is the reviewer's; a disagreement (disputed) is the handling side's.
REVIEWERS = ("reviewer",)
HANDLING_SIDE = ("disclosure", "investigator", "admin")
#: Who may call the review route at all (each outcome is then decided by its own action).
REVIEW = ("reviewer", "disclosure", "investigator", "coordinator", "admin")
#: The bureau head (负责人) who decides a dispute between reviewer and handling unit (§四(四)).
COORDINATORS = ("coordinator",)

#: Every use case that changes something or reads evidence, and the roles that may perform it.
PERMISSIONS: Mapping[str, tuple[str, ...]] = {
    # cases and their evidence
    "case.open": INVESTIGATORS,
    "case.close": INVESTIGATORS,
    "case.hand_over": INVESTIGATORS,
    "case.restrict": INVESTIGATORS,
    "case.grant": INVESTIGATORS,
    "case.revoke_grant": INVESTIGATORS,
    "evidence.upload": STATION,
    "evidence.import": INVESTIGATORS,  # files stored from the server's own disk (custody ingest)
    "record.add": INVESTIGATORS,
    "evidence.read": READERS,
    "case.export": READERS,
    # retention and holds
    "retention.set_class": ADMIN,
    "retention.assign": INVESTIGATORS,
    "retention.run": (*ADMIN, OPERATOR),  # the daily timer runs as the operator
    "store.check": (*ADMIN, OPERATOR),
    "hold.place": INVESTIGATORS,
    "hold.lift": INVESTIGATORS,
    # disclosure (公示) and legal review (法制审核)
    "disclosure.create": DISCLOSURE,
    "disclosure.flag_major": DISCLOSURE,
    # the secrets treatment: by the handling side, who know what in the case is secret (and must read it)
    "disclosure.treat": HANDLING_SIDE,
    "disclosure.act": DISCLOSURE,
    "disclosure.check_links": DISCLOSURE_READERS,
    "disclosure.sweep": (*DISCLOSURE, OPERATOR),  # the daily timer runs as the operator
    "review.record": REVIEWERS,
    "review.dispute": HANDLING_SIDE,
    "review.coordinate": COORDINATORS,
    # §四(二): the case handler's major-decision determination, before the decision is recorded
    "decision.determine": INVESTIGATORS,
    "law_change.add": ADMIN,
    "calendar.add_year": (*ADMIN, OPERATOR),
    # accounts
    "principal.add": (*ADMIN, OPERATOR),  # the operator creates the first administrator
    "principal.revoke": (*ADMIN, OPERATOR),
    "principal.reissue": (*ADMIN, OPERATOR),
    "principal.profile": (*ADMIN, OPERATOR),  # display name, badge number (执法证号), unit
    # the audit view: who viewed, downloaded, exported or shared what, across cases
    "audit.read": ADMIN,
    # witnesses and trusted timestamps (the background jobs run as the operator)
    "witness.send": (*ADMIN, OPERATOR),
    "timestamp.run": (*ADMIN, OPERATOR),
    # sharing with prosecutors and courts (a link with a token; need to know decided in services.shares)
    "share.create": INVESTIGATORS,
    "share.list": INVESTIGATORS,
    "share.revoke": INVESTIGATORS,
    # §二 basic enforcement information: the disclosure desk keeps the pages, staff read the drafts
    "basic_info.edit": DISCLOSURE,
    "basic_info.read": DISCLOSURE_READERS,
    # redaction for release (issue 19): projects and renders of a case's recordings
    "redaction.view": READERS,
    "redaction.edit": INVESTIGATORS,
    "redaction.render": INVESTIGATORS,
    "redaction.suggest": INVESTIGATORS,
    # browser intake (issue 18 item 2): a user adds photos, documents and scans to a case through the
    # stations' resumable, hashed upload path (the web session's /ui/api/uploads, or the API's /api/v1/uploads)
    "evidence.add": INVESTIGATORS,
    # release (issue 19 item 5): redacted renders attached to a disclosure record (services.release)
    "disclosure.attach": DISCLOSURE,
    # bookmarks and notes at a moment of a recording (issue 18 item 4): whoever may watch it; only the
    # author (or an admin) edits or removes one, decided in services.bookmarks
    "bookmark.add": READERS,
    "bookmark.list": READERS,
    "bookmark.edit": READERS,
    "bookmark.remove": READERS,
    # organising and finding (issue 18, item 3): the bureau's tag list, tags, search, intake assignment
    "tag.define": ADMIN,
    "tag.apply": INVESTIGATORS,
    "search.items": STAFF,
    "evidence.assign": INVESTIGATORS,
    "thumbnail.make": (*ADMIN, OPERATOR),  # the backfill of stills for items ingested before them
}

#: What each action is called in a refusal.
_WORDS = {"review.record": "record a legal review (法制审核)", "review.dispute": "record a disagreement with a review"}


def roles_for(action: str) -> tuple[str, ...]:
    """The application roles (not the operator) that may perform ``action``, for the API's route table."""
    return tuple(role for role in PERMISSIONS[action] if role != OPERATOR)


def authorize(who: Principal, action: str) -> None:
    """Refuse (``Forbidden``) unless ``who``'s role may perform ``action``."""
    allowed = PERMISSIONS[action]
    if who.role not in allowed:
        what = _WORDS.get(action, action.replace("_", " ").replace(".", ": "))
        raise Forbidden(f"{who.actor} may not {what}; that needs the role {_either(roles_for(action))}")


def operator() -> Principal:
    """The operator at the server's command line, as the log names them: ``operator:<os user>``."""
    return Principal(id=0, name=getpass.getuser(), role=OPERATOR)


def _either(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
