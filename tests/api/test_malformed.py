"""Malformed input is a 4xx with the usual JSON error, never a 500 (issue 14, item 10)."""

from __future__ import annotations

import re

from api.routes import ENDPOINTS
from tests.api.conftest import Api

HEX = "ab" * 32
ROLE_TOKEN = {"station": "station", "investigator": "investigator", "disclosure": "disclosure",
              "reviewer": "reviewer", "admin": "admin"}


def _path(template: str) -> str:
    values = {"case": "CASE-1", "blake3": HEX, "upload": "00000000-0000-0000-0000-000000000001", "id": "D-1",
              "hold": "1", "name": "someone", "principal": "someone", "action": "approve", "seq": "0",
              "project": "p-1", "render": "00000000-0000-0000-0000-000000000002"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


async def _error(api: Api, method: str, path: str, who: str | None, **kw: object) -> tuple[int, dict[str, str]]:
    headers = {**kw.pop("headers", {}), **(api.auth(who) if who else {})}  # type: ignore[dict-item]
    async with api.http.request(method, api.base + path, headers=headers, **kw) as resp:  # type: ignore[arg-type]
        assert resp.content_type == "application/json", (path, resp.status, await resp.text())
        return resp.status, await resp.json()


async def test_nul_in_any_path_or_query_value_is_400(file_api: Api) -> None:
    for method, path, who in [("GET", "/public/api/records?q=%00", None),
                              ("GET", "/api/v1/cases?officer=a%00b", "investigator"),
                              ("GET", "/api/v1/cases/CASE%00-1", "investigator"),
                              ("GET", "/api/v1/verify/" + HEX + "?case=%00", "investigator"),
                              ("POST", "/api/v1/cases/CASE-1/records?stage=filing&file_name=a%00.pdf",
                               "investigator")]:
        status, body = await _error(file_api, method, path, who, data=b"x")
        assert status == 400, (path, body)
        assert body["error"] == "bad_request"


async def test_deeply_nested_json_is_400_on_every_json_route(file_api: Api) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    nested = '{"reason": ' + "[" * 40 + "]" * 40 + "}"
    for endpoint in ENDPOINTS:
        if endpoint.body != "application/json":
            continue
        who = ROLE_TOKEN[next(iter(endpoint.roles or ("admin",)))]
        for body in (deep, nested):
            status, answer = await _error(file_api, endpoint.method, _path(endpoint.path), who, data=body,
                                          headers={"Content-Type": "application/json"})
            assert 400 <= status < 500, (endpoint.path, status, answer)
            if status == 400:
                assert "nested" in answer["message"] or "JSON" in answer["message"]


async def test_nul_inside_a_json_string_is_refused_before_anything_is_written(file_api: Api) -> None:
    status, body = await file_api.declare(b"some bytes", "CASE-1", file_name="clip\u0000.mp4")
    assert 400 <= status < 500, body
    status, body = await _error(file_api, "POST", "/api/v1/cases", "investigator",
                                json={"id": "CASE-NUL", "title": "a\u0000b"})
    assert status == 400, body
    status, _ = await file_api.call("GET", "/api/v1/cases/CASE-NUL", "investigator")
    assert status == 404


async def test_a_range_of_thousands_of_digits_is_416(file_api: Api) -> None:
    data = b"evidence bytes"
    receipt = await file_api.upload(data)
    hexd = receipt["receipt"]["entry"].split('"blake3":"')[1][:64]
    status, body = await _error(file_api, "GET", f"/api/v1/cases/CASE-1/objects/{hexd}?purpose=review",
                                "investigator", headers={"Range": "bytes=" + "9" * 4300 + "-"})
    assert status == 416, body


async def test_a_hold_id_beyond_64_bits_is_404_and_a_far_date_is_422(file_api: Api) -> None:
    status, body = await _error(file_api, "POST", f"/api/v1/holds/{2**64 + 5}/lift", "admin", json={"reason": "x"})
    assert status == 404, body
    status, body = await _error(file_api, "POST", "/api/v1/holds/" + "9" * 40 + "/lift", "admin",
                                json={"reason": "x"})
    assert 400 <= status < 500, body
    status, body = await _error(file_api, "GET", "/api/v1/calendar/add-working-days?date=9999-12-31&n=5",
                                "investigator")
    assert 400 <= status < 500 and status != 404, body
    status, body = await _error(file_api, "GET", "/api/v1/calendar/add-working-days?date=2026-01-05&n=" + "9" * 30,
                                "investigator")
    assert status == 400, body
