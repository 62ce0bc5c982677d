"""Signing in and out: tokens, the session cookie, CSRF, revocation, safe redirects, no secrets in logs.

Server-side session records (sign-out everywhere, timeouts, the admin's list) are in ``test_web_sessions.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time

import pytest
from yarl import URL

from api.appkeys import WEB_HOLDERS
from api.cookies import SessionCodec
from api.web.session import SESSION_COOKIE, safe_next
from foundation.settings import Settings
from services import accounts
from services.permissions import operator
from storage import principals
from tests.web.conftest import Web

SESSION_HOURS = Settings().session_hours


async def test_sign_in_with_a_user_token_sets_a_hardened_cookie(web_app: Web) -> None:
    visitor = web_app.visitor()
    form = await visitor.get("/signin")
    assert form.status == 200 and 'type="password"' in form.text
    assert web_app.tokens["investigator"] not in form.text
    csrf = re.search(r'name="_csrf" value="([0-9a-f]+)"', form.text)
    assert csrf
    reply = await visitor.post("/signin", {"token": web_app.tokens["investigator"], "_csrf": csrf.group(1)})
    assert reply.status == 303 and reply.location == "/cases"
    set_cookie = [v for v in reply.headers.getall("Set-Cookie") if v.startswith(SESSION_COOKIE + "=")]
    assert len(set_cookie) == 1
    flags = set_cookie[0].lower()
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    assert "secure" not in flags  # plain http in the test; https requests get Secure
    assert web_app.tokens["investigator"] not in set_cookie[0]
    page = await visitor.get("/cases")
    assert page.status == 200 and 'id="signed-in-user">investigator' in page.text
    assert web_app.tokens["investigator"] not in page.text


async def test_bad_token_and_station_token_are_refused(web_app: Web) -> None:
    for token, status in (("cst_" + "x" * 43, 401), ("not-a-token", 401), (web_app.tokens["station"], 403)):
        visitor = web_app.visitor()
        form = await visitor.get("/signin")
        csrf = re.search(r'name="_csrf" value="([0-9a-f]+)"', form.text)
        assert csrf
        reply = await visitor.post("/signin", {"token": token, "_csrf": csrf.group(1)})
        assert reply.status == status, reply.text
        assert 'id="signin-error"' in reply.text and token not in reply.text
        assert visitor.cookie(SESSION_COOKIE) is None
        assert (await visitor.get("/cases")).status == 303


async def test_sign_in_form_needs_its_own_csrf_token(web_app: Web) -> None:
    """A sign-in posted from another site (no sign-in cookie, or a token of another form) is refused."""
    visitor = web_app.visitor()
    reply = await visitor.post("/signin", {"token": web_app.tokens["investigator"], "_csrf": "00" * 32})
    assert reply.status == 403 and visitor.cookie(SESSION_COOKIE) is None
    await visitor.get("/signin")
    reply = await visitor.post("/signin", {"token": web_app.tokens["investigator"], "_csrf": "00" * 32})
    assert reply.status == 403 and visitor.cookie(SESSION_COOKIE) is None


async def test_posts_without_the_session_csrf_token_are_refused(web_app: Web) -> None:
    visitor = await web_app.sign_in("admin")
    for form in ({}, {"_csrf": "0" * 64}, {"_csrf": web_app.codec.csrf("another-nonce")}):
        reply = await visitor.post("/admin/principals", {"name": "mallory", "role": "admin", **form}, csrf=False)
        assert reply.status == 403, reply.text
        assert "CSRF" in reply.text
    assert "mallory" not in [a.name for a in await principals.accounts(web_app.locker.pool)]
    # fetch() POSTs carry the token in a header; without it the JSON answer is 403 too
    url = f"/cases/CASE-1/objects/{web_app.objects['original']}/verify"
    assert (await visitor.request("POST", url)).status == 403
    assert (await visitor.request("POST", url, headers={"X-CSRF-Token": "f" * 64})).status == 403
    assert (await visitor.request("POST", url, headers={"X-CSRF-Token": visitor.csrf})).status == 200
    # a form with the right token goes through
    reply = await visitor.post("/admin/principals", {"name": "trent", "role": "reviewer"})
    assert reply.status == 200 and "trent" in [a.name for a in await principals.accounts(web_app.locker.pool)]


async def test_tampered_forged_or_expired_cookies_sign_out(web_app: Web) -> None:
    visitor = await web_app.sign_in("reviewer")
    value = visitor.cookie(SESSION_COOKIE)
    assert value
    body, _, mac = value.partition(".")
    codec = web_app.codec
    session = codec.decode(value)
    assert session is not None
    forged = codec.encode(session).replace(body, body[:-2] + ("AA" if body[-2:] != "AA" else "BB"))
    expired = codec.encode(dataclasses.replace(session, issued_at=int(time.time()) - SESSION_HOURS * 3600 - 10,
                                               expires_at=int(time.time()) - 10))
    other_secret = SessionCodec(b"k" * 32).encode(session)
    for bad in (forged, body + "." + mac[:-3] + "xyz", "garbage", expired, other_secret):
        tampered = web_app.visitor()
        tampered.http.cookie_jar.update_cookies({SESSION_COOKIE: bad}, response_url=_url(web_app))
        reply = await tampered.get("/cases/CASE-1")
        assert reply.status == 303 and reply.location.startswith("/signin?next=/cases/CASE-1"), bad
        assert (await tampered.get("/admin")).status == 303
    # a cookie signed with the secret but naming no recorded session is refused too
    unknown = web_app.visitor()
    unknown.http.cookie_jar.update_cookies({SESSION_COOKIE: codec.encode(codec.issue(3600))},
                                           response_url=_url(web_app))
    assert (await unknown.get("/cases")).status == 303
    assert (await visitor.get("/cases")).status == 200  # none of this touched the real session


async def test_revoked_or_reissued_principal_is_signed_out(web_app: Web) -> None:
    web_app.no_cache()
    reviewer = await web_app.sign_in("reviewer")
    disclosure = await web_app.sign_in("disclosure")
    await accounts.revoke(web_app.locker, "reviewer", who=operator())
    reply = await reviewer.get("/cases")
    assert reply.status == 303 and reply.location.startswith("/signin")
    await accounts.reissue(web_app.locker, "disclosure", who=operator())
    assert (await disclosure.get("/cases")).status == 303  # sessions started with the old token end


async def test_revocation_reaches_sessions_within_the_cache_time(web_app: Web) -> None:
    """With the default cache, another server's revocation is seen within HOLDER_CACHE_SECONDS."""
    web_app.app[WEB_HOLDERS].ttl_s = 0.3
    visitor = await web_app.sign_in("investigator")
    await accounts.revoke(web_app.locker, "investigator", who=operator())
    await asyncio.sleep(0.35)
    assert (await visitor.get("/cases")).status == 303


async def test_sign_out_ends_the_session_in_the_browser(web_app: Web) -> None:
    visitor = await web_app.sign_in("investigator")
    reply = await visitor.post("/signout")
    assert reply.status == 303 and reply.location == "/signin"
    assert visitor.cookie(SESSION_COOKIE) in (None, "")
    assert (await visitor.get("/cases")).status == 303


async def test_next_goes_back_only_within_the_site(web_app: Web) -> None:
    anonymous = web_app.visitor()
    reply = await anonymous.get("/cases/CASE-1?x=1")
    assert reply.status == 303 and reply.location == "/signin?next=/cases/CASE-1?x%3D1"
    for nxt, expected in (("/cases/CASE-1?x=1", "/cases/CASE-1?x=1"), ("//evil.example/", "/cases"),
                          ("https://evil.example/", "/cases"), ("/\\evil.example", "/cases"),
                          ("/signout", "/cases")):
        visitor = web_app.visitor()
        form = await visitor.get("/signin", params={"next": nxt})
        csrf = re.search(r'name="_csrf" value="([0-9a-f]+)"', form.text)
        assert csrf
        reply = await visitor.post("/signin", {"token": web_app.tokens["investigator"], "_csrf": csrf.group(1),
                                               "next": nxt})
        assert reply.status == 303 and reply.location == expected, nxt


@pytest.mark.parametrize("value", ["//x", "/\\x", "http://x/", "", "x", "/a\nb", "/signin?next=/"])
def test_safe_next_refuses_other_sites(value: str) -> None:
    assert safe_next(value) is None


async def test_tokens_and_cookies_never_reach_the_log(web_app: Web, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    visitor = await web_app.sign_in("admin")
    await visitor.get("/admin")
    reply = await visitor.post("/admin/principals", {"name": "newbie", "role": "investigator"})
    token = re.search(r'id="issued-token">(cst_[A-Za-z0-9_-]+)<', reply.text)
    assert token
    text = caplog.text
    assert web_app.tokens["admin"] not in text and token.group(1) not in text
    assert (visitor.cookie(SESSION_COOKIE) or "x") not in text


def _url(web_app: Web) -> URL:
    return URL(web_app.base)
