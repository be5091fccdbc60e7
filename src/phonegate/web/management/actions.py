"""Management API: Actions for the two phone triggers (triggers, actions, versions, test
runs, bindings), in Auth0's shapes; the rules are in ``domain/actions.py``.

Bindings keep no record of their own (the tenant settings map a trigger to an action id), so
a binding's id is derived from the trigger and the action, its display name is the action's
name, and its times are those of the version it runs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from phonegate.clock import as_utc
from phonegate.domain import actions
from phonegate.domain.models import Action
from phonegate.errors import InvalidRequest
from phonegate.providers.action import ActionConfig, test_run
from phonegate.web.management.auth import management_scope, record_write
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import actions as doc
from phonegate.web.requests import container, read_object

router = APIRouter(prefix="/api/v2/actions")

READ = "read:actions"
CREATE = "create:actions"
UPDATE = "update:actions"
DELETE = "delete:actions"
DEFAULT_PER_PAGE = 20  # Auth0's default page size for actions and bindings
MAX_PER_PAGE = 100


def _iso(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _triggers(trigger: str) -> list[dict[str, str]]:
    return [{"id": trigger, "version": actions.TRIGGER_VERSION}]


def version_json(action: Action) -> dict[str, Any]:
    """The deployed version (Auth0 keeps every version; phonegate keeps the deployed one)."""
    deployed_at = _iso(action.deployed_at)
    return {
        "id": f"{action.id}-v{action.version}",
        "action_id": action.id,
        "code": action.deployed_code,
        "runtime": actions.RUNTIME,
        "number": action.version,
        "deployed": True,
        "status": "built",
        "created_at": deployed_at,
        "updated_at": deployed_at,
    }


def action_json(action: Action) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": action.id,
        "name": action.name,
        "supported_triggers": _triggers(action.trigger),
        "code": action.code,
        "runtime": actions.RUNTIME,
        "dependencies": [],
        "secrets": [
            {"name": name, "updated_at": _iso(at)} for name, at in action.secret_names.items()
        ],
        "status": "built",
        "deployed": action.deployed,
        "all_changes_deployed": action.all_changes_deployed,
        "created_at": _iso(action.created_at),
        "updated_at": _iso(action.updated_at),
        "built_at": _iso(action.updated_at),
    }
    if action.deployed:
        body["deployed_version"] = version_json(action)
    return body


def _bindings_json(trigger: str, action: Action | None) -> list[dict[str, Any]]:
    if action is None:
        return []
    return [
        {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"phonegate:{trigger}:{action.id}")),
            "trigger_id": trigger,
            "display_name": action.name,
            "action": action_json(action),
            "created_at": _iso(action.deployed_at),
            "updated_at": _iso(action.deployed_at),
        }
    ]


def _page(request: Request) -> tuple[int, int]:
    try:
        page = int(request.query_params.get("page", "0"))
        per_page = int(request.query_params.get("per_page", str(DEFAULT_PER_PAGE)))
    except ValueError:
        page, per_page = -1, 0
    if page < 0 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidRequest(
            f"Query validation error: page must be >= 0 and per_page 1..{MAX_PER_PAGE}.",
            error_code="invalid_query_string",
        )
    return page, per_page


def _paged(request: Request, key: str, items: list[dict[str, Any]]) -> JSONResponse:
    page, per_page = _page(request)
    return JSONResponse(
        {
            key: items[page * per_page : (page + 1) * per_page],
            "total": len(items),
            "page": page,
            "per_page": per_page,
        }
    )


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise InvalidRequest(
            f"Query validation error: {name} must be true or false.",
            error_code="invalid_query_string",
        )
    return raw.lower() == "true"


@router.get(
    "/triggers",
    **documented("List the triggers", tag="actions", scopes=[READ], response=doc.Triggers),
)
async def list_triggers(request: Request) -> JSONResponse:
    async with management_scope(request, READ):
        return JSONResponse(
            {
                "triggers": [
                    {
                        **_triggers(trigger)[0],
                        "status": "CURRENT",
                        "runtimes": [actions.RUNTIME],
                        "default_runtime": actions.RUNTIME,
                        "compatible_triggers": [],
                    }
                    for trigger in actions.TRIGGERS
                ]
            }
        )


@router.get(
    "/triggers/{trigger_id}/bindings",
    **documented(
        "List a trigger's bindings",
        tag="actions",
        scopes=[READ],
        response=doc.BindingsPage,
        query=doc.BINDINGS_QUERY,
        errors=[400, 404],
    ),
)
async def list_bindings(request: Request, trigger_id: str) -> JSONResponse:
    async with management_scope(request, READ) as (uow, tenant, _):
        bound = await actions.binding(uow, tenant, trigger_id)
        return _paged(request, "bindings", _bindings_json(trigger_id, bound))


@router.patch(
    "/triggers/{trigger_id}/bindings",
    **documented(
        "Bind an action to a trigger",
        tag="actions",
        scopes=[UPDATE],
        body=doc.BindingsChange,
        response=doc.Bindings,
        errors=[404],
    ),
)
async def set_bindings(request: Request, trigger_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, UPDATE) as (uow, tenant, caller):
        body = await read_object(request)
        bound = await actions.set_binding(uow, tenant, trigger_id, body, c.clock.now())
        await record_write(request, uow, tenant.id, caller, "Update trigger bindings")
        return JSONResponse({"bindings": _bindings_json(trigger_id, bound)})


@router.get(
    "/actions",
    **documented(
        "List the actions",
        tag="actions",
        scopes=[READ],
        response=doc.ActionsPage,
        query=doc.ACTIONS_QUERY,
        errors=[400],
    ),
)
async def list_actions(request: Request) -> JSONResponse:
    q = request.query_params
    async with management_scope(request, READ) as (uow, tenant, _):
        found = await actions.list_actions(
            uow,
            tenant.id,
            trigger=q.get("triggerId"),
            name=q.get("actionName"),
            deployed=_flag(request, "deployed"),
        )
        return _paged(request, "actions", [action_json(a) for a in found])


@router.post(
    "/actions",
    status_code=201,
    **documented(
        "Create an action",
        tag="actions",
        scopes=[CREATE],
        body=doc.ActionCreate,
        response=doc.Action,
        status=201,
        errors=[409],
    ),
)
async def create_action(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, CREATE) as (uow, tenant, caller):
        body = await read_object(request)
        action = await actions.create(uow, c.deps, tenant.id, body)
        await record_write(request, uow, tenant.id, caller, "Create an action")
        return JSONResponse(action_json(action), status_code=201)


@router.get(
    "/actions/{action_id}",
    **documented("Get an action", tag="actions", scopes=[READ], response=doc.Action, errors=[404]),
)
async def get_action(request: Request, action_id: str) -> JSONResponse:
    async with management_scope(request, READ) as (uow, tenant, _):
        return JSONResponse(action_json(await actions.get(uow, tenant.id, action_id)))


@router.patch(
    "/actions/{action_id}",
    **documented(
        "Update an action's draft",
        tag="actions",
        scopes=[UPDATE],
        body=doc.ActionChange,
        response=doc.Action,
        errors=[404, 409],
    ),
)
async def update_action(request: Request, action_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, UPDATE) as (uow, tenant, caller):
        body = await read_object(request)
        action = await actions.update(uow, c.deps, tenant.id, action_id, body)
        await record_write(request, uow, tenant.id, caller, "Update an action")
        return JSONResponse(action_json(action))


@router.delete(
    "/actions/{action_id}",
    status_code=204,
    **documented(
        "Delete an action",
        tag="actions",
        scopes=[DELETE],
        status=204,
        query=doc.FORCE_QUERY,
        errors=[400, 404, 409],
    ),
)
async def delete_action(request: Request, action_id: str) -> Response:
    c = container(request)
    async with management_scope(request, DELETE) as (uow, tenant, caller):
        force = _flag(request, "force") or False
        await actions.delete(uow, tenant, action_id, force=force, now=c.clock.now())
        await record_write(request, uow, tenant.id, caller, "Delete an action")
    return Response(status_code=204)


@router.post(
    "/actions/{action_id}/deploy",
    **documented(
        "Deploy an action's draft as a new version",
        tag="actions",
        scopes=[UPDATE],
        response=doc.ActionVersion,
        errors=[404],
    ),
)
async def deploy_action(request: Request, action_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, UPDATE) as (uow, tenant, caller):
        action = await actions.deploy(uow, tenant.id, action_id, c.clock.now())
        await record_write(request, uow, tenant.id, caller, "Deploy an action")
        return JSONResponse(version_json(action))


@router.post(
    "/actions/{action_id}/test",
    **documented(
        "Run an action's draft once",
        tag="actions",
        scopes=[UPDATE, CREATE],
        body=doc.DraftRun,
        body_required=False,
        response=doc.DraftRunAnswer,
        errors=[404],
    ),
)
async def test_action(request: Request, action_id: str) -> JSONResponse:
    """Run the draft once with its own secrets (Auth0's *Test* button). The run happens
    after the transaction: operator code may take seconds and must not hold it open."""
    c = container(request)
    async with management_scope(request, UPDATE, CREATE) as (uow, tenant, _):
        event = actions.event_for_test_run(await read_object(request))
        action = await actions.get(uow, tenant.id, action_id)
        config = ActionConfig.model_validate(actions.draft_config(c.keys, action))
    return JSONResponse({"payload": await test_run(config, event)})
