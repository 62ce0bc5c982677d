"""The database is a cache of the log: what a case's entries say its table rows must hold.

Every row a log entry determines — the case's handler, restriction, closure and retention class, the
evidence index, grants, holds, disclosure records and their reviews — is written beside the entry
for queries; the entry is the record.  ``fold`` replays a case's entries (parsed, in ``seq`` order)
into the rows they imply, and ``compare`` sets those beside the rows the database holds and names
each disagreement with a stable ``code``.  ``fold_access`` is the small part that security decisions
need (level, handler, active grantees), foldable a few entries at a time so the request path can
keep it and catch up with new entries only.

Pure: entries and rows come in as mappings, findings go out; no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from policy.restriction import UNRESTRICTED, Level, parse_level
from policy.retention import DEFAULT_CLASSES

#: Entry kinds that store an object and index it in ``evidence`` (``services.locker.log_object``).
EVIDENCE_KINDS = frozenset({"evidence.ingested", "evidence.derived", "record.added", "evidence.redacted"})
#: Entry kinds that decide who may read a case: the request path folds only these.
ACCESS_KINDS = ("case.opened", "case.handed_over", "access.restricted", "access.granted", "access.grant_revoked")
#: The ``evidence`` columns an entry's fields fill, as ``catalog.record_evidence`` writes them.
EVIDENCE_FIELDS = ("kind", "blake3", "size", "media_type", "file_name", "officer", "camera", "station", "stage",
                   "recorded_at", "original_blake3", "retention_class")
#: The disclosure columns its entries decide.
DISCLOSURE_FIELDS = ("case_id", "decision_no", "created_by", "state", "review_state", "major", "published_on",
                     "takedown_due", "public_text", "end_reason", "notice")
#: The ``retention_classes`` columns a ``retention.class_set`` entry of the governance log decides; the
#: installation's defaults (``DEFAULT_CLASSES``, written by the migration, never logged) hold until one does.
CLASS_FIELDS = ("years", "months", "days", "trigger")
#: The ``principals`` columns the governance log's ``principal.*`` entries decide (never the token's hash).
PRINCIPAL_FIELDS = ("name", "role", "revoked", "display_name", "badge_no", "unit")
#: The ``basic_info_pages`` columns its ``basic_info.*`` entries in the governance log decide.
PAGE_FIELDS = ("kind", "title", "body", "category", "state", "public_body", "published_on", "created_by",
               "approved_by", "published_by")
#: The ``law_changes`` columns a ``law.changed`` entry of the governance log decides.
LAW_CHANGE_FIELDS = ("title", "effective", "categories", "description", "update_due", "recorded_by")
#: What a coordinator's decision on a disputed review leaves the record's review state at.
COORDINATED = {"proceed": "passed", "uphold": "failed"}
#: The review columns its entry decides.
REVIEW_FIELDS = ("disclosure_id", "reviewer", "outcome", "opinion", "record_blake3", "checklist")


@dataclass(frozen=True, slots=True)
class Finding:
    """One disagreement: a stable ``code`` (what kind), the case, and a sentence for a person."""

    code: str
    case: str
    message: str

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "case": self.case, "message": self.message}


# -- access: the part security decisions use ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessState:
    """Who may read a case, as its log says: level, handler and the principals with an active grant.

    ``size`` is how many entries of the case were folded in (the next entry to read is ``seq == size``).
    """

    level: Level = UNRESTRICTED
    handler: str | None = None
    grantees: frozenset[str] = frozenset()
    size: int = 0
    #: The handler's principal id, as the entry naming the handler records it; it decides, the name shows.
    handler_id: int | None = None
    #: The time of the entry that named the handler, when that entry predates ids in entries: the id is
    #: then the principal its ``role:name`` named at that time (``services.case_access`` looks it up).
    handler_unbound_at: str | None = None


def _handler_id(e: Mapping[str, Any], key: str) -> tuple[int | None, str | None]:
    """(id, None) from an entry that records the handler's id (None: nobody), else (None, its time)."""
    if key in e:
        value = e[key]
        return (value if isinstance(value, int) and not isinstance(value, bool) else None), None
    return None, str(e.get("time"))


def fold_access(state: AccessState, entries: Iterable[Mapping[str, Any]], size: int) -> AccessState:
    """``state`` advanced by ``entries`` (parsed, in order; others than ``ACCESS_KINDS`` are skipped) to
    a log of ``size`` entries."""
    level, handler, grantees = state.level, state.handler, set(state.grantees)
    handler_id, unbound = state.handler_id, state.handler_unbound_at
    for e in entries:
        kind = e.get("kind")
        if kind == "case.opened":
            handler = str(e.get("handler") or e.get("actor"))
            handler_id, unbound = _handler_id(e, "handler_id")
        elif kind == "case.handed_over":
            handler = str(e.get("to"))
            handler_id, unbound = _handler_id(e, "to_id")
        elif kind == "access.restricted":
            level = parse_level(e.get("level"))
        elif kind == "access.granted":
            grantees.add(str(e.get("principal")))
        elif kind == "access.grant_revoked":
            grantees.discard(str(e.get("principal")))
    return AccessState(level, handler, frozenset(grantees), max(size, state.size), handler_id, unbound)


# -- every row ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class CaseRows:
    """The rows one case's log implies, keyed the way ``compare`` matches them to the tables."""

    case: dict[str, Any] = field(default_factory=dict)
    evidence: dict[int, dict[str, Any]] = field(default_factory=dict)           # by seq
    grants: dict[str, list[dict[str, Any]]] = field(default_factory=dict)       # by principal, in order
    holds: dict[int, dict[str, Any]] = field(default_factory=dict)              # by hold id
    disclosures: dict[str, dict[str, Any]] = field(default_factory=dict)        # by disclosure id
    reviews: dict[int, dict[str, Any]] = field(default_factory=dict)            # by entry seq
    #: Objects whose last entry in this case is ``retention.disposed`` (gone under retention).
    disposed: set[str] = field(default_factory=set)
    shares: dict[int, dict[str, Any]] = field(default_factory=dict)             # by share id
    principals: dict[int, dict[str, Any]] = field(default_factory=dict)         # by id (governance log)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)              # by id (governance log)
    law_changes: dict[int, dict[str, Any]] = field(default_factory=dict)        # by id (governance log)
    attachments: dict[str, dict[str, Any]] = field(default_factory=dict)        # by "disclosure/blake3"
    redaction_versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # by "project/version"
    bookmarks: dict[int, dict[str, Any]] = field(default_factory=dict)          # by id (its entry's seq)
    classes: dict[str, dict[str, Any]] = field(default_factory=lambda: {           # by name (governance log)
        c.name: {"years": c.years, "months": c.months, "days": c.days, "trigger": c.trigger} for c in DEFAULT_CLASSES})
    #: Tags on the case and its items, by ``tag_key`` (issue 18, item 3).
    tags: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The bureau's tag list, by name (governance log).
    tag_list: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Stills made from proxies, by entry seq.
    thumbnails: dict[int, dict[str, Any]] = field(default_factory=dict)


def parse_time(value: object) -> dt.datetime | None:
    """A timestamp as the index stores it (naive means UTC); None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _date(value: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _evidence(e: Mapping[str, Any]) -> dict[str, Any]:
    row = {name: e.get(name) for name in EVIDENCE_FIELDS}
    row["recorded_at"] = parse_time(e.get("recorded_at"))
    row["retention_class"] = None
    return row


def _on_case(rows: CaseRows, e: Mapping[str, Any]) -> None:
    kind = e["kind"]
    if kind == "case.opened":
        rows.case.update(title=e.get("title", ""), created_by=e.get("actor"), handler=e.get("handler") or e["actor"],
                         meta=e.get("meta", {}), restriction=UNRESTRICTED, closed_at=None, retention_class=None)
        _bind_handler(rows, e, "handler_id")
    elif kind == "case.handed_over":
        rows.case["handler"] = e.get("to")
        _bind_handler(rows, e, "to_id")
    elif kind == "access.restricted":
        rows.case["restriction"] = e.get("level")
    elif kind == "case.closed":
        rows.case["closed_at"] = parse_time(e.get("closed_at"))
    elif kind == "retention.class_set":
        rows.classes[str(e.get("class"))] = {name: e.get(name) for name in CLASS_FIELDS}
    elif kind == "retention.assigned" and e.get("scope") == "case":
        rows.case["retention_class"] = e.get("class")
    elif kind == "retention.assigned":
        for item in rows.evidence.values():
            if item["blake3"] == e.get("blake3"):
                item["retention_class"] = e.get("class")


def _bind_handler(rows: CaseRows, e: Mapping[str, Any], key: str) -> None:
    """The handler's id when the entry records it; an older entry's is not compared (see AccessState)."""
    handler_id, unbound = _handler_id(e, key)
    if unbound is None:
        rows.case["handler_id"] = handler_id
    else:
        rows.case.pop("handler_id", None)


def _on_grant(rows: CaseRows, e: Mapping[str, Any]) -> None:
    held = rows.grants.setdefault(str(e.get("principal")), [])
    if e["kind"] == "access.granted":
        held.append({"granted_by": e["actor"], "reason": e.get("reason"), "revoked_by": None,
                     "revoke_reason": None})
    elif held and held[-1]["revoked_by"] is None:
        held[-1].update(revoked_by=e["actor"], revoke_reason=e.get("reason"))


#: The columns of a ``shares`` row its ``share.*`` entries determine (never the token's hash).
SHARE_FIELDS = ("organisation", "person", "purpose", "items", "expires_at", "max_downloads", "downloads",
                "created_by", "revoked_by", "revoke_reason", "recipient")
#: The columns of a ``disclosure_attachments`` row its ``disclosure.attached``/``detached`` entries decide.
ATTACHMENT_FIELDS = ("file_name", "size", "attached_by", "seq", "detached_by", "detach_reason")
#: The columns of a ``redaction_versions`` row its ``redaction.saved`` entry decides.
REDACTION_VERSION_FIELDS = ("source_blake3", "name", "hash", "body", "saved_by", "seq")


def _on_share(rows: CaseRows, e: Mapping[str, Any]) -> None:
    """A share's row (issue 18): made, revoked, and one download counted per ``share.downloaded``."""
    share_id = e.get("share")
    if not isinstance(share_id, int):
        return
    if e["kind"] == "share.created":
        items = e.get("items")
        rows.shares[share_id] = {
            "organisation": e.get("organisation"), "person": e.get("person"), "purpose": e.get("purpose"),
            "items": items if isinstance(items, list) else None, "expires_at": parse_time(e.get("expires_at")),
            "max_downloads": e.get("max_downloads"), "downloads": 0, "created_by": e["actor"],
            "revoked_by": None, "revoke_reason": None,
            # shares logged before recipients were recorded were all with prosecutors and courts
            "recipient": e.get("recipient", "judicial")}
    elif share_id in rows.shares and e["kind"] == "share.downloaded":
        rows.shares[share_id]["downloads"] += 1
    elif share_id in rows.shares and e["kind"] == "share.revoked":
        rows.shares[share_id].update(revoked_by=e["actor"], revoke_reason=e.get("reason"))


def _on_principal(rows: CaseRows, e: Mapping[str, Any]) -> None:
    """A user's or station's row: added (or recorded once after an upgrade), revoked, reissued, renamed.

    A ``principal.profile_set`` before the principal's ``principal.recorded`` (a log older than
    principal entries) is kept and then replaced by the recorded values.
    """
    pid = e.get("principal_id")
    if not isinstance(pid, int):
        return
    kind = e["kind"]
    if kind in ("principal.added", "principal.recorded"):
        rows.principals[pid] = {"name": e.get("principal"), "role": e.get("role"),
                                "revoked": bool(e.get("revoked", False)), "display_name": e.get("display_name", ""),
                                "badge_no": e.get("badge_no", ""), "unit": e.get("unit", "")}
    elif kind == "principal.profile_set":
        rows.principals.setdefault(pid, {}).update({k: e.get(k, "") for k in ("display_name", "badge_no", "unit")})
    elif pid in rows.principals and kind in ("principal.revoked", "principal.reissued"):
        rows.principals[pid]["revoked"] = kind == "principal.revoked"


def _on_page(rows: CaseRows, e: Mapping[str, Any]) -> None:
    """A basic-information page (§二): drafted, approved, published, updated, withdrawn."""
    page_id, kind = e.get("page"), e["kind"]
    if not isinstance(page_id, str):
        return
    if kind == "basic_info.created":
        rows.pages[page_id] = {"kind": e.get("page_kind"), "title": e.get("title"), "body": e.get("body"),
                               "category": e.get("category"), "state": "draft", "public_body": None,
                               "published_on": None, "created_by": e["actor"], "approved_by": None,
                               "published_by": None}
        return
    page = rows.pages.get(page_id)
    if page is None or kind == "basic_info.update_required":
        return
    page["state"] = e.get("to", page["state"])
    if kind == "basic_info.approved":
        page["approved_by"] = e["actor"]
    elif kind == "basic_info.published":
        page.update(public_body=e.get("body"), published_on=_date(e.get("published_on")), published_by=e["actor"])
    elif kind == "basic_info.updated":
        page.update(body=e.get("body"), public_body=e.get("body"))
#: Entry kinds of bookmarks at a moment of a recording (issue 18 item 4): made, edited, removed.
BOOKMARK_KINDS = ("evidence.bookmarked", "evidence.bookmark_edited", "evidence.bookmark_removed")
#: The ``bookmarks`` columns its entries determine.
BOOKMARK_FIELDS = ("blake3", "at_ms", "note", "author", "author_id", "edited_by", "edits", "removed_by")


def _on_bookmark(rows: CaseRows, e: Mapping[str, Any]) -> None:
    """A bookmark is named by the seq of its ``evidence.bookmarked`` entry; an edit or a removal names it."""
    if e["kind"] == "evidence.bookmarked":
        rows.bookmarks[e["seq"]] = {"blake3": e.get("blake3"), "at_ms": e.get("at_ms"), "note": e.get("note"),
                                    "author": e["actor"], "author_id": e.get("author_id"), "edited_by": None,
                                    "edits": 0, "removed_by": None}
        return
    bookmark_id = e.get("bookmark")
    mark = rows.bookmarks.get(bookmark_id) if isinstance(bookmark_id, int) else None
    if mark is None:
        return
    if e["kind"] == "evidence.bookmark_edited":
        mark.update(at_ms=e.get("at_ms"), note=e.get("note"), edited_by=e["actor"], edits=mark["edits"] + 1)
    else:
        mark["removed_by"] = e["actor"]


def fold_bookmarks(entries: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """The bookmarks a case's bookmark entries imply (parsed, in order), removed ones included."""
    rows = CaseRows()
    for e in entries:
        if e.get("kind") in BOOKMARK_KINDS:
            _on_bookmark(rows, e)
    return rows.bookmarks


def _on_hold(rows: CaseRows, e: Mapping[str, Any]) -> None:
    hold_id = e.get("hold")
    if not isinstance(hold_id, int):
        return
    if e["kind"] == "hold.placed":
        rows.holds[hold_id] = {"blake3": e.get("blake3"), "reason": e.get("reason"), "placed_by": e["actor"],
                               "lifted_by": None, "lift_reason": None}
    elif hold_id in rows.holds:
        rows.holds[hold_id].update(lifted_by=e["actor"], lift_reason=e.get("reason"))


def _on_disclosure(rows: CaseRows, e: Mapping[str, Any]) -> None:
    kind, did = e["kind"], str(e.get("disclosure"))
    if kind == "disclosure.created":
        rows.disclosures[did] = {"case_id": e.get("case"), "decision_no": e.get("decision_no"),
                                 "created_by": e["actor"], "state": "draft",
                                 "review_state": e.get("review_state", "none"), "major": list(e.get("major") or []),
                                 "published_on": None, "takedown_due": None, "public_text": None,
                                 "end_reason": None, "notice": None}
        return
    d = rows.disclosures.get(did)
    if d is None:
        return
    if kind == "disclosure.flagged_major":
        d["major"] = list(e.get("criteria") or [])
        d["review_state"] = "passed" if d["review_state"] == "passed" else "pending"
    elif kind.startswith("review."):
        outcome = kind.removeprefix("review.")
        # A coordinator's decision on a dispute (§四(四)) leaves the review passed (proceed) or failed (uphold).
        d["review_state"] = (COORDINATED.get(str(e.get("decision")), "disputed") if outcome == "coordinated"
                             else outcome)
        rows.reviews[e["seq"]] = {"disclosure_id": did, "reviewer": e["actor"], "outcome": outcome,
                                  "opinion": e.get("opinion", ""), "record_blake3": e.get("opinion_blake3"),
                                  "checklist": e.get("checklist", {})}
    elif "to" in e:
        d["state"] = e["to"]
        for name, value in (("published_on", _date(e.get("published_on"))),
                            ("takedown_due", _date(e.get("takedown_due"))),
                            ("public_text", e.get("public_text")), ("end_reason", e.get("end_reason")),
                            ("notice", e.get("explanation"))):
            if value is not None:
                d[name] = value


#: The columns of a ``tags`` row (the bureau's list) its governance entries decide.
TAG_LIST_FIELDS = ("label_zh", "label_en", "defined_by", "retired")
#: The columns of a ``thumbnails`` row its ``evidence.thumbnail`` entry decides.
THUMBNAIL_FIELDS = ("blake3", "of_blake3", "original_blake3", "duration_ms")


def tag_key(blake3: str | None, tag: str) -> str:
    """How a tag on an item (its hash) or on the whole case (``case``) is matched to its row."""
    return f"{blake3 or 'case'}:{tag}"


def _on_tag(rows: CaseRows, e: Mapping[str, Any]) -> None:
    """The bureau's list (``tag.defined``/``tag.retired``) and tags on a case or item (``tag.added``/``removed``)."""
    kind, name = e["kind"], str(e.get("tag"))
    if kind == "tag.defined":
        rows.tag_list[name] = {"label_zh": e.get("label_zh"), "label_en": e.get("label_en"),
                               "defined_by": e["actor"], "retired": False}
    elif kind == "tag.retired" and name in rows.tag_list:
        rows.tag_list[name]["retired"] = True
    elif kind == "tag.added":
        rows.tags[tag_key(e.get("blake3"), name)] = {"tagged_by": e["actor"]}
    elif kind == "tag.removed":
        rows.tags.pop(tag_key(e.get("blake3"), name), None)


def _on_thumbnail(rows: CaseRows, e: Mapping[str, Any]) -> None:
    rows.thumbnails[e["seq"]] = {name: e.get(name) for name in THUMBNAIL_FIELDS}


def attachment_key(disclosure_id: object, blake3: object) -> str:
    return f"{disclosure_id}/{blake3}"


def _on_attachment(rows: CaseRows, e: Mapping[str, Any]) -> None:
    """A render attached to a disclosure record (issue 19 item 5), or taken off it with a reason."""
    key = attachment_key(e.get("disclosure"), e.get("blake3"))
    if e["kind"] == "disclosure.attached":
        rows.attachments[key] = {"file_name": e.get("file_name"), "size": e.get("size"), "attached_by": e["actor"],
                                 "seq": e["seq"], "detached_by": None, "detach_reason": None}
    elif key in rows.attachments:
        rows.attachments[key].update(detached_by=e["actor"], detach_reason=e.get("reason"))


#: The keys of a ``redaction.saved`` entry that are the version's body (``policy.redaction.Project``).
REDACTION_BODY_KEYS = ("tracks", "audio")


def _on_redaction(rows: CaseRows, e: Mapping[str, Any]) -> None:
    """A saved version of a redaction project: the entry carries the whole body it hashed."""
    rows.redaction_versions[f"{e.get('project')}/{e.get('version')}"] = {
        "source_blake3": e.get("source"), "name": e.get("name"), "hash": e.get("hash"),
        "body": {k: e.get(k) for k in REDACTION_BODY_KEYS}, "saved_by": e["actor"], "seq": e["seq"]}


def _on_evidence(rows: CaseRows, e: Mapping[str, Any]) -> None:
    rows.evidence[e["seq"]] = _evidence(e)
    rows.disposed.discard(str(e.get("blake3")))


def _on_disposed(rows: CaseRows, e: Mapping[str, Any]) -> None:
    rows.disposed.add(str(e.get("blake3")))


def _on_law_change(rows: CaseRows, e: Mapping[str, Any]) -> None:
    if isinstance(e.get("law_change"), int):
        rows.law_changes[e["law_change"]] = {
            "title": e.get("title"), "effective": _date(e.get("effective")), "categories": e.get("categories"),
            "description": e.get("description"), "update_due": _date(e.get("update_due")), "recorded_by": e["actor"]}


Folder = Callable[[CaseRows, Mapping[str, Any]], None]
#: Which fold an entry kind goes to: exact kinds first, then by prefix; any other kind is about the case.
_BY_KIND: dict[str, Folder] = {
    **dict.fromkeys(EVIDENCE_KINDS, _on_evidence),
    "retention.disposed": _on_disposed,
    "access.granted": _on_grant, "access.grant_revoked": _on_grant,
    "hold.placed": _on_hold, "hold.lifted": _on_hold,
    "disclosure.attached": _on_attachment, "disclosure.detached": _on_attachment,
    "redaction.saved": _on_redaction,
    "law.changed": _on_law_change,
    **dict.fromkeys(BOOKMARK_KINDS, _on_bookmark),
    "evidence.thumbnail": _on_thumbnail,
}
_BY_PREFIX: tuple[tuple[str, Folder], ...] = (
    ("disclosure.", _on_disclosure), ("review.", _on_disclosure), ("share.", _on_share),
    ("principal.", _on_principal), ("basic_info.", _on_page), ("tag.", _on_tag),
)


def _folder(kind: str) -> Folder:
    if (exact := _BY_KIND.get(kind)) is not None:
        return exact
    return next((f for prefix, f in _BY_PREFIX if kind.startswith(prefix)), _on_case)


def fold(entries: Iterable[Mapping[str, Any]]) -> CaseRows:
    """The rows a case's entries imply (parsed entries, in ``seq`` order, from ``seq`` 0)."""
    rows = CaseRows()
    for e in entries:
        _folder(str(e.get("kind")))(rows, e)
    return rows


# -- comparing ---------------------------------------------------------------------------------------


def _differences(expected: Mapping[str, Any], actual: Mapping[str, Any], names: Sequence[str]) -> list[str]:
    return [f"{name} {actual.get(name)!r} (log: {expected.get(name)!r})"
            for name in names if _norm(actual.get(name)) != _norm(expected.get(name))]


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    if isinstance(value, tuple):
        return list(value)
    return value


def _keyed(case_id: str, what: str, code: str, expected: Mapping[Any, Mapping[str, Any]],
           actual: Mapping[Any, Mapping[str, Any]], names: Sequence[str]) -> Iterator[Finding]:
    """Rows matched by key: missing ones, unlogged ones and differing columns."""
    for key in sorted(set(expected) | set(actual), key=str):
        if key not in actual:
            yield Finding(f"{code}_missing", case_id,
                          f"case {case_id}: {what} {key} is in the log but not in the table")
        elif key not in expected:
            yield Finding(f"{code}_unlogged", case_id, f"case {case_id}: {what} {key} is in the table but no "
                                                       "log entry made it")
        elif diffs := _differences(expected[key], actual[key], names):
            yield Finding(f"{code}_mismatch", case_id, f"case {case_id}: {what} {key}: the table says "
                                                       + "; ".join(diffs))


@dataclass(frozen=True, slots=True)
class TableRows:
    """The rows the database holds for one case, as mappings (see ``CaseRows`` for the keys)."""

    case: Mapping[str, Any]
    evidence: Mapping[int, Mapping[str, Any]]
    grants: Mapping[str, Sequence[Mapping[str, Any]]]
    holds: Mapping[int, Mapping[str, Any]]
    disclosures: Mapping[str, Mapping[str, Any]]
    reviews: Mapping[int, Mapping[str, Any]]
    #: The case's objects the ``objects`` table marks disposed of.
    disposed: frozenset[str] = frozenset()
    #: ``retention_classes`` by name, given when the case is the governance log (None: not compared).
    classes: Mapping[str, Mapping[str, Any]] | None = None
    #: ``shares`` by id (None: not compared).
    shares: Mapping[int, Mapping[str, Any]] | None = None
    #: ``principals`` by id, given with ``classes`` (None: not compared).
    principals: Mapping[int, Mapping[str, Any]] | None = None
    #: ``basic_info_pages`` by id, given with ``classes`` (None: not compared).
    pages: Mapping[str, Mapping[str, Any]] | None = None
    #: ``law_changes`` by id, given with ``classes`` (None: not compared).
    law_changes: Mapping[int, Mapping[str, Any]] | None = None
    #: ``disclosure_attachments`` by "disclosure/blake3" (None: not compared).
    attachments: Mapping[str, Mapping[str, Any]] | None = None
    #: ``redaction_versions`` by "project/version" (None: not compared).
    redaction_versions: Mapping[str, Mapping[str, Any]] | None = None
    #: ``bookmarks`` by id (None: not compared).
    bookmarks: Mapping[int, Mapping[str, Any]] | None = None
    #: ``item_tags`` of the case by ``tag_key`` (None: not compared).
    tags: Mapping[str, Mapping[str, Any]] | None = None
    #: The bureau's ``tags`` list by name, given when the case is the governance log (None: not compared).
    tag_list: Mapping[str, Mapping[str, Any]] | None = None
    #: ``thumbnails`` of the case by seq (None: not compared).
    thumbnails: Mapping[int, Mapping[str, Any]] | None = None


#: The tables compared only when given (``TableRows`` field, also the ``CaseRows`` field): what a row
#: is called, its finding code's stem and the columns compared, in the order findings are reported.
_OPTIONAL_TABLES: tuple[tuple[str, str, str, Sequence[str]], ...] = (
    ("shares", "share", "share", SHARE_FIELDS),
    ("principals", "principal", "principal", PRINCIPAL_FIELDS),
    ("pages", "basic-information page", "basic_info_page", PAGE_FIELDS),
    ("law_changes", "law change", "law_change", LAW_CHANGE_FIELDS),
    ("attachments", "render attached to disclosure", "attachment", ATTACHMENT_FIELDS),
    ("redaction_versions", "redaction project version", "redaction_version", REDACTION_VERSION_FIELDS),
    ("bookmarks", "bookmark", "bookmark", BOOKMARK_FIELDS),
    ("classes", "retention class", "retention_class", CLASS_FIELDS),
    ("tags", "tag", "tag", ("tagged_by",)),
    ("tag_list", "tag of the bureau's list", "tag_list", TAG_LIST_FIELDS),
    ("thumbnails", "thumbnail entry", "thumbnail", THUMBNAIL_FIELDS),
)


def compare(case_id: str, derived: CaseRows, table: TableRows) -> list[Finding]:
    """Every disagreement between what the log implies and what the tables hold, in a stable order."""
    found: list[Finding] = []
    diffs = _differences(derived.case, table.case, ("handler", "restriction", "closed_at", "retention_class",
                                                    "title", "created_by", "meta",
                                                    *(("handler_id",) if "handler_id" in derived.case else ())))
    if diffs:
        found.append(Finding("case_row_mismatch", case_id, f"case {case_id}: the cases row says " + "; ".join(diffs)))
    found += _keyed(case_id, "evidence entry", "evidence", derived.evidence, table.evidence, EVIDENCE_FIELDS)
    found += _grants(case_id, derived.grants, table.grants)
    found += _keyed(case_id, "legal hold", "hold", derived.holds, table.holds,
                    ("blake3", "reason", "placed_by", "lifted_by", "lift_reason"))
    found += _keyed(case_id, "disclosure record", "disclosure", derived.disclosures, table.disclosures,
                    DISCLOSURE_FIELDS)
    found += _keyed(case_id, "legal review of entry", "review", derived.reviews, table.reviews, REVIEW_FIELDS)
    for hexd in sorted(table.disposed - derived.disposed):
        found.append(Finding("object_disposal_unlogged", case_id,
                             f"case {case_id}: object {hexd} is marked disposed of in the objects table, but the "
                             "case log has no retention.disposed entry after its evidence entries"))
    for attr, what, code, names in _OPTIONAL_TABLES:
        if (rows := getattr(table, attr)) is not None:
            found += _keyed(case_id, what, code, getattr(derived, attr), rows, names)
    return found


def compare_principals(case_id: str, logged: Mapping[int, Mapping[str, Any]],
                       table: Mapping[int, Mapping[str, Any]]) -> list[Finding]:
    """The ``principals`` table against the governance log's ``principal.*`` entries, by id."""
    return list(_keyed(case_id, "principal", "principal", logged, table, PRINCIPAL_FIELDS))


def _grants(case_id: str, expected: Mapping[str, Sequence[Mapping[str, Any]]],
            actual: Mapping[str, Sequence[Mapping[str, Any]]]) -> Iterator[Finding]:
    """Grants per principal, in order: the n-th grant row of a principal is its n-th ``access.granted``."""
    for principal in sorted(set(expected) | set(actual)):
        logged, rows = expected.get(principal, ()), actual.get(principal, ())
        pairs = {i: (logged[i] if i < len(logged) else None, rows[i] if i < len(rows) else None)
                 for i in range(max(len(logged), len(rows)))}
        for i, (want, have) in pairs.items():
            where = f"case {case_id}: grant {i + 1} of {principal}"
            if have is None:
                yield Finding("grant_missing", case_id, f"{where} is in the log but not in the table")
            elif want is None:
                active = " (active: it opens the case to them)" if have.get("revoked_by") is None else ""
                yield Finding("grant_unlogged", case_id, f"{where} is in the table but no access.granted entry "
                                                         f"made it{active}")
            elif diffs := _differences(want, have, ("granted_by", "reason", "revoked_by", "revoke_reason")):
                yield Finding("grant_mismatch", case_id, f"{where}: the table says " + "; ".join(diffs))


def access_from_rows(rows: CaseRows) -> AccessState:
    """The access part of a full fold (for tests and scrub: both folds must agree)."""
    grantees = frozenset(p for p, held in rows.grants.items() if held and held[-1]["revoked_by"] is None)
    return replace(AccessState(), level=parse_level(rows.case.get("restriction", UNRESTRICTED)),
                   handler=rows.case.get("handler"), grantees=grantees, handler_id=rows.case.get("handler_id"))
