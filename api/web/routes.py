"""The one web route table: method, path, handler, roles, and whether it answers as a page or data.

Role sets are the API's (``api.routes``), so a page never shows more than its API twin allows: staff
may open cases, only READERS may see evidence content, only INVESTIGATORS verify, export and place or
lift legal holds, DISCLOSURE staff move disclosure records (DISCLOSURE_READERS look), only the reviewer
role records a legal review, only ADMIN administers.  The public portal needs no sign-in.  The role
matrix test is driven from this table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from api import bookmarks as api_bookmarks
from api import redaction as api_redaction
from api import uploads as api_uploads
from api import verify as api_verify
from api.web import (
    admin,
    audit,
    basic_info,
    cases,
    disclosure,
    intake,
    law_changes,
    organise,
    public,
    redact,
    restriction,
    retention,
    review,
    session,
    shares,
    verify,
)
from api.web.guard import Kind, guard
from api.web.nav import REVIEWERS
from api.web.render import STATIC_DIR
from services.permissions import ADMIN, DISCLOSURE, DISCLOSURE_READERS, INVESTIGATORS, READERS, STAFF, roles_for

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: Records a legal review (passed / failed); the API's twin checks the same role inside its handler.
REVIEWER = ("reviewer",)


@dataclass(frozen=True)
class WebRoute:
    method: str
    path: str
    handler: Handler
    roles: tuple[str, ...] | None  # None: no session needed (the sign-in page and the public portal)
    summary: str
    kind: Kind = "page"  # "page": HTML, signed-out -> sign-in redirect; "data": JSON/bytes, 401/403 JSON
    need_to_know: bool = True  # False: the handler applies RULES §三 itself (the forms managing case access)


WEB_ROUTES: tuple[WebRoute, ...] = (
    WebRoute("GET", "/", session.home, STAFF, "The role's start page"),
    WebRoute("GET", "/signin", session.signin_form, None, "Sign-in form"),
    WebRoute("POST", "/signin", session.signin, None, "Sign in with a user token; sets the session cookie"),
    WebRoute("POST", "/signout", session.signout, STAFF, "Sign out"),
    WebRoute("GET", "/cases", cases.search, STAFF, "Find cases by number, officer, station, dates"),
    WebRoute("GET", "/cases/{case}", cases.case_page, STAFF, "A case: checkpoint, evidence, records, timeline"),
    WebRoute("GET", "/cases/{case}/play/{blake3}", cases.player, READERS,
             "Ask the access reason, then play or download an object"),
    WebRoute("GET", "/cases/{case}/objects/{blake3}", cases.read_object, READERS,
             "Object bytes with HTTP Range; needs ?purpose=, logged as evidence.accessed", kind="data"),
    WebRoute("POST", "/cases/{case}/objects/{blake3}/verify", cases.verify_item, INVESTIGATORS,
             "Re-hash a stored object now", kind="data"),
    WebRoute("POST", "/cases/{case}/export", cases.export, INVESTIGATORS,
             "Download the case bundle with its media (needs a purpose; logged)"),
    # -- restricted-access cases (RULES §三, need to know) --
    WebRoute("POST", "/cases/{case}/restriction", restriction.set_level, INVESTIGATORS,
             "Raise (a reader of the case) or lower (an admin) its restriction, with a reason", need_to_know=False),
    WebRoute("POST", "/cases/{case}/grants", restriction.grant, INVESTIGATORS,
             "Grant a user access to the case (a reader of it, or an admin), with a reason", need_to_know=False),
    WebRoute("POST", "/cases/{case}/grants/{principal}/revoke", restriction.revoke, INVESTIGATORS,
             "Revoke a user's grant to the case, with a reason", need_to_know=False),
    WebRoute("POST", "/cases/{case}/handover", restriction.hand_over, INVESTIGATORS,
             "Hand the case to another investigator (its handler or an admin), with a reason"),
    WebRoute("GET", "/verify", verify.verify_page, STAFF, "Verify a file, hashed in the browser"),
    WebRoute("GET", "/ui/api/verify/{blake3}", api_verify.verify_hash, STAFF,
             "The API's verify-by-hash answer under the web session", kind="data"),
    WebRoute("GET", "/admin", admin.show, ADMIN, "Users, stations, tokens, signing key"),
    WebRoute("POST", "/admin/principals", admin.add, ADMIN, "Create a user or station; shows its token once"),
    WebRoute("POST", "/admin/principals/{name}/revoke", admin.revoke, ADMIN, "Revoke a token"),
    WebRoute("POST", "/admin/principals/{name}/reissue", admin.reissue, ADMIN,
             "Replace a token; shows the new one once"),
    WebRoute("POST", "/admin/principals/{name}/signout", admin.sign_out_everywhere, ADMIN,
             "End every web session of a user (the token keeps working)"),
    WebRoute("POST", "/admin/sessions/revoke", admin.end_session, ADMIN, "End one web session"),
    WebRoute("POST", "/admin/principals/{name}/profile", admin.edit_profile, ADMIN,
             "Change a user's display name, badge number (执法证号) and unit (logged in the governance log)"),
    # -- disclosure (公示) --
    WebRoute("GET", "/disclosure", disclosure.records, DISCLOSURE_READERS,
             "Disclosure records: status, takedown and update deadlines, overdue flags, what is due today"),
    WebRoute("GET", "/disclosure/new", disclosure.new_form, DISCLOSURE, "Draft form"),
    WebRoute("POST", "/disclosure/new", disclosure.create, DISCLOSURE, "Save a draft linked to its case"),
    WebRoute("GET", "/disclosure/{id}", disclosure.show, DISCLOSURE_READERS,
             "A record: raw beside the masked preview, history, reviews, the actions its state allows"),
    WebRoute("POST", "/disclosure/{id}/major", disclosure.flag_major, DISCLOSURE,
             "Flag a draft major by §四(二) criteria"),
    WebRoute("POST", "/disclosure/{id}/dispute", disclosure.dispute, DISCLOSURE,
             "Record the handling side's disagreement with a failed legal review"),
    WebRoute("POST", "/disclosure/{id}/links", disclosure.check_links, DISCLOSURE_READERS,
             "Check the linked evidence now (logged as an access)"),
    WebRoute("POST", "/disclosure/{id}/secrets-treatment", disclosure.treat, roles_for("disclosure.treat"),
             "Record the secrets treatment of a draft (trade-secret and privacy cases)"),
    WebRoute("POST", "/disclosure/{id}/findings", disclosure.resolve_finding, DISCLOSURE,
             "Resolve a publication-check finding: mask it (drafts) or clear it as not personal data, with why"),
    WebRoute("POST", "/disclosure/{id}/{action}", disclosure.act, DISCLOSURE,
             "Lifecycle step: approve, publish, correct, update, take-down, revoke, withdraw"),
    # -- legal review (法制审核) --
    WebRoute("GET", "/review", review.queue, REVIEWERS, "Major decisions awaiting legal review"),
    WebRoute("GET", "/review/{id}", review.show, REVIEWERS, "A decision under review: record, checklist, past reviews"),
    WebRoute("POST", "/review/{id}", review.submit, REVIEWER, "Pass or fail a legal review, with the checklist"),
    WebRoute("POST", "/review/{id}/coordinate", review.coordinate, roles_for("review.coordinate"),
             "The coordinator decides a disputed review (§四(四)): proceed or uphold"),
    # -- retention (留存期限) and legal holds (法律保全) --
    WebRoute("GET", "/admin/retention", retention.show, ADMIN,
             "Retention classes, a case's retention, legal holds, disposition preview"),
    WebRoute("POST", "/admin/retention/classes", retention.set_class, ADMIN, "Create or change a retention class"),
    WebRoute("POST", "/cases/{case}/retention", retention.assign, INVESTIGATORS,
             "Assign a retention class to a case or one item"),
    WebRoute("POST", "/cases/{case}/close", retention.close, INVESTIGATORS, "Close a case (starts closure clocks)"),
    WebRoute("POST", "/holds", retention.place_hold, INVESTIGATORS, "Place a legal hold on a case or one item"),
    WebRoute("POST", "/holds/{hold}/lift", retention.lift_hold, INVESTIGATORS,
             "Lift a legal hold (its placer or an admin)"),
    # -- law changes (法律法规变更) --
    WebRoute("GET", "/admin/law-changes", law_changes.show, ADMIN, "Law changes; compute a 20-working-day deadline"),
    WebRoute("POST", "/admin/law-changes", law_changes.record, ADMIN, "Record a law change"),
    WebRoute("GET", "/basic-info", basic_info.show, DISCLOSURE,
             "Basic enforcement information pages (§二): draft, approve, publish, update, withdraw"),
    WebRoute("POST", "/basic-info", basic_info.create, DISCLOSURE, "Draft a basic-information page"),
    WebRoute("POST", "/basic-info/{id}/{action}", basic_info.act, DISCLOSURE, "A basic-information page's step"),
    WebRoute("POST", "/admin/calendar/years", law_changes.add_year, ADMIN,
             "Add (or correct) a year of the working-day calendar; used at once"),
    # -- public portal (公示平台): no sign-in --
    WebRoute("GET", "/public", public.portal, None, "Published decisions, masked, with their case checkpoints"),
    WebRoute("GET", "/public/records/{id}/media/{blake3}", public.media, None,
             "A published record's redacted render, while the record is published (re-hashed as it streams)",
             kind="data"),
    # -- shares with prosecutors and courts (issue 18): the token in the link is the credential --
    WebRoute("GET", "/s/{token}", shares.share_page, None,
             "A share's page: its items, players, downloads and the in-browser check; logged share.viewed"),
    WebRoute("GET", "/s/{token}/objects/{blake3}", shares.share_object, None,
             "A shared original (counted, share.downloaded) or its proxy (?play=1)", kind="data"),
    WebRoute("GET", "/s/{token}/bundle", shares.share_bundle, None,
             "The court bundle of a whole-case share (counted, share.downloaded)", kind="data"),
    WebRoute("GET", "/s/{token}/verify/{blake3}", shares.share_verify, None,
             "The /verify answer within the share's own items", kind="data"),
    WebRoute("POST", "/cases/{case}/shares", shares.create, roles_for("share.create"),
             "Share selected items or the whole case with a named recipient; shows the link once"),
    WebRoute("POST", "/cases/{case}/shares/{id}/revoke", shares.revoke, roles_for("share.revoke"),
             "Revoke a share at once, with a reason"),
    # -- the audit view (issue 18, item 5) --
    WebRoute("GET", "/admin/audit", audit.show, roles_for("audit.read"),
             "Who viewed, downloaded, exported or shared what, across cases; filters; links to entry and proof"),
    WebRoute("GET", "/admin/audit.csv", audit.export_csv, roles_for("audit.read"),
             "The audit view's rows as CSV (times in UTC)", kind="data"),
    WebRoute("GET", "/ui/api/cases/{case}/receipts/{seq}", api_verify.receipt, STAFF,
             "The API's receipt (entry, inclusion proof, signed checkpoint) under the web session", kind="data"),
    # -- intake in the browser (issue 18, item 2): the stations' upload path under the web session --
    WebRoute("GET", "/open-case", intake.new_case_form, roles_for("case.open"), "Open a case: the form"),
    WebRoute("POST", "/open-case", intake.open_case, roles_for("case.open"),
             "Open a case (its handler an active investigator; the governance log's id is reserved)"),
    WebRoute("POST", "/cases/{case}/records", intake.write_record, roles_for("record.add"),
             "Write a text record at its enforcement stage (stored write-once, logged record.added)"),
    WebRoute("POST", "/ui/api/uploads", api_uploads.create_upload, roles_for("evidence.add"),
             "Declare a file hashed in the browser (BLAKE3, size, case): the API's upload under the session",
             kind="data"),
    WebRoute("GET", "/ui/api/uploads/{upload}", api_uploads.upload_status, roles_for("evidence.add"),
             "Where to resume a browser upload", kind="data"),
    WebRoute("PUT", "/ui/api/uploads/{upload}", api_uploads.put_chunk, roles_for("evidence.add"),
             "Bytes from ?offset=N; the last byte commits (refused if the BLAKE3 differs) and returns the receipt",
             kind="data"),
    WebRoute("DELETE", "/ui/api/uploads/{upload}", api_uploads.abort_upload, roles_for("evidence.add"),
             "Give up a browser upload", kind="data"),
    # -- the redaction editor (issue 19, item 4): the page, and the API's redaction handlers under the session --
    WebRoute("GET", "/cases/{case}/redact/{blake3}", redact.editor, roles_for("redaction.view"),
             "Redaction editor: draw and keyframe regions, review face suggestions, save, render, compare by frame"),
    WebRoute("GET", "/ui/api/cases/{case}/redactions", api_redaction.list_projects, roles_for("redaction.view"),
             "The case's redaction versions and renders under the web session", kind="data"),
    WebRoute("POST", "/ui/api/cases/{case}/redactions", api_redaction.save_project, roles_for("redaction.edit"),
             "Save a version of a redaction project (logged redaction.saved) under the web session", kind="data"),
    WebRoute("POST", "/ui/api/cases/{case}/redactions/suggest", api_redaction.suggest,
             roles_for("redaction.suggest"), "Suggested face tracks under the web session", kind="data"),
    WebRoute("POST", "/ui/api/cases/{case}/redactions/{project}/renders", api_redaction.request_render,
             roles_for("redaction.render"), "Queue a render under the web session", kind="data"),
    WebRoute("GET", "/ui/api/cases/{case}/renders/{render}", api_redaction.render_status,
             roles_for("redaction.view"), "A render's state and progress under the web session", kind="data"),
    # -- the player's bookmarks (issue 18 item 4): the API's handlers under the web session --
    WebRoute("GET", "/ui/api/cases/{case}/bookmarks", api_bookmarks.list_bookmarks, roles_for("bookmark.list"),
             "An item's bookmarks (?blake3=), in time order", kind="data"),
    WebRoute("POST", "/ui/api/cases/{case}/bookmarks", api_bookmarks.add_bookmark, roles_for("bookmark.add"),
             "Bookmark an item at a time, with a note (logged evidence.bookmarked)", kind="data"),
    WebRoute("POST", "/ui/api/cases/{case}/bookmarks/{id}", api_bookmarks.edit_bookmark, roles_for("bookmark.edit"),
             "Change a bookmark's time or note (its author or an admin; logged)", kind="data"),
    WebRoute("POST", "/ui/api/cases/{case}/bookmarks/{id}/remove", api_bookmarks.remove_bookmark,
             roles_for("bookmark.remove"), "Remove a bookmark (its author or an admin; logged)", kind="data"),
    # -- organising and finding (issue 18, item 3) --
    WebRoute("GET", "/search", organise.search_page, roles_for("search.items"),
             "Find evidence across the cases one may read: facets with counts, local days, free text"),
    WebRoute("GET", "/admin/tags", organise.tags_show, roles_for("tag.define"), "The bureau's tag list"),
    WebRoute("POST", "/admin/tags", organise.tags_define, roles_for("tag.define"),
             "Add a tag to the list or relabel it (logged in the governance log)"),
    WebRoute("POST", "/admin/tags/{name}/retire", organise.tags_retire, roles_for("tag.define"), "Retire a tag"),
    WebRoute("POST", "/cases/{case}/tags", organise.case_tag, roles_for("tag.apply"),
             "Put a tag on the case or take it off (logged)"),
    WebRoute("POST", "/cases/{case}/bulk", organise.bulk_action, INVESTIGATORS,
             "Hold, tag, untag, share or assign the selected items; each item's outcome", kind="data"),
    WebRoute("POST", "/cases/{case}/bulk/export", organise.export_selection, roles_for("case.export"),
             "Download a bundle with the selected items' media (needs a purpose; each read logged)"),
    WebRoute("GET", "/cases/{case}/stills/{blake3}", organise.still, READERS,
             "A recording's still for the evidence list (logged once per window)", kind="data"),
)


def add_web_routes(app: web.Application) -> None:
    app.router.add_routes([web.route(r.method, r.path, guard(r.roles, r.handler, r.kind, need_to_know=r.need_to_know))
                           for r in WEB_ROUTES])
    # Static assets only (stylesheet, scripts, vendored libraries): no case data behind them.
    app.router.add_static("/static/", STATIC_DIR, show_index=False, follow_symlinks=False)
