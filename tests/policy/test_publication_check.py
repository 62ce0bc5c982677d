"""The independent check before publication: what still looks personal in a masked public text."""

from __future__ import annotations

import pytest

from policy.publication_check import findings, unresolved


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("收据流水号20261234567890123456。", [("digits", "20261234567890123456")]),
        ("电话１３８ １２３４ ５６７８", [("digits", "１３８ １２３４ ５６７８")]),
        ("号码7302145", [("digits", "7302145")]),
        ("投诉人微博 @wangxm88 转发", [("at", "@wangxm88")]),
        ("邮箱zhang＠163.com", [("at", "zhang＠163.com")]),
        ("当事人王小明称其在长治市", [("name", "王小明")]),
        ("证人李*、钱七在场", [("name", "钱七在场")]),
        ("联系人于明，电话138****5678", [("name", "于明")]),
        ("法定代表人郭红梅。", [("name", "郭红梅")]),
    ],
)
def test_findings(text: str, found: list[tuple[str, str]]) -> None:
    assert [(f.kind, f.text) for f in findings(text)] == found


@pytest.mark.parametrize(
    "text",
    [
        "当事人王*（身份证号140402********123X，电话138****5678，邮箱z***@163.com）",
        "罚款人民币1000000元，决定日期：2026-03-20",
        "统一社会信用代码91350100M000100Y43、911401001100064440",
        "执法人员张建国（执法证号14010012345）",
        "当事人陈述申辩，当事人于2026年5月6日向执法人员提交材料",
        "当事人长治市某某餐饮有限公司，当事人王记烧烤店",
        "证人王某、李某某在场",
        "长潞城管罚字〔2026〕第0107号",
    ],
)
def test_masked_text_passes(text: str) -> None:
    assert findings(text) == []


def test_cleared_findings_no_longer_block() -> None:
    found = findings("流水号20261234567890123456，编号7302145")
    assert [f.text for f in unresolved(found, {"20261234567890123456": "a receipt serial"})] == ["7302145"]
