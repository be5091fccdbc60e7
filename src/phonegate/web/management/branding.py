"""Management API: Branding phone providers and templates (the Unified Phone Experience).

The tenant phone provider, when there is one, serves every phone message; these routes keep
its credentials write-only and say loudly what depends on it when it is disabled.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from phonegate import phone
from phonegate.delivery.direct import TryResult, send_test
from phonegate.domain import delivery_plan, phone_providers, phone_templates
from phonegate.domain.delivery_plan import Step
from phonegate.domain.models import Channel, PhoneProvider, PhoneTemplate, Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import Conflict, InvalidRequest, NotFound
from phonegate.web.management.auth import management_scope, record_write
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import branding as doc
from phonegate.web.management.schemas.common import AnyObject
from phonegate.web.requests import container, read_object, request_context

router = APIRouter(prefix="/api/v2/branding/phone")

TRY_ACCEPTED = "Test notification successfully sent for processing"


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _bool_query(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise InvalidRequest(
            f"Query validation error: {name} must be true or false.",
            error_code="invalid_query_string",
        )
    return raw == "true"


# -- providers -----------------------------------------------------------------------------


def provider_json(request: Request, tenant: Tenant, row: PhoneProvider) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "tenant": tenant.name,
        "name": row.name,
        "channel": "phone",
        "disabled": row.disabled,
        "configuration": row.configuration,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        # phonegate: which credentials are stored (never their values).
        "credentials_set": phone_providers.credentials_set(container(request).keys, row),
    }
    if row.disabled:
        body["warnings"] = [
            "This phone provider is disabled: every phone message of the tenant fails until "
            "it is enabled again or deleted. Depending on it: "
            + "; ".join(phone_providers.dependents(tenant.settings))
            + "."
        ]
    return body


async def _branding(uow: UnitOfWork, tenant: Tenant, provider_id: str) -> PhoneProvider:
    row = await uow.phone_providers.get(tenant.id, provider_id)
    if row is None or row.role != "branding":
        raise NotFound("Notification Resource not found", error_code="not_found")
    return row


@router.get(
    "/providers",
    **documented(
        "List the tenant phone provider",
        tag="branding",
        scopes=["read:phone_providers"],
        response=doc.BrandingProviders,
        query=doc.DISABLED_QUERY,
        errors=[400],
    ),
)
async def list_providers(request: Request) -> JSONResponse:
    async with management_scope(request, "read:phone_providers") as (uow, tenant, _):
        wanted = _bool_query(request, "disabled")
        rows = [
            r
            for r in await uow.phone_providers.list(tenant.id)
            if r.role == "branding" and (wanted is None or r.disabled == wanted)
        ]
        return JSONResponse({"providers": [provider_json(request, tenant, r) for r in rows]})


@router.post(
    "/providers",
    **documented(
        "Create the tenant phone provider",
        tag="branding",
        scopes=["create:phone_providers"],
        body=doc.ProviderCreate,
        response=doc.BrandingProvider,
        status=201,
        errors=[409],
    ),
)
async def create_provider(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "create:phone_providers") as (uow, tenant, caller):
        body = await read_object(request)
        if "name" not in body:
            raise InvalidRequest(
                "Payload validation error: Missing required property: name.",
                error_code="invalid_body",
            )
        now = c.clock.now()
        row = phone_providers.new_row(tenant.id, "branding", str(body.get("name")), now)
        phone_providers.apply_body(c.registry, c.keys, row, body, now, creating=True)
        if not await uow.phone_providers.add(row):
            raise Conflict(
                "The tenant already has a phone provider; update or delete it.",
                error_code="phone_provider_exists",
            )
        await record_write(request, uow, tenant.id, caller, "Create a phone provider")
        return JSONResponse(provider_json(request, tenant, row), status_code=201)


@router.get(
    "/providers/{provider_id}",
    **documented(
        "Get the tenant phone provider",
        tag="branding",
        scopes=["read:phone_providers"],
        response=doc.BrandingProvider,
        errors=[404],
    ),
)
async def get_provider(request: Request, provider_id: str) -> JSONResponse:
    async with management_scope(request, "read:phone_providers") as (uow, tenant, _):
        row = await _branding(uow, tenant, provider_id)
        return JSONResponse(provider_json(request, tenant, row))


@router.patch(
    "/providers/{provider_id}",
    **documented(
        "Update the tenant phone provider",
        tag="branding",
        scopes=["update:phone_providers"],
        body=doc.ProviderChange,
        response=doc.BrandingProvider,
        errors=[404],
    ),
)
async def update_provider(request: Request, provider_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "update:phone_providers") as (uow, tenant, caller):
        row = await _branding(uow, tenant, provider_id)
        body = await read_object(request)
        phone_providers.apply_body(c.registry, c.keys, row, body, c.clock.now(), creating=False)
        _check_message_types(tenant, row)
        await uow.phone_providers.update(row)
        await record_write(request, uow, tenant.id, caller, "Update the phone provider")
        return JSONResponse(provider_json(request, tenant, row))


def _check_message_types(tenant: Tenant, row: PhoneProvider) -> None:
    """The Guardian message types must stay deliverable by an enabled tenant provider."""
    if row.disabled or "voice" not in tenant.settings.message_types:
        return
    if "voice" not in row.configuration.get("delivery_methods", []):
        raise InvalidRequest(
            'The phone factor\'s message types include voice: set them to ["sms"] first '
            '(PUT /api/v2/guardian/factors/phone/message-types), or keep "voice" in '
            "delivery_methods.",
            error_code="invalid_body",
        )


@router.delete(
    "/providers/{provider_id}",
    **documented(
        "Delete the tenant phone provider",
        tag="branding",
        scopes=["delete:phone_providers"],
        status=204,
        errors=[404],
    ),
)
async def delete_provider(request: Request, provider_id: str) -> Response:
    async with management_scope(request, "delete:phone_providers") as (uow, tenant, caller):
        await _branding(uow, tenant, provider_id)
        await uow.phone_providers.delete(tenant.id, provider_id)
        await record_write(request, uow, tenant.id, caller, "Delete the phone provider")
    return Response(status_code=204)


def try_target(body: dict[str, Any]) -> tuple[str, Channel]:
    to = body.get("to")
    if isinstance(to, str) and to and not to.startswith(("+", "00")):
        to = "+" + to  # Auth0's examples send the number without its "+"
    number = phone.parse(to)
    method = body.get("delivery_method", "text")
    if method not in phone_providers.DELIVERY_METHODS:
        raise InvalidRequest(
            'delivery_method must be "text" or "voice".', error_code="invalid_body"
        )
    return number.e164, phone_providers.DELIVERY_METHODS[method]


def try_answer(result: TryResult, extra: dict[str, Any] | None = None) -> JSONResponse:
    if result.ok:
        return JSONResponse(
            {"code": 202, "message": TRY_ACCEPTED, "provider": result.json(), **(extra or {})},
            status_code=202,
        )
    status = 503 if result.error_kind == "retryable" else 400
    # The Management error shape plus the provider's own answer, which the operator testing
    # the set-up needs; the shared error renderer drops extra fields on /api/v2.
    return JSONResponse(
        {
            "statusCode": status,
            "error": HTTPStatus(status).phrase,
            "message": f"The provider did not accept the test message: {result.error}",
            "errorCode": f"provider_{result.error_kind}",
            "provider": result.json(),
        },
        status_code=status,
    )


@router.post(
    "/providers/{provider_id}/try",
    **documented(
        "Send a test message through the tenant phone provider",
        tag="branding",
        scopes=["create:phone_providers", "update:phone_providers"],
        body=doc.TrySend,
        response=doc.TryAccepted,
        status=202,
        errors=[404],
        failures=doc.TRY_FAILURES,
    ),
)
async def try_provider(request: Request, provider_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "create:phone_providers", "update:phone_providers") as (
        uow,
        tenant,
        caller,
    ):
        row = await _branding(uow, tenant, provider_id)
        body = await read_object(request)
        recipient, channel = try_target(body)
        step = await _provider_step(uow, tenant, row)
        text = phone_templates.test_text(tenant, channel)
        await record_write(
            request, uow, tenant.id, caller, "Send a test message through the phone provider"
        )
    # The provider is called outside the transaction: its latency must not hold a lock.
    result = await send_test(
        c.chain,
        step,
        tenant_id=tenant.id,
        recipient=recipient,
        channel=channel,
        text=text,
        locale="en",
    )
    return try_answer(result)


async def _provider_step(uow: UnitOfWork, tenant: Tenant, row: PhoneProvider) -> Step:
    channels = phone_providers.spec_for(row, {}).channels
    if row.name == "custom":
        action = await delivery_plan.bound_action(
            uow, tenant, delivery_plan.TRIGGER_CUSTOM_PHONE_PROVIDER
        )
        if action is None:
            raise InvalidRequest(
                "No deployed action is bound to the custom-phone-provider trigger.",
                error_code="custom_phone_provider_action_not_found",
            )
        return Step("custom (tenant phone provider)", "action", channels, action=action)
    return Step(
        f"{row.name} (tenant phone provider)",
        phone_providers.spec_for(row, {}).kind,
        channels,
        row=row,
    )


# -- templates -----------------------------------------------------------------------------


def template_json(tenant: Tenant, message_type: str, row: PhoneTemplate | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tenant": tenant.name,
        "channel": "phone",
        "type": message_type,
        "disabled": row.disabled if row else False,
        "customizable": True,
        "content": phone_templates.effective_content(row, message_type),
        # phonegate: per-locale texts that win over content.body for that language.
        "translations": row.translations if row else {},
    }
    if row is not None:
        body = {
            "id": row.id,
            **body,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
        }
    return body


async def _template(uow: UnitOfWork, tenant: Tenant, template_id: str) -> PhoneTemplate:
    row = await uow.phone_templates.get(tenant.id, template_id)
    if row is None:
        raise NotFound("Notification Resource not found", error_code="not_found")
    return row


@router.get(
    "/templates",
    **documented(
        "List the phone templates, built-in defaults included",
        tag="branding",
        scopes=["read:phone_templates"],
        response=doc.PhoneTemplates,
        query=doc.DISABLED_QUERY,
        errors=[400],
    ),
)
async def list_templates(request: Request) -> JSONResponse:
    async with management_scope(request, "read:phone_templates") as (uow, tenant, _):
        wanted = _bool_query(request, "disabled")
        rows = {r.type: r for r in await uow.phone_templates.list(tenant.id)}
        shown = [template_json(tenant, t, rows.get(t)) for t in phone_templates.TEMPLATE_TYPES]
        if wanted is not None:
            shown = [t for t in shown if t["disabled"] == wanted]
        return JSONResponse({"templates": shown})


@router.post(
    "/templates",
    **documented(
        "Customise a phone template",
        tag="branding",
        scopes=["create:phone_templates"],
        body=doc.TemplateCreate,
        response=doc.SavedTemplate,
        status=201,
        errors=[409],
    ),
)
async def create_template(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "create:phone_templates") as (uow, tenant, caller):
        body = await read_object(request)
        now = c.clock.now()
        row = phone_templates.new_template(tenant.id, body.get("type"), now)
        analysis = phone_templates.apply_body(tenant, row, body, now)
        if not await uow.phone_templates.add(row):
            raise Conflict(
                f"A {row.type} template already exists; update it instead.",
                error_code="phone_template_exists",
            )
        await record_write(request, uow, tenant.id, caller, "Create a phone template")
        return JSONResponse(
            {**template_json(tenant, row.type, row), "analysis": analysis}, status_code=201
        )


@router.get(
    "/templates/{template_id}",
    **documented(
        "Get a phone template",
        tag="branding",
        scopes=["read:phone_templates"],
        response=doc.PhoneTemplate,
        errors=[404],
    ),
)
async def get_template(request: Request, template_id: str) -> JSONResponse:
    async with management_scope(request, "read:phone_templates") as (uow, tenant, _):
        row = await _template(uow, tenant, template_id)
        return JSONResponse(template_json(tenant, row.type, row))


@router.patch(
    "/templates/{template_id}",
    **documented(
        "Update a phone template",
        tag="branding",
        scopes=["update:phone_templates"],
        body=doc.TemplateChange,
        response=doc.SavedTemplate,
        errors=[404],
    ),
)
async def update_template(request: Request, template_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "update:phone_templates") as (uow, tenant, caller):
        row = await _template(uow, tenant, template_id)
        body = await read_object(request)
        if "type" in body and body["type"] != row.type:
            raise InvalidRequest("A template's type cannot change.", error_code="invalid_body")
        analysis = phone_templates.apply_body(tenant, row, body, c.clock.now())
        await uow.phone_templates.update(row)
        await record_write(request, uow, tenant.id, caller, "Update a phone template")
        return JSONResponse({**template_json(tenant, row.type, row), "analysis": analysis})


@router.patch(
    "/templates/{template_id}/reset",
    **documented(
        "Reset a phone template to the default content",
        tag="branding",
        scopes=["update:phone_templates"],
        body=AnyObject,
        body_required=False,
        response=doc.PhoneTemplate,
        errors=[404],
    ),
)
async def reset_template(request: Request, template_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "update:phone_templates") as (uow, tenant, caller):
        row = await _template(uow, tenant, template_id)
        await read_object(request)  # any body is accepted, but it must be well formed
        phone_templates.reset(row, c.clock.now())
        await uow.phone_templates.update(row)
        await record_write(request, uow, tenant.id, caller, "Reset a phone template")
        return JSONResponse(template_json(tenant, row.type, row))


@router.delete(
    "/templates/{template_id}",
    **documented(
        "Delete a phone template",
        tag="branding",
        scopes=["delete:phone_templates"],
        status=204,
        errors=[404],
    ),
)
async def delete_template(request: Request, template_id: str) -> Response:
    async with management_scope(request, "delete:phone_templates") as (uow, tenant, caller):
        await _template(uow, tenant, template_id)
        await uow.phone_templates.delete(tenant.id, template_id)
        await record_write(request, uow, tenant.id, caller, "Delete a phone template")
    return Response(status_code=204)


@router.post(
    "/templates/{template_id}/try",
    **documented(
        "Send a test message with a phone template",
        tag="branding",
        scopes=["create:phone_templates", "update:phone_templates"],
        body=doc.TrySend,
        response=doc.TemplateTryAccepted,
        status=202,
        errors=[404],
        failures=doc.TRY_FAILURES,
    ),
)
async def try_template(request: Request, template_id: str) -> JSONResponse:
    """Render the template as the next message would be (language negotiated from this
    request) with a sample code, and send it through the tenant's first provider."""
    c = container(request)
    ctx = request_context(request)
    async with management_scope(request, "create:phone_templates", "update:phone_templates") as (
        uow,
        tenant,
        caller,
    ):
        row = await _template(uow, tenant, template_id)
        body = await read_object(request)
        recipient, channel = try_target(body)
        composed = phone_templates.compose(
            row.type,
            channel,
            phone_templates.sample_context(tenant, channel),
            tenant=tenant,
            languages=ctx.languages,
            template=row,
        )
        planned = await delivery_plan.plan(uow, c.registry, tenant, channel)
        if not planned.steps:
            raise InvalidRequest(
                f"The test message cannot be sent: {planned.problem}.",
                error_code="error_sending_sms",
            )
        await record_write(
            request, uow, tenant.id, caller, "Send a test message with a phone template"
        )
    result = await send_test(
        c.chain,
        planned.steps[0],
        tenant_id=tenant.id,
        recipient=recipient,
        channel=channel,
        text=composed.text,
        locale=composed.locale,
    )
    extra: dict[str, Any] = {"locale": composed.locale, "source": composed.source}
    if channel == "sms":
        extra["analysis"] = phone_templates.sms_analysis(composed.text)
    return try_answer(result, extra)
