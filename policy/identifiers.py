"""Personal identifiers in free text, found by pattern: where they are, what kind, and their masked form.

Everything here works on a *normalised* copy of the text (full-width digits, letters and ASCII
punctuation folded to ASCII one character for one, so positions are the original's), and reports spans
of the original.  Kinds and masked forms (one ``*`` per hidden character unless noted):

========== ==================================================== =====================================
kind       recognised                                           masked
========== ==================================================== =====================================
id         resident ID, 18 (…X) or 15 digits, any separators    first 6 and last 4 kept
phone      mobile (±86), landline with area code, a local       mobile: first 3, last 4; landline:
           7-8 digit number after a phone cue or written        area code and last 2; separators kept
           3-4 / 4; separators space - . · in any mix
account    bank card / account: 14-25 digits, or 8+ after an    first 4 + ``****`` + last 4
           account cue (账号, 卡号, 账户 …)
email      e-mail (also with ＠ and ．)                          first letter, then ``*``, domain kept
plate      vehicle plate, with or without space / · / -         province and authority letter kept
passport   passport, HK/Macau/Taiwan permits: E/G/C/H/M/W/P/S/D  letter(s) kept, digits hidden
           + 7-10 digits, or any letters+digits after a cue
qq         QQ number after a QQ cue                             all digits hidden
wechat     WeChat id after a WeChat cue                         first character kept
birth      a date after 出生 / 生于 …, or followed by 出生 / 生    every digit hidden
age        ``35岁`` / ``35周岁`` / ``年龄：35`` (not 未满18周岁 …)     every digit hidden
address    after a marker (住址、户籍所在地、现居 …): county kept;    ``****`` for the hidden part
           unlabelled with a house number / unit / room:
           county and road kept
========== ==================================================== =====================================

A number that is a valid unified social credit code (``credit_code``) is an organisation's and is never
masked; nor is a number labelled as a document serial (文号、编号、流水号 …) or an enforcement
officer's certificate (执法证号: officers act in office, and their names and certificate numbers are
public, see the README).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from policy import credit_code

#: Province abbreviations that begin a vehicle plate.
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
ADDRESS_MASK = "****"

KINDS = ("id", "phone", "account", "email", "plate", "passport", "qq", "wechat", "birth", "age", "address")


@dataclass(frozen=True, slots=True)
class Found:
    """One piece of personal data: ``text[start:end]`` is replaced by ``masked``."""

    start: int
    end: int
    kind: str
    masked: str


# Full-width digits, letters and ASCII punctuation to ASCII, and the ideographic space to a space: one
# character each, so positions found in the translated text are positions in the original.
FULLWIDTH = str.maketrans({chr(0xFF01 + i): chr(0x21 + i) for i in range(0x5E)} | {"\u3000": " "})

_B = r"(?<![0-9A-Za-z])"
_E = r"(?![0-9A-Za-z])"
# A run of digits with single separators between them (space, -, ., ·, —, with spaces around a dash);
# an optional X closes an ID number.
_SEP = r"(?:[ \t]?[-.·—][ \t]?|[ \t])"
_NUMBER_RE = re.compile(_B + r"(?:\+|00)?[0-9](?:" + _SEP + r"?[0-9])*(?:[ \t]?[Xx])?" + _E)
_PAREN_LANDLINE_RE = re.compile(r"\((0[1-9][0-9]{1,2})\)[ \t]?([0-9](?:[ -]?[0-9]){6,7})" + _E)

# Cues looked for just before a number (within the same clause).
_CLAUSE_END = "，。；;,\n！？!?"
_CUE_WINDOW = 14
_PHONE_CUES = (
    "电话", "手机", "座机", "固话", "联系方式", "号码", "拨打", "致电", "热线", "传真", "tel", "phone", "mobile",
)
_ACCOUNT_CUES = ("账号", "帐号", "账户", "帐户", "卡号", "银行卡", "银行账", "开户", "存折", "收款")
_QQ_CUES = ("qq",)
_WECHAT_CUES = ("微信", "wechat", "weixin", "vx", "wx")
_PERMIT_CUES = ("护照", "通行证", "回乡证", "台胞证", "居留证", "旅行证", "证件号", "passport")
_ID_CUES = ("身份证", "公民身份号码", "身份号码", "证件号")
# Numbers with these labels are not personal: document serials, licences, officers' certificates.
_NOT_PERSONAL_CUES = (
    "文号", "编号", "流水号", "案号", "注册号", "许可证号", "登记号", "备案号", "批准号", "执法证", "执法证件",
    "证书编号",
    "信用代码", "备字", "罚字", "检测报告", "合同号", "发票号", "订单号", "运单号", "批号",
)

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9][A-Za-z0-9._%+-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
_QQ_RE = re.compile(r"(?i)(?<![a-z])qq(?:号码|号)?[ \t]*(?:[:=]|为|是)?[ \t]*([1-9][0-9]{4,11})" + _E)
_WECHAT_RE = re.compile(
    r"(?i)(?:微信(?:号码|号|账号|id)?|wechat(?: ?id)?|weixin|(?<![a-z])vx|(?<![a-z])wx)[ \t]*(?:[:=]|为|是)?[ \t]*"
    r"([a-z][-_a-z0-9]{5,19})" + _E
)
_PLATE_CHAR = "[0-9A-HJ-NP-Za-hj-np-z]"  # plates use no I or O
_PLATE_RE = re.compile(
    rf"([{PLATE_PROVINCES}])([ \t]?)([A-HJ-NP-Za-hj-np-z])([ \t]?[·•\-]?[ \t]?)"
    rf"({_PLATE_CHAR}{{5,6}}|{_PLATE_CHAR}{{4}}[挂学警港澳])" + _E
)
# Standard plates have at most two letters among five, new-energy ones four digits or more; demanding
# three digits keeps words like "新Windows" from reading as plates.
_PLATE_MIN_DIGITS = 3
_PERMIT_RE = re.compile(
    _B + r"(E[A-HJ-NP-Z]?[0-9]{7,8}|[GCWHMPSDK][A-HJ-NP-Z]?[0-9]{7,8}|[HM][0-9]{10})" + _E
)
_CUED_PERMIT_RE = re.compile(_B + r"([A-Z]{1,2}[ \t]?[0-9]{6,10}|[0-9]{8,10})" + _E)

_DATE = (r"(?:(?:19|20)[0-9]{2}[ \t]?年[ \t]?[0-9]{1,2}[ \t]?月(?:[ \t]?[0-9]{1,2}[ \t]?[日号])?"
         r"|(?:19|20)[0-9]{2}[-./][0-9]{1,2}[-./][0-9]{1,2}|(?:19|20)[0-9]{2}[01][0-9][0-3][0-9]"
         r"|[〇零○一二三四五六七八九]{4}年[一二三四五六七八九十]{1,2}月(?:[一二三四五六七八九十]{1,3}日)?)")
_BIRTH_BEFORE_RE = re.compile(
    r"(?:出生日期|出生年月日|出生年月|出生时间|出生于|出生|生于|生日)[ \t]*[:为是]?[ \t]*(" + _DATE + ")"
)
_BIRTH_AFTER_RE = re.compile(r"(" + _DATE + r")[ \t]*(?:出生|生人|生(?=[）)，,。；;\s]))")
_AGE_RE = re.compile(r"(?<![0-9])([0-9]{1,3})[ \t]?(周岁|岁)(?!以[上下内]|之|的未成年|[以及]?[上下]的)")
_AGE_LABEL_RE = re.compile(r"年龄[ \t]*[:为是]?[ \t]*([0-9]{1,3})(?![0-9])")
_AGE_NOT_AFTER = ("未满", "不满", "年满", "已满", "满", "超过", "低于", "高于", "不足", "以上", "以下")

# Addresses after a marker, longest marker first so that 家庭住址 is not read as 住 + "址…".  The address
# runs to the next clause punctuation, or to the closing bracket of a parenthesis it was opened in.
_ADDRESS_RE = re.compile(
    r"(?P<marker>户籍所在地|经常居住地|家庭住址|户籍地址|现住址|现居住地|现居地|居住地址|联系地址|通讯地址|送达地址|"
    r"暂住地|住所地|居住地|户籍地|现居于|现居|住址|住所|地址|家住|现住|住)[：:]?[ \t]*"
    r"(?P<addr>[^，。；,;\n）)]+)"
)
# After these the text is an address only if it starts like one, naming a unit above a bare 区
# (住 also begins 住房, 住宿, 住宅小区 ...).
_WEAK_MARKERS = frozenset({"家住", "现住", "住", "地址"})
_WEAK_ADDRESS_RE = re.compile(r"[省市县旗州盟]|自治区|[0-9]号")
# A place-name character: a letter that is neither an administrative suffix nor a street-level word.
_PLACE = r"[^\W\d_省市区县旗盟路街巷弄号村镇乡楼栋室幢组，。、]"
_ADMIN_PREFIX_RE = re.compile(
    rf"(?:{_PLACE}{{2,8}}?(?:省|自治区|特别行政区))?"
    rf"(?:{_PLACE}{{1,8}}?(?:市|自治州|地区|盟))?"
    rf"(?:{_PLACE}{{1,8}}?(?:区|县|旗|市))?"
)
# An address with no marker: what identifies a dwelling is the house number and below (号、栋、单元、室),
# so a place is masked from the number on: 长治市潞州区英雄中路123号 → 长治市潞州区英雄中路****.  A number
# counts as a house number only after a road or a place word (小区、村、院 …), so 第12号 and 〔2025〕12号 do not.
_ROAD = r"[^\W\d_]{1,10}?(?:大道|大街|路|街|巷|胡同|里|道)(?:[东西南北中]段|[0-9一二三四五六七八九十]+段)?"
_UNIT = r"(?:[0-9]+[ \t]?(?:号院|号楼|号|栋|幢|单元|层|楼|室|户|排|组))"
_HOUSE_RE = re.compile(rf"(?P<road>{_ROAD})?(?P<rest>{_UNIT}(?:[-—]?{_UNIT})*(?:[-—][0-9]+)*)")
_PLACE_WORD_RE = re.compile(
    r"(?:小区|花园|家园|公寓|新村|新城|社区|苑|村|院|大厦|广场|座|区|镇|乡|县|市|号楼|巷|弄|里|屯|庄|街道|楼)[ \t]?$")


def normalise(text: str) -> str:
    """``text`` with full-width forms folded to ASCII, one character for one."""
    return text.translate(FULLWIDTH)


def _stars(text: str) -> str:
    return "*" * len(text)


def _keep_digits(run: str, first: int, last: int) -> str:
    """``run`` with all but its ``first`` and ``last`` digits (and any X) starred, separators kept."""
    total = sum(c.isdigit() or c in "Xx" for c in run)
    out, seen = [], 0
    for c in run:
        if c.isdigit() or c in "Xx":
            out.append(c if seen < first or seen >= total - last else "*")
            seen += 1
        else:
            out.append(c)
    return "".join(out)


def _hide_digits(text: str) -> str:
    return re.sub(r"[0-9〇零○一二三四五六七八九十]", "*", text)


def _plausible_birth(yyyymmdd: str) -> bool:
    try:
        d = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return 1900 <= d.year <= 2099


def _clause_before(norm: str, start: int) -> str:
    """The lower-cased text just before ``start``, cut at the start of its clause."""
    before = norm[max(0, start - _CUE_WINDOW):start]
    for i in range(len(before) - 1, -1, -1):
        if before[i] in _CLAUSE_END:
            before = before[i + 1:]
            break
    return before.lower()


def _last_cue(before: str, cues: tuple[str, ...]) -> int:
    """Where the last of ``cues`` ends in ``before`` (-1 if none)."""
    return max((before.rfind(c) + len(c) for c in cues if c in before), default=-1)


def _is_id(digits: str) -> bool:
    if len(digits) == 18 and digits[0] != "0":
        return digits[-1] in "Xx" or _plausible_birth(digits[6:14])
    return len(digits) == 15 and digits[0] != "0" and digits.isdigit() and _plausible_birth("19" + digits[6:12])


def _mask_card(digits: str) -> str:
    return digits[:4] + "****" + digits[-4:]


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_checksum_ok(digits: str) -> bool:
    """GB 11643's ISO 7064 MOD 11-2 check character of an 18-character resident ID."""
    if len(digits) != 18 or not digits[:17].isdigit():
        return False
    total = sum(int(c) * w for c, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == digits[17].upper()


def _is_credit_code(digits: str) -> bool:
    """An organisation's code, unless it reads as well as a resident ID (checksum and birth date both)."""
    return credit_code.is_valid(digits) and not (_id_checksum_ok(digits) and _plausible_birth(digits[6:14]))


def _nearest_cue(before: str) -> tuple[str, set[str]]:
    """The kind of the cue nearest before a number (or ""), and every kind of cue present."""
    ends = {name: _last_cue(before, cues) for name, cues in (
        ("phone", _PHONE_CUES), ("account", _ACCOUNT_CUES), ("qq", _QQ_CUES), ("wechat", _WECHAT_CUES),
        ("permit", _PERMIT_CUES), ("id", _ID_CUES), ("not", _NOT_PERSONAL_CUES))}
    present = {k for k, v in ends.items() if v >= 0}
    return (max(present, key=lambda k: ends[k]) if present else ""), present


def _classify_cued(run: str, digits: str, nearest: str) -> tuple[str, str] | None:
    """Numbers whose kind only a cue tells: QQ, WeChat, permits, accounts and local phone numbers."""
    if nearest == "qq" and 5 <= len(digits) <= 12:
        return "qq", _stars(run)
    if nearest == "wechat" and 5 <= len(digits) <= 12:
        return "wechat", _stars(run)
    if nearest == "permit" and 8 <= len(digits) <= 10:
        return "passport", _stars(run)
    if nearest == "account" and len(digits) >= 8:
        return "account", _mask_card(digits)
    if len(digits) >= 7 and (nearest == "phone" or (
            len(digits) in (7, 8) and digits[0] not in "01" and re.fullmatch(r"[0-9]{3,4}[ -][0-9]{4}", run))):
        return "phone", _keep_digits(run, 0, 2)
    return None


def _classify(run: str, before: str) -> tuple[str, str] | None:
    """(kind, masked) for a number ``run`` with ``before`` the text before it in its clause, or None."""
    digits = re.sub(r"[^0-9Xx+]", "", run)
    plus = digits.startswith("+")
    digits = digits.lstrip("+")
    nearest, present = _nearest_cue(before)
    if nearest == "not" and not present & {"phone", "account", "id"}:
        return None
    if "X" in digits.upper() and not (len(digits) in (15, 18) and digits[-1] in "Xx"):
        return None
    if nearest == "id" and len(digits) in (15, 18):
        return "id", _keep_digits(run, 6, 4)
    mobile = re.fullmatch(r"(\+?86|0086)?(1[3-9][0-9]{9})", ("+" if plus else "") + digits)
    if mobile and (mobile[1] or len(digits) == 11):
        return "phone", _keep_digits(run, len(digits) - 11 + 3, 4)
    if len(digits) == 18 and _is_credit_code(digits):
        return None  # an organisation's unified social credit code: published with its name
    if _is_id(digits) and nearest != "account":
        return "id", _keep_digits(run, 6, 4)
    if re.fullmatch(r"0[1-9][0-9]{8,10}", digits) and nearest != "account":
        return "phone", _keep_digits(run, 3 if digits[1] in "12" else 4, 2)
    if (cued := _classify_cued(run, digits, nearest)) is not None:
        return cued
    if 14 <= len(digits) <= 25:
        return "account", _mask_card(digits)
    return None


def _number_spans(norm: str) -> Iterator[Found]:
    for m in _PAREN_LANDLINE_RE.finditer(norm):
        yield Found(m.start(), m.end(), "phone", norm[m.start():m.start(2)] + _keep_digits(m[2], 0, 2))
    for m in _NUMBER_RE.finditer(norm):
        run = m[0]
        if (judged := _classify(run, _clause_before(norm, m.start()))) is not None:
            yield Found(m.start(), m.end(), *judged)
        elif _SEP_SPLIT.search(run):
            # Two numbers side by side ("2025 13812345678"): judge each part on its own.
            offset = m.start()
            for part in _SEP_SPLIT.split(run):
                at = norm.index(part, offset)
                offset = at + len(part)
                if (judged := _classify(part, _clause_before(norm, at))) is not None:
                    yield Found(at, at + len(part), *judged)


_SEP_SPLIT = re.compile(r"[ \t]+")


def _contact_spans(norm: str) -> Iterator[Found]:
    for m in _EMAIL_RE.finditer(norm):
        local = m[1]
        yield Found(m.start(), m.end(), "email", local[0] + _stars(local[1:]) + "@" + m[2])
    for m in _QQ_RE.finditer(norm):
        yield Found(m.start(1), m.end(1), "qq", _stars(m[1]))
    for m in _WECHAT_RE.finditer(norm):
        if _classify(m[1], "") is None:
            yield Found(m.start(1), m.end(1), "wechat", m[1][0] + _stars(m[1][1:]))


def _document_spans(norm: str) -> Iterator[Found]:
    for m in _PLATE_RE.finditer(norm):
        if sum(c.isdigit() for c in m[5]) >= _PLATE_MIN_DIGITS:
            yield Found(m.start(), m.end(), "plate", m[1] + m[2] + m[3] + m[4] + _stars(m[5]))
    for m in _PERMIT_RE.finditer(norm):
        if _nearest_cue(_clause_before(norm, m.start()))[0] != "not":
            yield Found(m.start(), m.end(), "passport", re.sub(r"[0-9]", "*", m[0]))
    for m in _CUED_PERMIT_RE.finditer(norm):
        if _nearest_cue(_clause_before(norm, m.start()))[0] == "permit":
            yield Found(m.start(), m.end(), "passport", re.sub(r"[0-9]", "*", m[0]))


def _life_spans(norm: str) -> Iterator[Found]:
    for rx in (_BIRTH_BEFORE_RE, _BIRTH_AFTER_RE):
        for m in rx.finditer(norm):
            yield Found(m.start(1), m.end(1), "birth", _hide_digits(m[1]))
    for m in _AGE_RE.finditer(norm):
        if not any(norm[:m.start()].endswith(w) for w in _AGE_NOT_AFTER):
            yield Found(m.start(1), m.end(1), "age", _stars(m[1]))
    for m in _AGE_LABEL_RE.finditer(norm):
        yield Found(m.start(1), m.end(1), "age", _stars(m[1]))


def mask_address(address: str) -> str:
    """The address up to its county-level unit, then ``****``; an address with nothing below that is kept."""
    address = address.strip()
    prefix = _ADMIN_PREFIX_RE.match(address)
    kept = prefix.group(0) if prefix else ""
    return address if kept == address else kept + ADDRESS_MASK


def _address_spans(text: str) -> Iterator[Found]:
    for m in _ADDRESS_RE.finditer(text):
        addr = m["addr"].rstrip()
        prefix = _ADMIN_PREFIX_RE.match(addr)
        if m["marker"] in _WEAK_MARKERS and not (
                (prefix and _WEAK_ADDRESS_RE.search(prefix.group(0))) or _HOUSE_RE.search(normalise(addr))):
            continue
        masked = mask_address(addr)
        if masked != addr:  # only the hidden part is a span: a name inside the kept part is masked on its own
            kept = len(masked) - len(ADDRESS_MASK)
            yield Found(m.start("addr") + kept, m.start("addr") + len(addr), "address", ADDRESS_MASK)
    norm = normalise(text)
    for m in _HOUSE_RE.finditer(norm):
        if m["road"] or _PLACE_WORD_RE.search(norm[max(0, m.start("rest") - 4):m.start("rest")]):
            yield Found(m.start("rest"), m.end(), "address", ADDRESS_MASK)


def find(text: str) -> list[Found]:
    """Every personal identifier and address the patterns see in ``text`` (overlaps possible)."""
    norm = normalise(text)
    return [*_number_spans(norm), *_contact_spans(norm), *_document_spans(norm), *_life_spans(norm),
            *_address_spans(text)]


def literal_spans(text: str, value: str, kind: str, masked: str) -> Iterator[Found]:
    """Each verbatim (case-insensitive) occurrence of ``value`` in ``text``."""
    for m in re.finditer(re.escape(value), text, re.IGNORECASE):
        yield Found(m.start(), m.end(), kind, masked)
