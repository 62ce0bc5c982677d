"""Writes tests/data/masking_corpus.jsonl: decision texts with their personal data marked, and the expected
masked output.  Run once to regenerate (fixed seed); the JSONL is what tests and bench/masking.py read.

Texts follow the shape of real 城管、市场监管 and 交通 penalty decisions: party, agent, witnesses, contact
people, addresses, vehicles, officers with certificate numbers.  Every piece of personal data is written
down with its kind and its expected masked form by the generator, which knows what it put where, not by
the masking code; legal persons' names, their credit codes and officers are listed under ``keep``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("masking_corpus.jsonl")
CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

SURNAMES = list(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏"
    "钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
COMPOUND = ["欧阳", "司马", "上官", "诸葛", "东方", "皇甫"]
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国志宏海波宁晓东文斌俊峰林婷慧巧雪云飞亮春梅"
)
ROADS = ["英雄中路", "太行西街", "八一路", "长兴南路", "紫金东街", "府后西街", "延安南路", "建设北路", "解放东街",
         "漳泽路"]
VILLAGES = ["西街村", "东关村", "故县村", "南垂村", "北董村", "店上村", "黄碾村"]
ESTATES = ["金威小区", "英雄花园", "府东家园", "丽景苑", "紫金公寓"]
COUNTIES = ["潞州区", "上党区", "屯留区", "潞城区", "长子县", "襄垣县", "沁县"]
SHOPS = ["餐饮有限公司", "商贸有限公司", "便利店", "烧烤店", "建材经营部", "汽车运输有限公司", "物流有限公司", "超市"]
SHOP_WORDS = ["鑫源", "宏达", "金鼎", "福瑞", "惠民", "康泰", "顺通", "佳美", "晋韵", "太行"]
BANKS = ["中国工商银行长治分行", "中国农业银行潞州支行", "长治银行", "中国建设银行长治分行"]


class Doc:
    """A text built piece by piece: personal data (with kind and masked form) and kept values marked."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.expected: list[str] = []
        self.pii: list[dict[str, str]] = []
        self.keep: list[str] = []

    def t(self, text: str) -> Doc:
        self.parts.append(text)
        self.expected.append(text)
        return self

    def p(self, kind: str, value: str, masked: str) -> Doc:
        self.pii.append({"kind": kind, "value": value, "start": sum(map(len, self.parts))})
        self.parts.append(value)
        self.expected.append(masked)
        return self

    def k(self, value: str) -> Doc:
        self.keep.append(value)
        return self.t(value)


def fw(s: str) -> str:
    """Full-width digits and letters."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in s)


def keep_digits(s: str, first: int, last: int) -> str:
    total = sum(c.isdigit() or c in "Xx" for c in s)
    out, seen = [], 0
    for c in s:
        if c.isdigit() or c in "Xx":
            out.append(c if seen < first or seen >= total - last else "*")
            seen += 1
        else:
            out.append(c)
    return "".join(out)


def to_ascii(s: str) -> str:
    return "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in s)


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.used: set[str] = set()

    def name(self) -> tuple[str, str]:
        while True:
            if self.r.random() < 0.08:
                sur = self.r.choice(COMPOUND)
                given = "".join(self.r.choice(GIVEN) for _ in range(self.r.choice((1, 2))))
            else:
                sur = self.r.choice(SURNAMES)
                given = "".join(self.r.choice(GIVEN) for _ in range(self.r.choice((1, 2, 2))))
            full = sur + given
            if full not in self.used:
                self.used.add(full)
                masked = sur + "*" * len(given) if len(full) >= 3 or len(sur) == 1 else full[0] + "*"
                return full, masked

    def mobile(self) -> tuple[str, str]:
        d = self.r.choice(["138", "139", "135", "150", "186", "177", "199"]) + "".join(
            self.r.choice("0123456789") for _ in range(8))
        form = self.r.randrange(8)
        s = [d, f"{d[:3]} {d[3:7]} {d[7:]}", f"{d[:3]}-{d[3:7]}-{d[7:]}", f"{d[:3]} {d[3:7]}-{d[7:]}",
             f"{d[:3]}.{d[3:7]}.{d[7:]}", f"{d[:3]} {d[3:]}", f"+86 {d}", fw(d)][form]
        first = 5 if s.startswith("+86") else 3
        return s, keep_digits(to_ascii(s), first, 4)

    def landline(self) -> tuple[str, str]:
        local = self.r.choice("2345678") + "".join(self.r.choice("0123456789") for _ in range(6))
        form = self.r.randrange(3)
        if form == 0:
            return f"0355-{local}", keep_digits(f"0355-{local}", 4, 2)
        if form == 1:
            return f"(0355){local}", "(0355)" + keep_digits(local, 0, 2)
        return local, keep_digits(local, 0, 2)  # a local number with no area code, after a phone cue

    def id_no(self) -> tuple[str, str]:
        body = self.r.choice(["140402", "140403", "140404", "140481", "140428"]) + \
            f"{self.r.randint(1955, 2004)}{self.r.randint(1, 12):02d}{self.r.randint(1, 28):02d}" + \
            f"{self.r.randint(0, 999):03d}"
        check = "10X98765432"[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11]
        s = body + check
        if self.r.random() < 0.2:
            s = f"{s[:6]} {s[6:14]} {s[14:]}"
        return s, keep_digits(s, 6, 4)

    def account(self) -> tuple[str, str]:
        n = self.r.choice((14, 16, 17, 19, 20))
        d = self.r.choice(["6222", "6228", "6217", "1405", "6230"]) + "".join(
            self.r.choice("0123456789") for _ in range(n - 4))
        s = " ".join(d[i:i + 4] for i in range(0, n, 4)) if n in (16, 19) and self.r.random() < 0.4 else d
        return s, d[:4] + "****" + d[-4:]

    def plate(self) -> tuple[str, str]:
        letter = self.r.choice("DKLAB")
        tail = "".join(self.r.choice("0123456789") for _ in range(5))
        if self.r.random() < 0.3:
            tail = self.r.choice("ABCDFGH") + tail[1:]
        form = self.r.randrange(5)
        if form == 0:
            return f"晋{letter}{tail}", f"晋{letter}*****"
        if form == 1:
            return f"晋 {letter}{tail}", f"晋 {letter}*****"
        if form == 2:
            return f"晋{letter}·{tail}", f"晋{letter}·*****"
        if form == 3:
            six = self.r.choice("DF") + tail
            return f"晋{letter}{six}", f"晋{letter}******"
        return f"晋{fw(letter + tail)}", f"晋{letter}*****"

    def email(self) -> tuple[str, str]:
        local = self.r.choice(["zhangwei", "liuxm", "wanghong88", "chen_jing", "lyq2010", "sunhao"]) + \
            str(self.r.randint(1, 99))
        domain = self.r.choice(["163.com", "qq.com", "126.com", "sina.com"])
        return f"{local}@{domain}", local[0] + "*" * (len(local) - 1) + "@" + domain

    def qq(self) -> tuple[str, str]:
        d = str(self.r.randint(10000000, 2999999999))
        return d, "*" * len(d)

    def wechat(self) -> tuple[str, str]:
        s = self.r.choice(["wxid_", "lz_", "sxcz", "mary", "tao"]) + "".join(
            self.r.choice("abcdefghijkmnpqrstuvwxyz0123456789") for _ in range(7))
        return s, s[0] + "*" * (len(s) - 1)

    def passport(self) -> tuple[str, str, str]:
        cue, s = self.r.choice([("护照号码", "E" + str(self.r.randint(10000000, 99999999))),
                                ("往来港澳通行证号码", "C" + str(self.r.randint(10000000, 99999999))),
                                ("港澳居民来往内地通行证号码", "H" + str(self.r.randint(10000000, 99999999))),
                                ("护照号", "EA" + str(self.r.randint(1000000, 9999999)))])
        return cue, s, "".join("*" if c.isdigit() else c for c in s)

    def birth(self) -> tuple[str, str]:
        y, m, d = self.r.randint(1955, 2004), self.r.randint(1, 12), self.r.randint(1, 28)
        s = f"{y}年{m}月{d}日" if self.r.random() < 0.7 else f"{y}-{m:02d}-{d:02d}"
        return s, "".join("*" if c.isdigit() else c for c in s)

    def house(self) -> tuple[str, str]:
        """(road, hidden part) of an unlabelled address."""
        road = self.r.choice(ROADS)
        n = self.r.randint(1, 399)
        if self.r.random() < 0.5:
            return road, f"{n}号{self.r.randint(1, 6)}单元{self.r.randint(1, 18)}0{self.r.randint(1, 4)}室"
        return road, f"{n}号"

    def home(self) -> tuple[str, str]:
        """(county-level prefix kept, hidden rest) of a labelled home address."""
        county = self.r.choice(COUNTIES)
        prefix = self.r.choice(["山西省长治市", "长治市", ""]) + county
        form = self.r.randrange(3)
        if form == 0:
            rest = f"{self.r.choice(VILLAGES)}{self.r.randint(1, 200)}号"
        elif form == 1:
            rest = (f"{self.r.choice(ROADS)}{self.r.randint(1, 399)}号{self.r.randint(1, 6)}单元"
                    f"{self.r.randint(1, 18)}02室")
        else:
            rest = (f"{self.r.choice(ESTATES)}{self.r.randint(1, 30)}号楼{self.r.randint(1, 4)}单元"
                    f"{self.r.randint(1, 9)}01室")
        return prefix, rest

    def company(self) -> str:
        return "长治市" + self.r.choice(COUNTIES) + self.r.choice(SHOP_WORDS) + self.r.choice(SHOPS)

    def credit_code(self) -> str:
        while True:
            if self.r.random() < 0.4:
                head = "9114" + "".join(self.r.choice("0123456789") for _ in range(13))
            else:
                head = "911404" + "".join(self.r.choice("0123456789") for _ in range(2)) + "MA" + "".join(
                    self.r.choice(CODE_ALPHABET) for _ in range(7))
            total = sum(CODE_ALPHABET.index(c) * w for c, w in zip(head, CODE_WEIGHTS, strict=True))
            code = head + CODE_ALPHABET[(31 - total % 31) % 31]
            if code not in self.used:
                self.used.add(code)
                return code

    def officer_no(self) -> str:
        return "1404" + "".join(self.r.choice("0123456789") for _ in range(7))

    def decision_no(self, unit: str) -> str:
        return f"长{unit}罚字〔2026〕第{self.r.randint(1, 999):04d}号"


def officers(g: Gen, doc: Doc) -> None:
    a, b = g.name()[0], g.name()[0]
    doc.t("执法人员").k(a).t("（执法证号").k(g.officer_no()).t("）、").k(b).t("（执法证号").k(g.officer_no()).t(
        "）向当事人出示了执法证件。")


def natural_party(g: Gen, doc: Doc, *, with_home: bool = True) -> str:
    name, masked = g.name()
    doc.t("当事人：").p("name", name, masked).t(f"，{g.r.choice('男女')}，")
    if g.r.random() < 0.6:
        b, bm = g.birth()
        doc.p("birth", b, bm).t("出生，")
    else:
        age = str(g.r.randint(19, 70))
        doc.p("age", age, "**").t("岁，")
    i, im = g.id_no()
    doc.t("身份证号：").p("id", i, im).t("，")
    if with_home:
        prefix, rest = g.home()
        label = g.r.choice(["户籍所在地：", "住址：", "现居", "住所："])
        doc.t(label + prefix).p("address", rest, "****").t("，")
    m, mm = g.mobile()
    doc.t(g.r.choice(["联系电话：", "手机：", "电话"])).p("phone", m, mm).t("。")
    return name


def legal_party(g: Gen, doc: Doc) -> None:
    doc.t("当事人：").k(g.company()).t("，统一社会信用代码：").k(g.credit_code()).t("，法定代表人：")
    rep, rm = g.name()
    doc.p("name", rep, rm).t("，")
    if g.r.random() < 0.5:
        contact, cm = g.name()
        m, mm = g.mobile()
        doc.t("委托代理人").p("name", contact, cm).t("，联系电话").p("phone", m, mm).t("。")
    else:
        doc.t("。")


def chengguan(g: Gen, doc: Doc) -> None:
    doc.t(g.decision_no("潞城管") + "\n")
    party = natural_party(g, doc)
    road, hidden = g.house()
    pm = party[:2] + "*" * (len(party) - 2) if party[:2] in {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫"} \
        and len(party) >= 3 else party[0] + "*" * (len(party) - 1)
    doc.t("经查，").p("name", party, pm).t(f"于2026年{g.r.randint(1, 9)}月{g.r.randint(1, 28)}日在{road}").p(
        "address", hidden, "****").t(g.r.choice(["门前占道经营烧烤，", "擅自搭建彩钢棚约20平方米，",
                                                 "随意倾倒建筑垃圾，"]))
    w1, w1m = g.name()
    w2, w2m = g.name()
    doc.t("证人").p("name", w1, w1m).t("、").p("name", w2, w2m).t("在场并证实。")
    if g.r.random() < 0.5:
        landline, lm = g.landline()
        doc.t("附近住户投诉电话").p("phone", landline, lm).t("。")
    officers(g, doc)
    doc.t("依据《长治市城市市容和环境卫生管理条例》第二十条，决定罚款人民币"
          f"{g.r.choice([200, 500, 1000, 2000])}元。")


def market(g: Gen, doc: Doc) -> None:
    doc.t(g.decision_no("潞市监") + "\n")
    legal_party(g, doc)
    road, hidden = g.house()
    doc.t(f"经营场所位于{road}").p("address", hidden, "****").t("。")
    doc.t(g.r.choice(["经查，当事人销售超过保质期的食品，", "经查，当事人在网店发布虚假宣传广告，",
                      "经查，当事人未明码标价，"]))
    buyer, bm = g.name()
    doc.t("消费者").p("name", buyer, bm).t("投诉，")
    kind = g.r.randrange(4)
    if kind == 0:
        e, em = g.email()
        doc.t("投诉邮箱").p("email", e, em).t("，")
    elif kind == 1:
        q, qm = g.qq()
        doc.t("QQ：").p("qq", q, qm).t("，")
    elif kind == 2:
        w, wm = g.wechat()
        doc.t("微信号：").p("wechat", w, wm).t("，")
    else:
        a, am = g.account()
        doc.t(f"退款打入其{g.r.choice(BANKS)}账号").p("account", a, am).t("，")
    m, mm = g.mobile()
    doc.t("联系电话").p("phone", m, mm).t("。")
    clerk, cm = g.name()
    doc.t("当事人员工").p("name", clerk, cm).t("对上述事实予以确认。")
    officers(g, doc)
    doc.t("依据《中华人民共和国食品安全法》第一百二十四条，决定没收违法所得"
          f"{g.r.randint(100, 9000)}元，罚款人民币{g.r.choice([5000, 50000, 100000])}元。")


def transport(g: Gen, doc: Doc) -> None:
    doc.t(g.decision_no("交运") + "\n")
    if g.r.random() < 0.5:
        legal_party(g, doc)
        driver, dm = g.name()
        doc.t("驾驶人").p("name", driver, dm).t("，驾驶证号").p("id", *g.id_no()).t("，")
    else:
        natural_party(g, doc, with_home=g.r.random() < 0.7)
    plate, pm = g.plate()
    doc.t("驾驶").p("plate", plate, pm).t(g.r.choice(["号重型半挂牵引车", "号小型轿车", "号中型客车"]))
    doc.t(f"于2026年{g.r.randint(1, 9)}月{g.r.randint(1, 28)}日在二广高速长治北收费站")
    doc.t(g.r.choice(["超限运输，车货总重55.2吨，", "未取得道路运输经营许可擅自从事网约车经营，",
                      "从事道路运输未随车携带道路运输证，"]))
    if g.r.random() < 0.4:
        cue, s, sm = g.passport()
        passenger, pmask = g.name()
        doc.t("乘客").p("name", passenger, pmask).t(f"（{cue}").p("passport", s, sm).t("）证实，")
    if g.r.random() < 0.5:
        a, am = g.account()
        doc.t("运费收款卡号").p("account", a, am).t("，")
    owner, om = g.name()
    m, mm = g.mobile()
    doc.t("车主").p("name", owner, om).t("，电话").p("phone", m, mm).t("。")
    officers(g, doc)
    doc.t("依据《中华人民共和国道路运输条例》第六十三条，决定罚款人民币"
          f"{g.r.choice([3000, 5000, 10000, 30000])}元。")


def build(n: int = 66, seed: int = 13) -> list[dict[str, Any]]:
    g = Gen(seed)
    out = []
    for i in range(n):
        doc = Doc()
        domain = ("城管", "市场监管", "交通")[i % 3]
        {"城管": chengguan, "市场监管": market, "交通": transport}[domain](g, doc)
        out.append({"id": f"M{i + 1:03d}", "domain": domain, "text": "".join(doc.parts),
                    "expected": "".join(doc.expected), "pii": doc.pii, "keep": doc.keep})
    return out


if __name__ == "__main__":
    with OUT.open("w", encoding="utf-8") as f:
        for item in build():
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")
