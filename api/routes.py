"""The one route table: path, method, handler, roles allowed, and what the OpenAPI document says.

Roles are part of the route, not scattered through handlers, so the role matrix is readable here
and tested from this table.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api import (
    audit,
    basic_info,
    bookmarks,
    calendar,
    cases,
    disclosures,
    openapi,
    ops,
    organise,
    publication_check,
    redaction,
    releases,
    restriction,
    retention,
    shares,
    uploads,
    verify,
)
from api.auth import guard
from api.endpoint import Endpoint
from api.schemas import BLAKE3, CASE_ID, DATE, NAME, REASON, enum, integer, obj, text
from api.validation import validated
from policy import restriction as restriction_levels
from policy.lifecycle import TAKEDOWN_REASONS
from policy.retention import TRIGGERS
from policy.review import PENALTY_TYPES, RECORDED_OUTCOMES
from policy.takedown import PARTY_TYPES
from services.permissions import (
    ADMIN,
    DISCLOSURE,
    DISCLOSURE_READERS,
    INVESTIGATORS,
    REVIEW,
    STAFF,
    roles_for,
)
from storage.principals import ROLES as PRINCIPAL_ROLES

# Role groups come from the services' one table of who may do what; a route that performs a use case
# admits exactly the roles the use case does (``roles_for``), so a refusal here is the service's own.




CASE = ("case", "path", "string", True)
DID = ("id", "path", "string", True)
REASON_SCHEMA = obj(("reason",), reason=REASON)
RECORD_PROPS: dict[str, dict[str, Any]] = {
    **{name: text(20_000) for name in ("decision_no", "party_name", "violation", "legal_basis", "penalty",
                                       "party_id_no", "party_phone", "party_address", "category")},
    "party_type": enum(PARTY_TYPES), "decision_date": DATE}
RECORD_LISTS: dict[str, dict[str, Any]] = {
    "other_names": {"type": "array", "items": text(500), "maxItems": 100},
    "excluded_fields": {"type": "array", "items": enum(RECORD_PROPS), "maxItems": 20},
    "masked_values": {"type": "array", "items": text(500), "maxItems": 200}}
BLAKE3_PARAM = ("blake3", "path", "string", True)
UPLOAD = ("upload", "path", "string", True)
LEVEL_ENUM = list(restriction_levels.ORDER)
REDACTION_ID = "^[A-Za-z0-9._-]{1,64}$"
_STATION_NAME = "^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$"

#: Who sends files through the resumable upload path: docking stations, and users adding files to a case
#: (the browser's intake); the service then decides by the principal's own action.
UPLOADERS = (*roles_for("evidence.upload"), *roles_for("evidence.add"))

UPLOAD_SCHEMA = obj(
    ("blake3", "size", "file_name"),
    blake3=BLAKE3, size=integer(0, 256 * 1024**3), file_name=text(255, pattern=r"^[^\x00-\x1f/\\]*$"),
    kind=enum(["original", "proxy", "record"]), case=CASE_ID,
    officer=text(64, pattern=_STATION_NAME), camera=text(64, pattern=_STATION_NAME),
    station=text(64), media_type=text(100), recorded_at={"type": "string", "format": "date-time", "maxLength": 40},
    duration_ms=integer(0, 2**40), width=integer(0, 2**40), height=integer(0, 2**40),
    clock_drift_s=integer(-(2**40), 2**40),
    video_codec=text(255), audio_codec=text(255), stage=text(255), location=text(255), camera_time=text(255),
    source_path=text(255), original_blake3=BLAKE3, title=text(500), decision_no=text(200),
    frame_rate=text(19, pattern="^[1-9][0-9]{0,8}/[1-9][0-9]{0,8}$"),
    ffmpeg=obj(command={"type": "string", "maxLength": 100_000}, version={"type": "string", "maxLength": 100_000}),
)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/healthz", ops.healthz, None, "Database and object store reachable", responses=(200, 503)),
    Endpoint("GET", "/metrics", ops.metrics, ADMIN, "Prometheus metrics", produces="text/plain"),
    Endpoint("GET", "/api/v1/keys", verify.keys, None, "Published verifier keys (vkeys) of the log"),
    Endpoint("GET", "/api/v1/witnesses", ops.witnesses, None,
             "The witnesses that cosign the case checkpoints (their cosignature vkeys) and the quorum"),
    Endpoint("GET", "/api/v1/principals", ops.list_principals, ADMIN, "Users and stations"),
    Endpoint("POST", "/api/v1/principals", ops.add_principal, roles_for("principal.add"),
             "Create a user or station; returns its token once",
             body="application/json", responses=(201, 409, 422),
             body_schema=obj(("name", "role"), name=NAME, role=enum(PRINCIPAL_ROLES))),
    Endpoint("DELETE", "/api/v1/principals/{name}", ops.revoke_principal, roles_for("principal.revoke"),
             "Revoke a token",
             params=(("name", "path", "string", True),), responses=(200, 404)),
    Endpoint("POST", "/api/v1/uploads", uploads.create_upload, UPLOADERS,
             "Declare an upload (size, BLAKE3, metadata); 200 with the receipt if already logged",
             body="application/json", body_schema=UPLOAD_SCHEMA, responses=(200, 201, 403, 404, 409, 422)),
    Endpoint("GET", "/api/v1/uploads/{upload}", uploads.upload_status, UPLOADERS, "Where to resume an upload",
             params=(UPLOAD,), responses=(200, 404)),
    Endpoint("PUT", "/api/v1/uploads/{upload}", uploads.put_chunk, UPLOADERS,
             "Send bytes from ?offset=N; the last byte commits and returns the receipt",
             params=(UPLOAD, ("offset", "query", "integer", True)), body="application/octet-stream",
             responses=(200, 404, 409)),
    Endpoint("DELETE", "/api/v1/uploads/{upload}", uploads.abort_upload, UPLOADERS, "Abandon an upload",
             params=(UPLOAD,), responses=(200, 404, 409)),
    Endpoint("POST", "/api/v1/evidence/{blake3}/no-proxy", uploads.report_no_proxy, roles_for("evidence.upload"),
             "Flag an original whose proxy ffmpeg could not make (the original stays evidence)",
             params=(BLAKE3_PARAM,), body="application/json", responses=(200, 201, 404, 422),
             body_schema=obj(("case", "error"), case=CASE_ID, error=text(4000), ffmpeg_version=text(255))),
    Endpoint("POST", "/api/v1/cases", cases.create_case, roles_for("case.open"), "Open a case", body="application/json",
             responses=(201, 409, 422),
             body_schema=obj(("id",), id=CASE_ID, title=text(500), handler=NAME)),
    Endpoint("GET", "/api/v1/cases", cases.list_cases, STAFF, "Search cases by id, officer, station, date range",
             params=(("id", "query", "string", False), ("officer", "query", "string", False),
                     ("station", "query", "string", False), ("from", "query", "string", False),
                     ("to", "query", "string", False), ("limit", "query", "integer", False),
                     ("offset", "query", "integer", False))),
    Endpoint("GET", "/api/v1/cases/{case}", cases.get_case, STAFF, "A case: tree head, checkpoint, evidence",
             params=(CASE,), responses=(200, 404)),
    Endpoint("GET", "/api/v1/cases/{case}/evidence", cases.case_evidence, STAFF,
             "Originals, proxies and text records of a case", params=(CASE,), responses=(200, 404)),
    Endpoint("GET", "/api/v1/cases/{case}/objects/{blake3}", cases.read_object, roles_for("evidence.read"),
             "Read an object (HTTP Range supported); logged as evidence.accessed with the stated purpose",
             params=(CASE, BLAKE3_PARAM, ("purpose", "query", "string", True), ("download", "query", "string", False)),
             responses=(200, 206, 400, 404, 410, 416), produces="application/octet-stream"),
    Endpoint("POST", "/api/v1/cases/{case}/records", cases.add_record, roles_for("record.add"),
             "Add a text record (document, scan, form, notice) at an enforcement stage",
             params=(CASE, ("stage", "query", "string", True), ("file_name", "query", "string", True),
                     ("title", "query", "string", False), ("decision_no", "query", "string", False)),
             body="application/octet-stream", responses=(200, 201, 400, 404, 409, 413, 422),
             body_schema={"type": "string", "format": "binary", "minLength": 1}),
    Endpoint("POST", "/api/v1/cases/{case}/determinations", cases.determine, roles_for("decision.determine"),
             "The case handler's major-decision determination (§四(二)) for a decision, before it is recorded or "
             "drafted for disclosure: every criterion answered, the facts the product proposes 'major' from",
             params=(CASE,), body="application/json", responses=(201, 403, 404, 422),
             body_schema=obj(("decision_no", "answers"), decision_no=text(200),
                             answers={"type": "object", "additionalProperties": {"type": "boolean"},
                                      "propertyNames": text(100), "maxProperties": 50},
                             facts=obj(hearing_held={"type": "boolean"}, public_interest={"type": "boolean"},
                                       fine_yuan=integer(0),
                                       penalties={"type": "array", "items": enum(PENALTY_TYPES), "maxItems": 20}),
                             reason=REASON)),
    Endpoint("GET", "/api/v1/cases/{case}/checkpoint", verify.checkpoint, STAFF,
             "Latest signed checkpoint (C2SP signed note), or the one at ?size=N",
             params=(CASE, ("size", "query", "integer", False)), responses=(200, 404, 422), produces="text/plain"),
    Endpoint("GET", "/api/v1/cases/{case}/entries", verify.entries, STAFF,
             "Entries start <= seq < end as JSON lines of the exact canonical bytes",
             params=(CASE, ("start", "query", "integer", False), ("end", "query", "integer", False)),
             responses=(200, 404), produces="application/x-ndjson"),
    Endpoint("GET", "/api/v1/cases/{case}/proofs/inclusion", verify.inclusion, STAFF,
             "RFC 9162 inclusion proof of entry index in the tree of size",
             params=(CASE, ("index", "query", "integer", True), ("size", "query", "integer", True)),
             responses=(200, 400, 404, 422)),
    Endpoint("GET", "/api/v1/cases/{case}/proofs/consistency", verify.consistency, STAFF,
             "RFC 9162 consistency proof between two tree sizes",
             params=(CASE, ("old", "query", "integer", True), ("new", "query", "integer", True)),
             responses=(200, 400, 404, 422)),
    Endpoint("GET", "/api/v1/cases/{case}/receipts/{seq}", verify.receipt, STAFF,
             "Entry, inclusion proof and signed checkpoint for one entry",
             params=(CASE, ("seq", "path", "integer", True)), responses=(200, 404, 422)),
    Endpoint("POST", "/api/v1/cases/{case}/handover", cases.hand_over, roles_for("case.hand_over"),
             "Hand the case to another investigator (承办人变更; by its handler or an admin), with a reason; "
             "logged as case.handed_over", params=(CASE,), body="application/json", responses=(200, 403, 404, 409, 422),
             body_schema=obj(("to", "reason"), to=NAME, reason=REASON)),
    # -- restricted-access cases (RULES §三: state secrets, trade secrets, personal privacy) --
    Endpoint("GET", "/api/v1/cases/{case}/access", restriction.get_access, INVESTIGATORS,
             "A case's restriction level, handler and active grants (readers of the case, and admins)",
             params=(CASE,), responses=(200, 404), need_to_know=False),
    Endpoint("PUT", "/api/v1/cases/{case}/restriction", restriction.set_level, roles_for("case.restrict"),
             "Raise (someone who may read the case) or lower (an admin) its restriction, with a reason; logged",
             params=(CASE,), body="application/json", responses=(200, 404, 409, 422), need_to_know=False,
             body_schema=obj(("level", "reason"), level=enum(LEVEL_ENUM), reason=REASON)),
    Endpoint("POST", "/api/v1/cases/{case}/grants", restriction.add_grant, roles_for("case.grant"),
             "Grant a user access to a restricted case (someone who may read it, or an admin), with a reason",
             params=(CASE,), body="application/json", responses=(201, 404, 409, 422), need_to_know=False,
             body_schema=obj(("principal", "reason"), principal=NAME, reason=REASON)),
    Endpoint("DELETE", "/api/v1/cases/{case}/grants/{principal}", restriction.revoke_grant,
             roles_for("case.revoke_grant"),
             "Revoke a user's grant to a case, with a reason", params=(CASE, ("principal", "path", "string", True)),
             body="application/json", body_schema=REASON_SCHEMA, responses=(200, 404, 422), need_to_know=False),
    # -- sharing with prosecutors and courts (issue 18): a link with a token, logged share.* --
    Endpoint("GET", "/api/v1/cases/{case}/shares", shares.list_shares, roles_for("share.list"),
             "The case's shares with prosecutors and courts, live and ended (never their tokens)",
             params=(CASE,), responses=(200, 403, 404)),
    Endpoint("POST", "/api/v1/cases/{case}/shares", shares.create_share, roles_for("share.create"),
             "Share selected originals (items: BLAKE3 hashes) or the whole case with a named recipient, for "
             "DAYS days and at most MAX_DOWNLOADS downloads; logged as share.created; the token is shown once",
             params=(CASE,), body="application/json", responses=(201, 403, 404, 422),
             body_schema=obj(("organisation", "person", "purpose", "days"), organisation=text(500),
                             person=text(500), purpose=text(500), days=integer(1, 365),
                             max_downloads=integer(1, 100_000),
                             items={"type": "array", "items": BLAKE3, "minItems": 1, "maxItems": 1000},
                             recipient={"type": "string", "enum": ["judicial", "other"]})),
    Endpoint("POST", "/api/v1/cases/{case}/shares/{id}/revoke", shares.revoke_share, roles_for("share.revoke"),
             "Revoke a share at once, with a reason; logged as share.revoked; its link then answers 404",
             params=(CASE, ("id", "path", "integer", True)), body="application/json", body_schema=REASON_SCHEMA,
             responses=(200, 403, 404, 409, 422)),
    Endpoint("GET", "/api/v1/verify/{blake3}", verify.verify_hash, STAFF,
             "Is this BLAKE3 hash evidence (in ?case=X)? Entries with proofs and checkpoints",
             params=(BLAKE3_PARAM, ("case", "query", "string", False))),
    Endpoint("POST", "/api/v1/verify", verify.verify_upload, STAFF,
             "Hash a posted file (never stored) and answer as by hash",
             params=(("case", "query", "string", False),), body="application/octet-stream", body_required=False),
    Endpoint("POST", "/api/v1/objects/{blake3}/verify", verify.verify_stored, INVESTIGATORS,
             "Re-read and re-hash a stored object now", params=(BLAKE3_PARAM,), responses=(200, 404)),
    # -- retention and holds (issue 6) --
    Endpoint("GET", "/api/v1/retention/classes", retention.list_classes, STAFF, "Retention classes"),
    Endpoint("PUT", "/api/v1/retention/classes/{name}", retention.set_class, roles_for("retention.set_class"),
             "Create or change a retention class (logged in the governance log with the reason)",
             params=(("name", "path", "string", True),), body="application/json", responses=(200, 422),
             body_schema=obj(("trigger", "reason"), years=integer(0, 1000), months=integer(0, 12_000),
                             days=integer(0, 366_000), trigger=enum(TRIGGERS), description=text(500),
                             reason=REASON)),
    Endpoint("GET", "/api/v1/cases/{case}/retention", retention.case_retention, STAFF,
             "Retention of each object of a case, and its holds", params=(CASE,), responses=(200, 404)),
    Endpoint("PUT", "/api/v1/cases/{case}/retention", retention.assign_class, roles_for("retention.assign"),
             "Assign a retention class to a case or one item (logged with the reason); locks only extend",
             params=(CASE,), body="application/json", responses=(200, 404, 422),
             body_schema=obj(("class", "reason"), **{"class": NAME}, blake3=BLAKE3, reason=REASON)),
    Endpoint("POST", "/api/v1/cases/{case}/close", retention.close_case, roles_for("case.close"),
             "Close a case (starts the case_closed retention clocks)", params=(CASE,), body="application/json",
             responses=(200, 404, 422), body_schema=obj(reason=REASON)),
    Endpoint("GET", "/api/v1/holds", retention.list_holds, STAFF, "Legal holds (?case=, ?all=1 for lifted too)",
             params=(("case", "query", "string", False), ("all", "query", "string", False))),
    Endpoint("POST", "/api/v1/holds", retention.place_hold, roles_for("hold.place"),
             "Place a legal hold on a case or one item (S3 legal hold; nothing held is disposed)",
             body="application/json", responses=(201, 404, 422),
             body_schema=obj(("case", "reason"), case=CASE_ID, blake3=BLAKE3, reason=REASON)),
    Endpoint("POST", "/api/v1/holds/{hold}/lift", retention.lift_hold, roles_for("hold.lift"),
             "Lift a legal hold (its placer or an admin)", params=(("hold", "path", "integer", True),),
             body="application/json", body_schema=REASON_SCHEMA, responses=(200, 403, 404, 422)),
    Endpoint("GET", "/api/v1/retention/due", retention.due, ADMIN,
             "What disposition would delete now, and what holds keep (dry run)"),
    Endpoint("POST", "/api/v1/retention/run", retention.run, roles_for("retention.run"),
             "Dispose of objects whose retention passed and no hold covers; logs retention.disposed",
             body="application/json",
             body_schema=obj(dry_run={"type": "boolean"})),
    # -- disclosure (公示), legal review (法制审核), law changes --
    Endpoint("GET", "/api/v1/disclosures", disclosures.list_records, DISCLOSURE_READERS,
             "Disclosure records with status, takedown date, review state (raw and masked preview); records of "
             "restricted cases the caller may not read are left out and counted in 'withheld'",
             params=(("state", "query", "string", False), ("case", "query", "string", False))),
    Endpoint("POST", "/api/v1/disclosures", disclosures.create, roles_for("disclosure.create"),
             "Draft a disclosure record linked to its case and decision", body="application/json",
             responses=(201, 404, 409, 422),
             body_schema=obj(("case", "decision_no", "party_type", "party_name", "violation", "legal_basis",
                              "penalty", "decision_date"), case=CASE_ID, **RECORD_PROPS,
                             **RECORD_LISTS)),
    Endpoint("GET", "/api/v1/disclosures/{id}", disclosures.get, DISCLOSURE_READERS,
             "A record: raw fields, secrets treatment, masked public preview, reviews; only for those who may read "
             "its case (403 restricted otherwise), like every field derived from a restricted case",
             params=(DID,), responses=(200, 403, 404)),
    Endpoint("POST", "/api/v1/disclosures/{id}/major", disclosures.flag_major, roles_for("disclosure.flag_major"),
             "Flag the decision major by §四(二) criteria (needs a passed legal review before approval)",
             params=(DID,), body="application/json", responses=(200, 404, 422),
             body_schema=obj(("criteria",), criteria={"type": "array", "items": text(100), "maxItems": 50})),
    Endpoint("POST", "/api/v1/disclosures/{id}/reviews", disclosures.add_review, REVIEW,
             "Record a legal review (passed/failed: reviewer, not the handler) or a disagreement (disputed)",
             params=(DID,), body="application/json", responses=(201, 403, 404, 422),
             body_schema=obj(("outcome",), outcome=enum([*RECORDED_OUTCOMES, "coordinated"]),
                             decision=enum(["proceed", "uphold"]),
                             checklist={"type": "object", "additionalProperties": {"type": "boolean"},
                                        "propertyNames": text(100), "maxProperties": 50},
                             opinion=text(20_000))),
    Endpoint("GET", "/api/v1/disclosures/{id}/findings", publication_check.findings, roles_for("disclosure.act"),
             "What in the public text may still be personal data (the publication check), with clearances",
             params=(DID,), responses=(200, 403, 404)),
    Endpoint("POST", "/api/v1/disclosures/{id}/findings", publication_check.resolve, roles_for("disclosure.act"),
             "Resolve a finding: mask it (drafts) or clear it as not personal data, with a reason (logged)",
             params=(DID,), body="application/json", responses=(201, 403, 404, 409, 422),
             body_schema=obj(("finding", "resolution", "reason"), finding=text(500),
                             resolution=enum(["mask", "not_personal"]), reason=REASON)),
    Endpoint("POST", "/api/v1/disclosures/{id}/secrets-treatment", disclosures.treat,
             roles_for("disclosure.treat"),
             "Record the secrets treatment of a draft (§二 作适当处理): fields withheld, passages rewritten, why; "
             "a trade-secret or privacy case's record is approved only after one, by someone who may read the case",
             params=(DID,), body="application/json", responses=(201, 403, 404, 409, 422),
             body_schema=obj(("reason",), withheld={"type": "array", "items": text(100), "maxItems": 50},
                             rewritten={"type": "array", "maxItems": 100,
                                        "items": obj(("field", "passage"), field=text(100), passage=text(20_000),
                                                     replacement={"type": "string", "maxLength": 20_000})},
                             reason=REASON)),
    Endpoint("POST", "/api/v1/disclosures/{id}/{action}", disclosures.act, roles_for("disclosure.act"),
             "Lifecycle step: approve, publish, correct, update, take-down, revoke, withdraw. The drafter never "
             "approves; approver and publisher differ, and a major decision's takedown or revocation is asked "
             "by one person (202, pending_end) and confirmed by another (CUSTODY_SEPARATE_DUTIES)",
             params=(DID, ("action", "path", "string", True)), body="application/json",
             responses=(200, 202, 403, 404, 409, 422),
             body_schema=obj(reason=REASON, explanation=text(20_000), takedown_reason=enum(TAKEDOWN_REASONS),
                             changes={"type": "object", "properties": {**RECORD_PROPS, **RECORD_LISTS},
                                      "additionalProperties": False},
                             law_change=integer(1, 2**63 - 1))),
    Endpoint("GET", "/api/v1/disclosures/{id}/links", disclosures.links, roles_for("disclosure.check_links"),
             "Linked evidence check: exists, re-hashes now, proof valid, retention covers the takedown date",
             params=(DID,), responses=(200, 404)),
    Endpoint("GET", "/api/v1/disclosures/{id}/attachments", releases.list_attachments, DISCLOSURE_READERS,
             "The redacted renders attached to a record (live and detached), for those who may read its case",
             params=(DID,), responses=(200, 403, 404)),
    Endpoint("POST", "/api/v1/disclosures/{id}/attachments", releases.attach, roles_for("disclosure.attach"),
             "Attach a redacted render (evidence.redacted) of the case to a draft or approved record; the portal "
             "shows it while the record is published; an original or a proxy is refused (unredacted_release)",
             params=(DID,), body="application/json", responses=(201, 403, 404, 409, 422),
             body_schema=obj(("blake3",), blake3=BLAKE3)),
    Endpoint("POST", "/api/v1/disclosures/{id}/attachments/{blake3}/detach", releases.detach,
             roles_for("disclosure.attach"), "Take a render off a draft or approved record, with a reason",
             params=(DID, BLAKE3_PARAM), body="application/json", body_schema=REASON_SCHEMA,
             responses=(200, 403, 404, 409, 422)),
    Endpoint("GET", "/api/v1/disclosure-due", disclosures.due, DISCLOSURE,
             "Records due for takedown and law-change updates outstanding on ?today=YYYY-MM-DD",
             params=(("today", "query", "string", False),), responses=(200, 422)),
    Endpoint("GET", "/api/v1/law-changes", disclosures.list_law_changes, DISCLOSURE_READERS, "Recorded law changes"),
    Endpoint("POST", "/api/v1/law-changes", disclosures.add_law_change, roles_for("law_change.add"),
             "Record a law or mandate change; affected published records must be updated in 20 working days",
             body="application/json", responses=(201, 422),
             body_schema=obj(("title", "effective", "categories"), title=text(500), effective=DATE,
                             categories={"type": "array", "items": text(100), "minItems": 1, "maxItems": 100},
                             description=text(20_000))),
    Endpoint("GET", "/api/v1/calendar/add-working-days", disclosures.add_working_days, STAFF,
             "The date N working days after DATE (the start day not counted)",
             params=(("date", "query", "string", True), ("n", "query", "integer", False)), responses=(200, 422)),
    Endpoint("GET", "/api/v1/calendar/years", calendar.years, STAFF,
             "The years the working-day calendar covers, each with the State Council notice it comes from"),
    Endpoint("POST", "/api/v1/calendar/years", calendar.add_year, roles_for("calendar.add_year"),
             "Add (or correct) a year of the working-day calendar from its TOML file; logged in the governance "
             "log (calendar.year_added) and used at once, without a restart",
             body="application/json", responses=(201, 422),
             body_schema=obj(("toml",), toml=text(20_000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$"))),
    Endpoint("GET", "/api/v1/basic-info", basic_info.list_pages, roles_for("basic_info.read"),
             "Basic enforcement information pages (§二 行政执法基本信息), drafts too, and law-change updates due"),
    Endpoint("POST", "/api/v1/basic-info", basic_info.create, roles_for("basic_info.edit"),
             "Draft a basic-information page: enforcing bodies, powers and legal basis, procedures, remedies, "
             "the random-inspection list", body="application/json", responses=(201, 403, 422),
             body_schema=obj(("kind", "title", "body"), kind=enum(["bodies", "powers", "procedures", "remedies",
                                                                   "random_inspection"]),
                             title=text(200), body={"type": "string", "minLength": 1, "maxLength": 100_000},
                             category=text(100))),
    Endpoint("POST", "/api/v1/basic-info/{id}/{action}", basic_info.act, roles_for("basic_info.edit"),
             "A page's step: approve (not its drafter), publish (not its approver), update (new body, reason, "
             "the law change it answers), withdraw (reason)",
             params=(DID, ("action", "path", "string", True)), body="application/json",
             responses=(200, 403, 404, 409, 422),
             body_schema=obj(reason=REASON, body={"type": "string", "minLength": 1, "maxLength": 100_000},
                             law_change=integer(1, 2**63 - 1))),
    Endpoint("GET", "/public/api/basic-info", basic_info.public_pages, None,
             "The bureau's basic enforcement information as published (no sign-in)"),
    # redaction for release (issue 19)
    Endpoint("GET", "/api/v1/cases/{case}/redactions", redaction.list_projects, roles_for("redaction.view"),
             "The case's redaction projects (every saved version) and renders with their progress",
             params=(CASE,), responses=(200, 404)),
    Endpoint("POST", "/api/v1/cases/{case}/redactions", redaction.save_project, roles_for("redaction.edit"),
             "Save a new version of a redaction project (tracks with keyframes, audio ranges); logged "
             "redaction.saved with the version's BLAKE3", params=(CASE,), body="application/json",
             responses=(201, 404, 409, 422),
             body_schema=obj(("source",), source=BLAKE3, name=text(200), project=text(64, pattern=REDACTION_ID),
                             base_version=integer(1, 2**31 - 1), tracks={"type": "array", "maxItems": 64},
                             audio={"type": "array", "maxItems": 500})),
    Endpoint("POST", "/api/v1/cases/{case}/redactions/suggest", redaction.suggest, roles_for("redaction.suggest"),
             "Face and licence-plate tracks proposed by the detectors (OpenCV Haar cascades) for a recording of "
             "the case; detect: which (default both)",
             params=(CASE,), body="application/json", responses=(200, 404, 422),
             body_schema=obj(("source",), source=BLAKE3, every_ms=integer(40, 10_000),
                             detect={"type": "array", "items": enum(["face", "plate"]), "minItems": 1,
                                     "maxItems": 2})),
    Endpoint("POST", "/api/v1/cases/{case}/redactions/{project}/renders", redaction.request_render,
             roles_for("redaction.render"),
             "Render a project version (the latest by default) in the background; poll the render for progress",
             params=(CASE, ("project", "path", "string", True)), body="application/json", responses=(202, 404),
             body_schema=obj(version=integer(1, 2**31 - 1))),
    Endpoint("GET", "/api/v1/cases/{case}/renders/{render}", redaction.render_status, roles_for("redaction.view"),
             "A render's state (queued, running, done, failed), progress in percent, and the redacted object",
             params=(CASE, ("render", "path", "string", True)), responses=(200, 404, 422)),
    Endpoint("GET", "/public/api/records", disclosures.public_records, None,
             "Published records (masked text only) with each case's latest checkpoint, 50 a page, newest "
             "first, ?q= searching the public text; the latest takedown notices",
             params=(("page", "query", "integer", False), ("q", "query", "string", False)), responses=(200, 400)),
    # -- the audit view (issue 18, item 5) --
    Endpoint("GET", "/api/v1/audit/accesses", audit.list_accesses, roles_for("audit.read"),
             "Who viewed, downloaded, exported or shared what, across cases, newest first (times in UTC), "
             "filtered by user (login name), case, access (view, download, export, verify, share) and period "
             "[from, to); each row names its receipt",
             params=(("user", "query", "string", False), ("case", "query", "string", False),
                     ("access", "query", "string", False), ("from", "query", "string", False),
                     ("to", "query", "string", False), ("limit", "query", "integer", False),
                     ("offset", "query", "integer", False)), responses=(200, 400, 422)),
    # -- bookmarks and notes at a moment of a recording (issue 18 item 4), logged evidence.bookmark* --
    Endpoint("GET", "/api/v1/cases/{case}/bookmarks", bookmarks.list_bookmarks, roles_for("bookmark.list"),
             "The case's bookmarks (or one item's: ?blake3=), in time order; removed ones are left out",
             params=(CASE, ("blake3", "query", "string", False)), responses=(200, 400, 403, 404)),
    Endpoint("POST", "/api/v1/cases/{case}/bookmarks", bookmarks.add_bookmark, roles_for("bookmark.add"),
             "Bookmark an item at AT_MS milliseconds with a note; logged as evidence.bookmarked naming the "
             "item's BLAKE3 and the author's principal id; the bookmark's id is that entry's seq",
             params=(CASE,), body="application/json", responses=(201, 403, 404, 422),
             body_schema=obj(("blake3", "at_ms"), blake3=BLAKE3, at_ms=integer(0, 10 * 24 * 3600 * 1000),
                             note={"type": "string", "maxLength": 2000})),
    Endpoint("PUT", "/api/v1/cases/{case}/bookmarks/{id}", bookmarks.edit_bookmark, roles_for("bookmark.edit"),
             "Change a bookmark's time and/or note (its author or an admin); logged as evidence.bookmark_edited",
             params=(CASE, ("id", "path", "integer", True)), body="application/json",
             responses=(200, 403, 404, 409, 422),
             body_schema=obj(at_ms=integer(0, 10 * 24 * 3600 * 1000), note={"type": "string", "maxLength": 2000})),
    Endpoint("DELETE", "/api/v1/cases/{case}/bookmarks/{id}", bookmarks.remove_bookmark,
             roles_for("bookmark.remove"),
             "Remove a bookmark from the list (its author or an admin); logged as evidence.bookmark_removed, "
             "its entries stay", params=(CASE, ("id", "path", "integer", True)), responses=(200, 403, 404, 409)),
    # -- organising and finding (issue 18, item 3) --
    Endpoint("GET", "/api/v1/tags", organise.list_tags, STAFF,
             "The bureau's list of tags (?retired=1: with retired ones)",
             params=(("retired", "query", "string", False),)),
    Endpoint("PUT", "/api/v1/tags/{name}", organise.define_tag, roles_for("tag.define"),
             "Add a tag to the bureau's list or change its labels (logged in the governance log)",
             params=(("name", "path", "string", True),), body="application/json", responses=(200, 422),
             body_schema=obj(("label_zh", "label_en"), label_zh=text(40), label_en=text(60))),
    Endpoint("DELETE", "/api/v1/tags/{name}", organise.retire_tag, roles_for("tag.define"),
             "Retire a tag: no new uses (logged in the governance log)",
             params=(("name", "path", "string", True),), responses=(200, 404, 409, 422)),
    Endpoint("GET", "/api/v1/cases/{case}/tags", organise.case_tags, STAFF, "The tags of a case and of its items",
             params=(CASE,), responses=(200, 404)),
    Endpoint("POST", "/api/v1/cases/{case}/tags", organise.add_tag, roles_for("tag.apply"),
             "Put a tag of the bureau's list on the case or (blake3) one item; logged as tag.added",
             params=(CASE,), body="application/json", responses=(201, 404, 409, 422),
             body_schema=obj(("tag",), tag=text(40), blake3=BLAKE3)),
    Endpoint("DELETE", "/api/v1/cases/{case}/tags/{name}", organise.remove_tag, roles_for("tag.apply"),
             "Take a tag off the case or (?blake3=) one item; logged as tag.removed",
             params=(CASE, ("name", "path", "string", True), ("blake3", "query", "string", False)),
             responses=(200, 404, 409, 422)),
    Endpoint("GET", "/api/v1/search", organise.search_items, roles_for("search.items"),
             "Evidence items in the cases the caller may read, with facet counts: case, officer, camera, station, "
             "kind (event type), tag, stage, a period [from, to) and free text (q) over titles and text records",
             params=(("case", "query", "string", False), ("officer", "query", "string", False),
                     ("camera", "query", "string", False), ("station", "query", "string", False),
                     ("kind", "query", "string", False), ("tag", "query", "string", False),
                     ("stage", "query", "string", False), ("from", "query", "string", False),
                     ("to", "query", "string", False), ("q", "query", "string", False),
                     ("limit", "query", "integer", False), ("offset", "query", "integer", False)),
             responses=(200, 400, 422)),
    Endpoint("POST", "/api/v1/cases/{case}/bulk", organise.bulk_action, INVESTIGATORS,
             "One action (hold, tag, untag, assign, share) on each selected item; each item's outcome",
             params=(CASE,), body="application/json", responses=(200, 404, 422),
             body_schema=obj(("action", "items"), action=enum(["hold", "tag", "untag", "assign", "share"]),
                             items={"type": "array", "items": BLAKE3, "maxItems": 500}, reason=REASON,
                             tag=text(40), to_case=CASE_ID,
                             share=obj(("organisation", "person", "purpose", "days"), organisation=text(500),
                                       person=text(500), purpose=text(500), days=integer(1, 365),
                                       max_downloads=integer(1, 100_000)))),
    Endpoint("POST", "/api/v1/cases/{case}/assign", organise.assign_item, roles_for("evidence.assign"),
             "Assign a recording of an intake case (with its proxies) to its case; logged in both cases",
             params=(CASE,), body="application/json", responses=(201, 404, 409, 422),
             body_schema=obj(("blake3", "to_case", "reason"), blake3=BLAKE3, to_case=CASE_ID, reason=REASON)),
)


def _route_path(path: str) -> str:
    """The aiohttp path of a documented one: ``{action}`` matches only the lifecycle steps, so the
    sibling ``/disclosures/{id}/links`` is not also a POST route (its ``Allow`` names GET only)."""
    return path.replace("{action}", "{action:(?:" + "|".join(openapi.DISCLOSURE_ACTIONS) + ")}")


def add_routes(app: web.Application) -> None:
    table = [web.route(e.method, _route_path(e.path),
                       guard(e.roles, validated(e, e.handler, openapi.param_schema), need_to_know=e.need_to_know))
             for e in ENDPOINTS]
    spec_handler, docs_handler = openapi.handlers(ENDPOINTS)
    table += [web.get("/api/v1/openapi.json", spec_handler), web.get("/api/v1/docs", docs_handler)]
    app.router.add_routes(table)
