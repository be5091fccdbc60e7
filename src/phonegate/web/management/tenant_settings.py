"""Management API: ``GET/PATCH /api/v2/tenants/settings`` — the tenant's name in messages
(``friendly_name``, Liquid's ``{{ friendly_name }}``) and its languages (``enabled_locales``,
the first of which is the default when nothing in a request or a profile chooses one)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phonegate.domain import tenants
from phonegate.domain.models import Tenant
from phonegate.web.management.auth import management_scope, record_write
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import tenant_settings as doc
from phonegate.web.requests import container, read_object

router = APIRouter(prefix="/api/v2/tenants")


def settings_json(tenant: Tenant) -> dict[str, Any]:
    return {
        "friendly_name": tenant.settings.friendly_name,
        "enabled_locales": [tenant.settings.default_locale],
    }


@router.get(
    "/settings",
    **documented(
        "Get the tenant settings",
        tag="tenants",
        scopes=["read:tenant_settings"],
        response=doc.TenantSettings,
    ),
)
async def get_settings(request: Request) -> JSONResponse:
    async with management_scope(request, "read:tenant_settings") as (_, tenant, _caller):
        return JSONResponse(settings_json(tenant))


@router.patch(
    "/settings",
    **documented(
        "Update the tenant settings",
        tag="tenants",
        scopes=["update:tenant_settings"],
        body=doc.TenantSettingsChange,
        response=doc.TenantSettings,
    ),
)
async def update_settings(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "update:tenant_settings") as (uow, tenant, caller):
        body = await read_object(request)
        tenants.update_settings(tenant, body)
        await tenants.save(uow, tenant, c.clock.now())
        await record_write(
            request, uow, tenant.id, caller, "Update the tenant settings", fields=sorted(body)
        )
        return JSONResponse(settings_json(tenant))
