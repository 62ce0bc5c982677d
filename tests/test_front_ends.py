"""The CLI and the API are two doors to the same services: every mutating use case, tried through both
with the same principals, is allowed by both or refused by both with the same error code.

The server runs in-process on a fresh database; the CLI runs as a real subprocess against the same
database, data directory and signing key, acting ``--as`` the same users.  Each row prepares two
identical targets (one per door) through the API, then acts on each.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from policy.review import CHECKLIST, MAJOR_CRITERIA
from tests import acting
from tests.api.conftest import Api, serving, settings_for
from tests.redaction_clip import make_clip

REPO = Path(__file__).resolve().parents[1]
RECORD = {"decision_no": "城管罚字〔2026〕第1号", "party_type": "legal", "party_name": "某某餐饮有限公司",
          "violation": "占道经营", "legal_basis": "《城市市容和环境卫生管理条例》第三十六条",
          "penalty": "罚款人民币200元", "decision_date": "2026-09-20", "category": "市容环境"}
ALL_CHECKS = dict.fromkeys(CHECKLIST, True)
SHARE = {"organisation": "区人民检察院", "person": "李检察官", "purpose": "审查起诉", "days": 7}


def share_cli(c: dict[str, str], days: str = "7") -> list[str]:
    return ["share", "create", c["case"], "--organisation", SHARE["organisation"], "--person", SHARE["person"],
            "--purpose", SHARE["purpose"], "--days", days]

Context = dict[str, Any]


@dataclass(frozen=True)
class Row:
    name: str
    who: str  # the user acting through both doors
    setup: Callable[[Api, str], Awaitable[Context]]
    cli: Callable[[Context], list[str]]
    http: Callable[[Context], tuple[str, str, dict[str, Any]]]
    expect: str  # "ok" or the error code both must give


async def ok(api: Api, method: str, path: str, who: str, body: dict[str, Any]) -> Any:
    status, answer = await api.call(method, path, who, json=body)
    assert status < 300, (path, answer)
    return answer


NOT_MAJOR = dict.fromkeys(MAJOR_CRITERIA, False)


async def a_case(api: Api, tag: str) -> Context:
    """A case; its handler has determined (§四(二), not major) the decisions the rows draft."""
    case = f"T-{tag}"
    await ok(api, "POST", "/api/v1/cases", "investigator", {"id": case})
    for decision_no in (f"城管罚字〔2026〕第N{case}号", f"城管罚字〔2026〕第{tag}号"):
        await ok(api, "POST", f"/api/v1/cases/{case}/determinations", "investigator",
                 {"decision_no": decision_no, "answers": NOT_MAJOR})
    return {"case": case, "new": f"N-{tag}"}


async def a_restricted_case(api: Api, tag: str) -> Context:
    ctx = await a_case(api, tag)
    await ok(api, "PUT", f"/api/v1/cases/{ctx['case']}/restriction", "investigator",
             {"level": "privacy", "reason": "a minor is filmed"})
    return ctx


async def a_shared_case(api: Api, tag: str) -> Context:
    ctx = await a_case(api, tag)
    share = await ok(api, "POST", f"/api/v1/cases/{ctx['case']}/shares", "investigator", SHARE)
    return {**ctx, "share": str(share["id"])}


_CLIP: dict[str, bytes] = {}


async def a_draft_with_a_render(api: Api, tag: str) -> Context:
    """A draft record whose case holds an uploaded clip and a redacted render of it (one real ffmpeg pass)."""
    ctx = await a_draft(api, tag)
    if not _CLIP:
        with tempfile.TemporaryDirectory() as tmp:
            _CLIP["clip"] = make_clip(Path(tmp) / "clip.mp4", seconds=1).read_bytes()
    await api.upload(_CLIP["clip"], case=ctx["case"], file_name="clip.mp4", media_type="video/mp4")
    original = blake3(_CLIP["clip"]).hexdigest()
    saved = await ok(api, "POST", f"/api/v1/cases/{ctx['case']}/redactions", "investigator", {
        "source": original, "tracks": [{"keyframes": [{"t_ms": 0, "x": 10, "y": 60, "w": 200, "h": 200}]}]})
    queued = await ok(api, "POST", f"/api/v1/cases/{ctx['case']}/redactions/{saved['project_id']}/renders",
                      "investigator", {})
    for _ in range(600):
        render = await ok(api, "GET", f"/api/v1/cases/{ctx['case']}/renders/{queued['render']}", "investigator", {})
        if render["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    assert render["state"] == "done", render
    return {**ctx, "original": original, "render": render["output_blake3"]}
async def a_recorded_case(api: Api, tag: str) -> Context:
    """A case holding a recording a station uploaded."""
    ctx = await a_case(api, tag)
    clip = f"clip of {tag} ".encode() * 500
    await api.upload(clip, case=ctx["case"])
    return {**ctx, "item": blake3(clip).hexdigest()}


async def a_restricted_recorded_case(api: Api, tag: str) -> Context:
    ctx = await a_recorded_case(api, tag)
    await ok(api, "PUT", f"/api/v1/cases/{ctx['case']}/restriction", "investigator",
             {"level": "privacy", "reason": "a minor is filmed"})
    return ctx


async def a_bookmarked_case(api: Api, tag: str) -> Context:
    """A recording with the investigator's bookmark on it."""
    ctx = await a_recorded_case(api, tag)
    mark = await ok(api, "POST", f"/api/v1/cases/{ctx['case']}/bookmarks", "investigator",
                    {"blake3": ctx["item"], "at_ms": 1500, "note": "车辆驶入"})
    return {**ctx, "bookmark": str(mark["id"])}


def bookmark_cli(c: Context) -> list[str]:
    return ["bookmark", "add", c["case"], c["item"], "0:01.500", "--note", "门口争执"]


def bookmark_http(c: Context) -> tuple[str, str, dict[str, Any]]:
    return "POST", f"/api/v1/cases/{c['case']}/bookmarks", {"blake3": c["item"], "at_ms": 1500, "note": "门口争执"}


async def a_held_case(api: Api, tag: str) -> Context:
    ctx = await a_case(api, tag)
    hold = await ok(api, "POST", "/api/v1/holds", "investigator", {"case": ctx["case"], "reason": "appeal"})
    return {**ctx, "hold": hold["id"]}


async def a_draft(api: Api, tag: str) -> Context:
    ctx = await a_case(api, tag)
    d = await ok(api, "POST", "/api/v1/disclosures", "disclosure",
                 {"case": ctx["case"], **RECORD, "decision_no": f"城管罚字〔2026〕第{tag}号"})
    return {**ctx, "id": d["id"]}


async def a_major_draft(api: Api, tag: str) -> Context:
    ctx = await a_draft(api, tag)
    await ok(api, "POST", f"/api/v1/disclosures/{ctx['id']}/major", "disclosure", {"criteria": ["after_hearing"]})
    return ctx


async def a_failed_review(api: Api, tag: str) -> Context:
    ctx = await a_major_draft(api, tag)
    await ok(api, "POST", f"/api/v1/disclosures/{ctx['id']}/reviews", "reviewer",
             {"outcome": "failed", "checklist": {**ALL_CHECKS, "facts": False}, "opinion": "证据不足"})
    return ctx


async def a_published_record_of_a_restricted_case(api: Api, tag: str) -> Context:
    ctx = await a_draft(api, tag)
    await ok(api, "POST", f"/api/v1/disclosures/{ctx['id']}/approve", "dina", {})
    await ok(api, "POST", f"/api/v1/disclosures/{ctx['id']}/publish", "disclosure", {})
    await ok(api, "PUT", f"/api/v1/cases/{ctx['case']}/restriction", "investigator",
             {"level": "privacy", "reason": "a minor is named"})
    return ctx


async def a_disputed_review(api: Api, tag: str) -> Context:
    ctx = await a_failed_review(api, tag)
    await ok(api, "POST", f"/api/v1/disclosures/{ctx['id']}/reviews", "disclosure",
             {"outcome": "disputed", "opinion": "笔录在卷"})
    return ctx


async def an_approved_draft(api: Api, tag: str) -> Context:
    ctx = await a_draft(api, tag)
    await ok(api, "POST", f"/api/v1/disclosures/{ctx['id']}/approve", "dina", {})
    return ctx


async def a_privacy_draft(api: Api, tag: str) -> Context:
    ctx = await a_draft(api, tag)
    await ok(api, "PUT", f"/api/v1/cases/{ctx['case']}/restriction", "investigator",
             {"level": "privacy", "reason": "a minor is named"})
    for grantee in ("disclosure", "dina"):
        await ok(api, "POST", f"/api/v1/cases/{ctx['case']}/grants", "investigator",
                 {"principal": grantee, "reason": "publication"})
    return ctx


async def a_state_secret_case(api: Api, tag: str) -> Context:
    ctx = await a_case(api, tag)
    await ok(api, "PUT", f"/api/v1/cases/{ctx['case']}/restriction", "investigator",
             {"level": "state_secret", "reason": "classified annex"})
    await ok(api, "POST", f"/api/v1/cases/{ctx['case']}/grants", "investigator",
             {"principal": "disclosure", "reason": "asked to publish"})
    return ctx


async def a_listed_case(api: Api, tag: str) -> Context:
    """A case, and the tag ``vending`` on the bureau's list."""
    await ok(api, "PUT", "/api/v1/tags/vending", "admin", {"label_zh": "占道经营", "label_en": "Street vending"})
    return await a_case(api, tag)


async def a_restricted_listed_case(api: Api, tag: str) -> Context:
    await a_listed_case(api, tag)
    return await a_restricted_case(api, tag + "r")


async def nothing(api: Api, tag: str) -> Context:
    return {"tag": tag}


def draft_args(ctx: Context) -> list[str]:
    args = ["disclosure", "add", ctx["case"]]
    for key, value in {**RECORD, "decision_no": f"城管罚字〔2026〕第N{ctx['case']}号"}.items():
        args += ["--" + key.replace("_", "-"), value]
    return args


ROWS = [
    Row("open a case", "investigator", nothing, lambda c: ["case", "open", f"O-{c['tag']}"],
        lambda c: ("POST", "/api/v1/cases", {"id": f"O-{c['tag']}"}), "ok"),
    Row("open a case, not an investigator", "disclosure", nothing, lambda c: ["case", "open", f"O-{c['tag']}"],
        lambda c: ("POST", "/api/v1/cases", {"id": f"O-{c['tag']}"}), "forbidden"),
    Row("open the reserved governance log", "investigator", nothing, lambda c: ["case", "open", "governance"],
        lambda c: ("POST", "/api/v1/cases", {"id": "governance"}), "policy"),
    Row("open a case handled by a reviewer", "investigator", nothing,
        lambda c: ["case", "open", f"O-{c['tag']}", "--handler", "reviewer"],
        lambda c: ("POST", "/api/v1/cases", {"id": f"O-{c['tag']}", "handler": "reviewer"}), "policy"),
    Row("open a case handled by nobody known", "investigator", nothing,
        lambda c: ["case", "open", f"O-{c['tag']}", "--handler", "ghost"],
        lambda c: ("POST", "/api/v1/cases", {"id": f"O-{c['tag']}", "handler": "ghost"}), "policy"),
    Row("close a case", "investigator", a_case, lambda c: ["case", "close", c["case"], "--reason", "done"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/close", {"reason": "done"}), "ok"),
    Row("close a case, as a reviewer", "reviewer", a_case, lambda c: ["case", "close", c["case"], "--reason", "x"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/close", {"reason": "x"}), "forbidden"),
    Row("close a restricted case without need to know", "inv2", a_restricted_case,
        lambda c: ["case", "close", c["case"], "--reason", "x"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/close", {"reason": "x"}), "restricted"),
    Row("restrict a case", "investigator", a_case,
        lambda c: ["case", "restrict", c["case"], "--level", "privacy", "--reason", "minor"],
        lambda c: ("PUT", f"/api/v1/cases/{c['case']}/restriction", {"level": "privacy", "reason": "minor"}), "ok"),
    Row("restrict a case, as disclosure staff", "disclosure", a_case,
        lambda c: ["case", "restrict", c["case"], "--level", "privacy", "--reason", "minor"],
        lambda c: ("PUT", f"/api/v1/cases/{c['case']}/restriction", {"level": "privacy", "reason": "minor"}),
        "forbidden"),
    Row("lower a restriction, not an admin", "investigator", a_restricted_case,
        lambda c: ["case", "restrict", c["case"], "--level", "none", "--reason", "over"],
        lambda c: ("PUT", f"/api/v1/cases/{c['case']}/restriction", {"level": "none", "reason": "over"}),
        "not_permitted"),
    Row("grant access to a restricted case", "investigator", a_restricted_case,
        lambda c: ["case", "grant", c["case"], "inv2", "--reason", "deputy"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/grants", {"principal": "inv2", "reason": "deputy"}), "ok"),
    Row("grant access without need to know", "inv2", a_restricted_case,
        lambda c: ["case", "grant", c["case"], "inv2", "--reason", "me"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/grants", {"principal": "inv2", "reason": "me"}),
        "restricted"),
    Row("hand a case over", "investigator", a_case,
        lambda c: ["case", "handover", c["case"], "--to", "inv2", "--reason", "leave"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/handover", {"to": "inv2", "reason": "leave"}), "ok"),
    Row("hand over a case one does not handle", "inv2", a_case,
        lambda c: ["case", "handover", c["case"], "--to", "inv2", "--reason", "mine"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/handover", {"to": "inv2", "reason": "mine"}),
        "not_permitted"),
    Row("place a legal hold", "investigator", a_case, lambda c: ["hold", "place", c["case"], "--reason", "appeal"],
        lambda c: ("POST", "/api/v1/holds", {"case": c["case"], "reason": "appeal"}), "ok"),
    Row("place a legal hold, as disclosure staff", "disclosure", a_case,
        lambda c: ["hold", "place", c["case"], "--reason", "appeal"],
        lambda c: ("POST", "/api/v1/holds", {"case": c["case"], "reason": "appeal"}), "forbidden"),
    Row("lift a hold one did not place", "inv2", a_held_case,
        lambda c: ["hold", "lift", str(c["hold"]), "--reason", "over"],
        lambda c: ("POST", f"/api/v1/holds/{c['hold']}/lift", {"reason": "over"}), "forbidden"),
    Row("lift one's own hold", "investigator", a_held_case,
        lambda c: ["hold", "lift", str(c["hold"]), "--reason", "over"],
        lambda c: ("POST", f"/api/v1/holds/{c['hold']}/lift", {"reason": "over"}), "ok"),
    Row("change a retention class", "admin", nothing,
        lambda c: ["retention", "set-class", f"k{c['tag']}", "--years", "3", "--trigger", "recorded",
                   "--reason", "policy"],
        lambda c: ("PUT", f"/api/v1/retention/classes/k{c['tag']}",
                   {"years": 3, "trigger": "recorded", "reason": "policy"}), "ok"),
    Row("change a retention class, not an admin", "investigator", nothing,
        lambda c: ["retention", "set-class", f"k{c['tag']}", "--years", "3", "--trigger", "recorded",
                   "--reason", "policy"],
        lambda c: ("PUT", f"/api/v1/retention/classes/k{c['tag']}",
                   {"years": 3, "trigger": "recorded", "reason": "policy"}), "forbidden"),
    Row("assign a retention class", "investigator", a_case,
        lambda c: ["retention", "assign", c["case"], "standard", "--reason", "default"],
        lambda c: ("PUT", f"/api/v1/cases/{c['case']}/retention", {"class": "standard", "reason": "default"}),
        "ok"),
    Row("draft a disclosure", "disclosure", a_case, draft_args,
        lambda c: ("POST", "/api/v1/disclosures",
                   {"case": c["case"], **RECORD, "decision_no": f"城管罚字〔2026〕第N{c['case']}号"}), "ok"),
    Row("draft a disclosure, as an investigator", "investigator", a_case, draft_args,
        lambda c: ("POST", "/api/v1/disclosures",
                   {"case": c["case"], **RECORD, "decision_no": f"城管罚字〔2026〕第N{c['case']}号"}), "forbidden"),
    Row("flag a decision major", "disclosure", a_draft,
        lambda c: ["disclosure", "major", c["id"], "--criterion", "after_hearing"],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/major", {"criteria": ["after_hearing"]}), "ok"),
    Row("approve a major decision before its review", "dina", a_major_draft,
        lambda c: ["disclosure", "approve", c["id"]],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/approve", {}), "review_required"),
    Row("pass a legal review", "reviewer", a_major_draft,
        lambda c: ["disclosure", "review", c["id"], "passed", "--all-checks", "--opinion", "合法"],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/reviews",
                   {"outcome": "passed", "checklist": ALL_CHECKS, "opinion": "合法"}), "ok"),
    Row("pass a legal review, not a reviewer", "disclosure", a_major_draft,
        lambda c: ["disclosure", "review", c["id"], "passed", "--all-checks", "--opinion", "合法"],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/reviews",
                   {"outcome": "passed", "checklist": ALL_CHECKS, "opinion": "合法"}), "forbidden"),
    Row("dispute a failed review", "disclosure", a_failed_review,
        lambda c: ["disclosure", "review", c["id"], "disputed", "--opinion", "笔录在卷"],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/reviews", {"outcome": "disputed", "opinion": "笔录在卷"}),
        "ok"),
    Row("dispute a review, as the reviewer", "reviewer", a_failed_review,
        lambda c: ["disclosure", "review", c["id"], "disputed", "--opinion", "x"],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/reviews", {"outcome": "disputed", "opinion": "x"}),
        "forbidden"),
    Row("correct the raw record of a case one may not read", "disclosure", a_published_record_of_a_restricted_case,
        lambda c: ["disclosure", "correct", c["id"], "--set", "penalty=罚款人民币300元", "--reason", "typo"],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/correct",
                   {"changes": {"penalty": "罚款人民币300元"}, "reason": "typo"}), "restricted"),
    Row("record a secrets treatment", "investigator", a_privacy_draft,
        lambda c: ["disclosure", "treat", c["id"], "--withhold", "legal_basis", "--reason", "names the minor"],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/secrets-treatment",
                   {"withheld": ["legal_basis"], "reason": "names the minor"}), "ok"),
    Row("record a secrets treatment without need to know", "inv2", a_privacy_draft,
        lambda c: ["disclosure", "treat", c["id"], "--reason", "x"],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/secrets-treatment", {"reason": "x"}), "restricted"),
    Row("approve a privacy record before its secrets treatment", "dina", a_privacy_draft,
        lambda c: ["disclosure", "approve", c["id"]],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/approve", {}), "secrets_treatment_required"),
    Row("draft a disclosure of a state-secret case", "disclosure", a_state_secret_case, draft_args,
        lambda c: ("POST", "/api/v1/disclosures",
                   {"case": c["case"], **RECORD, "decision_no": f"城管罚字〔2026〕第N{c['case']}号"}), "state_secret"),
    Row("show a record of a case one may not read", "inv2", a_published_record_of_a_restricted_case,
        lambda c: ["disclosure", "show", c["id"]],
        lambda c: ("GET", f"/api/v1/disclosures/{c['id']}", {}), "restricted"),
    Row("approve one's own draft", "disclosure", a_draft, lambda c: ["disclosure", "approve", c["id"]],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/approve", {}), "separation_of_duties"),
    Row("approve another's draft", "dina", a_draft, lambda c: ["disclosure", "approve", c["id"]],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/approve", {}), "ok"),
    Row("publish what one approved", "dina", an_approved_draft, lambda c: ["disclosure", "publish", c["id"]],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/publish", {}), "separation_of_duties"),
    Row("determine a decision major", "investigator", a_case,
        lambda c: ["decision", "determine", c["case"], "D-1", "--major", "after_hearing", "--hearing"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/determinations", {
            "decision_no": "D-1", "facts": {"hearing_held": True},
            "answers": {**NOT_MAJOR, "after_hearing": True}}), "ok"),
    Row("determine a decision one does not handle", "inv2", a_case,
        lambda c: ["decision", "determine", c["case"], "D-1"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/determinations", {"decision_no": "D-1",
                                                                          "answers": NOT_MAJOR}), "not_permitted"),
    Row("overrule what the facts suggest without a reason", "investigator", a_case,
        lambda c: ["decision", "determine", c["case"], "D-1", "--hearing"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/determinations", {
            "decision_no": "D-1", "facts": {"hearing_held": True}, "answers": NOT_MAJOR}), "policy"),
    Row("decide a dispute as the coordinator", "coordinator", a_disputed_review,
        lambda c: ["disclosure", "review", c["id"], "coordinated", "--decision", "proceed", "--opinion", "同意"],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/reviews",
                   {"outcome": "coordinated", "decision": "proceed", "opinion": "同意"}), "ok"),
    Row("decide a dispute, not the coordinator", "reviewer", a_disputed_review,
        lambda c: ["disclosure", "review", c["id"], "coordinated", "--decision", "proceed", "--opinion", "同意"],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/reviews",
                   {"outcome": "coordinated", "decision": "proceed", "opinion": "同意"}), "forbidden"),
    Row("record a law change", "admin", nothing,
        lambda c: ["law-change", "add", "--title", f"条例修订 {c['tag']}", "--effective", "2026-09-21",
                   "--category", "市容环境"],
        lambda c: ("POST", "/api/v1/law-changes",
                   {"title": f"条例修订 {c['tag']}", "effective": "2026-09-21", "categories": ["市容环境"]}), "ok"),
    Row("record a law change, not an admin", "disclosure", nothing,
        lambda c: ["law-change", "add", "--title", "x", "--effective", "2026-09-21", "--category", "市容环境"],
        lambda c: ("POST", "/api/v1/law-changes",
                   {"title": "x", "effective": "2026-09-21", "categories": ["市容环境"]}), "forbidden"),
    Row("share a case with a prosecutor", "investigator", a_case,
        lambda c: share_cli(c),
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/shares", SHARE), "ok"),
    Row("share a case, not an investigator", "reviewer", a_case,
        lambda c: share_cli(c),
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/shares", SHARE), "forbidden"),
    Row("share a restricted case without need to know", "inv2", a_restricted_case,
        lambda c: share_cli(c),
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/shares", SHARE), "restricted"),
    Row("share for longer than a year", "investigator", a_case,
        lambda c: share_cli(c, "400"),
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/shares", {**SHARE, "days": 400}), "invalid"),
    Row("revoke a share", "inv2", a_shared_case,
        lambda c: ["share", "revoke", c["case"], c["share"], "--reason", "indictment filed"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/shares/{c['share']}/revoke", {"reason": "indictment filed"}),
        "ok"),
    # the release rule (issue 19 item 5): only a redacted render goes on a public disclosure, or to
    # anyone but a prosecutor or a court
    Row("attach an unredacted original to a disclosure", "disclosure", a_draft_with_a_render,
        lambda c: ["disclosure", "attach", c["id"], c["original"]],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/attachments", {"blake3": c["original"]}),
        "unredacted_release"),
    Row("attach a redacted render to a disclosure", "disclosure", a_draft_with_a_render,
        lambda c: ["disclosure", "attach", c["id"], c["render"]],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/attachments", {"blake3": c["render"]}), "ok"),
    Row("attach a render, not the disclosure desk", "investigator", a_draft_with_a_render,
        lambda c: ["disclosure", "attach", c["id"], c["render"]],
        lambda c: ("POST", f"/api/v1/disclosures/{c['id']}/attachments", {"blake3": c["render"]}), "forbidden"),
    Row("share an original with a lawyer", "investigator", a_draft_with_a_render,
        lambda c: [*share_cli(c), "--recipient", "other", "--item", c["original"]],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/shares",
                   {**SHARE, "recipient": "other", "items": [c["original"]]}), "unredacted_release"),
    Row("share a render with a lawyer", "investigator", a_draft_with_a_render,
        lambda c: [*share_cli(c), "--recipient", "other", "--item", c["render"]],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/shares",
                   {**SHARE, "recipient": "other", "items": [c["render"]]}), "ok"),
    Row("share an original with a court", "investigator", a_draft_with_a_render,
        lambda c: [*share_cli(c), "--item", c["original"]],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/shares", {**SHARE, "items": [c["original"]]}), "ok"),
    Row("bookmark a recording", "investigator", a_recorded_case, bookmark_cli, bookmark_http, "ok"),
    Row("bookmark a recording as a reviewer", "reviewer", a_recorded_case, bookmark_cli, bookmark_http, "ok"),
    Row("bookmark a recording, not a reader", "disclosure", a_recorded_case, bookmark_cli, bookmark_http,
        "forbidden"),
    Row("bookmark without need to know", "inv2", a_restricted_recorded_case, bookmark_cli, bookmark_http,
        "restricted"),
    Row("bookmark an item the case lacks", "investigator", a_case,
        lambda c: ["bookmark", "add", c["case"], "ab" * 32, "1.5"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/bookmarks", {"blake3": "ab" * 32, "at_ms": 1500}), "invalid"),
    Row("edit one's own bookmark", "investigator", a_bookmarked_case,
        lambda c: ["bookmark", "edit", c["case"], c["bookmark"], "--note", "车辆驶入，停车"],
        lambda c: ("PUT", f"/api/v1/cases/{c['case']}/bookmarks/{c['bookmark']}", {"note": "车辆驶入，停车"}), "ok"),
    Row("edit someone else's bookmark", "inv2", a_bookmarked_case,
        lambda c: ["bookmark", "edit", c["case"], c["bookmark"], "--time", "2"],
        lambda c: ("PUT", f"/api/v1/cases/{c['case']}/bookmarks/{c['bookmark']}", {"at_ms": 2000}),
        "not_the_author"),
    Row("remove someone else's bookmark", "reviewer", a_bookmarked_case,
        lambda c: ["bookmark", "remove", c["case"], c["bookmark"]],
        lambda c: ("DELETE", f"/api/v1/cases/{c['case']}/bookmarks/{c['bookmark']}", {}), "not_the_author"),
    Row("remove a bookmark as an admin", "admin", a_bookmarked_case,
        lambda c: ["bookmark", "remove", c["case"], c["bookmark"]],
        lambda c: ("DELETE", f"/api/v1/cases/{c['case']}/bookmarks/{c['bookmark']}", {}), "ok"),
    Row("revoke a share without a reason", "investigator", a_shared_case,
        lambda c: ["share", "revoke", c["case"], c["share"], "--reason", " "],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/shares/{c['share']}/revoke", {"reason": " "}), "invalid"),
    # organising and finding (issue 18, item 3)
    Row("define a tag", "admin", nothing, lambda c: ["tag", "define", f"t{c['tag']}", "--zh", "噪声", "--en", "Noise"],
        lambda c: ("PUT", f"/api/v1/tags/t{c['tag']}", {"label_zh": "噪声", "label_en": "Noise"}), "ok"),
    Row("define a tag, not an admin", "investigator", nothing,
        lambda c: ["tag", "define", f"t{c['tag']}", "--zh", "噪声", "--en", "Noise"],
        lambda c: ("PUT", f"/api/v1/tags/t{c['tag']}", {"label_zh": "噪声", "label_en": "Noise"}), "forbidden"),
    Row("tag a case", "investigator", a_listed_case, lambda c: ["tag", "add", c["case"], "vending"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/tags", {"tag": "vending"}), "ok"),
    Row("tag a case with a tag not on the list", "investigator", a_listed_case,
        lambda c: ["tag", "add", c["case"], "unheard-of"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/tags", {"tag": "unheard-of"}), "tag_not_found"),
    Row("tag a restricted case without need to know", "inv2", a_restricted_listed_case,
        lambda c: ["tag", "add", c["case"], "vending"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/tags", {"tag": "vending"}), "restricted"),
    Row("take off a tag the case does not have", "investigator", a_listed_case,
        lambda c: ["tag", "remove", c["case"], "vending"],
        lambda c: ("DELETE", f"/api/v1/cases/{c['case']}/tags/vending", {}), "not_tagged"),
    Row("assign from a case that is not an intake case", "investigator", a_case,
        lambda c: ["assign", c["case"], "0" * 64, "--to", "T-X", "--reason", "r"],
        lambda c: ("POST", f"/api/v1/cases/{c['case']}/assign", {"blake3": "0" * 64, "to_case": "T-X", "reason": "r"}),
        "invalid"),
]


@pytest.fixture(scope="module")
async def both(tmp_path_factory: pytest.TempPathFactory, pg_url: str, template_db: str) -> AsyncIterator[
        tuple[Api, dict[str, str]]]:
    from tests.conftest import fresh_database

    home = tmp_path_factory.mktemp("front-ends")
    async with fresh_database(pg_url, template_db) as url, serving(settings_for("file", home, url, None)) as api:
        _, api.tokens["inv2"] = await acting.add_principal(api.locker, "inv2", "investigator")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("S3_", "CUSTODY_", "DATABASE_URL"))}
        env.update(CUSTODY_HOME=str(home), DATABASE_URL=url, CUSTODY_ORIGIN="evidence.test")
        yield api, env


def cli_outcome(args: list[str], who: str, env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, "-m", "custody", *args, "--as", who], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    if result.returncode == 0:
        return "ok"
    code = re.search(r"\[([a-z_]+)\]\s*$", result.stderr)
    assert code, f"no error code in: {result.stderr[-800:]}"
    return code.group(1)


async def api_outcome(api: Api, request: tuple[str, str, dict[str, Any]], who: str) -> str:
    method, path, body = request
    status, answer = await api.call(method, path, who, json=body)
    return "ok" if status < 300 else str(answer["error"])


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_cli_and_api_agree(both: tuple[Api, dict[str, str]], row: Row) -> None:
    api, env = both
    tag = re.sub(r"[^a-z0-9]", "", row.name.lower())[:24]
    via_cli, via_api = await row.setup(api, f"c{tag}"), await row.setup(api, f"a{tag}")
    outcomes = {"cli": cli_outcome(row.cli(via_cli), row.who, env),
                "api": await api_outcome(api, row.http(via_api), row.who)}
    assert outcomes == {"cli": row.expect, "api": row.expect}


async def test_search_through_both_doors_agrees(both: tuple[Api, dict[str, str]]) -> None:
    """The same search by the same user gives the same items and counts through the CLI and the API; a
    restricted case another investigator handles is in neither."""
    api, env = both
    for case, text in (("T-FIND1", "询问笔录：当事人在人民路占道经营烧烤。"), ("T-FIND2", "未成年人在场烧烤")):
        await ok(api, "POST", "/api/v1/cases", "investigator", {"id": case, "title": "占道经营"})
        status, answer = await api.call("POST", f"/api/v1/cases/{case}/records?stage=investigation&file_name=r.txt",
                                        "investigator", data=text.encode(),
                                        headers={"Content-Type": "text/plain; charset=utf-8"})
        assert status == 201, answer
    await ok(api, "PUT", "/api/v1/cases/T-FIND2/restriction", "investigator", {"level": "privacy", "reason": "minor"})
    status, by_api = await api.call("GET", "/api/v1/search?q=%E7%83%A7%E7%83%A4", "inv2")  # 烧烤
    assert status == 200, by_api
    result = subprocess.run([sys.executable, "-m", "custody", "search", "--text", "烧烤", "--json", "--as", "inv2"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    by_cli = json.loads(result.stdout)
    assert [(i["case_id"], i["seq"]) for i in by_api["items"]] == [(i["case_id"], i["seq"]) for i in by_cli["items"]]
    assert [i["case_id"] for i in by_api["items"]] == ["T-FIND1"]
    assert by_api["facets"] == by_cli["facets"]
    assert "T-FIND2" not in {f["value"] for f in by_api["facets"]["case"]}
