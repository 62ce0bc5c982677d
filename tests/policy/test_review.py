"""The §四 legal-review gate: what flags a decision major, what a passed or failed review must carry."""

from __future__ import annotations

import pytest

from policy.errors import PolicyError, SelfReview
from policy.review import CHECKLIST, MAJOR_CRITERIA, check_flag, check_review, may_review
from tests.conftest import POLICY_TEXT

ALL_TRUE = dict.fromkeys(CHECKLIST, True)


def test_labels_are_the_policys_words() -> None:
    original = POLICY_TEXT.read_text(encoding="utf-8")
    for _en, zh in (*MAJOR_CRITERIA.values(), *CHECKLIST.values()):
        assert zh in original


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (["complex"], ("complex",)),
        (["complex", "public_interest"], ("public_interest", "complex")),
        (("after_hearing", "after_hearing"), ("after_hearing",)),
        (list(MAJOR_CRITERIA), tuple(MAJOR_CRITERIA)),
    ],
)
def test_check_flag(criteria: list[str], expected: tuple[str, ...]) -> None:
    assert check_flag(criteria) == expected


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ([], "at least one"),
        (["serious"], "unknown major-decision criterion 'serious'"),
        (["complex", "Complex"], "unknown"),
        ("complex", "list of codes"),
    ],
)
def test_check_flag_refuses(criteria: list[str], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        check_flag(criteria)


@pytest.mark.parametrize(
    ("outcome", "checklist", "opinion"),
    [
        ("passed", ALL_TRUE, "同意"),
        ("failed", {**ALL_TRUE, "facts": False}, "证据不足：缺少现场检查笔录"),
        ("failed", {}, "程序违法"),
        ("failed", ALL_TRUE, "other grounds (§四(三) ends in 等)"),
    ],
)
def test_check_review_accepts(outcome: str, checklist: dict[str, bool], opinion: str) -> None:
    check_review(outcome, checklist, opinion)


@pytest.mark.parametrize(
    ("outcome", "checklist", "opinion", "message"),
    [
        ("passed", {**ALL_TRUE, "transfer": False}, "", "not satisfied: transfer"),
        ("passed", {k: v for k, v in ALL_TRUE.items() if k != "law"}, "", "not satisfied: law"),
        ("passed", {}, "", "not satisfied: authority, procedure, facts, law, competence, documents, transfer"),
        ("failed", {**ALL_TRUE, "facts": False}, "", "reasons"),
        ("failed", {"facts": False}, "   \n", "reasons"),
        ("passed", {**ALL_TRUE, "budget": True}, "", "unknown checklist item 'budget'"),
        ("passed", {**ALL_TRUE, "facts": "yes"}, "", "true or false"),
        ("approved", ALL_TRUE, "", "outcome must be one of passed, failed"),
        ("failed", {}, "x" * 20_001, "limit is 20000"),
    ],
)
def test_check_review_refuses(outcome: str, checklist: dict[str, bool], opinion: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        check_review(outcome, checklist, opinion)


def test_may_review() -> None:
    may_review("reviewer-li", "officer-wang")
    may_review("reviewer-li", None)  # handler not recorded: nothing to compare
    with pytest.raises(SelfReview, match="someone other than the case handler") as e:
        may_review("officer-wang", "officer-wang")
    assert isinstance(e.value, PolicyError)
    with pytest.raises(PolicyError, match="name its reviewer"):
        may_review("", "officer-wang")


def test_a_passed_review_needs_an_opinion() -> None:
    with pytest.raises(PolicyError, match="passed review must give its opinion"):
        check_review("passed", ALL_TRUE, "  ")


def test_the_product_proposes_major_from_the_facts() -> None:
    from policy.review import check_determination, propose

    assert propose({"hearing_held": True, "penalties": ["fine", "suspension"], "fine_yuan": 200_000},
                   restricted=False, major_fine_yuan=50_000) == ("major_rights", "after_hearing")
    assert propose({"penalties": ["fine"], "fine_yuan": 200}, restricted=False, major_fine_yuan=50_000) == ()
    assert propose({}, restricted=True, major_fine_yuan=50_000) == ("major_rights",)
    answers = dict.fromkeys(MAJOR_CRITERIA, False)
    with pytest.raises(PolicyError, match="needs the reason"):
        check_determination(answers, ("after_hearing",), "")
    assert check_determination(answers, ("after_hearing",), "the hearing was waived") == ()
    with pytest.raises(PolicyError, match="not answered: complex"):
        check_determination({k: v for k, v in answers.items() if k != "complex"}, (), "")
    assert check_determination({**answers, "complex": True}, (), "") == ("complex",)
