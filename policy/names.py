"""Natural persons' names in free Chinese text: jieba's part-of-speech tags, context cues and surnames.

A name is found three ways, and each finding is then masked wherever the same name recurs:

- jieba tags a word ``nr`` (personal name) and it starts with a known surname: 王小明, 钱七; a surname
  tagged on its own followed by a given name is joined (郭 + 红梅, 欧阳 + 娜娜);
- a person cue (当事人、证人、联系人、法定代表人、负责人、经办人、委托代理人、驾驶人 …) is followed by a
  surname and a short given name that jieba did not tag (当事人：郑二毛);
- the record's own names (the party's, ``other_names``), matched verbatim by the caller.

What is kept: names inside an organisation's name (长治市潞州区王记烧烤店, legal persons are published),
placeholders already anonymised (王某, 李某某), and enforcement officers acting in office — names after
执法人员 / 办案人员 / 承办人, or followed by their 执法证号 — whose names and certificate numbers the
bureau publishes with its basic enforcement information (README: "Masking").

Purity: ``policy`` does no I/O, with one stated exception here: jieba reads the dictionary packaged
inside its own wheel (``jieba/dict.txt``), once, on the first call.  It is read-only package data, like
a compiled table; no cache file is written or read (jieba's default would put one in the temp dir).
"""

from __future__ import annotations

import re
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

# 百家姓 single surnames, and the common modern ones it lacks (付, 闫, 覃 …).
SURNAMES = frozenset(
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎鲁韦昌马"
    "苗凤花方俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄和穆萧尹姚邵湛汪"
    "祁毛禹狄米贝明臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭梅盛林刁钟徐邱骆高夏蔡田"
    "樊胡凌霍虞万支柯昝管卢莫经房裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚程嵇邢滑裴陆荣翁荀羊於惠甄曲家封"
    "芮羿储靳汲邴糜松井段富巫乌焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶"
    "郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴郁胥能苍双闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍郤璩桑桂濮牛寿通"
    "边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容向古易慎戈廖庾终暨居衡步都耿满弘匡国文寇广禄阙东欧殳沃利"
    "蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空曾毋沙乜养鞠须丰巢关蒯相查后荆红游竺权逯盖益桓公岳帅缑亢况郈琴"
    "付闫覃代苟邸佘揭麦冼粟银阳晋仝兰候禹蔡来"
)
#: Chinese compound surnames (复姓): a name beginning with one keeps both characters when masked.
COMPOUND_SURNAMES = frozenset(
    "欧阳 太史 端木 上官 司马 东方 独孤 南宫 万俟 闻人 夏侯 诸葛 尉迟 公羊 赫连 澹台 皇甫 宗政 濮阳 公冶 太叔 申屠 "
    "公孙 慕容 仲孙 钟离 长孙 宇文 司徒 鲜于 司空 闾丘 子车 亓官 司寇 巫马 公西 颛孙 壤驷 公良 漆雕 乐正 宰父 谷梁 "
    "拓跋 夹谷 轩辕 令狐 段干 百里 呼延 东郭 南门 羊舌 微生 公户 公玉 公仪 梁丘 公仲 公上 公门 公山 公坚 左丘 公伯 "
    "西门 公祖 第五 公乘 贯丘 公皙 南荣 东里 东宫 仲长 子书 子桑 即墨 达奚 褚师".split()
)
#: Words before a natural person's name.  Longest first where one contains another.
PERSON_CUES = (
    "委托代理人", "法定代表人", "实际经营者", "实际控制人", "主要负责人", "现场负责人", "受委托人", "被检查人",
    "当事人",
    "证人", "见证人", "联系人", "负责人", "经办人", "代理人", "监护人", "驾驶人", "驾驶员", "车主", "户主", "业主",
    "店主", "摊主", "房东", "承租人", "出租人", "举报人", "投诉人", "申请人", "被申请人", "受害人", "收货人", "送货人",
    "员工", "职工", "店员", "营业员", "厨师", "司机", "乘客", "妻子", "丈夫", "之子", "之女", "其子", "其女", "其父",
    "其母", "其妻", "其夫", "姓名", "法人", "经营者", "个体工商户", "签收人", "陪同人", "翻译人员", "旁证",
    "消费者", "顾客", "购买者", "住户", "居民", "村民", "租户", "行人", "车主", "货主", "托运人", "承运人",
)
#: Words before officers acting in office: names after them are kept (see the module docstring).
OFFICER_CUES = ("行政执法人员", "执法人员", "执法队员", "办案人员", "承办人员", "承办人", "检查人员", "执法人")
#: Words jieba tags as names that are not names in enforcement texts.
NOT_NAMES = frozenset(
    "陈述 陈列 高档 高温 于是 向前 明确 明显 常规 时间 方面 成立 全部 从事 余额 和解 有关 来源 文明 安全 "
    "平安 黄金 江湖 石油 金融 万元 宋体 林业 白天 马路 路面 段落 段长 车辆 车主 车间 罗列 孙子 包装 程序 史料 "
    "任务 任意 任何 连续 连同 甘心 申请 申报 申辩 申明 申诉 于此 于法 向其 向本 钱款 金额 周边 周围 周末 周日 "
    "高于 高速 秦岭 卫生 卢沟 龙头 龙门 文化 文件 武装 司法 司机 毛重 华北 关于 管理 邓某 雷同 易燃 易腐 通知 "
    "通过 通行 方便 方式 宁可 宁愿 应当 应该 曾经 双方 单位 简易 温度 温州 冷藏 冷冻 白酒 常温 明知 明细 齐全 "
    "庄重 余下 何时 何处 何种 江边 严重 严格 计量 尚未 许可 花园 花卉 孔洞 柯式 景区 景点 胡同 田间 夏季 秋季 "
    "黎明 都市 东方 东西 东侧 西侧 南侧 北侧 房屋 房间 门前 凤凰 鲁菜 杨柳 沙土 沙石 水泥 习惯 和平 卓越 "
    "高素质 高水平 高质量 高标准 高效率 纪律严明 公正 权威 "
    "强制 强行 贾某 钟点 苏打 章程 虞城 祁县 晋城 长治 长子 屯留 潞城 壶关 平顺 黎城 武乡 沁县 沁源 襄垣".split()
)
# Characters a given name does not start with after a cue (the cue is followed by a verb or a preposition).
_NOT_GIVEN_START = frozenset("于在称系到等对向的未已为与和及因将所现经均也则是有无不被把从自男女")
_ORG_SUFFIX_RE = re.compile(
    r"(?:有限责任公司|股份有限公司|有限公司|分公司|公司|集团|商行|经营部|门市部|超市|便利店|酒店|饭店|餐厅|餐馆|宾馆|"
    r"旅馆|烧烤店|小吃店|面馆|药店|药房|诊所|门诊部|医院|学校|幼儿园|工作室|合作社|中心|商店|店|厂|场|站|部|行|社|馆|"
    r"协会|委员会|事务所|营业部|加油站|4S店)"
)
_HAN = re.compile(r"[\u3400-\u9fff]+")
_NAME_FLAGS = frozenset({"nr", "nrfg", "nrt"})
# Without a cue, jieba's word alone decides, so words its dictionary knows as common (公正 and 权威 are
# tagged nr there, with frequencies in the thousands) or as public figures (nrfg: 习近平) are not taken.
_COMMON_WORD_FREQ = 500
_NAME_FLAGS_ALONE = frozenset({"nr", "nrt"})
# Tags that may sit between a place and an organisation suffix inside an organisation's name.
_ORG_PART_FLAGS = frozenset(
    {"ns", "nz", "nt", "n", "nr", "nrfg", "nrt", "r", "m", "an", "vn", "j", "b", "ng", "l", "q"}
)
_OFFICER_LIST_JOINERS = frozenset({"、", "和", "及", "与", ",", "，", " ", "（", "(", "：", ":"})


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    flag: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)


_lock = threading.Lock()
_tokenizer: Any = None
#: A background load of the dictionary pauses after this many lines (about a millisecond of work) ...
WARM_UP_SLICE_LINES = 500
#: ... for this long, so a server's event loop, which shares the GIL with it, never waits for it longer
#: than that slice: unpaced, the load took the GIL for CPython's 5 ms switch interval again and again,
#: and the first seconds after start-up answered requests late (issue 17 item 2).
WARM_UP_PAUSE_S = 0.001


class _Paced:
    """The lines of a dictionary file, read with a pause every ``WARM_UP_SLICE_LINES``."""

    def __init__(self, f: Any) -> None:
        self._f = f
        self.name = getattr(f, "name", "dict.txt")

    def __iter__(self) -> Iterator[bytes]:
        for n, line in enumerate(self._f, 1):
            if n % WARM_UP_SLICE_LINES == 0:
                time.sleep(WARM_UP_PAUSE_S)
            yield line

    def close(self) -> None:
        self._f.close()


def _pos_tokenizer(*, paced: bool = False) -> Any:
    """jieba's part-of-speech tokenizer, built once from its packaged dictionary (the stated I/O);
    ``paced``: in the background, pausing now and then (``WARM_UP_PAUSE_S``)."""
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            with warnings.catch_warnings():
                # jieba imports pkg_resources, which newer setuptools deprecate; nothing of ours to fix.
                warnings.simplefilter("ignore")
                # Deferred: jieba's import and dictionary cost ~1.5 s and are needed only when text is masked.
                import jieba.posseg
            base = jieba.posseg.jieba.Tokenizer()
            opened = base.get_dict_file
            if paced:
                base.get_dict_file = lambda: _Paced(opened())  # the POS tags are read from the same file
            # Build the prefix dictionary straight from the packaged dict.txt, skipping jieba's on-disk cache.
            with opened() as f:
                base.FREQ, base.total = base.gen_pfdict(_Paced(f) if paced else f)
            base.initialized = True
            tokenizer = jieba.posseg.POSTokenizer(base)
            if paced:
                del base.get_dict_file
            _tokenizer = tokenizer
        return _tokenizer


def _common_word(word: str) -> bool:
    return int(_pos_tokenizer().tokenizer.FREQ.get(word) or 0) >= _COMMON_WORD_FREQ


def warm_up() -> None:
    """Load the dictionary now, paced (a server calls this off its event loop at start-up)."""
    _pos_tokenizer(paced=True)


def words(text: str) -> list[Word]:
    """``text`` cut into words with jieba's part-of-speech flags and their offsets."""
    out: list[Word] = []
    pos = 0
    for pair in _pos_tokenizer().cut(text):
        out.append(Word(pair.word, pair.flag, pos))
        pos += len(pair.word)
    return out


def surname_length(name: str) -> int:
    """How many leading characters of ``name`` are its surname (2 for a compound surname), 0 if none is known."""
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return 2
    return 1 if name[:1] in SURNAMES else 0


# A name does not end in these (安全法, 张三于): jieba's unknown-word guesses run over a law or a preposition.
_NOT_LAST = frozenset("法条款局委会所队厅部处科办站于在称系到等对向的将被把从自与和及")
_PLACE_LAST = frozenset("省市县区镇乡村路街巷")


def _trimmed(candidate: str) -> str:
    """A three-character guess that swallowed a following preposition, cut back to the name (张三于 → 张三)."""
    return candidate[:-1] if len(candidate) == 3 and candidate[-1] in _NOT_LAST else candidate


def _name_like(candidate: str) -> bool:
    if not 2 <= len(candidate) <= 4 or not _HAN.fullmatch(candidate) or "某" in candidate:
        return False
    if candidate[-1] in _NOT_LAST or candidate[-1] in _PLACE_LAST:
        return False
    if candidate in NOT_NAMES or _ORG_SUFFIX_RE.search(candidate[-2:]):
        return False
    return surname_length(candidate) > 0


def organisation_spans(ws: Sequence[Word]) -> list[tuple[int, int]]:
    """Where organisations' names are: a run of nouns and places ending in a suffix such as 有限公司 or 店."""
    spans = []
    for i, w in enumerate(ws):
        if not _ORG_SUFFIX_RE.fullmatch(w.text) and not (len(w.text) > 2 and _ORG_SUFFIX_RE.search(w.text[-2:])):
            continue
        j = i
        while j > 0 and ws[j - 1].flag in _ORG_PART_FLAGS and ws[j - 1].text not in PERSON_CUES \
                and ws[j - 1].text not in OFFICER_CUES and _HAN.fullmatch(ws[j - 1].text):
            j -= 1
        if j < i or len(w.text) > 2:
            spans.append((ws[j].start, w.end))
    return spans


def _after_cue(ws: Sequence[Word], i: int) -> int:
    """The index of the first word after the cue ``ws[i]``, past a colon or spaces."""
    j = i + 1
    while j < len(ws) and ws[j].text.strip() in ("", "：", ":"):
        j += 1
    return j


def _cue_name(ws: Sequence[Word], j: int) -> tuple[int, int] | None:
    """A name starting at word ``j`` right after a person cue, if one is there."""
    if j >= len(ws) or not _HAN.fullmatch(ws[j].text):
        return None
    first = ws[j]
    if first.flag in _NAME_FLAGS and _name_like(_trimmed(first.text)):
        return _extended(ws, j, "".join(w.text for w in ws)) if _trimmed(first.text) == first.text \
            else (first.start, first.start + len(first.text) - 1)
    text = first.text
    n = surname_length(text) or (2 if text[:2] in COMPOUND_SURNAMES else 0)
    k = j + 1
    # A surname jieba cut off on its own, or glued to part of the given name: join the next short words
    # (郑 + 二毛, 龚 + 宏伟, 上官 + 萍 + 晓, 许国 + 军) up to a given name of two characters.
    while n and len(text) < n + 2 and k < len(ws) and _HAN.fullmatch(ws[k].text) \
            and len(text) + len(ws[k].text) <= n + 2 and ws[k].text not in PERSON_CUES \
            and not ws[k].flag.startswith(("v", "p", "d", "c", "u", "f")) and ws[k].text not in _AFTER_NAME:
        text += ws[k].text
        k += 1
    if n and len(text) >= n + 1 and text[n] not in _NOT_GIVEN_START and _name_like(text) and first.flag not in (
            "v", "p", "d", "c", "vn"):
        return first.start, first.start + len(text)
    return None


# After a name, these single characters begin the rest of the sentence (丁宁梅对…, 罗平超，…).
_AFTER_NAME = frozenset("对在于称等因向到系为已未将也均说和与及的了是被把从自")
_CUE_RE = re.compile("(?:" + "|".join(sorted(PERSON_CUES, key=len, reverse=True)) + r")[：: ]*")


def _extended(ws: Sequence[Word], i: int, text: str) -> tuple[int, int]:
    """An ``nr`` word of surname + one character, with the single character jieba cut off after it
    when the sentence goes on right after that (罗平 + 超，→ 罗平超)."""
    w = ws[i]
    if len(w.text) == 2 and surname_length(w.text) == 1 and i + 1 < len(ws):
        nxt = ws[i + 1]
        after = text[nxt.end:nxt.end + 1]
        then = ws[i + 2] if i + 2 < len(ws) else None
        if len(nxt.text) == 1 and _HAN.fullmatch(nxt.text) and nxt.text not in _AFTER_NAME \
                and nxt.text not in _NOT_GIVEN_START and (
                    not _HAN.fullmatch(after or "，") or after in _AFTER_NAME
                    or (then is not None and then.flag.startswith("v") and len(then.text) >= 2)):
            return w.start, nxt.end
    return w.start, w.end


def _cue_names(text: str, ws: Sequence[Word]) -> list[tuple[int, int]]:
    """Names right after a person cue: a short run standing alone (法定代表人：上官辉婷，), else by words."""
    starts = {w.start: i for i, w in enumerate(ws)}
    out = []
    for m in _CUE_RE.finditer(text):
        pos = m.end()
        while True:  # 证人苏雪国、苏明亮: the cue covers the whole list
            run = _HAN.match(text, pos)
            if run is None:
                break
            alone = run[0]
            if 2 <= len(alone) <= 4 and _name_like(alone) and (len(alone) - surname_length(alone)) <= 2:
                found: tuple[int, int] | None = (run.start(), run.end())
            elif pos in starts:
                found = _cue_name(ws, starts[pos])
            else:
                found = None
            if found is None:
                break
            out.append(found)
            if text[found[1]:found[1] + 1] != "、":
                break
            pos = found[1] + 1
    return out


def find_names(text: str) -> tuple[set[str], set[str]]:
    """(personal names found in ``text``, officers' names to keep) — both as plain strings.

    The caller masks every occurrence of each personal name outside organisations' names.
    """
    ws = words(text)
    names: set[str] = set()
    officers: set[str] = set()
    orgs = organisation_spans(ws)
    candidates: list[tuple[int, int, bool]] = []  # start, end, in an officer list

    officer_context = False
    for i, w in enumerate(ws):
        if w.text in OFFICER_CUES:
            officer_context = True
            continue
        if officer_context and (w.text in ("。", "；", ";", "\n") or (
                w.flag.startswith("v") and w.text not in ("执法", "证号"))):
            officer_context = False  # the list of officers ends with its sentence or at its verb (出示)
        if w.flag in _NAME_FLAGS_ALONE and _name_like(_trimmed(w.text)) and not _common_word(w.text):
            start, end = _extended(ws, i, text) if _trimmed(w.text) == w.text else (w.start, w.start + len(w.text) - 1)
            candidates.append((start, end, officer_context))
        elif (w.text in SURNAMES or w.text in COMPOUND_SURNAMES) and i + 1 < len(ws) \
                and ws[i + 1].flag in _NAME_FLAGS and _HAN.fullmatch(ws[i + 1].text) \
                and _name_like(w.text + ws[i + 1].text):
            candidates.append((w.start, ws[i + 1].end, officer_context))  # 郭 + 红梅, 欧阳 + 娜娜
    candidates += [(s, e, False) for s, e in _cue_names(text, ws)]
    for start, end, officer in candidates:
        if any(s <= start and end <= e for s, e in orgs) or not _name_like(text[start:end]):
            continue
        name = text[start:end]
        if officer or text[end:end + 8].lstrip("（( ").startswith(("执法证", "证号")):
            officers.add(name)
        else:
            names.add(name)
    # A name found whole drops a shorter guess inside it (罗平超 over 罗平), unless that is a name elsewhere.
    names = {n for n in names if not any(n != m and n in m for m in names) or _alone(text, n, names)}
    return names - officers, officers


def _alone(text: str, name: str, names: set[str]) -> bool:
    """Whether ``name`` occurs somewhere not inside a longer name of ``names``."""
    longer = [m for m in names if name in m and m != name]
    for m in re.finditer(re.escape(name), text):
        if not any(text[max(0, m.start() - len(x)):m.end() + len(x)].find(x) >= 0 for x in longer):
            return True
    return False


def _prev_non_space(ws: Sequence[Word], i: int) -> int:
    j = i - 1
    while j > 0 and ws[j].text.strip() in ("", "：", ":"):
        j -= 1
    return j


def name_spans(text: str, extra: Sequence[str] = ()) -> Iterator[tuple[int, int]]:
    """Every occurrence of a personal name in ``text`` (found here, or given in ``extra``) outside the
    names of organisations, as (start, end)."""
    found, officers = find_names(text)
    wanted = {n for n in (*found, *extra) if len(n) >= 2} - officers
    if not wanted:
        return
    kept = organisation_spans(words(text))
    kept += [(m.start(), m.end()) for o in officers for m in re.finditer(re.escape(o), text)]
    # Longest first, so that 欧阳娜娜 is one span rather than 欧阳 + a stray 娜娜.
    pattern = re.compile("|".join(re.escape(n) for n in sorted(wanted, key=len, reverse=True)))
    for m in pattern.finditer(text):
        if m[0] in extra or not any(s < m.end() and m.start() < e for s, e in kept):
            yield m.start(), m.end()
