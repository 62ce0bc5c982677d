"""Law changes and the calendar (issue 13 item 5): a running process uses a year added meanwhile, and a
record not yet published when a change touches it gets its deadline at publication."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from policy.errors import CalendarError
from policy.workdays import WorkCalendar
from services import calendar, disclosure
from services.locker import Locker
from services.permissions import operator
from tests.policy.test_workdays import YEAR_2027
from tests.storage.test_disclosure_gates import CASE, RECORD, TODAY, who
from tests.storage.test_disclosure_gates import locker as locker  # the fixture

pytestmark = pytest.mark.usefixtures("locker")


async def test_a_live_calendar_uses_a_year_added_by_another_process(locker: Locker, tmp_path: Path) -> None:
    extra = tmp_path / "cal"
    live = calendar.LiveCalendar(extra)
    with pytest.raises(CalendarError, match="2027"):
        live.current().update_due(dt.date(2027, 3, 1))
    notice = tmp_path / "2027.toml"
    notice.write_text(YEAR_2027, encoding="utf-8")
    await calendar.add_year(locker, notice, extra, who=operator())  # as `custody calendar add-year` does
    assert live.current().update_due(dt.date(2027, 9, 20)) == dt.date(2027, 10, 19)  # 10-01, 10-04 off; 09-26 on
    # A hand-edited file that no longer loads: the last good calendar stays in use.
    (extra / "2028.toml").write_text("year = 2028\n", encoding="utf-8")
    assert 2027 in live.current().years


async def test_adding_a_year_from_its_text_updates_the_running_calendar(locker: Locker, tmp_path: Path) -> None:
    extra = tmp_path / "cal2"
    live = calendar.live(extra)
    year = await calendar.add_year_text(locker, YEAR_2027, extra, who=operator(), live=live)
    assert year.year == 2027 and 2027 in live.current().years and calendar.live(extra) is live
    with pytest.raises(CalendarError, match="holidays"):
        await calendar.add_year_text(locker, YEAR_2027.replace('"test notice for 2027"', '"x"').replace(
            "holidays = [2027-01-01, 2027-10-01, 2027-10-04]", "holidays = []"), extra, who=operator())


def _cal() -> WorkCalendar:
    return calendar.load_calendar(None)


async def test_an_approved_record_gets_its_deadline_when_it_is_published(locker: Locker) -> None:
    dora, dina, root = await who(locker, "dora"), await who(locker, "dina"), await who(locker, "root")
    d = await disclosure.create(locker, CASE, RECORD, who=dora)
    await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)
    change = await disclosure.record_law_change(
        locker, _cal(), title="条例修订", effective=dt.date(2026, 9, 1), categories=["市容环境"], description="",
        who=root)
    assert change["affected"] == [] and change["awaiting_publication"] == [d.id]
    assert (await disclosure.due(locker.pool, TODAY)).updates == []  # nothing public to update yet
    published_on = dt.date(2026, 10, 12)
    await disclosure.transition(locker, d.id, "publish", who=dora, today=published_on)
    [update] = (await disclosure.due(locker.pool, published_on)).updates
    # The change's own deadline (2026-09-29) has passed: the record gets 20 working days from publication.
    assert change["update_due"] < published_on
    assert update["due"] == _cal().update_due(published_on) == dt.date(2026, 11, 9)
    assert not update["overdue"]
    entries = [json.loads(r.body) for r in await locker.log.entries(CASE)]
    required = [e for e in entries if e["kind"] == "disclosure.update_required"]
    assert required[0]["update_due"] is None
    assert required[-1]["update_due"] == "2026-11-09" and required[-1]["from_publication"] == "2026-10-12"
    updated = await disclosure.transition(locker, d.id, "update", who=dora, today=published_on, reason="新条例",
                                          changes={"legal_basis": "新条例第五条"}, law_change=change["id"])
    assert updated.state == "published" and (await disclosure.due(locker.pool, published_on)).updates == []


async def test_a_change_not_yet_in_force_keeps_its_own_later_deadline(locker: Locker) -> None:
    dora, dina, root = await who(locker, "dora"), await who(locker, "dina"), await who(locker, "root")
    d = await disclosure.create(locker, CASE, RECORD, who=dora)
    await disclosure.transition(locker, d.id, "approve", who=dina, today=TODAY)
    change = await disclosure.record_law_change(
        locker, _cal(), title="职能调整", effective=dt.date(2026, 12, 1), categories=["*"], description="", who=root)
    assert change["awaiting_publication"] == [d.id]
    await disclosure.transition(locker, d.id, "publish", who=dora, today=TODAY)
    [update] = (await disclosure.due(locker.pool, TODAY)).updates
    assert update["due"] == change["update_due"] == dt.date(2026, 12, 29)
