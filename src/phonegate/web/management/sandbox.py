"""The built-in providers' inbox: what the ``sandbox`` and ``auth0`` providers "sent"."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phonegate.errors import InvalidRequest
from phonegate.web.management.auth import management_scope
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import sandbox as doc

router = APIRouter(prefix="/api/v2/sandbox")


@router.get(
    "/messages",
    **documented(
        "List what the sandbox and auth0 providers sent",
        tag="sandbox",
        scopes=["read:sandbox_messages"],
        response=list[doc.SandboxMessage],
        query=doc.INBOX_QUERY,
        errors=[400],
    ),
)
async def list_messages(request: Request) -> JSONResponse:
    recipient = request.query_params.get("recipient") or None
    try:
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        raise InvalidRequest(
            "Query validation error: limit must be an integer.", error_code="invalid_query_string"
        ) from None
    if not 1 <= limit <= 1000:
        raise InvalidRequest(
            "Query validation error: limit must be between 1 and 1000.",
            error_code="invalid_query_string",
        )
    async with management_scope(request, "read:sandbox_messages") as (uow, tenant, _):
        messages = await uow.inbox.list(tenant.id, limit=limit, recipient=recipient)
    return JSONResponse(
        [
            {
                "id": m.id,
                "recipient": m.recipient,
                "channel": m.channel,
                "text": m.text,
                "code": m.code,
                "provider": m.provider,
                "created_at": m.created_at.isoformat().replace("+00:00", "Z"),
            }
            for m in messages
        ]
    )
