"""The Management API's connections (the database connection and one sms connection)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.shapes import mgmt_error

DATABASE = "Username-Password-Authentication"
DEFAULT_OPTIONS = {
    "disable_signup": False,
    "brute_force_protection": True,
    "totp": {"time_step": 180, "length": 6},
}


async def ok(api: Api, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    r = await api.mgmt(method, path, json=body)
    assert r.status_code == status, r.text
    return r.json() if r.content else None


async def create_sms(api: Api, **extra: Any) -> dict[str, Any]:
    body = {"name": "sms", "strategy": "sms", "enabled_clients": [api.creds.client_id], **extra}
    created: dict[str, Any] = await ok(api, "POST", "/connections", body, 201)
    return created


async def test_connection_lifecycle(api: Api) -> None:
    [database] = await ok(api, "GET", "/connections")
    assert database["name"] == DATABASE and database["strategy"] == "auth0"
    assert "enabled_clients" not in database  # every application may use it
    assert await ok(api, "GET", f"/connections/{database['id']}") == database

    created = await create_sms(
        api, options={"disable_signup": True, "totp": {"time_step": 300, "length": 8}}
    )
    assert created["id"].startswith("con_") and created["strategy"] == "sms"
    assert created["name"] == "sms" and created["realms"] == ["sms"]
    assert created["enabled_clients"] == [api.creds.client_id]
    assert created["options"] == {
        "disable_signup": True,
        "brute_force_protection": True,
        "totp": {"time_step": 300, "length": 8},
    }
    path = f"/connections/{created['id']}"
    assert await ok(api, "GET", path) == created
    assert await ok(api, "GET", "/connections?strategy=sms") == [created]
    assert await ok(api, "GET", "/connections?strategy=auth0") == [database]
    assert await ok(api, "GET", "/connections?strategy=sms&strategy=auth0") == [database, created]
    assert await ok(api, "GET", "/connections?name=sms") == [created]
    totals = await ok(api, "GET", "/connections?include_totals=true&per_page=1&page=1")
    assert totals == {"connections": [created], "start": 1, "limit": 1, "total": 2}
    first = await ok(api, "GET", "/connections?take=1")
    assert first == {"connections": [database], "next": created["id"]}
    assert await ok(api, "GET", f"/connections?take=1&from={created['id']}") == {
        "connections": [created]
    }

    # PATCH replaces the options object (Auth0): what it leaves out takes the defaults.
    patched = await ok(api, "PATCH", path, {"options": {"brute_force_protection": False}})
    assert patched["options"] == {**DEFAULT_OPTIONS, "brute_force_protection": False}
    patched = await ok(api, "PATCH", path, {"enabled_clients": []})
    assert (
        patched["enabled_clients"] == [] and patched["options"]["brute_force_protection"] is False
    )
    assert await ok(api, "GET", path) == patched

    assert await ok(api, "DELETE", path, status=202) is None
    mgmt_error(await api.mgmt("GET", path), 404, "inexistent_connection")
    mgmt_error(await api.mgmt("DELETE", path), 404, "inexistent_connection")
    assert await ok(api, "GET", "/connections") == [database]
    assert (await create_sms(api))["options"] == DEFAULT_OPTIONS


async def test_the_database_connection_is_built_in(api: Api) -> None:
    [database] = await ok(api, "GET", "/connections")
    path = f"/connections/{database['id']}"
    for method, body in (("PATCH", {"enabled_clients": []}), ("DELETE", None)):
        mgmt_error(await api.mgmt(method, path, json=body), 400, "operation_not_supported")
    r = await api.mgmt("POST", "/connections", json={"name": "db", "strategy": "auth0"})
    mgmt_error(r, 400, "operation_not_supported")
    r = await api.mgmt("POST", "/connections", json={"name": DATABASE, "strategy": "sms"})
    mgmt_error(r, 409)


async def test_one_sms_connection_per_tenant(api: Api) -> None:
    await create_sms(api)
    for name in ("sms", "sms-2"):
        r = await api.mgmt("POST", "/connections", json={"name": name, "strategy": "sms"})
        mgmt_error(r, 409)
    assert len(await ok(api, "GET", "/connections?strategy=sms")) == 1


async def test_validation_names_the_problem(api: Api) -> None:
    good = {"name": "sms", "strategy": "sms"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"strategy": "sms"}, "'name'"),
        ({**good, "name": "-sms"}, "'name'"),
        ({**good, "name": "s" * 129}, "'name'"),
        ({**good, "name": "sms connection"}, "'name'"),
        ({"name": "sms"}, "'strategy'"),
        ({**good, "strategy": "google-oauth2"}, "'strategy'"),
        ({**good, "display_name": "SMS"}, "display_name"),
        ({**good, "options": "x"}, "'options'"),
        ({**good, "options": {"twilio_sid": "AC1"}}, "twilio_sid"),
        ({**good, "options": {"disable_signup": "yes"}}, "options.disable_signup"),
        ({**good, "options": {"totp": []}}, "options.totp"),
        ({**good, "options": {"totp": {"length": 3}}}, "options.totp.length"),
        ({**good, "options": {"totp": {"length": 11}}}, "options.totp.length"),
        ({**good, "options": {"totp": {"time_step": 10}}}, "options.totp.time_step"),
        ({**good, "options": {"totp": {"time_step": True}}}, "options.totp.time_step"),
        ({**good, "options": {"totp": {"window": 1}}}, "window"),
        ({**good, "enabled_clients": "all"}, "enabled_clients"),
        ({**good, "enabled_clients": [1]}, "enabled_clients"),
        ({**good, "enabled_clients": ["nobody"]}, "unknown client: nobody"),
    ]
    for body, named in cases:
        r = await api.mgmt("POST", "/connections", json=body)
        assert named in mgmt_error(r, 400)["message"], (body, r.text)
    assert len(await ok(api, "GET", "/connections")) == 1

    path = f"/connections/{(await create_sms(api))['id']}"
    for body, named in (
        ({"name": "other"}, "name"),
        ({"strategy": "auth0"}, "strategy"),
        ({"options": {"totp": {"length": 2}}}, "options.totp.length"),
    ):
        r = await api.mgmt("PATCH", path, json=body)
        assert named in mgmt_error(r, 400, "invalid_body")["message"], r.text
    for query in ("page=-1", "per_page=0", "per_page=101", "take=0", "take=x", "from=con_nope"):
        mgmt_error(await api.mgmt("GET", f"/connections?{query}"), 400, "invalid_query_string")


async def test_connection_scopes(api: Api) -> None:
    path = f"/connections/{(await create_sms(api))['id']}"
    token = await api.management_token("read:connections")
    headers = {"authorization": f"Bearer {token}"}
    r = await api.client.get("/api/v2/connections", headers=headers)
    assert r.status_code == 200 and len(r.json()) == 2, r.text
    for method, target, body in (
        ("POST", "/api/v2/connections", {"name": "x", "strategy": "sms"}),
        ("PATCH", f"/api/v2{path}", {"enabled_clients": []}),
        ("DELETE", f"/api/v2{path}", None),
    ):
        r = await api.client.request(method, target, headers=headers, json=body)
        mgmt_error(r, 403, "insufficient_scope")
    token = await api.management_token("delete:connections")
    r = await api.client.get(f"/api/v2{path}", headers={"authorization": f"Bearer {token}"})
    mgmt_error(r, 403, "insufficient_scope")
    r = await api.client.delete(f"/api/v2{path}", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 202, r.text
    mgmt_error(await api.client.get("/api/v2/connections"), 401)
