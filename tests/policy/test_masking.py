"""Masking for publication: names, ID/phone/card numbers, plates, addresses, and the public view of a record."""

from __future__ import annotations

from typing import Any

import pytest

from policy import credit_code
from policy.errors import PolicyError
from policy.masking import leaks, mask_address, mask_name, mask_text, public_view


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("李小明", "李**"),
        ("张王小明", "张***"),  # four characters, no compound surname: only the first is the surname
        ("欧阳娜娜", "欧阳**"),
        ("欧阳修", "欧阳*"),
        ("司马光", "司马*"),
        ("诸葛亮", "诸葛*"),
        ("欧阳", "欧*"),  # two characters: surname 欧, given name 阳
        ("王", "*"),
        (" 张三 ", "张*"),
        ("张 三", "张*"),  # padded for alignment
        ("John Smith", "J*** S****"),
        ("Ann", "A**"),
        ("买买提·艾力", "买**·艾*"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # Resident IDs: 18 digits with X/x check digit, plain digits, legacy 15 digits, grouped.
        ("身份证号11010519491231002X。", "身份证号110105********002X。"),
        ("身份证号11010519491231002x。", "身份证号110105********002x。"),
        ("ID 110101199003071234", "ID 110101********1234"),
        ("旧证110105491231002，", "旧证110105*****1002，"),
        ("身份证：110101 19900307 123X", "身份证：110101 ******** 123X"),
        # Mobiles: bare, +86, 86, hyphens, spaces.
        ("手机13812345678", "手机138****5678"),
        ("电话+8613812345678", "电话+86138****5678"),
        ("电话+86 138-1234-5678", "电话+86 138-****-5678"),
        ("电话86 13812345678", "电话86 138****5678"),
        ("电话0086-13812345678", "电话0086-138****5678"),
        ("电话138 1234 5678。", "电话138 **** 5678。"),
        # Landlines: area code and last two digits kept.
        ("座机010-12345678", "座机010-******78"),
        ("座机0755-1234567", "座机0755-*****67"),
        ("座机(021)87654321", "座机(021)******21"),
        ("座机01012345678", "座机010******78"),
        # Bank cards: 16-19 digits, grouped or not; an 18-digit run without a birth date is a card.
        ("卡号6222021234567890123", "卡号6222****0123"),
        ("卡号6222 0212 3456 7890", "卡号6222****7890"),
        ("卡号6222-0212-3456-7890-123", "卡号6222****0123"),
        ("卡号622202123456789012", "卡号6222****9012"),
        ("卡号4111111111111111", "卡号4111****1111"),
        # Plates: province + letter kept; new-energy plates have six characters after the letter.
        ("车牌京A12345", "车牌京A*****"),
        ("车牌粤B12345D", "车牌粤B******"),
        ("车牌粤BD12345", "车牌粤B******"),
        ("车牌沪A·8C123", "车牌沪A·*****"),
        ("车牌京A1234学", "车牌京A*****"),
        # Full-width digits and letters are the same numbers.
        ("手机１３８１２３４５６７８", "手机138****5678"),
        ("身份证１１０１０５１９４９１２３１００２Ｘ", "身份证110105********002X"),
        ("车牌京Ａ１２３４５", "车牌京A*****"),
        ("电话（０１０）１２３４５６７８", "电话(010)******78"),
        # Addresses after a marker: kept to the county level.
        ("住址：北京市朝阳区建国路88号院3号楼，", "住址：北京市朝阳区****，"),
        ("住所：广东省深圳市南山区科技园南区1栋。", "住所：广东省深圳市南山区****。"),
        ("地址:上海市浦东新区张江路1号;", "地址:上海市浦东新区****;"),
        ("家住湖南省长沙县星沙街道1号", "家住湖南省长沙县****"),
        ("住新疆维吾尔自治区乌鲁木齐市天山区解放路1号", "住新疆维吾尔自治区乌鲁木齐市天山区****"),
        ("家庭住址：北京市建国路88号", "家庭住址：北京市****"),
        ("地址：建国路88号", "地址：****"),
        ("住址：吉林省延边朝鲜族自治州延吉市河南街1号", "住址：吉林省延边朝鲜族自治州延吉市****"),
        ("住所地：广西壮族自治区南宁市青秀区民族大道1号", "住所地：广西壮族自治区南宁市青秀区****"),
        ("当事人住本市朝阳区某路1号", "当事人住本市朝阳区****"),
        ("住址：北京市朝阳区建国路88号（东门）", "住址：北京市朝阳区****）"),
        ("住址：浙江省杭州市西湖区", "住址：浙江省杭州市西湖区"),  # nothing below the county: nothing to hide
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "决定书流水号20261234567890123456",  # 20 digits: longer than any ID or card
        "编号A13812345678",  # a phone number glued to a letter is part of something else
        "编号13812345678901",  # 14 digits
        "罚款人民币200000元，没收违法所得5000元",
        "2026-10-03起施行",
        "依据《中华人民共和国食品安全法》第一百二十四条第一款",
        "京市监罚〔2026〕123号",
        "住房和城乡建设局",  # 住 here is no address marker
        "住宿费",
        "在住宅小区内",
        "新Windows系统",  # 新 is a province abbreviation but this is no plate
        "沪ICP备12345678号",
    ],
)
def test_mask_text_leaves_other_text_alone(text: str) -> None:
    assert mask_text(text) == text


def test_mixed_sentence() -> None:
    text = (
        "当事人张三（身份证号11010519491231002X，联系电话13812345678，住址：北京市朝阳区建国路88号）"
        "驾驶京A12345号车辆，经营场所电话010-12345678，收款卡号6222021234567890123，"
        "决定书流水号20261234567890123456；证人李小明。"
    )
    masked = mask_text(text, names=["张三", "李小明"])
    assert masked == (
        "当事人张*（身份证号110105********002X，联系电话138****5678，住址：北京市朝阳区****）"
        "驾驶京A*****号车辆，经营场所电话010-******78，收款卡号6222****0123，"
        "决定书流水号20261234567890123456；证人李**。"
    )


def test_names_masked_everywhere_found_or_given() -> None:
    text = "当事人：张三。张三于2026年3月1日……欧阳娜娜作证。"
    assert mask_text(text) == "当事人：张*。张*于2026年3月1日……欧阳**作证。"  # found in the text itself
    assert mask_text(text, names=["张三", "欧阳娜娜"]) == "当事人：张*。张*于2026年3月1日……欧阳**作证。"
    assert mask_text("王某", names=["王"]) == "王某"  # one character would mask every 王


def test_address_inside_free_text_and_known_addresses() -> None:
    address = "北京市朝阳区建国路88号院3号楼"
    text = f"经查，当事人在{address}门前占道经营。"
    assert mask_address(address) == "北京市朝阳区****"
    assert mask_text(text, addresses=[address]) == "经查，当事人在北京市朝阳区****门前占道经营。"


def test_raw_values_in_formats_the_patterns_miss() -> None:
    # A Hong Kong number after a phone cue: masked as a phone number; without the cue, the record knows it.
    assert mask_text("联系电话 +852 9123 4567。", values=["+852 9123 4567"]) == "联系电话 +*** **** **67。"
    assert mask_text("见 +852 9123 4567。", values=["+852 9123 4567"]) == "见 **************。"
    # A value the patterns do know is masked by them.
    assert mask_text("电话13812345678", values=["13812345678"]) == "电话138****5678"


NATURAL: dict[str, Any] = {
    "decision_no": "京朝市监罚〔2026〕123号",
    "party_type": "natural",
    "party_name": "欧阳娜娜",
    "party_id_no": "11010519491231002X",
    "party_phone": "138-1234-5678",
    "party_address": "北京市朝阳区建国路88号院3号楼",
    "other_names": ["李小明"],
    "violation": (
        "当事人欧阳娜娜（身份证号11010519491231002X，电话13812345678）于2026年3月1日在北京市朝阳区建国路88号院3号楼"
        "销售过期食品，证人李小明在场，联系电话138-1234-5678。"
    ),
    "legal_basis": "《中华人民共和国食品安全法》第一百二十四条",
    "penalty": "对欧阳娜娜没收违法所得5000元，罚款50000元。",
    "decision_date": "2026-03-20",
}


def test_public_view_of_a_natural_person() -> None:
    view = public_view(NATURAL)
    assert leaks(view.text, NATURAL) == []
    assert leaks(repr(view.fields), NATURAL) == []
    assert view.fields["party_name"] == "欧阳**"
    assert "party_id_no" not in view.fields and "party_phone" not in view.fields
    assert "party_address" not in view.fields
    assert view.text == (
        "决定文号：京朝市监罚〔2026〕123号\n"
        "当事人：欧阳**\n"
        "违法事实：当事人欧阳**（身份证号110105********002X，电话138****5678）于2026年3月1日在北京市朝阳区****"
        "销售过期食品，证人李**在场，联系电话138-****-5678。\n"
        "处罚依据：《中华人民共和国食品安全法》第一百二十四条\n"
        "处罚决定：对欧阳**没收违法所得5000元，罚款50000元。\n"
        "决定日期：2026-03-20"
    )
    assert view.excluded == ()


def test_leaks_finds_what_was_not_masked() -> None:
    raw = "\n".join(str(v) for v in NATURAL.values())
    assert leaks(raw, NATURAL) == [
        "欧阳娜娜",
        "11010519491231002X",
        "138-1234-5678",
        "北京市朝阳区建国路88号院3号楼",
        "李小明",
    ]


def test_public_view_of_a_legal_person_keeps_its_name() -> None:
    record = {
        **NATURAL,
        "party_type": "legal",
        "party_name": "北京某某餐饮管理有限公司",
        "party_id_no": "91110105MA01ABCD2X",
        "party_phone": None,
        "party_address": None,
        "other_names": ["王五"],
        "violation": "当事人北京某某餐饮管理有限公司（法定代表人王五，电话13812345678）销售过期食品。",
        "penalty": "罚款50000元。",
    }
    view = public_view(record)
    assert view.fields["party_name"] == "北京某某餐饮管理有限公司"
    assert view.fields["violation"] == "当事人北京某某餐饮管理有限公司（法定代表人王*，电话138****5678）销售过期食品。"
    assert "当事人：北京某某餐饮管理有限公司" in view.text
    assert leaks(view.text, record) == []


def test_excluded_fields_are_left_out() -> None:
    record = {**NATURAL, "excluded_fields": ["violation", "party_address"]}
    view = public_view(record)
    assert "violation" not in view.fields
    assert "违法事实" not in view.text
    assert view.excluded == ("violation",)
    assert list(view.fields) == ["decision_no", "party_type", "party_name", "legal_basis", "penalty", "decision_date"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"excluded_fields": ["violaton"]}, "unknown field 'violaton'"),
        ({"excluded_fields": "violation"}, "list of text"),
        ({"party_type": "person"}, "party type"),
        ({"decision_date": "2026-3-20"}, "YYYY-MM-DD"),
        ({"party_name": ""}, "party_name"),
        ({"violation": None}, "violation"),
        ({"party_phone": 13812345678}, "party_phone must be text"),
    ],
)
def test_public_view_refuses_bad_records(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        public_view({**NATURAL, **change})


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # Issue 13: every separator, the 7-digit local number after a phone cue, a 14-digit account.
        ("电话138 1234-5678，", "电话138 ****-5678，"),
        ("手机138 12345678。", "手机138 ****5678。"),
        ("手机138.1234.5678。", "手机138.****.5678。"),
        ("联系电话6123456。", "联系电话*****56。"),
        ("座机212-3456。", "座机***-**56。"),
        ("手机１３８－１２３４－５６７８", "手机138-****-5678"),
        ("账号62220212345678。", "账号6222****5678。"),
        ("对公账户1405016153080000123456，", "对公账户1405****3456，"),
        # Plates with a space, a dot, full-width, a trailer.
        ("晋 D12345号车辆", "晋 D*****号车辆"),
        ("晋D·12345", "晋D·*****"),
        ("晋ＤＤ12345", "晋D******"),
        ("晋D1234挂", "晋D*****"),
        # E-mail, QQ, WeChat.
        ("邮箱zhangsan@163.com。", "邮箱z*******@163.com。"),
        ("邮箱ｌｉｓｉ＠ｑｑ．ｃｏｍ。", "邮箱l***@qq.com。"),
        ("QQ：123456789，", "QQ：*********，"),
        ("ＱＱ号 12345678。", "ＱＱ号 ********。"),
        ("微信号：wxid_abc123，", "微信号：w**********，"),
        ("微信 zhang_san88。", "微信 z**********。"),
        # Birth dates and ages; legal age limits are not personal.
        ("男，1990年3月7日出生，", "男，****年*月*日出生，"),
        ("出生日期：1985-02-03。", "出生日期：****-**-**。"),
        ("（1990年3月7日生）", "（****年*月*日生）"),
        ("现年42周岁，", "现年**周岁，"),
        ("年龄：35，", "年龄：**，"),
        ("向未满18周岁的未成年人销售烟草", "向未满18周岁的未成年人销售烟草"),
        # Passports and permits.
        ("护照号码E12345678，", "护照号码E********，"),
        ("往来港澳通行证C12345678，", "往来港澳通行证C********，"),
        ("回乡证H1234567890。", "回乡证H**********。"),
        ("护照EA1234567。", "护照EA*******。"),
        # Addresses after 户籍所在地 / 现居, and without a marker.
        ("户籍所在地：山西省长治市潞州区西街村12号，", "户籍所在地：山西省长治市潞州区****，"),
        ("现居长治市潞州区英雄中路123号3单元501室。", "现居长治市潞州区****。"),
        ("在长治市潞州区英雄中路123号门前", "在长治市潞州区英雄中路****门前"),
        ("英雄中路123号3单元501室", "英雄中路****"),
        ("幸福小区3号楼2单元501室", "幸福小区****"),
        # Kept: organisations' credit codes (valid check character), document numbers, officers' certificates.
        ("统一社会信用代码91350100M000100Y43", "统一社会信用代码91350100M000100Y43"),
        ("代码91110108551385082Q。", "代码91110108551385082Q。"),
        ("执法证号14010012345", "执法证号14010012345"),
        ("长市监罚〔2025〕第12号", "长市监罚〔2025〕第12号"),
        ("罚款1000000元", "罚款1000000元"),
    ],
)
def test_mask_text_issue_13_identifiers(text: str, masked: str) -> None:
    assert mask_text(text, detect_names=False) == masked


def test_an_all_digit_credit_code_is_not_a_bank_card() -> None:
    all_digits = "911401001100064440"  # the issue's case: an organisation's code with no letter in it
    assert credit_code.is_valid(all_digits)
    assert mask_text(f"统一社会信用代码{all_digits}") == f"统一社会信用代码{all_digits}"
    assert mask_text(f"另{all_digits}") == f"另{all_digits}"
    # With a wrong check character it is no credit code, and an 18-digit run is masked.
    wrong = all_digits[:17] + ("1" if all_digits[17] != "1" else "2")
    assert wrong not in mask_text(f"另{wrong}")


@pytest.mark.parametrize(
    ("code", "valid"),
    [("91350100M000100Y43", True), ("91110108551385082Q", True), ("91350100M000100Y44", False),
     ("91350100M000100Y4", False), ("9135010OM000100Y43", False)],
)
def test_credit_code_check_character(code: str, valid: bool) -> None:
    assert credit_code.is_valid(code) is valid
