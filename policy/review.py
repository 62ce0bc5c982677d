"""Legal review of major enforcement decisions (重大执法决定法制审核, policy §四).

§四: "行政执法机关作出重大执法决定前，要严格进行法制审核，未经法制审核或者审核未通过的，不得作出决定。"
A decision is major when any §四(二) criterion applies (``MAJOR_CRITERIA``); the review examines the
§四(三) items (``CHECKLIST``).  RULES.md adds that the reviewer is someone other than the case handler.
The Chinese labels are the policy's own words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, get_args

from policy.errors import PolicyError, SelfReview

#: §四(二) 明确审核范围: code → (English, Chinese).  Any one makes a decision major.
MAJOR_CRITERIA: Mapping[str, tuple[str, str]] = {
    "public_interest": ("involves a major public interest", "涉及重大公共利益"),
    "social_impact": ("may cause major social impact or social risk", "可能造成重大社会影响或引发社会风险"),
    "major_rights": (
        "directly affects major rights of the party or a third party",
        "直接关系行政相对人或第三人重大权益",
    ),
    "after_hearing": ("decision made after a hearing", "经过听证程序作出行政执法决定"),
    "complex": (
        "complex case involving several legal relationships",
        "案件情况疑难复杂、涉及多个法律关系",
    ),
}

#: §四(三) 明确审核内容: code → (English, Chinese).  ``True`` for an item means "examined, no objection";
#: for ``transfer`` that the matter need not (or no longer need) go to the judicial organs.
CHECKLIST: Mapping[str, tuple[str, str]] = {
    "authority": (
        "the enforcing body is lawful and its officers are certified",
        "行政执法主体是否合法，行政执法人员是否具备执法资格",
    ),
    "procedure": ("the enforcement procedure is lawful", "行政执法程序是否合法"),
    "facts": ("facts are clear and the evidence lawful and sufficient", "案件事实是否清楚，证据是否合法充分"),
    "law": (
        "laws, regulations and rules applied correctly; discretion standards used properly",
        "适用法律、法规、规章是否准确，裁量基准运用是否适当",
    ),
    "competence": ("the enforcement does not exceed the body's statutory powers", "执法是否超越执法机关法定权限"),
    "documents": ("enforcement documents are complete and in due form", "行政执法文书是否完备、规范"),
    "transfer": (
        "whether the violation may be a crime to transfer to the judicial organs",
        "违法行为是否涉嫌犯罪、需要移送司法机关",
    ),
}

Outcome = Literal["passed", "failed"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
#: What a review entry records: a reviewer's outcome, or the handling side's disagreement with a failed one.
RECORDED_OUTCOMES: tuple[str, ...] = (*OUTCOMES, "disputed")
#: Upper bound on a review opinion, in characters (a long opinion is a few pages; this is a sanity cap).
OPINION_MAX_CHARS = 20_000



class ChecklistIncomplete(PolicyError):
    """A pass with §四(三) items not examined and satisfied; ``open_items`` names them (checklist codes)."""

    def __init__(self, open_items: list[str]) -> None:
        super().__init__("a review can pass only when every §四(三) item is examined and satisfied; not satisfied: "
                         + ", ".join(open_items))
        self.open_items = list(open_items)

def _codes(values: Iterable[str], known: Mapping[str, tuple[str, str]], what: str) -> set[str]:
    # A bare string is iterable too; "complex" would silently become seven one-letter codes.
    if isinstance(values, str):
        raise PolicyError(f"{what} must be a list of codes, not the string {values!r}")
    codes = set(values)
    if unknown := sorted(c for c in codes if c not in known):
        raise PolicyError(f"unknown {what} {unknown[0]!r}; known: {', '.join(known)}")
    return codes


def check_flag(criteria: Iterable[str]) -> tuple[str, ...]:
    """The §四(二) criteria a "major" flag rests on, validated and in the policy's order; at least one."""
    codes = _codes(criteria, MAJOR_CRITERIA, "major-decision criterion")
    if not codes:
        raise PolicyError(
            "flagging a decision major needs at least one §四(二) criterion: " + ", ".join(MAJOR_CRITERIA)
        )
    return tuple(c for c in MAJOR_CRITERIA if c in codes)


def check_review(outcome: str, checklist: Mapping[str, bool], opinion: str) -> None:
    """Refuse a review result that does not hold together.

    ``passed`` needs every §四(三) item examined and ``True``.  ``failed`` needs the reasons in
    ``opinion``; its checklist may be partial or even all ``True``, because §四(三)'s list ends in
    "等" and a review can fail on a ground it does not name.
    """
    if outcome not in OUTCOMES:
        raise PolicyError(f"review outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    _codes(checklist, CHECKLIST, "checklist item")
    if not_bool := sorted(k for k, v in checklist.items() if not isinstance(v, bool)):
        raise PolicyError(f"checklist item {not_bool[0]!r} must be true or false")
    if not isinstance(opinion, str):
        raise PolicyError("the review opinion must be text")
    if len(opinion) > OPINION_MAX_CHARS:
        raise PolicyError(f"the review opinion is {len(opinion)} characters; the limit is {OPINION_MAX_CHARS}")
    if outcome == "passed":
        if open_items := [c for c in CHECKLIST if checklist.get(c) is not True]:
            raise ChecklistIncomplete(open_items)
    if not opinion.strip():  # 审核意见: a pass is an opinion too, and the one a court will read
        raise PolicyError(f"a {outcome} review must give its opinion (审核意见)"
                          + ("" if outcome == "passed" else ": the reasons"))


def may_review(reviewer: str, handler: str | None) -> None:
    """Refuse a review by the case's own handler."""
    if not reviewer:
        raise PolicyError("a legal review must name its reviewer")
    if handler is not None and reviewer == handler:
        raise SelfReview(
            f"{reviewer} handles this case: a legal review must be by someone other than the case handler (§四)"
        )


#: Penalty types (行政处罚种类) the product sees in a decision's facts: code → (English, Chinese).
PENALTY_TYPES: Mapping[str, tuple[str, str]] = {
    "warning": ("warning", "警告"),
    "fine": ("fine", "罚款"),
    "confiscation": ("confiscation of illegal gains or property", "没收违法所得、没收非法财物"),
    "suspension": ("order to suspend production or business", "责令停产停业"),
    "license_revoked": ("revocation of a permit or licence", "吊销许可证照"),
    "detention": ("administrative detention", "行政拘留"),
}
#: Penalty types that by themselves directly affect the party's major rights (§四(二)).
MAJOR_PENALTIES = frozenset({"suspension", "license_revoked", "detention"})


def propose(facts: Mapping[str, object], *, restricted: bool, major_fine_yuan: int) -> tuple[str, ...]:
    """The §四(二) criteria the product proposes from the facts it can see: a hearing held
    (``after_hearing``), a penalty such as 责令停产停业 / 吊销许可证照 or a fine of at least
    ``major_fine_yuan`` (较大数额罚款, ``major_rights``), a restricted case (its secrets or privacy are
    the party's major rights, ``major_rights``), the public-interest flag (``public_interest``).
    The handler answers every criterion; the proposal is what they must argue with, never the answer."""
    penalties = facts.get("penalties") or []
    if not isinstance(penalties, list) or not all(isinstance(p, str) for p in penalties):
        raise PolicyError("'penalties' must be a list of penalty type codes: " + ", ".join(PENALTY_TYPES))
    _codes(penalties, PENALTY_TYPES, "penalty type")
    fine = facts.get("fine_yuan", 0)
    if isinstance(fine, bool) or not isinstance(fine, int) or fine < 0:
        raise PolicyError("'fine_yuan' must be a whole number of yuan, 0 or more")
    for flag in ("hearing_held", "public_interest"):
        if not isinstance(facts.get(flag, False), bool):
            raise PolicyError(f"{flag!r} must be true or false")
    if unknown := sorted(set(facts) - {"penalties", "fine_yuan", "hearing_held", "public_interest"}):
        raise PolicyError(f"unknown fact {unknown[0]!r}")
    proposed = set()
    if facts.get("hearing_held"):
        proposed.add("after_hearing")
    if MAJOR_PENALTIES & set(penalties) or fine >= major_fine_yuan or restricted:
        proposed.add("major_rights")
    if facts.get("public_interest"):
        proposed.add("public_interest")
    return tuple(c for c in MAJOR_CRITERIA if c in proposed)


def check_determination(answers: Mapping[str, object], proposed: Iterable[str], reason: str) -> tuple[str, ...]:
    """The handler's §四(二) determination: every criterion answered true or false; a proposed criterion
    answered false needs the reason why.  Returns the criteria that apply (empty: not major)."""
    if not isinstance(answers, Mapping):
        raise PolicyError("the determination answers each §四(二) criterion: " + ", ".join(MAJOR_CRITERIA))
    _codes(answers, MAJOR_CRITERIA, "major-decision criterion")
    if missing := [c for c in MAJOR_CRITERIA if not isinstance(answers.get(c), bool)]:
        raise PolicyError("every §四(二) criterion must be answered true or false; not answered: "
                          + ", ".join(missing))
    if (overruled := [c for c in proposed if answers[c] is False]) and not (reason or "").strip():
        raise PolicyError("the facts suggest the decision is major (" + ", ".join(overruled) + "); answering "
                          "otherwise needs the reason")
    return tuple(c for c in MAJOR_CRITERIA if answers[c])


def may_review_decision(reviewer: str, reviewer_id: int, handler_ids: Iterable[int]) -> None:
    """Refuse a review by anyone who has ever handled the case (before a handover too): ids compared."""
    if reviewer_id > 0 and reviewer_id in set(handler_ids):
        raise SelfReview(f"{reviewer} has handled this case: a legal review must be by someone who never "
                         "handled it (§四)")
