"""Choosing the language of a request, and the translator its page uses.

The language is ``?lang=`` (the switch link; it also sets a cookie), else the ``custody_lang``
cookie, else the browser's Accept-Language, else Chinese.

The strings themselves are data: one message catalogue per language, ``messages/zh.toml`` and
``messages/en.toml`` beside this module (package data).  TOML rather than gettext ``.po`` files:
our messages are looked up by key (``nav.cases``), not by their English text, which is what gettext
is built around; Python reads TOML itself (``tomllib``), so the catalogues need no compile step at
build or install time and no new dependency; and the policy's working-day calendars are TOML files
already.  A message that counts a number has one form per CLDR plural category of its language
(English "one" and "other", Chinese only "other"), chosen by the count the caller passes as ``n``.

The Chinese terms are the policy's own: 公示, 撤下, 更正, 更新, 撤销, 撤回, 法制审核, 重大执法决定,
审核意见, 案件, 证据, 执法记录仪, 全过程记录, 调查取证, 启动, 审核决定, 送达执行, 访问事由, 校验,
留存期限, 法律保全, 法律法规变更, 逾期.  The labels of states, actions, takedown reasons, party types,
the §四 criteria and checklist and restriction levels are not in the catalogues: they are generated
from ``policy`` (``state.*``, ``action.*``, ``takedown.*``, ``party.*``, ``criterion.*``, ``check.*``,
``restriction.*``, and the published fields' Chinese names, ``field.*``), so a page shows exactly the
policy's words.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web

from policy.lifecycle import ACTIONS, STATES, TAKEDOWN_REASONS
from policy.masking import PUBLIC_FIELDS
from policy.restriction import LEVELS
from policy.review import CHECKLIST, MAJOR_CRITERIA
from policy.takedown import PARTY_LABELS

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "custody_lang"
LANG_COOKIE_SECONDS = 365 * 24 * 3600

Translator = Callable[..., str]

#: The CLDR plural categories of each language's whole numbers: the forms a counted message gives
#: (https://www.unicode.org/cldr/charts/latest/supplemental/language_plural_rules.html).  A third
#: language adds its categories here and its rule to ``plural_category``.
PLURAL_CATEGORIES: Mapping[str, tuple[str, ...]] = {"zh": ("other",), "en": ("one", "other")}


def plural_category(lang: str, n: int) -> str:
    """The CLDR plural category of the count ``n`` in ``lang`` (English: "one" for exactly 1)."""
    return "one" if lang == "en" and n == 1 else "other"


#: Labels taken from the policy tables, (English, Chinese) each: the pages use the policy's own words.
POLICY_LABELS: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "state": STATES, "action": ACTIONS, "takedown": TAKEDOWN_REASONS,
    "party": {str(k): v for k, v in PARTY_LABELS.items()}, "criterion": MAJOR_CRITERIA, "check": CHECKLIST,
    "restriction": {str(k): v for k, v in LEVELS.items()},
}


def policy_labels(lang: str) -> dict[str, str]:
    """The keys generated from ``policy`` in ``lang``, with their labels."""
    labels = {f"{prefix}.{code}": en if lang == "en" else zh
              for prefix, table in POLICY_LABELS.items() for code, (en, zh) in table.items()}
    if lang == "zh":  # the published fields' Chinese names are the masking rules' own (决定文号, 当事人 ...)
        labels.update({f"field.{name}": label for name, label in PUBLIC_FIELDS.items()})
    return labels


class CatalogueError(ValueError):
    """A message catalogue that does not hold what this module expects."""


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One language's messages: the catalogue file's and those generated from ``policy``."""

    lang: str
    texts: Mapping[str, str]  # every key; a counted message's "other" form
    plurals: Mapping[str, Mapping[str, str]]  # counted messages: key -> CLDR category -> text

    @classmethod
    def parse(cls, lang: str, source: str) -> Catalogue:
        """The catalogue in ``source`` (TOML), checked: every value a string or a full set of plural forms."""
        try:
            data = tomllib.loads(source)
        except tomllib.TOMLDecodeError as e:
            raise CatalogueError(f"{lang}.toml: {e}") from None
        generated = policy_labels(lang)
        texts: dict[str, str] = {}
        plurals: dict[str, dict[str, str]] = {}
        for key, value in data.items():
            if key in generated:
                raise CatalogueError(f"{lang}.toml: {key} is generated from policy; drop it from the file")
            if isinstance(value, str):
                texts[key] = value
            elif isinstance(value, dict) and all(isinstance(text, str) for text in value.values()):
                if sorted(value) != sorted(PLURAL_CATEGORIES[lang]):
                    raise CatalogueError(f"{lang}.toml: {key} needs exactly the forms {PLURAL_CATEGORIES[lang]}")
                plurals[key] = value
                texts[key] = value["other"]
            else:
                raise CatalogueError(f"{lang}.toml: {key} is neither a string nor plural forms of strings")
        return cls(lang, {**texts, **generated}, plurals)

    @classmethod
    def load(cls, lang: str) -> Catalogue:
        """The catalogue shipped with the package for ``lang``."""
        source = resources.files("api.web").joinpath("messages", f"{lang}.toml").read_text(encoding="utf-8")
        return cls.parse(lang, source)

    def text(self, key: str, fields: Mapping[str, Any]) -> str | None:
        """The message ``key`` before its fields are filled in: for a counted one, the form for ``n``."""
        forms = self.plurals.get(key)
        if forms is None:
            return self.texts.get(key)
        n = fields.get("n")
        if not isinstance(n, int):
            raise TypeError(f"{key} counts: pass the count as n=<int>, not {n!r}")
        return forms[plural_category(self.lang, n)]


#: Read once, at import, like the module's own code: the catalogues are part of the package.
CATALOGUES: Mapping[str, Catalogue] = {lang: Catalogue.load(lang) for lang in LANGS}
ZH: Mapping[str, str] = CATALOGUES["zh"].texts
EN: Mapping[str, str] = CATALOGUES["en"].texts

_ACCEPT = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$")


def from_accept_language(header: str) -> str | None:
    """The first of our languages in an Accept-Language header, by preference; None if none is."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        m = _ACCEPT.match(part)
        if not m:
            continue
        quality = float(m.group(2)) if m.group(2) else 1.0
        primary = m.group(1).lower()
        if primary in LANGS and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


def choose(request: web.Request) -> str:
    """The language of this request's page."""
    for value in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LANGS:
            assert value is not None
            return value
    return from_accept_language(request.headers.get("Accept-Language", "")) or DEFAULT_LANG


def translator(lang: str) -> Translator:
    """``t(key, **fields)``: the string in ``lang`` (English, then the key itself, if missing).

    A counted message takes its count as ``n`` (an int), which picks its plural form.
    """
    catalogue, fallback = CATALOGUES.get(lang, CATALOGUES[DEFAULT_LANG]), CATALOGUES["en"]
    missing = catalogue.texts.get("value.missing", "?")

    def t(key: str, /, **fields: Any) -> str:
        text = catalogue.text(key, fields) or fallback.text(key, fields) or key
        return text.format_map(_Fields(fields, missing)) if fields else text

    return t


def plural_forms(lang: str, key: str) -> dict[str, str]:
    """A counted message's forms by CLDR category, for a script that counts in the browser."""
    return dict(CATALOGUES.get(lang, CATALOGUES[DEFAULT_LANG]).plurals[key])


class _Fields(dict[str, Any]):
    """Format fields where a missing one reads "(not recorded)" rather than failing."""

    def __init__(self, values: Mapping[str, Any], missing: str) -> None:
        super().__init__({k: v for k, v in values.items() if v not in (None, "")})
        self.missing = missing

    def __missing__(self, key: str) -> str:
        return self.missing
