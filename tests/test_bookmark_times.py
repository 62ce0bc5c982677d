"""``custody bookmark``'s times: what a person types, as the milliseconds the entry records, and back."""

from __future__ import annotations

import pytest

from custody.bookmark_commands import format_time, parse_time
from custody.shell import CliError


@pytest.mark.parametrize(("typed", "ms"), [("75", 75_000), ("1.5", 1_500), ("0:01.500", 1_500), ("1:02.04", 62_040),
                                           ("1:02:03.5", 3_723_500), ("0", 0)])
def test_times_typed_at_the_shell(typed: str, ms: int) -> None:
    assert parse_time(typed) == ms
    assert parse_time(format_time(ms)) == ms


@pytest.mark.parametrize("typed", ["", "-1", "1:2:3:4", "1.2345", "one", "1:xx"])
def test_a_time_that_is_not_one_is_refused(typed: str) -> None:
    with pytest.raises(CliError):
        parse_time(typed)
