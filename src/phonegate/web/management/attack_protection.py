"""Management API: phonegate's abuse limits for phone messages.

Auth0 has ``/attack-protection/*`` for its own protections; phonegate adds ``phone-limits``
beside them: every limit of ``domain/ratelimits.py`` and the destination-country rules,
per tenant. GET shows the effective values (defaults included); PATCH changes the fields it
names.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phonegate.domain import ratelimits, tenants
from phonegate.web.management.auth import management_scope, record_write
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import attack_protection as doc
from phonegate.web.requests import container, read_object

router = APIRouter(prefix="/api/v2/attack-protection")


@router.get(
    "/phone-limits",
    **documented(
        "Get the phone limits",
        tag="attack protection",
        scopes=["read:attack_protection"],
        response=doc.PhoneLimits,
    ),
)
async def get_limits(request: Request) -> JSONResponse:
    async with management_scope(request, "read:attack_protection") as (_, tenant, _caller):
        return JSONResponse(ratelimits.effective(tenant))


@router.patch(
    "/phone-limits",
    **documented(
        "Change phone limits",
        tag="attack protection",
        scopes=["update:attack_protection"],
        body=doc.PhoneLimitsChange,
        response=doc.PhoneLimits,
    ),
)
async def set_limits(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "update:attack_protection") as (uow, tenant, caller):
        body = await read_object(request)
        shown = ratelimits.update(tenant, body)
        now = c.clock.now()
        await tenants.save(uow, tenant, now)
        await record_write(
            request, uow, tenant.id, caller, "Update the phone limits", fields=sorted(body)
        )
        return JSONResponse(shown)
