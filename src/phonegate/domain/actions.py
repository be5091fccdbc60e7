"""Operator actions for the two phone triggers, managed the way Auth0's Management API
manages Actions (auth0-api.md §3.1; the events are §4.1 ``send-phone-message`` and §4.3
``custom-phone-provider``).

An action's ``code`` names a Python callable (``package.module:function``) that the server
imports; there is no JavaScript and no per-action dependency install. Edits change the draft
(``code``, ``secrets``); a deploy copies the draft to what runs and bumps the version, as
Auth0 keeps running the deployed version while the draft is edited. Each trigger runs at most
one action (Auth0's "only one action can be active" for the phone flows); the binding lives in
``TenantSettings.action_bindings``. Secret values are write-only: they are sealed with the
server keys and no message here ever quotes one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from phonegate.domain import tenants
from phonegate.domain.delivery_plan import (
    TRIGGER_CUSTOM_PHONE_PROVIDER,
    TRIGGER_SEND_PHONE_MESSAGE,
    bound_action,
)
from phonegate.domain.deps import DomainDeps
from phonegate.domain.models import Action, Tenant
from phonegate.domain.phone_providers import open_or_empty, seal
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import Conflict, InvalidRequest, NotFound
from phonegate.keys import KeyRing

TRIGGERS = (TRIGGER_SEND_PHONE_MESSAGE, TRIGGER_CUSTOM_PHONE_PROVIDER)
TRIGGER_VERSION = "v2"
RUNTIME = "python3.11"
MAX_SECRETS = 50
MAX_NAME_CHARS = 255  # the actions.name column
MAX_CODE_CHARS = 512  # the actions.code column
SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
BINDING_REF_TYPES = ("action_id", "action_name")

_EDITABLE = frozenset({"name", "supported_triggers", "code", "runtime", "dependencies", "secrets"})
_CREATE_FIELDS = _EDITABLE | {"deploy"}
_BINDING_FIELDS = frozenset({"ref", "display_name"})


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(f"Payload validation error: {message}", error_code="invalid_body")


def _only(body: Mapping[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise _invalid(f"Additional properties not allowed: {', '.join(extra)}.")


def check_trigger(trigger_id: str) -> str:
    if trigger_id not in TRIGGERS:
        raise NotFound(
            f"Trigger not found: this server serves only {' and '.join(TRIGGERS)}.",
            error_code="trigger_not_found",
        )
    return trigger_id


async def get(uow: UnitOfWork, tenant_id: str, action_id: str) -> Action:
    action = await uow.actions.get(tenant_id, action_id)
    if action is None:
        raise NotFound("Action not found", error_code="action_not_found")
    return action


async def list_actions(
    uow: UnitOfWork,
    tenant_id: str,
    *,
    trigger: str | None = None,
    name: str | None = None,
    deployed: bool | None = None,
) -> list[Action]:
    return [
        a
        for a in await uow.actions.list(tenant_id)
        if (trigger is None or a.trigger == trigger)
        and (name is None or a.name == name)
        and (deployed is None or a.deployed == deployed)
    ]


# -- the fields of a create or update -----------------------------------------------------


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise _invalid(f"'name' must be a non-empty string of at most {MAX_NAME_CHARS} characters.")
    return value


def _trigger(value: object) -> str:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise _invalid("'supported_triggers' must hold exactly one trigger.")
    trigger_id, version = value[0].get("id"), value[0].get("version")
    if trigger_id not in TRIGGERS:
        raise _invalid(f"'supported_triggers[0].id' must be one of {', '.join(TRIGGERS)}.")
    if version not in (None, TRIGGER_VERSION):
        raise _invalid(f"'supported_triggers[0].version' must be {TRIGGER_VERSION}.")
    return str(trigger_id)


def _check_runtime_and_dependencies(body: Mapping[str, Any]) -> None:
    if body.get("runtime", RUNTIME) != RUNTIME:
        raise _invalid(f"'runtime' must be {RUNTIME}: actions run in this server's Python.")
    if body.get("dependencies", []) != []:
        raise _invalid(
            "'dependencies' are not supported: install the packages an action needs in the "
            "server's Python environment."
        )


def _code(deps: DomainDeps, value: object, trigger: str) -> str:
    # The action provider's own configuration decides what a valid target is.
    try:
        if not isinstance(value, str) or len(value) > MAX_CODE_CHARS:
            raise ValueError
        deps.catalog.check("action", {"target": value, "trigger": trigger})
    except ValueError:
        raise _invalid(
            "'code' must name a Python callable as 'package.module:function' "
            f"(at most {MAX_CODE_CHARS} characters)."
        ) from None
    return value


def _secret_entries(value: object) -> dict[str, str | None]:
    """Secret name -> new value, or None for "keep the stored value"."""
    if not isinstance(value, list) or len(value) > MAX_SECRETS:
        raise _invalid(f"'secrets' must be an array of at most {MAX_SECRETS} secrets.")
    entries: dict[str, str | None] = {}
    for i, entry in enumerate(value):
        if not isinstance(entry, dict) or not set(entry) <= {"name", "value"}:
            raise _invalid(f"'secrets[{i}]' must be an object with a name and a value.")
        name, secret = entry.get("name"), entry.get("value")
        if not isinstance(name, str) or not SECRET_NAME.fullmatch(name):
            raise _invalid(
                f"'secrets[{i}].name' must be 1-64 letters, digits or underscores and must "
                "not start with a digit."
            )
        if name in entries:
            raise _invalid(f"the secret {name} is given twice.")
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise _invalid(f"the value of the secret {name} must be a non-empty string.")
        entries[name] = secret
    return entries


def _apply_secrets(
    keys: KeyRing, action: Action, entries: dict[str, str | None], now: datetime
) -> None:
    """Set the draft's secrets to exactly ``entries``, keeping stored values where asked."""
    stored = open_or_empty(keys, action.secrets)
    values: dict[str, str] = {}
    times: dict[str, str] = {}
    for name, secret in entries.items():
        if secret is None:
            if name not in stored:
                raise _invalid(f"the secret {name} has no stored value: give it a value.")
            values[name] = stored[name]
            times[name] = action.secret_names.get(name) or now.isoformat()
        else:
            values[name] = secret
            times[name] = now.isoformat()
    action.secrets = seal(keys, values)
    action.secret_names = times


def _name_taken(name: str) -> Conflict:
    return Conflict(f"An action named {name} already exists.", error_code="action_conflict")


# -- the lifecycle ---------------------------------------------------------------------


async def create(
    uow: UnitOfWork, deps: DomainDeps, tenant_id: str, body: Mapping[str, Any]
) -> Action:
    _only(body, _CREATE_FIELDS)
    for required in ("name", "supported_triggers", "code"):
        if required not in body:
            raise _invalid(f"Missing required property: {required}.")
    name = _name(body["name"])
    trigger = _trigger(body["supported_triggers"])
    _check_runtime_and_dependencies(body)
    code = _code(deps, body["code"], trigger)
    entries = _secret_entries(body.get("secrets", []))
    deploy_now = body.get("deploy", False)
    if not isinstance(deploy_now, bool):
        raise _invalid("'deploy' must be a boolean.")
    now = deps.clock.now()
    action = Action(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        name=name,
        trigger=trigger,
        code=code,
        secrets=None,
        secret_names={},
        created_at=now,
        updated_at=now,
    )
    _apply_secrets(deps.keys, action, entries, now)
    if deploy_now:
        _deploy(action, now)
    if not await uow.actions.add(action):
        raise _name_taken(name)
    return action


async def update(
    uow: UnitOfWork, deps: DomainDeps, tenant_id: str, action_id: str, body: Mapping[str, Any]
) -> Action:
    """Edit the draft. What runs stays the deployed copy until the next deploy."""
    _only(body, _EDITABLE)
    action = await get(uow, tenant_id, action_id)
    if "supported_triggers" in body and _trigger(body["supported_triggers"]) != action.trigger:
        raise _invalid("an action's trigger cannot be changed: create another action.")
    _check_runtime_and_dependencies(body)
    if "name" in body and _name(body["name"]) != action.name:
        if await list_actions(uow, tenant_id, name=body["name"]):
            raise _name_taken(body["name"])
        action.name = body["name"]
    if "code" in body:
        action.code = _code(deps, body["code"], action.trigger)
    now = deps.clock.now()
    if "secrets" in body:
        _apply_secrets(deps.keys, action, _secret_entries(body["secrets"]), now)
    action.updated_at = now
    action.all_changes_deployed = False
    await uow.actions.update(action)
    return action


def _deploy(action: Action, now: datetime) -> None:
    action.deployed_code = action.code
    action.deployed_secrets = action.secrets
    action.deployed_at = now
    action.version += 1
    action.all_changes_deployed = True


async def deploy(uow: UnitOfWork, tenant_id: str, action_id: str, now: datetime) -> Action:
    """Make the draft what runs, as a new version."""
    action = await get(uow, tenant_id, action_id)
    _deploy(action, now)
    await uow.actions.update(action)
    return action


async def delete(
    uow: UnitOfWork, tenant: Tenant, action_id: str, *, force: bool, now: datetime
) -> None:
    """Delete an action; a bound one only with ``force``, which also unbinds it."""
    action = await get(uow, tenant.id, action_id)
    bindings = tenant.settings.action_bindings
    bound_to = sorted(t for t, bound_id in bindings.items() if bound_id == action.id)
    if bound_to and not force:
        raise Conflict(
            f"The action is bound to the {', '.join(bound_to)} trigger: unbind it first, or "
            "delete it with force=true.",
            error_code="action_bound",
        )
    if bound_to:
        for trigger in bound_to:
            del bindings[trigger]
        await tenants.save(uow, tenant, now)
    await uow.actions.delete(tenant.id, action.id)


def draft_config(keys: KeyRing, action: Action) -> dict[str, Any]:
    """The action provider's configuration for a test run of the draft."""
    return {
        "target": action.code,
        "trigger": action.trigger,
        "secrets": open_or_empty(keys, action.secrets),
    }


def event_for_test_run(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The event a test run is given; None (absent or empty) runs the sample event."""
    _only(body, frozenset({"payload"}))
    payload = body.get("payload")
    if payload is not None and not isinstance(payload, dict):
        raise _invalid("'payload' must be an event object.")
    return payload or None


# -- bindings ----------------------------------------------------------------------------


async def binding(uow: UnitOfWork, tenant: Tenant, trigger: str) -> Action | None:
    return await bound_action(uow, tenant, check_trigger(trigger))


async def _referenced(uow: UnitOfWork, tenant_id: str, entry: object) -> Action:
    if not isinstance(entry, dict) or not isinstance(entry.get("ref"), dict):
        raise _invalid("each binding must be an object with a 'ref'.")
    _only(entry, _BINDING_FIELDS)
    if not isinstance(entry.get("display_name", ""), str):
        raise _invalid("'display_name' must be a string.")
    ref_type, value = entry["ref"].get("type"), entry["ref"].get("value")
    if ref_type not in BINDING_REF_TYPES or not isinstance(value, str):
        raise _invalid(f"'ref' must be {{type, value}} with type {' or '.join(BINDING_REF_TYPES)}.")
    if ref_type == "action_id":
        return await get(uow, tenant_id, value)
    found = await list_actions(uow, tenant_id, name=value)
    if not found:
        raise NotFound("Action not found", error_code="action_not_found")
    return found[0]


async def set_binding(
    uow: UnitOfWork, tenant: Tenant, trigger: str, body: Mapping[str, Any], now: datetime
) -> Action | None:
    """Bind one deployed action to a phone trigger, or none (``[]`` unbinds)."""
    check_trigger(trigger)
    _only(body, frozenset({"bindings"}))
    entries = body.get("bindings")
    if not isinstance(entries, list):
        raise _invalid("'bindings' must be an array.")
    if len(entries) > 1:
        raise InvalidRequest(
            f"Only one action can be active for the {trigger} trigger: bind a single action.",
            error_code="too_many_bindings",
        )
    action = await _referenced(uow, tenant.id, entries[0]) if entries else None
    if action is not None:
        if action.trigger != trigger:
            raise InvalidRequest(
                f"The action {action.name} supports {action.trigger}, not {trigger}.",
                error_code="invalid_binding",
            )
        if not action.deployed:
            raise InvalidRequest(
                f"The action {action.name} must be deployed before it is bound.",
                error_code="action_not_deployed",
            )
        tenant.settings.action_bindings[trigger] = action.id
    else:
        tenant.settings.action_bindings.pop(trigger, None)
    await tenants.save(uow, tenant, now)
    return action
