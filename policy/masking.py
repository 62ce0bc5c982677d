"""The public view of a decision: personal data masked before publication (policy §二).

§二: "涉及国家秘密、商业秘密、个人隐私等不宜公开的信息，依法确需公开的，要作适当处理后公开."  A penalty
decision against a natural person must be published, so it is published processed: this module is that
processing.  It errs on the side of masking too much.  Two independent checks stand behind it:
``leaks`` (no raw personal value of the record survives) and ``publication_check`` (nothing in the
public text still looks personal; publication fails closed until staff mask it or clear it).

What is found where: ``identifiers`` (numbers, e-mail, plates, permits, birth dates, ages, addresses, by
pattern, in half- and full-width forms), ``names`` (personal names: jieba's part-of-speech tags, person
cues and surnames), plus the record's own names, addresses and raw values, matched verbatim.

Formats (one ``*`` per hidden character unless noted):

- Chinese personal name: the surname is kept, both characters of a compound surname for a name of
  three or more characters: 张三 → 张*, 李小明 → 李**, 欧阳娜娜 → 欧阳**, 司马光 → 司马*.
- A name in parts (Latin script, or joined by ·): the first letter of each part is kept:
  John Smith → J*** S****, 买买提·艾力 → 买**·艾*.  A one-character name is ``*``.
- Numbers and the rest: see the table in ``identifiers`` (ID 110101********123X, mobile
  138 ****-5678, landline 0355-*****67, account 6222****0123, plate 晋 D*****, e-mail z***@163.com,
  passport E********, birth date ****年*月*日, age **岁).
- Address after a marker (住址、户籍所在地、现居 …): kept down to the county-level unit, the rest ``****``
  (北京市朝阳区****); an address with no marker: masked from its house number on (英雄中路****).

Kept on purpose: organisations' names and their unified social credit codes (legal persons are
published), document numbers, amounts, and enforcement officers acting in office (see ``names``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policy import identifiers, names
from policy.errors import PolicyError
from policy.identifiers import ADDRESS_MASK as ADDRESS_MASK  # re-exported
from policy.identifiers import PLATE_PROVINCES as PLATE_PROVINCES
from policy.identifiers import Found as Found
from policy.identifiers import mask_address as mask_address
from policy.names import COMPOUND_SURNAMES as COMPOUND_SURNAMES
from policy.takedown import check_party_type, parse_iso_date

_HAN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
_NAME_PART_RE = re.compile(r"[^\s·•・.\-']+")
_NAME_SPACES_RE = re.compile(r"\s+")

# Lower rank wins a tie between spans of the same start and length.
_RANK = {"name": 2, "value": 3}


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


def _literal(text: str, values: Iterable[str], kind: str, mask: Callable[[str], str]) -> Iterable[Found]:
    for value in {v.strip() for v in values if v and v.strip()}:
        yield from identifiers.literal_spans(text, value, kind, mask(value))


def _mask_value(value: str) -> str:
    """A raw personal value the patterns may not recognise (an odd phone format): masked by them, else whole."""
    masked = mask_text(value, detect_names=False)
    return masked if masked != value else _stars(value)


def find(
    text: str, *, names_given: Sequence[str] = (), addresses: Iterable[str] = (), values: Iterable[str] = (),
    detect_names: bool = True,
) -> list[Found]:
    """The personal data to mask in ``text``, without overlaps, in order (see ``mask_text``)."""
    given = [n.strip() for n in names_given if n and len(n.strip()) >= 2]
    spans = identifiers.find(text)
    if detect_names:
        spans += [Found(s, e, "name", mask_name(text[s:e])) for s, e in names.name_spans(text, given)]
    else:
        spans += _literal(text, given, "name", mask_name)
    spans += _literal(text, addresses, "address", mask_address)
    spans += _literal(text, values, "value", _mask_value)
    # Earliest first, then the longest: an address span swallows the phone number inside it.
    spans.sort(key=lambda f: (f.start, f.start - f.end, _RANK.get(f.kind, 0)))
    out: list[Found] = []
    pos = 0
    for f in spans:
        if f.start >= pos:
            out.append(f)
            pos = f.end
    return out


def mask_text(
    text: str, *, names: Iterable[str] = (), addresses: Iterable[str] = (), values: Iterable[str] = (),
    detect_names: bool = True,
) -> str:
    """Free text with personal data masked (see the module docstring).

    Names are found in the text itself (``detect_names``); ``names`` adds the record's natural-person
    names, masked wherever they occur (names shorter than two characters are skipped: one character
    would mask it everywhere); ``addresses`` are its known addresses and ``values`` other raw personal
    values (ID or phone numbers as the record holds them), masked wherever they occur verbatim even
    when their format is not one the patterns know.
    """
    out: list[str] = []
    pos = 0
    for f in find(text, names_given=list(names), addresses=addresses, values=values, detect_names=detect_names):
        out.append(text[pos:f.start])
        out.append(f.masked)
        pos = f.end
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
    with the names found in them and the record's natural-person names (the party's, if natural, and
    ``other_names``), its address, raw ID/phone values and ``masked_values`` (text staff chose to mask).
    Fields in ``excluded_fields`` are left out entirely.
    """
    party_type = check_party_type(record.get("party_type"))
    party_name = _required_text(record, "party_name")
    natural = party_type == "natural"
    decision_date = parse_iso_date(_required_text(record, "decision_date"))
    other_names = _text_list(record, "other_names")
    address = _optional_text(record, "party_address")
    raw_values = [v for v in (_optional_text(record, k) for k in ("party_id_no", "party_phone")) if v]
    raw_values += _text_list(record, "masked_values")  # masked by hand after the publication check
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
