"""Masking for publication: names, ID/phone/card numbers, plates, addresses, and the public view of a record."""

from __future__ import annotations

from typing import Any

import pytest

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


def test_names_masked_everywhere_and_only_when_given() -> None:
    text = "当事人：张三。张三于2026年3月1日……欧阳娜娜作证。"
    assert mask_text(text) == text  # no name recognition: names come from the record
    assert mask_text(text, names=["张三", "欧阳娜娜"]) == "当事人：张*。张*于2026年3月1日……欧阳**作证。"
    assert mask_text("王某", names=["王"]) == "王某"  # one character would mask every 王


def test_address_inside_free_text_and_known_addresses() -> None:
    address = "北京市朝阳区建国路88号院3号楼"
    text = f"经查，当事人在{address}门前占道经营。"
    assert mask_address(address) == "北京市朝阳区****"
    assert mask_text(text, addresses=[address]) == "经查，当事人在北京市朝阳区****门前占道经营。"


def test_raw_values_in_formats_the_patterns_miss() -> None:
    # A Hong Kong number: no pattern knows it, but the record does.
    assert mask_text("联系电话 +852 9123 4567。", values=["+852 9123 4567"]) == "联系电话 **************。"
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
