"""Management API: log streams (Auth0's ``/api/v2/log-streams``) and the spike-alert rules:
the lifecycle, write-only secrets, validation, private destinations and scopes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from phonegate.container import Container
from phonegate.domain.grants import MANAGEMENT_SCOPES
from phonegate.domain.log_streams import open_secrets
from phonegate.domain.models import LogStream
from phonegate.settings import Settings
from tests.conftest import Api, make_settings
from tests.shapes import mgmt_error

# No digit runs: error texts mask those, which would hide a leak from these tests.
AUTHORIZATION = "Bearer splunk-Qm7fXwZpLrTvHc"
NEW_AUTHORIZATION = "Bearer rotated-KpWxYbZ"
# A public address literal: nothing is sent when a stream is saved, and no DNS is needed.
ENDPOINT = "https://93.184.216.34/services/collector"
PRIVATE = (
    "http://127.0.0.1:8080/logs",
    "http://10.1.2.3/in",
    "http://[::1]/in",
    "http://localhost/in",
)
SCOPES = ("read:log_streams", "create:log_streams", "update:log_streams", "delete:log_streams")


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """Private destinations are refused unless a test asks for them (indirect parameter)."""
    allow = getattr(request, "param", False)
    return make_settings(database_url, tmp_path, outbound_allow_private=allow)


def stream_body(**overrides: Any) -> dict[str, Any]:
    sink = {
        "httpEndpoint": ENDPOINT,
        "httpContentType": "application/json",
        "httpContentFormat": "JSONARRAY",
        "httpAuthorization": AUTHORIZATION,
        "httpCustomHeaders": [{"header": "X-Splunk-Index", "value": "auth"}],
        **overrides.pop("sink", {}),
    }
    return {
        "name": "splunk",
        "type": "http",
        "sink": sink,
        "filters": [
            {"type": "category", "name": "auth.login.fail"},
            {"type": "category", "name": "user.notification"},
        ],
        **overrides,
    }


async def create(api: Api, **overrides: Any) -> dict[str, Any]:
    r = await api.mgmt("POST", "/log-streams", json=stream_body(**overrides))
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def stored(container: Container, stream_id: str) -> LogStream:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("phonegate.test")
        assert tenant is not None
        stream = await uow.log_streams.get(tenant.id, stream_id)
    assert stream is not None
    return stream


async def test_lifecycle(api: Api) -> None:
    created = await create(api)
    assert created["id"].startswith("lst_")
    secret = created["sink"].pop("signingSecret")
    assert len(secret) >= 32
    assert created == {
        "id": created["id"],
        "name": "splunk",
        "type": "http",
        "status": "active",
        "sink": {
            "httpEndpoint": ENDPOINT,
            "httpContentType": "application/json",
            "httpContentFormat": "JSONARRAY",
            "httpCustomHeaders": [{"header": "X-Splunk-Index", "value": "auth"}],
        },
        "filters": stream_body()["filters"],
        "isPriority": False,
        "delivery": {"failures": 0, "lastError": None, "nextAttemptAt": None},
    }
    path = f"/log-streams/{created['id']}"
    r = await api.mgmt("GET", "/log-streams")
    assert r.status_code == 200 and r.json() == [created]
    r = await api.mgmt("GET", path)
    assert r.status_code == 200 and r.json() == created

    r = await api.mgmt("PATCH", path, json={"status": "paused", "name": "splunk (eu)"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "paused" and r.json()["name"] == "splunk (eu)"
    assert "signingSecret" not in r.json()["sink"]
    r = await api.mgmt("GET", path)
    assert r.json()["status"] == "paused"
    r = await api.mgmt("PATCH", path, json={"status": "active", "isPriority": True})
    assert r.json()["status"] == "active" and r.json()["isPriority"] is True

    r = await api.mgmt("DELETE", path)
    assert r.status_code == 204
    mgmt_error(await api.mgmt("GET", path), 404, "inexistent_log_stream")
    mgmt_error(await api.mgmt("DELETE", path), 404, "inexistent_log_stream")
    assert (await api.mgmt("GET", "/log-streams")).json() == []


async def test_defaults(api: Api) -> None:
    r = await api.mgmt(
        "POST", "/log-streams", json={"type": "http", "sink": {"httpEndpoint": ENDPOINT}}
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["filters"] == [] and body["status"] == "active"
    assert body["sink"]["httpContentFormat"] == "JSONLINES"
    assert body["sink"]["httpContentType"] == "application/json"


async def test_secrets_are_write_only(api: Api, container: Container) -> None:
    created = await create(api)
    secret = created["sink"]["signingSecret"]
    path = f"/log-streams/{created['id']}"
    assert AUTHORIZATION not in json.dumps(created)

    r = await api.mgmt("PATCH", path, json={"sink": {"httpContentFormat": "JSONLINES"}})
    assert r.status_code == 200, r.text
    kept = open_secrets(container.keys, await stored(container, created["id"]))
    assert (kept.authorization, kept.signing_secret) == (AUTHORIZATION, secret)

    r = await api.mgmt("PATCH", path, json={"rotateSigningSecret": True})
    rotated = r.json()["sink"]["signingSecret"]
    assert rotated != secret
    r = await api.mgmt("PATCH", path, json={"sink": {"httpAuthorization": NEW_AUTHORIZATION}})
    assert r.status_code == 200, r.text
    now = open_secrets(container.keys, await stored(container, created["id"]))
    assert (now.authorization, now.signing_secret) == (NEW_AUTHORIZATION, rotated)

    shown = [(await api.mgmt("GET", path)).text, (await api.mgmt("GET", "/log-streams")).text]
    for value in (AUTHORIZATION, NEW_AUTHORIZATION, secret, rotated):
        assert all(value not in text for text in shown)
    row = await stored(container, created["id"])
    assert all(v not in (row.secrets or "") for v in (NEW_AUTHORIZATION, rotated))
    async with container.unit_of_work() as uow:
        events = await uow.events.list(row.tenant_id, type_="sapi")  # of these writes
    logged = json.dumps([(e.description, e.details) for e in events])
    assert "log stream" in logged
    for value in (AUTHORIZATION, NEW_AUTHORIZATION, secret, rotated):
        assert value not in logged

    r = await api.mgmt("PATCH", path, json={"sink": {"httpAuthorization": ""}})
    assert (
        open_secrets(container.keys, await stored(container, created["id"])).authorization is None
    )


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    (stream_body(type="datadog"), "'type'"),
    ({"name": "x", "sink": {"httpEndpoint": ENDPOINT}}, "'type'"),
    (stream_body(sink={"httpEndpoint": "ftp://logs.example.com/in"}), "httpEndpoint"),
    (stream_body(sink={"httpEndpoint": "not a url"}), "httpEndpoint"),
    (stream_body(sink={"httpEndpoint": "https://u:pw@logs.example.com/"}), "credentials"),
    (stream_body(sink={"httpContentFormat": "XML"}), "httpContentFormat"),
    (stream_body(sink={"httpContentType": "json"}), "httpContentType"),
    (stream_body(sink={"httpCustomHeaders": [{"header": "Host", "value": "x"}]}), "Host"),
    (
        stream_body(sink={"httpCustomHeaders": [{"header": "X-Phonegate-Batch", "value": "x"}]}),
        "X-Phonegate-Batch",
    ),
    (stream_body(sink={"httpAuthorization": "Bearer a\nX-Evil: 1"}), "httpAuthorization"),
    (stream_body(sink={"webhookUrl": ENDPOINT}), "webhookUrl"),
    (stream_body(filters=[{"type": "category", "name": "auth.teleport"}]), "auth.teleport"),
    (stream_body(filters=[{"type": "type", "name": "gd_send_sms"}]), "filter"),
    (stream_body(filters=[{"type": "category", "name": ["guardian"]}]), "category"),
    (stream_body(status="paused"), "status"),
    (stream_body(name=""), "'name'"),
    ({"type": "http"}, "sink"),
]


async def test_bad_input(api: Api) -> None:
    for body, needle in BAD_BODIES:
        r = await api.mgmt("POST", "/log-streams", json=body)
        assert needle in mgmt_error(r, 400, "invalid_body")["message"], body
    assert (await api.mgmt("GET", "/log-streams")).json() == []


async def test_bad_patches(api: Api) -> None:
    path = f"/log-streams/{(await create(api))['id']}"
    for body, needle in (
        ({"status": "suspended"}, "status"),
        ({"type": "eventbridge"}, "type"),
        ({"rotateSigningSecret": "yes"}, "rotateSigningSecret"),
        ({"sink": {"httpEndpoint": "javascript:alert(1)"}}, "httpEndpoint"),
    ):
        r = await api.mgmt("PATCH", path, json=body)
        assert needle in mgmt_error(r, 400, "invalid_body")["message"]
    mgmt_error(await api.mgmt("PATCH", "/log-streams/lst_missing", json={}), 404)


async def test_private_destinations_refused(api: Api) -> None:
    path = f"/log-streams/{(await create(api))['id']}"
    for endpoint in PRIVATE:
        body = stream_body(sink={"httpEndpoint": endpoint})
        message = mgmt_error(await api.mgmt("POST", "/log-streams", json=body), 400)["message"]
        assert "not a public address" in message, endpoint
        assert "PHONEGATE_OUTBOUND_ALLOW_PRIVATE" in message
        r = await api.mgmt("PATCH", path, json={"sink": {"httpEndpoint": endpoint}})
        mgmt_error(r, 400, "invalid_body")
    assert (await api.mgmt("GET", path)).json()["sink"]["httpEndpoint"] == ENDPOINT
    assert len((await api.mgmt("GET", "/log-streams")).json()) == 1


@pytest.mark.parametrize("settings", [True], indirect=True)
async def test_private_destinations_when_allowed(api: Api) -> None:
    r = await api.mgmt(
        "POST", "/log-streams", json=stream_body(sink={"httpEndpoint": "http://127.0.0.1:9/in"})
    )
    assert r.status_code == 201, r.text


async def test_alert_rules(api: Api) -> None:
    r = await api.mgmt("GET", "/log-streams/alerts")
    assert r.status_code == 200 and r.json() == []
    rules = [
        {"type": "gd_send_voice", "threshold": 100, "window_seconds": 3600},
        {"type": "gd_send_voice_failure", "threshold": 20, "window_seconds": 60},
    ]
    r = await api.mgmt("PUT", "/log-streams/alerts", json=rules)
    assert r.status_code == 200 and r.json() == rules
    assert (await api.mgmt("GET", "/log-streams/alerts")).json() == rules
    rule = rules[0]
    for bad in (
        [{**rule, "type": "gd_send_carrier_pigeon"}],
        [{**rule, "type": ["gd_send_voice"]}],
        [{**rule, "threshold": 0}],
        [{**rule, "threshold": True}],
        [{**rule, "window_seconds": 59}],
        [{**rule, "window_seconds": 86401}],
        [{**rule, "severity": "high"}],
        [rule, rule],
        rule,
    ):
        r = await api.mgmt("PUT", "/log-streams/alerts", json=bad)
        mgmt_error(r, 400, "invalid_body")
    assert (await api.mgmt("GET", "/log-streams/alerts")).json() == rules


def test_bootstrap_grants_the_scopes() -> None:
    assert set(SCOPES) <= set(MANAGEMENT_SCOPES)


async def test_scopes(api: Api) -> None:
    path = f"/log-streams/{(await create(api))['id']}"
    reader = await api.management_token("read:log_streams")
    creator = await api.management_token("create:log_streams")
    as_reader = {"authorization": f"Bearer {reader}"}
    as_creator = {"authorization": f"Bearer {creator}"}
    assert (await api.mgmt("GET", path, headers=as_reader)).status_code == 200
    assert (await api.mgmt("GET", "/log-streams/alerts", headers=as_reader)).status_code == 200
    for method, target, body in (
        ("POST", "/log-streams", stream_body()),
        ("PATCH", path, {"status": "paused"}),
        ("DELETE", path, None),
        ("PUT", "/log-streams/alerts", []),
    ):
        r = await api.mgmt(method, target, headers=as_reader, json=body)
        mgmt_error(r, 403, "insufficient_scope")
    mgmt_error(await api.mgmt("GET", path, headers=as_creator), 403, "insufficient_scope")
    r = await api.client.get("/api/v2" + path)
    assert r.status_code == 401
