"""The Actions part of the Management API driven by the official auth0-python SDK (6.8's
``client.actions`` and ``client.actions.triggers.bindings``), unchanged, against a live
phonegate on loopback."""

from __future__ import annotations

import pytest
from auth0.authentication import GetToken
from auth0.management import (
    ActionBindingRef,
    ActionBindingWithRef,
    ActionSecretRequest,
    ActionTrigger,
    Auth0,
)
from auth0.management.core.api_error import ApiError
from auth0.management.errors import BadRequestError, NotFoundError

from tests.e2e.conftest import LiveServer
from tests.web import action_targets

SPM = "send-phone-message"
RECORD = "tests.web.action_targets:record"
RECORD_OTHER = "tests.web.action_targets:record_other"
API_KEY = "sk_live_SdkSecretValueQx"


def _client(s: LiveServer) -> Auth0:
    creds = s.creds
    gt = GetToken(
        s.domain, creds.management_client_id, creds.management_client_secret, protocol="http"
    )
    token = gt.client_credentials(creds.audience)["access_token"]
    # No retries: the Fern client would re-send a 409 twice before raising it.
    return Auth0(base_url=f"{s.url}/api/v2", token=token, max_retries=0)


def test_actions_with_the_official_sdk(live_server: LiveServer) -> None:
    action_targets.calls.clear()
    mgmt = _client(live_server)

    triggers = mgmt.actions.triggers.list().triggers or []
    assert [(t.id, t.version, t.default_runtime) for t in triggers] == [
        (SPM, "v2", "python3.11"),
        ("custom-phone-provider", "v2", "python3.11"),
    ]

    created = mgmt.actions.create(
        name="carrier",
        supported_triggers=[ActionTrigger(id=SPM, version="v2")],
        code=RECORD,
        runtime="python3.11",
        secrets=[ActionSecretRequest(name="API_KEY", value=API_KEY)],
    )
    assert created.id and created.code == RECORD and created.deployed is False
    assert [s.name for s in created.secrets or []] == ["API_KEY"]
    assert API_KEY not in created.model_dump_json()

    # The SDK maps no 409 for this endpoint: it raises the plain ApiError.
    with pytest.raises(ApiError) as taken:
        mgmt.actions.create(name="carrier", supported_triggers=[ActionTrigger(id=SPM)], code=RECORD)
    assert taken.value.status_code == 409 and taken.value.body["errorCode"] == "action_conflict"
    with pytest.raises(BadRequestError) as refused:
        mgmt.actions.create(
            name="node", supported_triggers=[ActionTrigger(id=SPM)], code=RECORD, runtime="node18"
        )
    assert refused.value.body["errorCode"] == "invalid_body"

    # The pager walks pages until an empty one.
    assert [a.id for a in mgmt.actions.list(trigger_id=SPM)] == [created.id]
    assert [a.id for a in mgmt.actions.list(action_name="carrier", deployed=False)] == [created.id]
    assert list(mgmt.actions.list(deployed=True)) == []

    version = mgmt.actions.deploy(created.id)
    assert version.number == 1 and version.deployed is True and version.action_id == created.id

    updated = mgmt.actions.update(
        created.id, code=RECORD_OTHER, secrets=[ActionSecretRequest(name="API_KEY")]
    )
    assert updated.code == RECORD_OTHER and updated.all_changes_deployed is False
    assert updated.deployed_version is not None and updated.deployed_version.code == RECORD

    tested = mgmt.actions.test(created.id, payload={})
    assert tested.payload is not None and tested.payload["status"] == "sent"
    [(which, event)] = action_targets.calls
    assert which == "record_other" and event["secrets"] == {"API_KEY": API_KEY}

    bound = mgmt.actions.triggers.bindings.update_many(
        SPM,
        bindings=[ActionBindingWithRef(ref=ActionBindingRef(type="action_name", value="carrier"))],
    )
    assert [b.action.id for b in bound.bindings or [] if b.action] == [created.id]
    listed = list(mgmt.actions.triggers.bindings.list(SPM))
    assert [(b.trigger_id, b.display_name) for b in listed] == [(SPM, "carrier")]

    got = mgmt.actions.get(created.id)
    assert got.deployed_version is not None and got.deployed_version.number == 1

    mgmt.actions.delete(created.id, force=True)
    with pytest.raises(NotFoundError) as missing:
        mgmt.actions.get(created.id)
    assert missing.value.body["errorCode"] == "action_not_found"
    assert list(mgmt.actions.triggers.bindings.list(SPM)) == []
    action_targets.calls.clear()
