"""The public view of a decision: personal data masked before publication (policy §二).

§二: "涉及国家秘密、商业秘密、个人隐私等不宜公开的信息，依法确需公开的，要作适当处理后公开."  A penalty
decision against a natural person must be published, so it is published processed: this module is that
processing.  It errs on the side of masking too much; ``leaks`` is the independent check that no raw
personal value of the record survives, for the tests and as the API's last guard.

Formats (one ``*`` per hidden character unless noted):

- Chinese personal name: the surname is kept, both characters of a compound surname for a name of
  three or more characters: 张三 → 张*, 李小明 → 李**, 欧阳娜娜 → 欧阳**, 司马光 → 司马*.
- A name in parts (Latin script, or joined by ·): the first letter of each part is kept:
  John Smith → J*** S****, 买买提·艾力 → 买**·艾*.  A one-character name is ``*``.
- Resident ID: first 6 (the region) and last 4 kept: 110101********123X; 15-digit 110105*****1002.
- Mobile: first 3 and last 4 kept, a +86/86 prefix and the separators too: +86 138-****-5678.
- Landline: area code and the last 2 digits kept: 010-******78, 0755-*****67.
- Bank card (16-19 digits, maybe grouped by 4): first 4 + ``****`` + last 4, hiding the length:
  6222****0123.
- Vehicle plate: province and issuing-authority letter kept: 京A*****, 粤B****** (new energy).
- Address: kept down to the county-level unit (省, 市, 区/县/旗), the rest replaced by a single
  ``****``: 北京市朝阳区****.  Only text after a marker (住址：, 住所：, 地址：, 家住 ...) or a
  known address of the record is treated as an address.

Numbers are recognised only as whole runs (no digit or Latin letter either side), so a 20-digit serial
is never mistaken for an ID; full-width digits and letters (１３８…) count as their ASCII forms, and
come out masked in ASCII.  An 18-digit run with a plausible birth date (positions 7-14) is an ID,
otherwise a bank card; every 16-19 digit run is masked.  Names are never guessed (no NER): the
record's own natural-person names are masked wherever they occur.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from policy.errors import PolicyError
from policy.takedown import check_party_type, parse_iso_date

#: Chinese compound surnames (复姓): a name beginning with one keeps both characters.
COMPOUND_SURNAMES = frozenset(
    "欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 赫连 澹台 皇甫 宗政 濮阳 公冶 太叔 申屠 "
    "公孙 慕容 仲孙 钟离 长孙 宇文 司徒 鲜于 司空 闾丘 子车 亓官 司寇 巫马 公西 颛孙 壤驷 公良 漆雕 乐正 宰父 谷梁 "
    "拓跋 夹谷 轩辕 令狐 段干 百里 呼延 东郭 南门 羊舌 微生 公户 公玉 公仪 梁丘 公仲 公上 公门 公山 公坚 左丘 公伯 "
    "西门 公祖 第五 公乘 贯丘 公皙 南荣 东里 东宫 仲长 子书 子桑 即墨 达奚 褚师".split()
)
#: Province abbreviations that begin a vehicle plate.
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
ADDRESS_MASK = "****"

# Whole runs only: no digit or Latin letter on either side (nor a + before a mobile number's prefix).
_B = r"(?<![0-9A-Za-z])"
_B_MOBILE = r"(?<![0-9A-Za-z+])"
_E = r"(?![0-9A-Za-z])"
# Full-width digits, letters, +, -, brackets and space, to their ASCII forms: one character each, so
# positions found in the translated text are positions in the original.
_FULLWIDTH = str.maketrans(
    {chr(0xFF01 + i): chr(0x21 + i) for i in range(0x5E) if chr(0x21 + i).isalnum() or chr(0x21 + i) in "+-()"}
    | {"\u3000": " "}
)
_HAN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
_NAME_PART_RE = re.compile(r"[^\s·•・.\-']+")
_NAME_SPACES_RE = re.compile(r"\s+")

_DIGIT_RUN_RE = re.compile(_B + r"[0-9]+[Xx]?" + _E)
# ID numbers written in groups, 6-8-4 (110101 19900307 123X).
_GROUPED_ID_RE = re.compile(_B + r"([1-9][0-9]{5})([ -])([0-9]{8})\2([0-9]{3}[0-9Xx])" + _E)
# Bank cards written in groups of four.
_GROUPED_CARD_RE = re.compile(_B + r"[0-9]{4}([ -])[0-9]{4}\1[0-9]{4}\1[0-9]{4}(?:\1[0-9]{1,3})?" + _E)
_MOBILE_RE = re.compile(_B_MOBILE + r"((?:\+86|0086|86)[ -]?)?(1[3-9][0-9])([ -]?)([0-9]{4})\3([0-9]{4})" + _E)
_LANDLINE_RE = re.compile(_B + r"(\(0[1-9][0-9]{1,2}\) ?|0[1-9][0-9]{1,2}[ -])([0-9]{7,8})" + _E)
_PLATE_CHAR = "[0-9A-HJ-NP-Za-hj-np-z]"  # plates use no I or O
_PLATE_RE = re.compile(
    rf"([{PLATE_PROVINCES}][A-HJ-NP-Za-hj-np-z])([·•\- ]?)({_PLATE_CHAR}{{5,6}}|{_PLATE_CHAR}{{4}}[挂学警港澳])" + _E
)
# Standard plates have at most two letters among five, new-energy ones four digits or more; demanding
# three digits keeps words like "新Windows" from reading as plates.
_PLATE_MIN_DIGITS = 3

# Address markers, longest first so that 家庭住址 is not read as 住 + "址…".  The address runs to the next
# clause punctuation, or to the closing bracket of a parenthesis it was opened in.
_ADDRESS_RE = re.compile(
    r"(?P<marker>家庭住址|户籍地址|现住址|住所地|居住地|户籍地|住址|住所|地址|家住|现住|住)[：:]?[ \t]*"
    r"(?P<addr>[^，。；,;\n）)]+)"
)
# After these the text is an address only if it starts like one, naming a unit above a bare 区
# (住 also begins 住房, 住宿, 住宅小区 ...).
_WEAK_MARKERS = frozenset({"家住", "现住", "住"})
_WEAK_ADDRESS_RE = re.compile(r"[省市县旗州盟]|自治区")
# A place-name character: a letter that is neither an administrative suffix nor a street-level word.
_PLACE = r"[^\W\d_省市区县旗盟路街巷弄号村镇乡楼栋室幢组]"
_ADMIN_PREFIX_RE = re.compile(
    rf"(?:{_PLACE}{{2,8}}?(?:省|自治区|特别行政区))?"
    rf"(?:{_PLACE}{{1,8}}?(?:市|自治州|地区|盟))?"
    rf"(?:{_PLACE}{{1,8}}?(?:区|县|旗|市))?"
)

# Lower rank wins a tie between spans of the same start and length.
_RANK_PATTERN, _RANK_ADDRESS, _RANK_NAME, _RANK_VALUE = 0, 1, 2, 3


def _stars(text: str) -> str:
    return "*" * len(text)


def mask_name(name: str) -> str:
    """A personal name with only the surname (or each part's first letter) left (formats: module docstring).

    A single character becomes ``*``; spaces inside an all-Chinese name (张 三, padded for alignment)
    are dropped first.
    """
    name = name.strip()
    if len(name) <= 1:
        return _stars(name)
    joined = _NAME_SPACES_RE.sub("", name)
    if _HAN_RE.fullmatch(joined):
        if len(joined) == 1:
            return "*"
        keep = 2 if len(joined) >= 3 and joined[:2] in COMPOUND_SURNAMES else 1
        return joined[:keep] + "*" * (len(joined) - keep)
    return _NAME_PART_RE.sub(lambda m: m[0][0] + "*" * (len(m[0]) - 1), name)


def mask_address(address: str) -> str:
    """The address up to its county-level unit, then ``****``; an address with nothing below that is kept."""
    address = address.strip()
    prefix = _ADMIN_PREFIX_RE.match(address)
    kept = prefix.group(0) if prefix else ""
    return address if kept == address else kept + ADDRESS_MASK


def _plausible_birth(yyyymmdd: str) -> bool:
    try:
        d = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1900 <= d.year <= 2099


def _mask_id(run: str) -> str:
    return run[:6] + "*" * (len(run) - 10) + run[-4:]


def _mask_card(digits: str) -> str:
    return digits[:4] + "****" + digits[-4:]


def _mask_run(run: str) -> str | None:
    """The masked form of a whole run of digits (maybe ending in X), or ``None`` if it is nothing personal."""
    n = len(run)
    if run[-1] in "Xx":
        return _mask_id(run) if n == 18 and run[0] != "0" else None
    if n == 18 and run[0] != "0" and _plausible_birth(run[6:14]):
        return _mask_id(run)
    if n == 15 and run[0] != "0" and _plausible_birth("19" + run[6:12]):
        return _mask_id(run)
    if 16 <= n <= 19:
        return _mask_card(run)
    if n in (11, 12) and run[0] == "0" and run[1] != "0":
        # A landline written without its separator: area code 010/02x (3 digits) or 0xxx (4).
        area = 3 if run[1] in "12" else 4
        return run[:area] + "*" * (n - area - 2) + run[-2:]
    return None


_Span = tuple[int, int, str, int]  # start, end, replacement, rank


def _pattern_spans(text: str) -> Iterable[_Span]:
    for m in _DIGIT_RUN_RE.finditer(text):
        if (masked := _mask_run(m[0])) is not None:
            yield m.start(), m.end(), masked, _RANK_PATTERN
    for m in _GROUPED_ID_RE.finditer(text):
        if _plausible_birth(m[3]) or m[4][-1] in "Xx":
            yield m.start(), m.end(), f"{m[1]}{m[2]}********{m[2]}{m[4][-4:]}", _RANK_PATTERN
    for m in _GROUPED_CARD_RE.finditer(text):
        yield m.start(), m.end(), _mask_card(re.sub(r"[ -]", "", m[0])), _RANK_PATTERN
    for m in _MOBILE_RE.finditer(text):
        yield m.start(), m.end(), f"{m[1] or ''}{m[2]}{m[3]}****{m[3]}{m[5]}", _RANK_PATTERN
    for m in _LANDLINE_RE.finditer(text):
        yield m.start(), m.end(), m[1] + "*" * (len(m[2]) - 2) + m[2][-2:], _RANK_PATTERN
    for m in _PLATE_RE.finditer(text):
        if sum(c.isdigit() for c in m[3]) >= _PLATE_MIN_DIGITS:
            yield m.start(), m.end(), m[1] + m[2] + _stars(m[3]), _RANK_PATTERN


def _address_spans(text: str, addresses: Iterable[str]) -> Iterable[_Span]:
    for m in _ADDRESS_RE.finditer(text):
        addr = m["addr"].rstrip()
        prefix = _ADMIN_PREFIX_RE.match(addr)
        if m["marker"] in _WEAK_MARKERS and not (prefix and _WEAK_ADDRESS_RE.search(prefix.group(0))):
            continue
        yield m.start("addr"), m.start("addr") + len(addr), mask_address(addr), _RANK_ADDRESS
    yield from _literal_spans(text, addresses, mask_address, _RANK_ADDRESS)


def _literal_spans(text: str, values: Iterable[str], mask: Callable[[str], str], rank: int) -> Iterable[_Span]:
    for value in {v.strip() for v in values if v and v.strip()}:
        for m in re.finditer(re.escape(value), text, re.IGNORECASE):
            yield m.start(), m.end(), mask(m[0]), rank


def _mask_value(value: str) -> str:
    """A raw personal value the patterns may not recognise (an odd phone format): masked by them, else whole."""
    masked = mask_text(value)
    return masked if masked != value else _stars(value)


def mask_text(
    text: str, *, names: Iterable[str] = (), addresses: Iterable[str] = (), values: Iterable[str] = ()
) -> str:
    """Free text with ID, phone and bank-card numbers, plates and addresses masked (see the module table).

    ``names`` are the record's natural-person names, masked wherever they occur (names shorter than two
    characters are skipped: one character would mask it everywhere); ``addresses`` are its known
    addresses and ``values`` other raw personal values (ID or phone numbers as the record holds them),
    masked wherever they occur verbatim even when their format is not one the patterns know.
    """
    names = [n for n in names if n and len(n.strip()) >= 2]
    spans = [
        *_pattern_spans(text.translate(_FULLWIDTH)),
        *_address_spans(text, addresses),
        *_literal_spans(text, names, mask_name, _RANK_NAME),
        *_literal_spans(text, values, _mask_value, _RANK_VALUE),
    ]
    # Earliest first, then the longest: an address span swallows the phone number inside it.
    spans.sort(key=lambda s: (s[0], s[0] - s[1], s[3]))
    out: list[str] = []
    pos = 0
    for start, end, replacement, _rank in spans:
        if start < pos:
            continue
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out)


#: The fields of a public view, in display order, with their labels in the rendered text.
PUBLIC_FIELDS: Mapping[str, str] = {
    "decision_no": "决定文号",
    "party_type": "当事人类型",
    "party_name": "当事人",
    "violation": "违法事实",
    "legal_basis": "处罚依据",
    "penalty": "处罚决定",
    "decision_date": "决定日期",
}
#: Personal fields of a record that are never published, masked or not.
PRIVATE_FIELDS = ("party_id_no", "party_phone", "party_address")
_TEXT_FIELDS = ("violation", "legal_basis", "penalty")
# Lines of the rendered text; the party type is a field, not a line.
_TEXT_LINES = ("decision_no", "party_name", "violation", "legal_basis", "penalty", "decision_date")


@dataclass(frozen=True)
class PublicText:
    """What may be published of a record."""

    #: The human-readable rendering, one 标签：值 line per published field.
    text: str
    #: Published field → its public value.
    fields: dict[str, str]
    #: Fields left out because the record marks them a trade secret or private (in ``PUBLIC_FIELDS`` order).
    excluded: tuple[str, ...]


def _required_text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"a disclosure record needs {key} (non-empty text)")
    return value


def _optional_text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PolicyError(f"{key} must be text")
    return value


def _text_list(record: Mapping[str, Any], key: str) -> list[str]:
    value = record.get(key)
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{key} must be a list of text")
    return list(value)


def _excluded(record: Mapping[str, Any]) -> tuple[str, ...]:
    asked = set(_text_list(record, "excluded_fields"))
    if unknown := sorted(asked - set(PUBLIC_FIELDS) - set(PRIVATE_FIELDS)):
        # A misspelt field name must not quietly publish what was meant to stay private.
        raise PolicyError(f"excluded_fields: unknown field {unknown[0]!r}; fields: {', '.join(PUBLIC_FIELDS)}")
    return tuple(f for f in PUBLIC_FIELDS if f in asked)


def public_view(record: Mapping[str, Any]) -> PublicText:
    """The publishable form of a disclosure record.

    A natural person's name is masked; a legal person's or organisation's is kept (with any number in
    it masked).  ID number, phone and address are never published.  The free-text fields are masked
    with the record's natural-person names (the party's, if natural, and ``other_names``), its address
    and raw ID/phone values.  Fields in ``excluded_fields`` are left out entirely.
    """
    party_type = check_party_type(record.get("party_type"))
    party_name = _required_text(record, "party_name")
    natural = party_type == "natural"
    decision_date = parse_iso_date(_required_text(record, "decision_date"))
    other_names = _text_list(record, "other_names")
    address = _optional_text(record, "party_address")
    raw_values = [v for v in (_optional_text(record, k) for k in ("party_id_no", "party_phone")) if v]
    names = [party_name, *other_names] if natural else other_names

    def mask(value: str) -> str:
        return mask_text(value, names=names, addresses=[address] if address else [], values=raw_values)

    fields = {
        "decision_no": _required_text(record, "decision_no").strip(),
        "party_type": party_type,
        "party_name": mask_name(party_name) if natural else mask(party_name.strip()),
        **{key: mask(_required_text(record, key).strip()) for key in _TEXT_FIELDS},
        "decision_date": decision_date.isoformat(),
    }
    excluded = _excluded(record)
    for key in excluded:
        del fields[key]
    text = "\n".join(f"{PUBLIC_FIELDS[k]}：{fields[k]}" for k in _TEXT_LINES if k in fields)
    return PublicText(text=text, fields=fields, excluded=excluded)


def leaks(public: str, record: Mapping[str, Any]) -> list[str]:
    """Every raw personal value of ``record`` that appears verbatim in ``public``; ``[]`` is the goal.

    Checked: the party's name if a natural person (two characters or more), ``party_id_no``,
    ``party_phone``, ``party_address`` and each of ``other_names`` (two characters or more).
    """
    candidates: list[str] = []
    if record.get("party_type") == "natural":
        candidates.append(record.get("party_name") or "")
    candidates += [record.get(k) or "" for k in PRIVATE_FIELDS]
    candidates += list(record.get("other_names") or [])
    found: list[str] = []
    for value in candidates:
        value = value.strip() if isinstance(value, str) else ""
        if len(value) >= 2 and value in public and value not in found:
            found.append(value)
    return found
