"""Management API: connections (``/api/v2/connections``), in Auth0's shapes; the rules are
in ``domain/connections.py``.

The list answers as Auth0 does for its three ways of paging: a plain array; with
``include_totals=true`` an object with ``start``, ``limit`` and ``total``; with ``from`` or
``take`` (what auth0-python 6.x sends) a checkpoint page whose ``next`` is the id to ask
``from`` next. The database connection carries no ``enabled_clients``: every application may
use it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from phonegate.domain import connections
from phonegate.domain.models import Connection
from phonegate.errors import InvalidRequest
from phonegate.web.management.auth import management_scope, record_write
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import connections as doc
from phonegate.web.requests import container, read_object

router = APIRouter(prefix="/api/v2/connections")

READ = "read:connections"
CREATE = "create:connections"
UPDATE = "update:connections"
DELETE = "delete:connections"
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100


def connection_json(connection: Connection) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": connection.id,
        "name": connection.name,
        "display_name": connection.name,
        "strategy": connection.strategy,
        "options": connection.options,
        "is_domain_connection": False,
        "realms": [connection.name],
        "metadata": {},
    }
    if connection.enabled_clients is not None:
        body["enabled_clients"] = connection.enabled_clients
    return body


def _count(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidRequest(
            f"Query validation error: {name} must be an integer from {low} to {high}.",
            error_code="invalid_query_string",
        )
    return int(raw)


def _listing(request: Request, items: list[dict[str, Any]]) -> JSONResponse:
    q = request.query_params
    if "from" in q or "take" in q:
        take = _count(request, "take", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
        ids = [item["id"] for item in items]
        if "from" in q and q["from"] not in ids:
            raise InvalidRequest(
                "Query validation error: from names no connection.",
                error_code="invalid_query_string",
            )
        first = ids.index(q["from"]) if "from" in q else 0
        page: dict[str, Any] = {"connections": items[first : first + take]}
        if first + take < len(items):
            page["next"] = ids[first + take]
        return JSONResponse(page)
    number = _count(request, "page", 0, 0, 100000)
    per_page = _count(request, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    chunk = items[number * per_page : (number + 1) * per_page]
    if q.get("include_totals", "false").lower() == "true":
        return JSONResponse(
            {
                "connections": chunk,
                "start": number * per_page,
                "limit": per_page,
                "total": len(items),
            }
        )
    return JSONResponse(chunk)


@router.get(
    "",
    **documented(
        "List the connections",
        tag="connections",
        scopes=[READ],
        response=doc.Connections,
        query=doc.LIST_QUERY,
        errors=[400],
    ),
)
async def list_connections(request: Request) -> JSONResponse:
    q = request.query_params
    async with management_scope(request, READ) as (uow, tenant, _):
        found = await connections.list_connections(
            uow, tenant, strategies=q.getlist("strategy"), name=q.get("name")
        )
    return _listing(request, [connection_json(c) for c in found])


@router.post(
    "",
    status_code=201,
    **documented(
        "Create the passwordless sms connection",
        tag="connections",
        scopes=[CREATE],
        body=doc.ConnectionCreate,
        response=doc.Connection,
        status=201,
        errors=[409],
    ),
)
async def create_connection(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, CREATE) as (uow, tenant, caller):
        body = await read_object(request)
        created = await connections.create(uow, c.deps, tenant, body)
        await record_write(request, uow, tenant.id, caller, "Create a connection")
    return JSONResponse(connection_json(created), status_code=201)


@router.get(
    "/{connection_id}",
    **documented(
        "Get a connection",
        tag="connections",
        scopes=[READ],
        response=doc.Connection,
        errors=[404],
    ),
)
async def get_connection(request: Request, connection_id: str) -> JSONResponse:
    async with management_scope(request, READ) as (uow, tenant, _):
        found = await connections.get(uow, tenant, connection_id)
    return JSONResponse(connection_json(found))


@router.patch(
    "/{connection_id}",
    **documented(
        "Update the sms connection",
        tag="connections",
        scopes=[UPDATE],
        body=doc.ConnectionChange,
        response=doc.Connection,
        errors=[404],
    ),
)
async def update_connection(request: Request, connection_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, UPDATE) as (uow, tenant, caller):
        body = await read_object(request)
        updated = await connections.update(uow, c.deps, tenant, connection_id, body)
        await record_write(request, uow, tenant.id, caller, "Update a connection")
    return JSONResponse(connection_json(updated))


@router.delete(
    "/{connection_id}",
    status_code=202,
    **documented(
        "Delete the sms connection",
        tag="connections",
        scopes=[DELETE],
        status=202,
        errors=[400, 404],
    ),
)
async def delete_connection(request: Request, connection_id: str) -> Response:
    async with management_scope(request, DELETE) as (uow, tenant, caller):
        await connections.delete(uow, tenant, connection_id)
        await record_write(request, uow, tenant.id, caller, "Delete a connection")
    return Response(status_code=202)  # Auth0's status: the deletion is accepted
