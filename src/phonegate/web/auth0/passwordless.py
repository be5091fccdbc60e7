"""``POST /passwordless/start`` (Auth0 Authentication API, auth0-api.md §2.1); the rules
are in ``domain/passwordless.py``, the code exchange is a grant of ``/oauth/token``."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse

from phonegate.domain import passwordless
from phonegate.web.requests import (
    container,
    deliver_after_commit,
    read_object,
    request_context,
    tenant_scope,
)

router = APIRouter()


@router.post("/passwordless/start")
async def start(request: Request, background: BackgroundTasks) -> JSONResponse:
    body = await read_object(request)
    c = container(request)
    async with tenant_scope(request) as (uow, tenant):
        started = await passwordless.start(uow, c.deps, tenant, body, request_context(request))
    deliver_after_commit(request, background)
    return JSONResponse(
        {
            "_id": started.id,
            "phone_number": started.phone_number,
            "phone_verified": started.phone_verified,
            "request_language": started.request_language,
        },
        headers={"Cache-Control": "no-store"},
    )
