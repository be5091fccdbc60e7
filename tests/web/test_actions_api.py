"""Management API: Actions for the phone triggers (auth0-api.md §3.1, §4.1, §4.3): the
lifecycle over raw HTTP, secrets that never come back, test runs, the binding rules, scopes,
and a bound action carrying real MFA messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from phonegate.clock import FrozenClock
from phonegate.container import Container
from phonegate.domain.models import Action, Tenant
from phonegate.domain.phone_providers import open_sealed
from phonegate.storage import tables
from tests.conftest import Api
from tests.shapes import mgmt_error
from tests.web import action_targets

SPM = "send-phone-message"
CPP = "custom-phone-provider"
RECORD = "tests.web.action_targets:record"
RECORD_OTHER = "tests.web.action_targets:record_other"
# No digit runs: ProviderError masks those, which would hide a leak from these tests.
API_KEY = "sk_live_Qm7fXwZpLrTvHc"
OTHER_KEY = "pw_TopSecretValueKp"
NEW_KEY = "nk_FreshlyRotatedKeyYb"
SECRETS = (API_KEY, OTHER_KEY, NEW_KEY)
NOT_FOUND = {
    "statusCode": 404,
    "error": "Not Found",
    "message": "Action not found",
    "errorCode": "action_not_found",
}


@pytest.fixture(autouse=True)
def _no_calls() -> Iterator[None]:
    action_targets.calls.clear()
    yield
    action_targets.calls.clear()


def new_action(name: str = "carrier", trigger: str = SPM, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "supported_triggers": [{"id": trigger, "version": "v2"}],
        "code": RECORD,
        "secrets": [{"name": "API_KEY", "value": API_KEY}],
        **extra,
    }


async def create(api: Api, **body: Any) -> dict[str, Any]:
    r = await api.mgmt("POST", "/actions/actions", json=new_action(**body))
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def deploy(api: Api, action_id: str) -> dict[str, Any]:
    r = await api.mgmt("POST", f"/actions/actions/{action_id}/deploy")
    assert r.status_code == 200, r.text
    version: dict[str, Any] = r.json()
    return version


async def bind(api: Api, trigger: str, *refs: dict[str, str]) -> Any:
    return await api.mgmt(
        "PATCH",
        f"/actions/triggers/{trigger}/bindings",
        json={"bindings": [{"ref": ref} for ref in refs]},
    )


async def bindings(api: Api, trigger: str = SPM) -> dict[str, Any]:
    r = await api.mgmt("GET", f"/actions/triggers/{trigger}/bindings")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def the_tenant(container: Container) -> Tenant:
    async with container.unit_of_work() as uow:
        tenant = await uow.tenants.for_host("phonegate.test")
    assert tenant is not None
    return tenant


async def stored_bindings(container: Container) -> dict[str, str]:
    return dict((await the_tenant(container)).settings.action_bindings)


async def stored_action(container: Container, action_id: str) -> Action:
    tenant = await the_tenant(container)
    async with container.unit_of_work() as uow:
        action = await uow.actions.get(tenant.id, action_id)
    assert action is not None
    return action


def iso(clock: FrozenClock) -> str:
    return clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- triggers and the lifecycle -----------------------------------------------------------


async def test_triggers(api: Api) -> None:
    r = await api.mgmt("GET", "/actions/triggers")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "triggers": [
            {
                "id": trigger,
                "version": "v2",
                "status": "CURRENT",
                "runtimes": ["python3.11"],
                "default_runtime": "python3.11",
                "compatible_triggers": [],
            }
            for trigger in (SPM, CPP)
        ]
    }


async def test_action_lifecycle(api: Api, container: Container, clock: FrozenClock) -> None:
    created_at = iso(clock)
    body = new_action(
        secrets=[{"name": "API_KEY", "value": API_KEY}, {"name": "OTHER", "value": OTHER_KEY}]
    )
    r = await api.mgmt("POST", "/actions/actions", json=body)
    assert r.status_code == 201, r.text
    action = r.json()
    action_id = action["id"]
    assert action == {
        "id": action_id,
        "name": "carrier",
        "supported_triggers": [{"id": SPM, "version": "v2"}],
        "code": RECORD,
        "runtime": "python3.11",
        "dependencies": [],
        "secrets": [
            {"name": "API_KEY", "updated_at": created_at},
            {"name": "OTHER", "updated_at": created_at},
        ],
        "status": "built",
        "deployed": False,
        "all_changes_deployed": False,
        "created_at": created_at,
        "updated_at": created_at,
        "built_at": created_at,
    }
    other = await create(api, name="branding", trigger=CPP)

    # List, with each filter and a page.
    async def listed(query: str = "") -> dict[str, Any]:
        r = await api.mgmt("GET", f"/actions/actions{query}")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        return found

    everything = await listed()
    assert [a["id"] for a in everything["actions"]] == [action_id, other["id"]]
    assert (everything["total"], everything["page"], everything["per_page"]) == (2, 0, 20)
    assert [a["id"] for a in (await listed(f"?triggerId={CPP}"))["actions"]] == [other["id"]]
    assert [a["id"] for a in (await listed("?actionName=carrier"))["actions"]] == [action_id]
    assert (await listed("?deployed=true"))["actions"] == []
    assert (await listed("?deployed=false&installed=false"))["total"] == 2
    second_page = await listed("?page=1&per_page=1")
    assert [a["id"] for a in second_page["actions"]] == [other["id"]]
    assert (second_page["total"], second_page["page"], second_page["per_page"]) == (2, 1, 1)
    mgmt_error(await api.mgmt("GET", "/actions/actions?per_page=0"), 400, "invalid_query_string")
    mgmt_error(await api.mgmt("GET", "/actions/actions?deployed=yes"), 400, "invalid_query_string")

    r = await api.mgmt("GET", f"/actions/actions/{action_id}")
    assert r.status_code == 200 and r.json() == action, r.text

    # Deploy: version 1 is the draft as it stands.
    clock.advance(60)
    deployed_at = iso(clock)
    version = await deploy(api, action_id)
    assert version == {
        "id": f"{action_id}-v1",
        "action_id": action_id,
        "code": RECORD,
        "runtime": "python3.11",
        "number": 1,
        "deployed": True,
        "status": "built",
        "created_at": deployed_at,
        "updated_at": deployed_at,
    }
    got = (await api.mgmt("GET", f"/actions/actions/{action_id}")).json()
    assert got["deployed"] is True and got["all_changes_deployed"] is True
    assert got["deployed_version"] == version
    assert (await listed("?deployed=true"))["total"] == 1

    # Patch: one secret kept, one set, one removed; the deployed copy does not move.
    clock.advance(60)
    patched_at = iso(clock)
    r = await api.mgmt(
        "PATCH",
        f"/actions/actions/{action_id}",
        json={
            "code": RECORD_OTHER,
            "name": "carrier v2",
            "secrets": [{"name": "API_KEY"}, {"name": "NEW", "value": NEW_KEY}],
        },
    )
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["code"] == RECORD_OTHER and patched["name"] == "carrier v2"
    assert patched["secrets"] == [
        {"name": "API_KEY", "updated_at": created_at},
        {"name": "NEW", "updated_at": patched_at},
    ]
    assert patched["all_changes_deployed"] is False and patched["deployed"] is True
    assert patched["updated_at"] == patched_at
    assert patched["deployed_version"] == version
    row = await stored_action(container, action_id)
    assert open_sealed(container.keys, row.secrets) == {"API_KEY": API_KEY, "NEW": NEW_KEY}
    assert open_sealed(container.keys, row.deployed_secrets) == {
        "API_KEY": API_KEY,
        "OTHER": OTHER_KEY,
    }
    assert row.deployed_code == RECORD

    # Any patch, even an empty one, leaves changes to deploy.
    version = await deploy(api, action_id)
    assert version["number"] == 2 and version["code"] == RECORD_OTHER
    r = await api.mgmt("PATCH", f"/actions/actions/{action_id}", json={})
    assert r.status_code == 200 and r.json()["all_changes_deployed"] is False, r.text

    # Bind, list, delete (refused while bound, then forced: unbound too).
    r = await bind(api, SPM, {"type": "action_id", "value": action_id})
    assert r.status_code == 200, r.text
    [binding] = r.json()["bindings"]
    assert binding["trigger_id"] == SPM and binding["display_name"] == "carrier v2"
    assert binding["action"]["id"] == action_id and binding["action"]["deployed_version"] == version
    listing = await bindings(api)
    assert listing == {"bindings": [binding], "total": 1, "page": 0, "per_page": 20}
    assert await stored_bindings(container) == {SPM: action_id}

    mgmt_error(await api.mgmt("DELETE", f"/actions/actions/{action_id}"), 409, "action_bound")
    assert (await api.mgmt("GET", f"/actions/actions/{action_id}")).status_code == 200
    r = await api.mgmt("DELETE", f"/actions/actions/{action_id}?force=true")
    assert r.status_code == 204 and r.content == b"", r.text
    r = await api.mgmt("GET", f"/actions/actions/{action_id}")
    assert r.status_code == 404 and r.json() == NOT_FOUND
    assert (await bindings(api))["bindings"] == []
    assert await stored_bindings(container) == {}

    # Bind by name, unbind with [], then an unbound action deletes without force.
    await deploy(api, other["id"])
    r = await bind(api, CPP, {"type": "action_name", "value": "branding"})
    assert r.status_code == 200 and r.json()["bindings"][0]["action"]["id"] == other["id"]
    assert await stored_bindings(container) == {CPP: other["id"]}
    r = await api.mgmt("PATCH", f"/actions/triggers/{CPP}/bindings", json={"bindings": []})
    assert r.status_code == 200 and r.json() == {"bindings": []}, r.text
    assert await stored_bindings(container) == {}
    assert (await api.mgmt("DELETE", f"/actions/actions/{other['id']}")).status_code == 204
    assert (await listed())["total"] == 0


# --- secrets ------------------------------------------------------------------------------


async def test_secrets_never_leave_the_server(api: Api, container: Container) -> None:
    bodies: list[str] = []

    async def call(method: str, path: str, **kwargs: Any) -> Any:
        r = await api.mgmt(method, path, **kwargs)
        bodies.append(r.text)
        return r

    r = await call(
        "POST", "/actions/actions", json=new_action(code="tests.web.action_targets:echo_secret")
    )
    action_id = r.json()["id"]
    await call("GET", f"/actions/actions/{action_id}")
    await call("GET", "/actions/actions")
    await call("POST", f"/actions/actions/{action_id}/deploy")
    await call(
        "PATCH",
        f"/actions/actions/{action_id}",
        json={"secrets": [{"name": "API_KEY", "value": OTHER_KEY}]},
    )
    r = await call("POST", f"/actions/actions/{action_id}/test", json={})
    # The action returned its secret: the test run masks it.
    assert r.json()["payload"]["result"] == {"id": "echo", "key": "***"}, r.text
    await call(
        "PATCH",
        f"/actions/actions/{action_id}",
        json={"code": "tests.web.action_targets:raise_with_secret"},
    )
    r = await call("POST", f"/actions/actions/{action_id}/test")
    assert "***" in r.json()["payload"]["error"], r.text
    await call("POST", f"/actions/actions/{action_id}/deploy")
    await call(
        "PATCH",
        f"/actions/triggers/{SPM}/bindings",
        json={"bindings": [{"ref": {"type": "action_id", "value": action_id}}]},
    )
    await call("GET", f"/actions/triggers/{SPM}/bindings")
    # Refused requests that carry secret values do not quote them.
    for secrets in (
        [{"name": "1BAD", "value": NEW_KEY}],
        [{"name": "API_KEY", "value": NEW_KEY}, {"name": "API_KEY", "value": NEW_KEY}],
        [{"name": "API_KEY", "value": NEW_KEY, "extra": NEW_KEY}],
        [{"name": "MISSING"}, {"name": "OK", "value": NEW_KEY}],
        [{"name": "API_KEY", "value": [NEW_KEY]}],
    ):
        r = await call("PATCH", f"/actions/actions/{action_id}", json={"secrets": secrets})
        mgmt_error(r, 400, "invalid_body")
        r = await call("POST", "/actions/actions", json=new_action("refused", secrets=secrets))
        mgmt_error(r, 400, "invalid_body")
    r = await call("POST", "/actions/actions", json=new_action(code=NEW_KEY))
    mgmt_error(r, 400, "invalid_body")
    r = await call("DELETE", f"/actions/actions/{action_id}?force=true")
    assert r.status_code == 204

    for text in bodies:
        assert not any(secret in text for secret in SECRETS), text
    tenant = await the_tenant(container)
    async with container.unit_of_work() as uow:
        events = await uow.events.list(tenant.id, limit=1000)
    assert events and not any(secret in repr(e) for e in events for secret in SECRETS)
    writes = [(e.description, e.details["request"]) for e in events if e.type == "sapi"]
    base = "/api/v2/actions"
    assert sorted(writes, key=repr) == sorted(
        [
            ("Create an action", {"method": "POST", "path": f"{base}/actions"}),
            ("Deploy an action", {"method": "POST", "path": f"{base}/actions/{action_id}/deploy"}),
            ("Deploy an action", {"method": "POST", "path": f"{base}/actions/{action_id}/deploy"}),
            ("Update an action", {"method": "PATCH", "path": f"{base}/actions/{action_id}"}),
            ("Update an action", {"method": "PATCH", "path": f"{base}/actions/{action_id}"}),
            (
                "Update trigger bindings",
                {"method": "PATCH", "path": f"{base}/triggers/{SPM}/bindings"},
            ),
            ("Delete an action", {"method": "DELETE", "path": f"{base}/actions/{action_id}"}),
        ],
        key=repr,
    )


async def test_secrets_are_stored_sealed(api: Api, container: Container) -> None:
    action = await create(api)
    await deploy(api, action["id"])
    async with container.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(tables.actions.c.secrets, tables.actions.c.deployed_secrets).where(
                    tables.actions.c.id == action["id"]
                )
            )
        ).one()
    assert row.secrets and row.deployed_secrets
    assert API_KEY not in row.secrets and API_KEY not in row.deployed_secrets
    assert open_sealed(container.keys, row.secrets) == {"API_KEY": API_KEY}


# --- test runs ----------------------------------------------------------------------------


async def test_test_runs_the_draft_with_its_secrets(api: Api) -> None:
    action = await create(api)
    await deploy(api, action["id"])
    # The draft changes; the test runs the draft, not the deployed copy.
    r = await api.mgmt(
        "PATCH",
        f"/actions/actions/{action['id']}",
        json={"code": RECORD_OTHER, "secrets": [{"name": "API_KEY", "value": NEW_KEY}]},
    )
    assert r.status_code == 200, r.text
    r = await api.mgmt("POST", f"/actions/actions/{action['id']}/test", json={})
    assert r.status_code == 200, r.text
    payload = r.json()["payload"]
    assert payload["status"] == "sent" and payload["result"] == "second-1", payload
    assert payload["error"] is None and payload["duration_ms"] >= 0
    [(which, event)] = action_targets.calls
    assert which == "record_other" and event["secrets"] == {"API_KEY": NEW_KEY}
    assert event["message_options"]["code"] == "123456"  # the sample event

    # A given event is used as is, with the draft's secrets in place of any it carries.
    given = {
        "message_options": {"recipient": "+15555550199", "code": "654321"},
        "secrets": {"API_KEY": "x"},
    }
    r = await api.mgmt("POST", f"/actions/actions/{action['id']}/test", json={"payload": given})
    assert r.status_code == 200 and r.json()["payload"]["status"] == "sent", r.text
    (_, event) = action_targets.calls[-1]
    assert event == {**given, "secrets": {"API_KEY": NEW_KEY}}

    r = await api.mgmt("POST", f"/actions/actions/{action['id']}/test", json={"payload": [1]})
    mgmt_error(r, 400, "invalid_body")
    r = await api.mgmt("POST", "/actions/actions/nope/test", json={})
    assert r.status_code == 404 and r.json() == NOT_FOUND


@pytest.mark.parametrize(
    ("code", "status", "error_part"),
    [
        (
            "tests.web.action_targets:raise_with_secret",
            "error",
            "RuntimeError: carrier refused the key ***",
        ),
        ("tests.web.no_such_module:send", "error", "cannot be imported"),
        ("tests.web.action_targets:no_such_function", "error", "has no 'no_such_function'"),
        ("tests.web.action_targets:slow", "sent", None),
    ],
)
async def test_test_run_reports_what_the_action_did(
    api: Api, code: str, status: str, error_part: str | None
) -> None:
    action = await create(api, code=code)
    r = await api.mgmt("POST", f"/actions/actions/{action['id']}/test", json={"payload": {}})
    assert r.status_code == 200, r.text
    payload = r.json()["payload"]
    assert payload["status"] == status, payload
    if error_part is None:
        assert payload["error"] is None and payload["result"] == "slow-1"
        assert payload["duration_ms"] >= 300
    else:
        assert error_part in payload["error"] and payload["result"] is None
        assert API_KEY not in r.text


# --- refused input ------------------------------------------------------------------------


BAD_CREATES: list[dict[str, Any]] = [
    {"supported_triggers": [{"id": "post-login", "version": "v2"}]},
    {"supported_triggers": [{"id": SPM}, {"id": CPP}]},
    {"supported_triggers": []},
    {"supported_triggers": [{"id": SPM, "version": "v1"}]},
    {"code": "not a callable"},
    {"code": "tests.web.action_targets"},
    {"code": "module:function:extra"},
    {"code": "exports.onExecuteSendPhoneMessage = async (event) => {}"},
    {"code": "tests.web.action_targets:" + "f" * 520},
    {"code": 42},
    {"runtime": "node18"},
    {"dependencies": [{"name": "twilio", "version": "4.18.0"}]},
    {"secrets": [{"name": "1KEY", "value": "v"}]},
    {"secrets": [{"name": "HAS-DASH", "value": "v"}]},
    {"secrets": [{"name": "K" * 65, "value": "v"}]},
    {"secrets": [{"name": "", "value": "v"}]},
    {"secrets": [{"name": "EMPTY", "value": ""}]},
    {"secrets": [{"name": "NO_VALUE"}]},
    {"secrets": [{"name": f"K{i}", "value": "v"} for i in range(51)]},
    {"secrets": {"API_KEY": "v"}},
    {"name": ""},
    {"name": "n" * 256},
    {"deploy": "yes"},
    {"modules": []},
]


async def test_create_refuses_bad_input(api: Api) -> None:
    for change in BAD_CREATES:
        r = await api.mgmt("POST", "/actions/actions", json={**new_action(), **change})
        body = mgmt_error(r, 400, "invalid_body")
        assert body["message"].startswith("Payload validation error"), (change, body)
    assert (await api.mgmt("GET", "/actions/actions")).json()["total"] == 0


async def test_more_refusals(api: Api) -> None:
    for missing in ("name", "supported_triggers", "code"):
        body = new_action()
        del body[missing]
        r = await api.mgmt("POST", "/actions/actions", json=body)
        assert missing in mgmt_error(r, 400, "invalid_body")["message"]
    r = await api.mgmt("POST", "/actions/actions", json=[new_action()])
    mgmt_error(r, 400, "invalid_body")
    r = await api.mgmt(
        "POST", "/actions/actions", content=b"name=carrier", headers={"content-type": "text/plain"}
    )
    mgmt_error(r, 415)
    # 64 characters and 50 secrets are the limits, not past them.
    limit = [{"name": f"K{i}" + "_" * (63 - len(str(i))), "value": "v"} for i in range(50)]
    first = await create(api, secrets=limit)
    assert len(first["secrets"]) == 50 and all(len(s["name"]) == 64 for s in first["secrets"])

    r = await api.mgmt("POST", "/actions/actions", json=new_action())
    mgmt_error(r, 409, "action_conflict")
    second = await create(api, name="other")
    action_path = f"/actions/actions/{second['id']}"
    mgmt_error(
        await api.mgmt("PATCH", action_path, json={"name": "carrier"}), 409, "action_conflict"
    )
    for change in (
        {"supported_triggers": [{"id": CPP}]},
        {"runtime": "node18"},
        {"dependencies": [{"name": "aws-sdk"}]},
        {"code": "nope"},
        {"secrets": [{"name": "UNKNOWN"}]},
        {"id": "other-id"},
    ):
        mgmt_error(await api.mgmt("PATCH", action_path, json=change), 400, "invalid_body")
    # A refused patch changed nothing.
    unchanged = (await api.mgmt("GET", action_path)).json()
    assert unchanged == second
    # Keeping the trigger as it is, is fine.
    r = await api.mgmt(
        "PATCH", action_path, json={"supported_triggers": [{"id": SPM}], "runtime": "python3.11"}
    )
    assert r.status_code == 200, r.text

    for method, path in (
        ("GET", "/actions/actions/nope"),
        ("PATCH", "/actions/actions/nope"),
        ("DELETE", "/actions/actions/nope"),
        ("POST", "/actions/actions/nope/deploy"),
    ):
        r = await api.mgmt(method, path, json={} if method == "PATCH" else None)
        assert r.status_code == 404 and r.json() == NOT_FOUND, (method, r.text)


# --- bindings -----------------------------------------------------------------------------


async def test_binding_rules(api: Api, container: Container) -> None:
    first = await create(api)
    second = await create(api, name="second")
    other_trigger = await create(api, name="branding", trigger=CPP)
    for action in (first, second, other_trigger):
        await deploy(api, action["id"])
    undeployed = await create(api, name="draft only")

    r = await bind(
        api,
        SPM,
        {"type": "action_id", "value": first["id"]},
        {"type": "action_id", "value": second["id"]},
    )
    body = mgmt_error(r, 400, "too_many_bindings")
    assert "Only one action can be active" in body["message"]
    r = await bind(api, SPM, {"type": "action_id", "value": undeployed["id"]})
    mgmt_error(r, 400, "action_not_deployed")
    r = await bind(api, SPM, {"type": "action_id", "value": other_trigger["id"]})
    mgmt_error(r, 400, "invalid_binding")
    r = await bind(api, SPM, {"type": "binding_id", "value": first["id"]})
    mgmt_error(r, 400, "invalid_body")
    r = await bind(api, SPM, {"type": "action_id", "value": "nope"})
    assert r.status_code == 404 and r.json() == NOT_FOUND
    r = await bind(api, SPM, {"type": "action_name", "value": "nope"})
    assert r.status_code == 404 and r.json() == NOT_FOUND
    for body in ({}, {"bindings": "x"}, {"bindings": [{"display_name": "x"}]}):
        r = await api.mgmt("PATCH", f"/actions/triggers/{SPM}/bindings", json=body)
        mgmt_error(r, 400, "invalid_body")
    assert await stored_bindings(container) == {}

    for method in ("GET", "PATCH"):
        r = await api.mgmt(method, "/actions/triggers/post-login/bindings", json={"bindings": []})
        mgmt_error(r, 404, "trigger_not_found")

    # Binding anew replaces the one action the trigger runs.
    assert (await bind(api, SPM, {"type": "action_id", "value": first["id"]})).status_code == 200
    assert (await bind(api, SPM, {"type": "action_name", "value": "second"})).status_code == 200
    assert [b["action"]["id"] for b in (await bindings(api))["bindings"]] == [second["id"]]
    assert await stored_bindings(container) == {SPM: second["id"]}
    assert (await bindings(api, CPP))["bindings"] == []


# --- access control -----------------------------------------------------------------------


async def test_scopes(api: Api) -> None:
    action = await create(api)
    path = f"/actions/actions/{action['id']}"
    read_only = {"authorization": f"Bearer {await api.management_token(scope='read:actions')}"}
    for method, url in (("GET", "/actions/actions"), ("GET", path), ("GET", "/actions/triggers")):
        r = await api.mgmt(method, url, headers=read_only)
        assert r.status_code == 200, (url, r.text)
    writes: tuple[tuple[str, str, Any], ...] = (
        ("POST", "/actions/actions", new_action("another")),
        ("PATCH", path, {"name": "renamed"}),
        ("DELETE", path, None),
        ("POST", f"{path}/deploy", None),
        ("POST", f"{path}/test", {}),
        ("PATCH", f"/actions/triggers/{SPM}/bindings", {"bindings": []}),
    )
    for method, url, body in writes:
        r = await api.mgmt(method, url, headers=read_only, json=body)
        mgmt_error(r, 403, "insufficient_scope")
    # create:actions may also test; it may not deploy.
    creator = {"authorization": f"Bearer {await api.management_token(scope='create:actions')}"}
    assert (await api.mgmt("POST", f"{path}/test", headers=creator, json={})).status_code == 200
    mgmt_error(await api.mgmt("POST", f"{path}/deploy", headers=creator), 403, "insufficient_scope")
    other = {"authorization": f"Bearer {await api.management_token(scope='read:users')}"}
    mgmt_error(await api.mgmt("GET", "/actions/actions", headers=other), 403, "insufficient_scope")
    r = await api.client.get("/api/v2/actions/actions")
    mgmt_error(r, 401)
    # Nothing changed.
    assert (await api.mgmt("GET", path)).json() == action


# --- a bound action carries the MFA messages -------------------------------------------------


async def test_bound_action_sends_the_mfa_messages(api: Api) -> None:
    action = await create(api)
    await deploy(api, action["id"])
    assert (await bind(api, SPM, {"type": "action_id", "value": action["id"]})).status_code == 200
    r = await api.mgmt(
        "PUT", "/guardian/factors/phone/selected-provider", json={"provider": "phone-message-hook"}
    )
    assert r.status_code == 200, r.text
    await api.enable_mfa()
    await api.create_user()

    token = await api.mfa_token()
    r = await api.associate(token, "+14155550123")
    assert r.status_code == 200, r.text
    [(which, event)] = action_targets.calls
    options = event["message_options"]
    assert which == "record" and event["secrets"] == {"API_KEY": API_KEY}
    assert options["recipient"] == "+14155550123" and options["message_type"] == "sms"
    assert options["action"] == "enrollment" and len(options["code"]) == 6
    assert options["code"] in options["text"]
    assert await api.inbox() == []  # the action carried it, not the built-in provider
    r = await api.oob_grant(token, r.json()["oob_code"], options["code"])
    assert r.status_code == 200, r.text

    async def second_factor() -> str:
        token = await api.mfa_token()
        r = await api.challenge(token)
        assert r.status_code == 200, r.text
        which, event = action_targets.calls[-1]
        assert event["message_options"]["action"] == "second-factor-authentication"
        r = await api.oob_grant(token, r.json()["oob_code"], event["message_options"]["code"])
        assert r.status_code == 200, r.text
        return which

    # An edited draft does not run until it is deployed.
    r = await api.mgmt("PATCH", f"/actions/actions/{action['id']}", json={"code": RECORD_OTHER})
    assert r.status_code == 200, r.text
    assert await second_factor() == "record"
    await deploy(api, action["id"])
    assert await second_factor() == "record_other"
    assert len(action_targets.calls) == 3
