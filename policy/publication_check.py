"""The second look before publication: does the public text still look like it holds personal data?

Masking (``masking``) is the first line and errs on the side of hiding too much; this check is independent
of it — a few blunt rules that do not share its patterns or jieba — so that a hole in one is not a hole in
both.  Publication fails closed: a record whose public text has a finding cannot be approved, published
or corrected until each finding is resolved by staff, either masked (the text is changed) or cleared as
"not personal data" with a reason (logged; see ``services.publication_check``).

Findings:

- ``digits``: any run of 7 or more digits (full-width too, single separators such as space, ``-`` or
  ``.`` inside), except an amount (followed by 元), a date written 2026-03-20, a valid unified social
  credit code, and an enforcement officer's certificate number (after 执法证号, kept by policy: README);
- ``at``: any ``@`` or ``＠`` not right after a ``*`` (the masked form z***@163.com passes): an e-mail
  address or a social-media handle;
- ``name``: after a person cue (当事人、证人、联系人 …), a 2–4 character token that starts with a
  surname and is not masked (王*, 王某 pass; 王小明 does not), and the same after 、 in a list of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from policy import credit_code
from policy.names import SURNAMES

MIN_DIGITS = 7
_FOLD = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"＠": "@", "－": "-", "．": ".", "\u3000": " "})
_DIGITS_RE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]*[0-9](?:[ \-.·]?[0-9A-Za-z])*")
_DATE_RE = re.compile(r"(?:19|20)[0-9]{2}[-./][0-9]{1,2}[-./][0-9]{1,2}")
_AMOUNT_AFTER_RE = re.compile(r"[ ]?(?:元|万元|亿元)")
_OFFICER_BEFORE = ("执法证号", "执法证件号", "执法证编号", "执法证")
# An @ whose local part is not starred out (z***@163.com is the masked form and passes).
_AT_RE = re.compile(r"[A-Za-z0-9._%+\-]{0,24}(?<!\*)@[^\s，。；,;（）()]{0,40}")
# The check's own cues: written out here, not shared with the masking, on purpose.
_CUES = (
    "委托代理人", "法定代表人", "负责人", "经营者", "当事人", "证人", "见证人", "联系人", "经办人", "代理人", "监护人",
    "驾驶人", "驾驶员", "车主", "户主", "业主", "店主", "摊主", "举报人", "投诉人", "受害人", "姓名", "员工", "司机",
)
_CUE_RE = re.compile("(?:" + "|".join(_CUES) + r")[：: ]*")
# Characters that follow a cue and begin a word, not a name, even where they are also surnames
# (当事人于…, 当事人向…, 当事人经营…): only a short token standing alone counts after these.
_FUNCTION_START = frozenset(
    "于向从经应和及时在为与对将把被由自以因所已未也均都还又即并称系是有无不没能可会要曾拒主全同现当后前"
)
# Two-character words after a cue that start with a surname character but are not names.
_NOT_NAMES = frozenset(
    "陈述 陈列 高价 高于 方面 方式 安全 时间 全部 成立 明知 明确 周边 周围 毛重 金额 程序 车辆 白天 任何 任意 常年 "
    "马路 路边 路面 张贴 张挂 林木 林地 包装 包括 钱款 严重 严格 计量 许可 连续 管理 卫生 单位 双方 封存 查封 查处 "
    "查明 查获 查看 查验 项目 费用 宁可 黄金 江边 石材 沙土 水泥 通过 通知 申请 申辩 申报 申诉 雷同 华北 文明 易燃 "
    "齐全 温度 冷藏 常温 强制 强行 贾某 龙头 云南 花卉 房屋 房间 邓某".split()
)
_HAN = re.compile(r"[\u3400-\u9fff]")
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
_PLACE_UNIT = re.compile(r"[省市县区]")
_STRONG_ORGANISATION = re.compile(r"公司|有限|集团|合作社|经营部|商行|门市部|事务所")
_ORGANISATION_END = re.compile(
    r"(?:[^到在进]店|厂|中心|超市|协会|学校|医院|诊所|合作社|加油站|市场|农场|商场|宾馆|旅馆|饭馆|面馆|茶馆|车行)$"
)
_MASKED_NAME = re.compile(r"(?:[\u3400-\u9fff]{1,2}\*+|[\u3400-\u9fff]某+)")


@dataclass(frozen=True, slots=True)
class Finding:
    """Something in the public text that may be personal data."""

    kind: str  # digits | at | name
    text: str  # the suspicious token, as it stands in the text
    start: int
    context: str  # a few characters either side, to show staff where it is


def _context(text: str, start: int, end: int) -> str:
    return text[max(0, start - 12):min(len(text), end + 12)].replace("\n", " ")


def _digit_findings(text: str, folded: str) -> list[Finding]:
    out = []
    for m in _DIGITS_RE.finditer(folded):
        token = m[0].rstrip(" -.·")
        if sum(c.isdigit() for c in token) < MIN_DIGITS or _DATE_RE.fullmatch(token):
            continue
        if credit_code.is_valid(token) or _AMOUNT_AFTER_RE.match(folded, m.start() + len(token)):
            continue
        before = folded[max(0, m.start() - 8):m.start()].rstrip("：: ")
        if before.endswith(_OFFICER_BEFORE):
            continue
        end = m.start() + len(token)
        out.append(Finding("digits", text[m.start():end], m.start(), _context(text, m.start(), end)))
    return out


def _name_token(text: str, pos: int) -> str | None:
    """The name-like token starting at ``pos`` (right after a cue, or after 、), if there is one."""
    run = ""
    for c in text[pos:pos + 5]:
        if not _HAN.match(c):
            break
        run += c
    if len(run) < 2 or run[0] not in SURNAMES or "某" in run[:3]:
        return None
    whole = _HAN_RUN.match(text, pos)
    if whole and (_PLACE_UNIT.search(whole[0][:6]) or _STRONG_ORGANISATION.search(whole[0][:16])
                  or _ORGANISATION_END.search(whole[0])):
        return None  # 当事人长治市某某有限公司, 当事人王记烧烤店: an organisation or a place, not a person
    standing_alone = len(run) <= 4
    if run[0] in _FUNCTION_START or run[:2] in _NOT_NAMES:
        return run if standing_alone and run[:2] not in _NOT_NAMES else None
    return run[:3] if not standing_alone else run


def _name_findings(text: str) -> list[Finding]:
    out = []
    for m in _CUE_RE.finditer(text):
        pos = m.end()
        while True:
            if (masked := _MASKED_NAME.match(text, pos)) is not None:
                pos = masked.end()  # 李*、钱七: a masked name, and the list goes on
            elif (token := _name_token(text, pos)) is not None:
                out.append(Finding("name", token, pos, _context(text, pos, pos + len(token))))
                pos += len(token)
            else:
                break
            if text[pos:pos + 1] not in ("、", "，"):
                break
            pos += 1
    return out


def findings(public_text: str) -> list[Finding]:
    """Everything in ``public_text`` that still looks personal, in order of position."""
    folded = public_text.translate(_FOLD)
    found = _digit_findings(public_text, folded)
    found += [Finding("at", public_text[m.start():m.end()], m.start(), _context(public_text, m.start(), m.end()))
              for m in _AT_RE.finditer(folded)]
    found += _name_findings(public_text)
    return sorted(found, key=lambda f: (f.start, f.kind))


def unresolved(found: list[Finding], cleared: Mapping[str, str]) -> list[Finding]:
    """The findings not cleared as "not personal data" (``cleared``: finding text → the reason given)."""
    return [f for f in found if f.text not in cleared]
