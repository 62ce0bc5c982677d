"""The message catalogues: both languages hold every key with the same fields, plurals are proper, every key
the code names exists and every key is used, and no real page shows a raw key or an unfilled field."""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from api.cases import STAGES
from api.web import cases, disclosure, retention, review
from api.web.i18n import (
    CATALOGUES,
    EN,
    LANGS,
    PLURAL_CATEGORIES,
    ZH,
    Catalogue,
    CatalogueError,
    plural_category,
    plural_forms,
    policy_labels,
    translator,
)
from api.web.nav import NAV
from api.web.routes import WEB_ROUTES
from api.web.timeline import ACCESS_ACTIONS, KNOWN_KINDS
from api.web.verify import SCRIPT_PLURALS, SCRIPT_STRINGS
from policy.retention import TRIGGERS
from policy.review import CHECKLIST, OUTCOMES
from services import shares
from storage.principals import ROLES
from tests.acting import principal
from tests.web.conftest import CASE, STAFF_ROLES, Visitor, Web
from tests.web.test_disclosure_pages import draft, post, published

WEB = Path(__file__).resolve().parents[2] / "api" / "web"
#: Where the pages' keys are named: the handlers, the templates and the page scripts.
SOURCES = sorted([*WEB.glob("*.py"), *WEB.glob("templates/*.html"), *WEB.glob("static/*.js")])
#: "word(s)", "match(es)", "entr(ies)": a plural faked in English.
FAKE_PLURAL = re.compile(r"[A-Za-z]\((?:s|es|ies)\)")
#: ``t("key"``, ``t('key'``: a key named where it is used.
NAMED = re.compile(r"""\bt\(\s*(["'])([a-z_]+(?:\.[a-z0-9_-]+)+)\1""")
#: ``t("prefix." ~ code`` (templates) or ``t(f"prefix.{code}`` (Python): a family of keys.
FAMILY = re.compile(r"""\bt\(\s*f?(["'])([a-z_]+(?:\.[a-z0-9_-]+)*\.)(?:\1\s*~|\{)""")


def file_entries(lang: str) -> dict[str, object]:
    """The catalogue file as written (before the labels generated from policy are added)."""
    text = resources.files("api.web").joinpath("messages", f"{lang}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def forms_of(catalogue: Catalogue, key: str) -> list[str]:
    plural = catalogue.plurals.get(key)
    return list(plural.values()) if plural else [catalogue.texts[key]]


def fields_of(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def source_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in SOURCES)


def test_every_key_is_in_both_languages_and_none_is_generated_twice() -> None:
    zh, en = CATALOGUES["zh"], CATALOGUES["en"]
    assert set(zh.texts) == set(en.texts)
    assert set(zh.plurals) == set(en.plurals)
    for lang in LANGS:
        written, generated = set(file_entries(lang)), set(policy_labels(lang))
        assert not written & generated, f"{lang}.toml repeats keys generated from policy"
        assert written | generated == set(CATALOGUES[lang].texts)
    assert all(value.strip() for value in [*ZH.values(), *EN.values()])


def test_placeholders_match_between_languages() -> None:
    zh, en = CATALOGUES["zh"], CATALOGUES["en"]
    for key in en.texts:
        en_fields = set().union(*map(fields_of, forms_of(en, key)))
        zh_fields = set().union(*map(fields_of, forms_of(zh, key)))
        assert en_fields == zh_fields, (key, en_fields, zh_fields)
        if key in en.plurals:
            assert "n" in en_fields, f"{key} counts but shows no {{n}}"


def test_plural_forms_are_each_languages_own() -> None:
    for lang in LANGS:
        for key, forms in CATALOGUES[lang].plurals.items():
            assert sorted(forms) == sorted(PLURAL_CATEGORIES[lang]), (lang, key)
        assert {plural_category(lang, n) for n in range(1000)} == set(PLURAL_CATEGORIES[lang])
    assert [plural_category("en", n) for n in (0, 1, 2, 11, 21, 101)] == ["other", "one", *["other"] * 4]
    en, zh = translator("en"), translator("zh")
    assert (en("pub.size", n=1), en("pub.size", n=2), en("pub.size", n=0)) == ("1 entry", "2 entries", "0 entries")
    assert (zh("pub.size", n=1), zh("pub.size", n=2)) == ("1 条日志", "2 条日志")
    assert en("law.recorded", due="2026-10-26", n=1).endswith("; 1 published record affected.")
    assert en("law.recorded", due="2026-10-26", n=3).endswith("; 3 published records affected.")
    assert en("admin.sessions_intro", idle=en("time.minutes", n=1), hours=en("time.hours", n=12)).startswith(
        "A session ends after 1 minute without activity or 12 hours after sign-in;")
    assert zh("admin.sessions_intro", idle=zh("time.minutes", n=30), hours=zh("time.hours", n=12)).startswith(
        "会话在 30 分钟无操作或登录 12 小时后自动结束；")
    with pytest.raises(TypeError, match=r"pub\.size counts"):
        en("pub.size")
    assert plural_forms("zh", "verify.withheld").keys() == {"other"}


def test_no_plural_is_faked() -> None:
    for lang in LANGS:
        for key in CATALOGUES[lang].texts:
            for text in forms_of(CATALOGUES[lang], key):
                assert not FAKE_PLURAL.search(text), (lang, key, text)
    for path in SOURCES:
        assert not FAKE_PLURAL.search(path.read_text(encoding="utf-8")), path


def test_a_malformed_catalogue_is_refused() -> None:
    assert Catalogue.parse("en", '"a.b".one = "{n} thing"\n"a.b".other = "{n} things"\n').plurals == {
        "a.b": {"one": "{n} thing", "other": "{n} things"}}
    for source, complaint in (('"a.b".other = "{n} things"\n', "needs exactly the forms"),
                              ('"a.b" = 3\n', "neither a string"),
                              ('"state.draft" = "draft"\n', "generated from policy"),
                              ('"a.b" = \n', "en.toml")):
        with pytest.raises(CatalogueError, match=complaint):
            Catalogue.parse("en", source)


def named_keys() -> Iterator[tuple[str, str]]:
    """Every key the code names outright, with where: ``t("...")`` calls, the navigation, the page scripts'."""
    for path in SOURCES:
        for m in NAMED.finditer(path.read_text(encoding="utf-8")):
            yield m.group(2), path.name
    yield from ((item.label, "nav.py") for item in NAV)
    yield from ((key, "verify.py") for key in (*SCRIPT_STRINGS, *SCRIPT_PLURALS))
    yield from ((f"signin.{why}", "session.py") for why in ("bad_token", "station", "expired_form"))


def key_families() -> dict[str, list[str]]:
    """The codes each family of keys is built from (``done.{code}``, ``role.{code}`` ...)."""
    kinds = sorted(KNOWN_KINDS - {"evidence.accessed"})
    return {
        "done": sorted(cases.CASE_DONE | disclosure.DONE | retention.DONE | review.DONE),
        "role": list(ROLES), "stage": list(STAGES), "trigger": list(TRIGGERS), "outcome": list(OUTCOMES),
        "check": list(CHECKLIST), "error": ["403", "404"], "lang": list(LANGS),
        "kind": [*kinds, *(f"evidence.accessed.{action}" for action in ACCESS_ACTIONS), "unknown"],
        "review_state": ["none", "pending", "passed", "failed", "disputed"],  # the disclosures table's CHECK
    }


def test_every_key_the_code_names_exists() -> None:
    missing = sorted({(key, where) for key, where in named_keys() if key not in EN})
    assert not missing, missing
    for prefix, codes in key_families().items():
        assert not [c for c in codes if f"{prefix}.{c}" not in EN], prefix
    families = {m.group(2) for m in FAMILY.finditer(source_text())}
    assert families and all(any(key.startswith(family) for key in EN) for family in families), families


def test_every_key_is_used() -> None:
    """A key is used if the code quotes it, or it belongs to a family the code builds keys in."""
    text = source_text()
    quoted = set(re.findall(r"""["']([a-z_]+(?:\.[a-z0-9_-]+)+)["']""", text))
    families = {m.group(2) for m in FAMILY.finditer(text)} | {f"{prefix}." for prefix in key_families()}
    unused = sorted(key for key in EN if key not in quoted and not key.startswith(tuple(families)))
    assert not unused, unused


# -- the real pages ---------------------------------------------------------------------------------------

#: Text a raw key would show: a known namespace, a dot, a name (``nav.cases``, ``kind.case.opened``).
NAMESPACES = "|".join(sorted({re.escape(key.split(".")[0]) for key in EN}, key=len, reverse=True))
RAW_KEY = re.compile(rf"(?<![\w./:-])(?:{NAMESPACES})\.[a-z0-9_]+(?:[.-][a-z0-9_]+)*(?![\w/-])")
#: A field of a message left unfilled.
UNFILLED = re.compile(r"\{[a-z_]+\}")
#: What may hold key-like text that is not a message: log kinds shown as codes, data for scripts and styles.
NOT_MESSAGES = re.compile(r'<code class="kind">[^<]*</code>|\sdata-[\w-]+="[^"]*"|<script[^>]*>.*?</script>', re.S)


def untranslated(html: str) -> list[str]:
    shown = NOT_MESSAGES.sub(" ", html)
    return RAW_KEY.findall(shown) + UNFILLED.findall(shown) + FAKE_PLURAL.findall(shown)


async def seed_every_page(web_app: Web) -> dict[str, str]:
    """Records in every state the pages show (reviewed, published and corrected; taken down; failed review;
    awaiting review, with a personal value left in its public text; a plain draft), a law change, a retention
    class, holds, a restricted case (no grant for the admin), evidence viewed.  The values of the paths."""
    dora, rex = await web_app.sign_in("disclosure"), await web_app.sign_in("reviewer")
    admin, ivy = await web_app.sign_in("admin"), await web_app.sign_in("investigator")
    major, failed = await draft(dora), await draft(dora, decision_no="京朝城管罚字〔2026〕第0424号")
    pending = await draft(dora, decision_no="京朝城管罚字〔2026〕第0425号 欧阳娜娜")  # leaks the party's name
    checklist = [("checklist", code) for code in CHECKLIST]
    for who, path, form in (
        *((dora, f"/disclosure/{rid}/major", [("criteria", "after_hearing"), ("criteria", "complex")])
          for rid in (major, failed, pending)),
        (rex, f"/review/{major}", [("outcome", "failed"), ("opinion", "需补充听证笔录。")]),
        (dora, f"/disclosure/{major}/dispute", [("opinion", "听证笔录已在卷第3页。")]),
        (rex, f"/review/{major}", [*checklist, ("outcome", "passed"), ("opinion", "通过。")]),
        (await dora.colleague(), f"/disclosure/{major}/approve", []), (dora, f"/disclosure/{major}/publish", []),
        # a substantive correction of a reviewed major decision needs a new passed review (§四)
        (rex, f"/review/{major}", [*checklist, ("outcome", "passed"), ("opinion", "更正后的罚款数额经复核无误。")]),
        (dora, f"/disclosure/{major}/correct", [("penalty", "罚款人民币300元"), ("reason", "amount mistyped")]),
        (rex, f"/review/{failed}", [("outcome", "failed"), ("opinion", "事实不清。")]),
    ):
        reply = await post(who, path, form)
        assert reply.status == 303, (path, reply.status)
    ended = await published(dora, decision_no="京朝城管罚字〔2026〕第0422号")
    taken_down = await post(dora, f"/disclosure/{ended}/take-down", {
        "takedown_reason": "decision_revoked", "explanation": "该处罚决定已被撤销。", "reason": "court judgment"})
    assert taken_down.status == 303
    waiting = await draft(dora, decision_no="京朝城管罚字〔2026〕第0423号")
    law = await post(admin, "/admin/law-changes", {"title": "《北京市市容环境卫生条例》修订",
                                                   "effective": "2026-09-21", "categories": "市容环境"})
    assert law.status == 303
    await web_app.locker.log.open_case("CASE-S", "investigator:investigator", title="restricted",
                                       handler="investigator")
    original = web_app.objects["original"]
    steps: list[tuple[Visitor, str, dict[str, str]]] = [
        (admin, "/admin/retention/classes", {"name": "litigation", "years": "30", "trigger": "case_closed",
                                             "reason": "court order"}),
        (admin, f"/cases/{CASE}/retention", {"class": "litigation", "reason": "lawsuit", "from": "admin"}),
        (admin, "/holds", {"case": CASE, "blake3": original, "reason": "诉讼保全", "from": "admin"}),
        (ivy, "/cases/CASE-S/restriction", {"level": "privacy", "reason": "minors"}),
        (ivy, "/cases/CASE-S/grants", {"principal": "disclosure", "reason": "publication"}),
        (ivy, "/holds", {"case": "CASE-S", "reason": "complaint"}),  # counted, not shown, on the admin's page
    ]
    for who, path, fields in steps:
        assert (await post(who, path, fields)).status == 303, path
    assert (await ivy.get(f"/cases/{CASE}/objects/{original}?purpose=check")).status == 200
    _, token = await shares.create(web_app.locker, CASE, who=principal("investigator:investigator"),
                                   organisation="区人民检察院", person="李检察官", purpose="审查起诉", days=7)
    return {"case": CASE, "blake3": original, "proxy": web_app.objects["proxy"], "major": major, "failed": failed,
            "pending": pending, "ended": ended, "waiting": waiting, "recorded": law.location, "token": token}


def page_paths(values: dict[str, str], role: str) -> list[str]:
    """Every page the role may open, with the seeded records filled in; some notices, refusals and errors."""
    paths = []
    for route in WEB_ROUTES:
        if route.method != "GET" or route.kind != "page" or role not in (route.roles or STAFF_ROLES):
            continue
        path = route.path.replace("{case}", values["case"]).replace("{token}", values["token"])
        if "{id}" in path:
            paths += [path.replace("{id}", values[which])
                      for which in ("major", "failed", "pending", "ended", "waiting")]
        elif "{blake3}" in path:
            paths += [path.replace("{blake3}", values["blake3"]),
                      path.replace("{blake3}", values["proxy"]) + "?purpose=check"]
        else:
            paths.append(path)
    return [*paths, values["recorded"], "/admin/law-changes?effective=2026-09-21",
            "/admin/retention?case=" + values["case"], "/admin/retention?case=CASE-S", "/cases/CASE-S",
            "/cases/NO-SUCH", "/cases?id=NO-SUCH", "/cases?from=someday", "/disclosure/D-0",
            "/disclosure?today=2040-01-01", f"/cases/{values['case']}?done=hold_placed"]


@pytest.mark.parametrize("lang", LANGS)
async def test_no_page_shows_a_raw_key_or_an_unfilled_field(web_app: Web, lang: str) -> None:
    values = await seed_every_page(web_app)
    html_lang = "zh-CN" if lang == "zh" else "en"
    header = {"Accept-Language": html_lang}
    anonymous = web_app.visitor(**header)
    seen: list[tuple[str, str, Visitor]] = [("anonymous", path, anonymous) for path in (
        "/signin", "/public", f"/s/{values['token']}", "/s/csh_unknown")]
    for role in STAFF_ROLES:
        visitor = await web_app.sign_in(role, **header)
        seen += [(role, path, visitor) for path in page_paths(values, role)]
    statuses = set()
    for role, path, visitor in seen:
        reply = await visitor.get(path)
        statuses.add(reply.status)
        if reply.status in (301, 302, 303):
            continue
        assert f'<html lang="{html_lang}">' in reply.text, (role, path)
        assert not untranslated(reply.text), (role, path, reply.status, untranslated(reply.text))
    assert {200, 403, 404} <= statuses  # pages, the restricted case and the error page were all seen
    # Pages a form answers with: the one-time token, the linked-evidence check, a refusal.
    admin, dora = await web_app.sign_in("admin", **header), await web_app.sign_in("disclosure", **header)
    answers: list[tuple[Visitor, str, dict[str, str], int]] = [
        (admin, "/admin/principals", {"name": "newcomer", "role": "investigator"}, 200),
        (dora, f"/disclosure/{values['major']}/links", {}, 200),
        (dora, f"/disclosure/{values['waiting']}/publish", {}, 409),
        (dora, f"/disclosure/{values['waiting']}/approve", {"_csrf": "stale"}, 403),
        (anonymous, "/signin", {"token": "not-a-token"}, 403),
    ]
    for who, path, form, status in answers:
        reply = await post(who, path, form)
        assert reply.status == status and not untranslated(reply.text), (path, reply.status, untranslated(reply.text))
