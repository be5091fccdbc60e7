"""Management API: Guardian factors, the phone factor's message types, MFA policies."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phonegate.domain import phone_factor, tenants
from phonegate.domain.events import new_event
from phonegate.errors import InvalidRequest
from phonegate.web.management.auth import management_scope
from phonegate.web.requests import container, read_any, read_object, request_context

router = APIRouter(prefix="/api/v2/guardian")

READ = "read:guardian_factors"
UPDATE = "update:guardian_factors"


@router.get("/factors")
async def list_factors(request: Request) -> JSONResponse:
    async with management_scope(request, READ) as (_, tenant, _caller):
        return JSONResponse(tenants.factors(tenant.settings))


@router.put("/factors/{name}")
async def set_factor(request: Request, name: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, UPDATE) as (uow, tenant, caller):
        body = await read_object(request)
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise InvalidRequest(
                "Payload validation error: 'enabled' is required and must be a boolean.",
                error_code="invalid_body",
            )
        tenants.set_factor(tenant.settings, name, enabled)
        now = c.clock.now()
        await tenants.save(uow, tenant, now)
        await uow.events.add(
            new_event(
                tenant.id,
                "gd_tenant_update",
                now,
                request_context(request),
                client_id=caller.client_id,
                details={"factor": name, "enabled": enabled},
            )
        )
    return JSONResponse({"enabled": enabled})


@router.get("/factors/phone/message-types")
async def get_message_types(request: Request) -> JSONResponse:
    async with management_scope(request, READ) as (_, tenant, _caller):
        return JSONResponse({"message_types": tenant.settings.message_types})


@router.put("/factors/phone/message-types")
async def set_message_types(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, UPDATE) as (uow, tenant, caller):
        body = await read_object(request)
        chosen = await phone_factor.set_message_types(uow, tenant, body.get("message_types"))
        now = c.clock.now()
        await tenants.save(uow, tenant, now)
        await uow.events.add(
            new_event(
                tenant.id,
                "gd_tenant_update",
                now,
                request_context(request),
                client_id=caller.client_id,
                details={"message_types": chosen},
            )
        )
    return JSONResponse({"message_types": chosen})


@router.get("/policies")
async def get_policies(request: Request) -> JSONResponse:
    async with management_scope(request, "read:mfa_policies", READ) as (_, tenant, _caller):
        return JSONResponse(tenant.settings.mfa_policies)


@router.put("/policies")
async def set_policies(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "update:mfa_policies", UPDATE) as (uow, tenant, caller):
        body = await read_any(request)
        chosen = tenants.set_policies(tenant.settings, body)
        now = c.clock.now()
        await tenants.save(uow, tenant, now)
        await uow.events.add(
            new_event(
                tenant.id,
                "gd_tenant_update",
                now,
                request_context(request),
                client_id=caller.client_id,
                details={"policies": chosen},
            )
        )
    return JSONResponse(chosen)
