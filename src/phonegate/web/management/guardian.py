"""Management API: Guardian factors, the phone factor (message types, provider, Twilio,
templates, settings) and MFA policies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phonegate.domain import phone_factor, tenants
from phonegate.domain.events import new_event
from phonegate.domain.models import Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import InvalidRequest
from phonegate.web.management.auth import Caller, actor, management_scope
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import guardian as doc
from phonegate.web.requests import container, read_any, read_object, request_context

router = APIRouter(prefix="/api/v2/guardian")

READ = "read:guardian_factors"
UPDATE = "update:guardian_factors"


@router.get(
    "/factors",
    **documented("List the factors", tag="guardian", scopes=[READ], response=list[doc.Factor]),
)
async def list_factors(request: Request) -> JSONResponse:
    async with management_scope(request, READ) as (_, tenant, _caller):
        return JSONResponse(tenants.factors(tenant.settings))


@router.put(
    "/factors/{name}",
    **documented(
        "Enable or disable a factor",
        tag="guardian",
        scopes=[UPDATE],
        body=doc.FactorChange,
        response=doc.FactorState,
    ),
)
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
                details={"factor": name, "enabled": enabled, **actor(caller)},
            )
        )
    return JSONResponse({"enabled": enabled})


@router.get(
    "/factors/phone/message-types",
    **documented(
        "Get the phone factor's message types",
        tag="guardian",
        scopes=[READ],
        response=doc.MessageTypes,
    ),
)
async def get_message_types(request: Request) -> JSONResponse:
    async with management_scope(request, READ) as (_, tenant, _caller):
        return JSONResponse({"message_types": tenant.settings.message_types})


@router.put(
    "/factors/phone/message-types",
    **documented(
        "Set the phone factor's message types",
        tag="guardian",
        scopes=[UPDATE],
        body=doc.MessageTypesChange,
        response=doc.MessageTypes,
    ),
)
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
                details={"message_types": chosen, **actor(caller)},
            )
        )
    return JSONResponse({"message_types": chosen})


@router.get(
    "/policies",
    **documented(
        "Get the MFA policies",
        tag="guardian",
        scopes=["read:mfa_policies", READ],
        response=doc.MfaPolicies,
    ),
)
async def get_policies(request: Request) -> JSONResponse:
    async with management_scope(request, "read:mfa_policies", READ) as (_, tenant, _caller):
        return JSONResponse(tenant.settings.mfa_policies)


@router.put(
    "/policies",
    **documented(
        "Set the MFA policies",
        tag="guardian",
        scopes=["update:mfa_policies", UPDATE],
        body=doc.MfaPolicies,
        response=doc.MfaPolicies,
    ),
)
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
                details={"policies": chosen, **actor(caller)},
            )
        )
    return JSONResponse(chosen)


# -- the phone factor: provider, Twilio, templates, settings --------------------------------
# Each is also served under Auth0's legacy /guardian/factors/sms/... path.


def _both(path: str) -> list[str]:
    return [f"/factors/phone/{path}", f"/factors/sms/{path}"]


async def _tenant_update(
    request: Request, uow: UnitOfWork, tenant: Tenant, caller: Caller, details: dict[str, Any]
) -> None:
    now = container(request).clock.now()
    await tenants.save(uow, tenant, now)
    await uow.events.add(
        new_event(
            tenant.id,
            "gd_tenant_update",
            now,
            request_context(request),
            client_id=caller.client_id,
            details={**details, **actor(caller)},
        )
    )


for _path in _both("selected-provider"):

    @router.get(
        _path,
        **documented(
            "Get the phone factor's provider",
            tag="guardian",
            scopes=[READ],
            response=doc.SelectedProvider,
        ),
    )
    async def get_selected_provider(request: Request) -> JSONResponse:
        async with management_scope(request, READ) as (_, tenant, _caller):
            return JSONResponse({"provider": tenant.settings.selected_provider})

    @router.put(
        _path,
        **documented(
            "Select the phone factor's provider",
            tag="guardian",
            scopes=[UPDATE],
            body=doc.ProviderChoice,
            response=doc.SelectedProvider,
        ),
    )
    async def set_selected_provider(request: Request) -> JSONResponse:
        c = container(request)
        async with management_scope(request, UPDATE) as (uow, tenant, caller):
            body = await read_object(request)
            chosen = await phone_factor.select_provider(
                uow, c.registry, tenant, body.get("provider")
            )
            await _tenant_update(request, uow, tenant, caller, {"selected_provider": chosen})
        return JSONResponse({"provider": chosen})

    @router.get(
        _path.replace("selected-provider", "providers/twilio"),
        **documented(
            "Get the phone factor's Twilio settings",
            tag="guardian",
            scopes=[READ],
            response=doc.TwilioSettings,
        ),
    )
    async def get_twilio(request: Request) -> JSONResponse:
        c = container(request)
        async with management_scope(request, READ) as (uow, tenant, _caller):
            row = await phone_factor.guardian_twilio(uow, tenant.id)
            return JSONResponse(phone_factor.twilio_json(c.keys, row))

    @router.put(
        _path.replace("selected-provider", "providers/twilio"),
        **documented(
            "Set the phone factor's Twilio settings",
            tag="guardian",
            scopes=[UPDATE],
            body=doc.TwilioChange,
            response=doc.TwilioSettings,
        ),
    )
    async def set_twilio(request: Request) -> JSONResponse:
        c = container(request)
        async with management_scope(request, UPDATE) as (uow, tenant, caller):
            body = await read_object(request)
            row = await phone_factor.set_twilio(
                uow, c.registry, c.keys, tenant, body, c.clock.now()
            )
            # Which fields changed, never their values (the auth token above all).
            await _tenant_update(request, uow, tenant, caller, {"twilio": sorted(body)})
            return JSONResponse(phone_factor.twilio_json(c.keys, row))

    @router.get(
        _path.replace("selected-provider", "templates"),
        **documented(
            "Get the phone factor's templates",
            tag="guardian",
            scopes=[READ],
            response=doc.GuardianTemplates,
        ),
    )
    async def get_templates(request: Request) -> JSONResponse:
        async with management_scope(request, READ) as (_, tenant, _caller):
            return JSONResponse(phone_factor.templates_json(tenant))

    @router.put(
        _path.replace("selected-provider", "templates"),
        **documented(
            "Set the phone factor's templates",
            tag="guardian",
            scopes=[UPDATE],
            body=doc.GuardianTemplates,
            response=doc.SavedGuardianTemplates,
        ),
    )
    async def set_templates(request: Request) -> JSONResponse:
        async with management_scope(request, UPDATE) as (uow, tenant, caller):
            body = await read_object(request)
            analysis = phone_factor.set_templates(tenant, body)
            await _tenant_update(request, uow, tenant, caller, {"templates": "updated"})
            return JSONResponse({**phone_factor.templates_json(tenant), "analysis": analysis})

    @router.get(
        _path.replace("selected-provider", "settings"),
        **documented(
            "Get the phone factor's code settings",
            tag="guardian",
            scopes=[READ],
            response=doc.PhoneSettings,
        ),
    )
    async def get_phone_settings(request: Request) -> JSONResponse:
        c = container(request)
        async with management_scope(request, READ) as (_, tenant, _caller):
            return JSONResponse(
                phone_factor.phone_settings_json(tenant, c.settings.code_ttl_seconds)
            )

    @router.put(
        _path.replace("selected-provider", "settings"),
        **documented(
            "Set the phone factor's code settings",
            tag="guardian",
            scopes=[UPDATE],
            body=doc.PhoneSettingsChange,
            response=doc.PhoneSettings,
        ),
    )
    async def set_phone_settings(request: Request) -> JSONResponse:
        c = container(request)
        async with management_scope(request, UPDATE) as (uow, tenant, caller):
            body = await read_object(request)
            phone_factor.set_phone_settings(tenant, body)
            shown = phone_factor.phone_settings_json(tenant, c.settings.code_ttl_seconds)
            await _tenant_update(request, uow, tenant, caller, {"phone_settings": shown})
            return JSONResponse(shown)
