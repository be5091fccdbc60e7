"""Monitoring > Logs: the tenant log through ``GET /api/v2/logs``, filtered by event type,
user and date range (written in the logs API's ``q`` syntax), newest first, a page at a
time, and a page per event."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request, Response

from phonegate.domain.events import CATALOGUE
from phonegate.domain.logs import MAX_SEARCH_RESULTS
from phonegate.web.admin.context import AdminRequest, AdminRoute, signed_in

router = APIRouter(prefix="/admin/logs", route_class=AdminRoute)

PER_PAGE = 25
FILTERS = ("type", "user_id", "from", "to")


def _quoted(value: str) -> str:
    """A q value, quoted so that ``|``, spaces and colons stay part of it."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def query(filters: dict[str, str]) -> str:
    """The filter form as a logs API ``q``: its terms joined by AND."""
    terms = [f"{name}:{_quoted(filters[name])}" for name in ("type", "user_id") if filters[name]]
    if filters["from"] or filters["to"]:
        terms.append(f"date:[{filters['from'] or '*'} TO {filters['to'] or '*'}]")
    return " AND ".join(terms)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) < MAX_SEARCH_RESULTS else 0


@router.get("", include_in_schema=False)
async def search(request: Request, admin: AdminRequest = Depends(signed_in)) -> Response:
    filters = {name: request.query_params.get(name, "").strip()[:200] for name in FILTERS}
    page = _page_number(request.query_params.get("page"))
    params = {
        "q": query(filters),
        "page": str(page),
        "per_page": str(PER_PAGE),
        "include_totals": "true",
        "sort": "date:-1",
    }
    answer = await admin.api.call("GET", "/logs", params=params)
    found: dict[str, Any] = answer.body if answer.ok else {"logs": [], "total": 0}
    reachable = min(found["total"], MAX_SEARCH_RESULTS)

    def link(to_page: int) -> str:
        return "/admin/logs?" + urlencode({**filters, "page": to_page})

    return admin.page(
        "logs.html",
        status=200 if answer.ok else answer.status,
        current="logs",
        filters=filters,
        types=sorted(CATALOGUE.items()),
        error=None if answer.ok else answer.message,
        logs=found["logs"],
        total=found["total"],
        first=page * PER_PAGE + 1,
        previous=link(page - 1) if page > 0 else None,
        following=link(page + 1) if (page + 1) * PER_PAGE < reachable else None,
        quote=quote,
    )


@router.get("/{log_id}", include_in_schema=False)
async def detail(log_id: str, admin: AdminRequest = Depends(signed_in)) -> Response:
    entry = await admin.api.get(f"/logs/{quote(log_id, safe='')}")
    return admin.page(
        "log.html",
        current="logs",
        entry=entry,
        meaning=CATALOGUE.get(entry["type"], ""),
        quote=quote,
    )
