"""Server-side web sessions: signing out ends copies of the cookie, admins end sessions, timeouts, touches.

Times are the sessions' own clock (``HolderCache.clock``), moved by the tests; those tests also turn
the few seconds' cache off, since it counts real (monotonic) seconds, not the moved clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from dataclasses import dataclass

import pytest
from yarl import URL

from api.appkeys import SETTINGS, WEB_HOLDERS
from api.cookies import SessionCodec
from api.web.session import SESSION_COOKIE
from services import accounts
from services.permissions import operator
from storage import web_sessions
from storage.web_sessions import WebSession
from tests.web.conftest import Visitor, Web


@dataclass
class Clock:
    seconds: float

    def __call__(self) -> float:
        return self.seconds

    def advance(self, **delta: float) -> None:
        self.seconds += dt.timedelta(**delta).total_seconds()

    @property
    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.seconds, dt.UTC)


@pytest.fixture
def clock(web_app: Web) -> Clock:
    moved = Clock(time.time())
    web_app.app[WEB_HOLDERS].clock = moved
    web_app.no_cache()
    return moved


def copy_of(web_app: Web, visitor: Visitor) -> Visitor:
    """Another browser holding a copy of ``visitor``'s session cookie."""
    value = visitor.cookie(SESSION_COOKIE)
    assert value
    thief = web_app.visitor()
    thief.http.cookie_jar.update_cookies({SESSION_COOKIE: value}, response_url=URL(web_app.base))
    return thief


async def signed_out(visitor: Visitor, web_app: Web) -> bool:
    """Refused as a page (sign-in redirect) and as data (401)."""
    data = await visitor.get(f"/ui/api/verify/{web_app.objects['original']}")
    page = await visitor.get("/cases")  # last: a refused page also deletes the cookie
    assert (page.status == 303) == (data.status == 401), (page.status, data.status)
    return page.status == 303 and page.location.startswith("/signin")


async def sessions_of(web_app: Web, name: str, at: dt.datetime | None = None) -> list[WebSession]:
    idle = dt.timedelta(minutes=web_app.app[SETTINGS].session_idle_minutes)
    moment = at or dt.datetime.now(dt.UTC)
    return [s for s in await web_sessions.listing(web_app.locker.pool, now=moment, idle=idle) if s.principal == name]


async def test_a_copied_cookie_stops_working_after_sign_out(web_app: Web) -> None:
    visitor = await web_app.sign_in("investigator")
    thief = copy_of(web_app, visitor)
    assert not await signed_out(thief, web_app)  # the copy works while the session lives
    assert (await visitor.post("/signout")).status == 303
    assert await signed_out(thief, web_app)  # at once: this server forgets its cached check
    assert await signed_out(visitor, web_app)
    assert await sessions_of(web_app, "investigator") == []


async def test_admin_signs_a_user_out_everywhere(web_app: Web) -> None:
    desk = await web_app.sign_in("investigator", **{"User-Agent": "DockingRoomPC/1.0"})
    laptop = await web_app.sign_in("investigator")
    admin = await web_app.sign_in("admin")
    page = (await admin.get("/admin")).text
    assert page.count('data-principal="investigator"') == 2 and "DockingRoomPC/1.0" in page
    assert "127.0.0.1" in page
    assert 'action="/admin/principals/investigator/signout"' in page
    assert 'action="/admin/principals/disclosure/signout"' not in page  # no session, no button

    reply = await admin.post("/admin/principals/investigator/signout")
    assert reply.status == 303 and reply.location == "/admin?signed_out=investigator"
    page = (await admin.get(reply.location)).text
    assert 'id="admin-notice"' in page and 'data-principal="investigator"' not in page
    assert await signed_out(desk, web_app) and await signed_out(laptop, web_app)
    assert not await signed_out(admin, web_app)
    # the token still works: the user signs in again
    assert not await signed_out(await web_app.sign_in("investigator"), web_app)


async def test_admin_ends_one_session_and_leaves_the_others(web_app: Web) -> None:
    shared_pc = await web_app.sign_in("disclosure", **{"User-Agent": "SharedPC"})
    own = await web_app.sign_in("disclosure", **{"User-Agent": "OwnLaptop"})
    admin = await web_app.sign_in("admin")
    page = (await admin.get("/admin")).text
    row = re.search(r'<tr data-principal="disclosure" data-session="([0-9a-f]{64})">(?:(?!</tr>).)*SharedPC',
                    page, re.S)
    assert row, page
    own_id = web_app.codec.decode(admin.cookie(SESSION_COOKIE))
    assert own_id is not None and own_id.id not in page  # sessions are named by a hash of their id
    reply = await admin.post("/admin/sessions/revoke", {"session": row.group(1)})
    assert reply.status == 303
    assert await signed_out(shared_pc, web_app) and not await signed_out(own, web_app)
    assert (await admin.post("/admin/sessions/revoke", {"session": row.group(1)})).status == 404  # ended
    assert (await admin.post("/admin/sessions/revoke", {"session": "not-hex"})).status == 400
    assert "(this session)" in (await admin.get("/admin?lang=en")).text


async def test_revoking_or_reissuing_the_token_ends_web_sessions(web_app: Web) -> None:
    reviewer = await web_app.sign_in("reviewer")
    disclosure = await web_app.sign_in("disclosure")
    admin = await web_app.sign_in("admin")
    assert (await admin.post("/admin/principals/reviewer/revoke")).status == 303
    assert await signed_out(reviewer, web_app)  # at once, though the cache is on
    assert (await admin.post("/admin/principals/disclosure/reissue")).status == 200
    assert await signed_out(disclosure, web_app)
    rows = await web_app.locker.pool.fetch(
        "SELECT principal, revoked_by FROM web_sessions WHERE revoked_at IS NOT NULL")
    assert {(r["principal"], r["revoked_by"]) for r in rows} == {("reviewer", "admin:admin"),
                                                                 ("disclosure", "admin:admin")}
    # `custody token revoke` changes only the principal: the session ends by that alone
    web_app.no_cache()
    investigator = await web_app.sign_in("investigator")
    await accounts.revoke(web_app.locker, "investigator", who=operator())
    assert await signed_out(investigator, web_app)
    assert 'data-principal="investigator"' not in (await admin.get("/admin")).text


async def test_idle_timeout(web_app: Web, clock: Clock) -> None:
    idle = web_app.app[SETTINGS].session_idle_minutes
    visitor = await web_app.sign_in("investigator")
    clock.advance(minutes=idle - 1)
    assert not await signed_out(visitor, web_app)  # activity keeps the session alive ...
    clock.advance(minutes=idle - 1)
    assert not await signed_out(visitor, web_app)
    clock.advance(minutes=idle, seconds=1)
    assert await signed_out(visitor, web_app)  # ... and idleness ends it


async def test_absolute_expiry_however_busy(web_app: Web, clock: Clock) -> None:
    hours = web_app.app[SETTINGS].session_hours
    visitor = await web_app.sign_in("investigator")
    copy = copy_of(web_app, visitor)
    started = clock.seconds
    while clock.seconds - started < hours * 3600 - 20 * 60:
        clock.advance(minutes=20)
        assert not await signed_out(visitor, web_app), (clock.seconds - started) / 3600
    clock.seconds = started + hours * 3600 - 1
    assert not await signed_out(visitor, web_app)
    clock.advance(seconds=2)
    assert await signed_out(visitor, web_app)
    # the server's record ends it too, not only the cookie's expiry: even a cookie re-signed with the
    # server's secret to last longer is refused
    session = web_app.codec.decode(copy.cookie(SESSION_COOKIE), now=started)
    assert session is not None
    stretched = web_app.codec.encode(dataclasses.replace(session, expires_at=session.expires_at + 3600))
    copy.http.cookie_jar.update_cookies({SESSION_COOKIE: stretched}, response_url=URL(web_app.base))
    assert await signed_out(copy, web_app)


async def test_a_tampered_cookie_is_refused_before_the_database(web_app: Web, clock: Clock) -> None:
    """Refused even though it names a live session: the lookup, which would mark the session seen, never ran."""
    visitor = await web_app.sign_in("investigator")
    value = visitor.cookie(SESSION_COOKIE)
    assert value
    session = web_app.codec.decode(value, now=clock())
    assert session is not None
    [before] = await sessions_of(web_app, "investigator", clock.now)
    clock.advance(minutes=5)  # a live lookup now would touch last_seen_at
    stretched = web_app.codec.encode(dataclasses.replace(session, expires_at=session.expires_at + 86400))
    for bad in (SessionCodec(b"k" * 32).encode(session), stretched.partition(".")[0] + "." + value.partition(".")[2],
                value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")):
        tampered = web_app.visitor()
        tampered.http.cookie_jar.update_cookies({SESSION_COOKIE: bad}, response_url=URL(web_app.base))
        assert await signed_out(tampered, web_app), bad
    [after] = await sessions_of(web_app, "investigator", clock.now)
    assert after.last_seen_at == before.last_seen_at
    assert not await signed_out(visitor, web_app)  # the genuine cookie is looked up, and touches
    [touched] = await sessions_of(web_app, "investigator", clock.now)
    assert touched.last_seen_at > before.last_seen_at


async def test_last_seen_is_written_at_most_once_a_minute(web_app: Web, clock: Clock) -> None:
    visitor = await web_app.sign_in("investigator")
    [first] = await sessions_of(web_app, "investigator", clock.now)
    for seconds in (10, 20, 29):  # 59 s after sign-in in all
        clock.advance(seconds=seconds)
        assert not await signed_out(visitor, web_app)
        [row] = await sessions_of(web_app, "investigator", clock.now)
        assert row.last_seen_at == first.last_seen_at
    clock.advance(seconds=2)
    assert not await signed_out(visitor, web_app)
    [row] = await sessions_of(web_app, "investigator", clock.now)
    assert row.last_seen_at == clock.now
    clock.advance(seconds=30)
    assert not await signed_out(visitor, web_app)
    assert (await sessions_of(web_app, "investigator", clock.now))[0].last_seen_at == row.last_seen_at


async def test_sign_in_records_the_session_and_clears_long_dead_rows(web_app: Web, clock: Clock) -> None:
    await web_app.sign_in("investigator", **{"User-Agent": "U" * 500})
    [row] = await sessions_of(web_app, "investigator", clock.now)
    assert row.user_agent == "U" * web_sessions.USER_AGENT_CHARS and row.remote_addr == "127.0.0.1"
    assert abs((row.expires_at - row.created_at).total_seconds() - web_app.app[SETTINGS].session_hours * 3600) < 1
    count = "SELECT count(*) FROM web_sessions"
    clock.advance(hours=web_app.app[SETTINGS].session_hours, days=7, seconds=-60)
    await web_app.sign_in("disclosure")
    assert await web_app.locker.pool.fetchval(count) == 2  # expired, but not yet for a week: kept
    clock.advance(seconds=120)
    await web_app.sign_in("reviewer")
    assert await web_app.locker.pool.fetchval(count) == 2  # the first is gone
    assert await sessions_of(web_app, "investigator", clock.now) == []
