"""Reading posted forms, and telling a refusal the user should read from a fault.

A page that posts a form answers a refusal (a policy rule, a missing reason, a wrong state) by
showing the form again with the refusal's message: every domain error is a ``CustodyError``, and those
whose status maps to a 4xx are the ones the user can act on.  Anything else propagates to
the guard, which logs it and answers 500.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from multidict import MultiDictProxy

from api.errors import http_status
from foundation.errors import CustodyError, Status
from services.errors import USER_ERRORS

T = TypeVar("T")
Form = MultiDictProxy[str | bytes | bytearray | web.FileField]

#: The longest free-text field (reason, opinion, explanation) accepted, in characters.
TEXT_MAX_CHARS = 20_000
#: Lists typed into one box: commas (ASCII or full-width), the enumeration comma 、, semicolons, new lines.
_LIST_SPLIT = re.compile(r"[,，、;；\n]+")


class FormError(CustodyError, ValueError):
    """A form field the page cannot use (a number that is not one, a missing choice)."""

    status = Status.INVALID
    code = "form"


@dataclass(frozen=True, slots=True)
class Refused:
    """A refusal to show on the page: the HTTP status to answer with and the domain error's message."""

    status: int
    message: str
    error: BaseException | None = None  # the domain error, for a page that says it in its own words


def refusal(exc: BaseException) -> Refused | None:
    """``exc`` as a refusal if it is a domain error with a 4xx ``status`` and a ``code``; else None."""
    if isinstance(exc, USER_ERRORS) and 400 <= (status := http_status(exc)) < 500:
        return Refused(status, str(exc), exc)
    return None


async def attempt(work: Awaitable[T]) -> T | Refused:
    """Await ``work``; a domain refusal comes back as a ``Refused`` value, anything else is raised."""
    try:
        return await work
    except Exception as exc:
        refused = refusal(exc)
        if refused is None:
            raise
        return refused


def text(form: Form, name: str, max_len: int = TEXT_MAX_CHARS) -> str:
    """A text field, stripped ("" when absent or not text); longer than ``max_len`` is refused, never cut."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if len(value) > max_len:
        raise FormError(f"{name!r} is {len(value)} characters; the limit is {max_len}")
    return value


def choices(form: Form, name: str) -> list[str]:
    """Every ticked checkbox (or selected option) named ``name``."""
    return [v for v in form.getall(name, []) if isinstance(v, str) and v]


def text_list(value: str) -> list[str]:
    """``"张三, 李四、王五"`` -> ``["张三", "李四", "王五"]``."""
    return [part.strip() for part in _LIST_SPLIT.split(value) if part.strip()]


def count(form: Form, name: str, message: str) -> int:
    """A whole number field, 0 when empty; ``message`` when it is not a non-negative integer."""
    raw = text(form, name, 12)
    if not raw:
        return 0
    if not raw.isascii() or not raw.isdigit():
        raise FormError(message)
    return int(raw)
