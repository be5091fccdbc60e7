"""Management API: the tenant log (Auth0's ``GET /api/v2/logs``, ``/logs/{id}`` and
``/users/{id}/logs``, auth0-api.md §3.9), entries in Auth0's log shape (§5.1).

The router's prefix is ``/api/v2`` so that the per-user path, which lives under
``/api/v2/users``, is served from here too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phonegate.domain import events, logs
from phonegate.domain.models import LogEvent, Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import NotFound
from phonegate.web.management.auth import management_scope
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import logs as doc
from phonegate.web.requests import issuer

router = APIRouter(prefix="/api/v2")

READ = "read:logs"


def log_json(event: LogEvent, tenant_name: str) -> dict[str, Any]:
    return events.entry(event, tenant_name)


async def _search(uow: UnitOfWork, tenant: Tenant, search: logs.Search) -> JSONResponse:
    events = await uow.log_search.search(
        tenant.id,
        search.query,
        offset=search.offset,
        limit=search.per_page,
        newest_first=search.newest_first,
    )
    entries = [search.fields.apply(log_json(e, tenant.name)) for e in events]
    if not search.include_totals:
        return JSONResponse(entries)
    total = await uow.log_search.count(tenant.id, search.query)
    return JSONResponse(
        {
            "logs": entries,
            "start": search.offset,
            "limit": search.per_page,
            "length": len(entries),
            "total": total,
        }
    )


def _next_link(request: Request, checkpoint: logs.Checkpoint, events: list[LogEvent]) -> str:
    """Auth0 tells checkpoint readers where to go on in a Link header; with nothing new,
    the next URL is the one just asked."""
    after = events[-1].log_id if events else checkpoint.after
    query = urlencode({"from": after, "take": checkpoint.take})
    return f'<{issuer(request)}api/v2/logs?{query}>; rel="next"'


@router.get(
    "/logs",
    **documented(
        "Search the tenant log, or read it from a checkpoint",
        tag="logs",
        scopes=[READ],
        response=doc.SearchResult,
        query=doc.LIST_QUERY,
        headers=doc.NEXT_LINK,
        errors=[400],
    ),
)
async def list_logs(request: Request) -> JSONResponse:
    async with management_scope(request, READ) as (uow, tenant, _):
        listing = logs.parse_listing(request.query_params)
        if isinstance(listing, logs.Search):
            return await _search(uow, tenant, listing)
        events = await uow.log_search.after(tenant.id, listing.after, listing.take)
    return JSONResponse(
        [log_json(e, tenant.name) for e in events],
        headers={"Link": _next_link(request, listing, events)},
    )


@router.get(
    "/logs/{log_id}",
    **documented("Get a log entry", tag="logs", scopes=[READ], response=doc.LogEntry, errors=[404]),
)
async def get_log(request: Request, log_id: str) -> JSONResponse:
    async with management_scope(request, READ) as (uow, tenant, _):
        event = await uow.log_search.get(tenant.id, log_id)
    if event is None:
        raise NotFound("The log entry does not exist.", error_code="inexistent_log")
    return JSONResponse(log_json(event, tenant.name))


@router.get(
    "/users/{user_id}/logs",
    **documented(
        "List a user's log entries",
        tag="logs",
        scopes=[READ, "read:users"],
        response=doc.UserLogs,
        query=doc.USER_LOGS_QUERY,
        errors=[400],
    ),
)
async def user_logs(request: Request, user_id: str) -> JSONResponse:
    # No 404 for an unknown user: a deleted user's events stay readable.
    async with management_scope(request, READ, "read:users") as (uow, tenant, _):
        search = logs.parse_user_listing(unquote(user_id), request.query_params)
        return await _search(uow, tenant, search)
