"""Management API, phonegate's own additions for phone delivery (Auth0 has none of these):

- ``/api/v2/phone/providers``: fallback providers, tried in ``position`` order when the
  tenant's primary provider fails, so an outage at one vendor does not lock users out;
- ``/api/v2/phone/delivery-chain``: the chain as the next message would use it, per channel;
- ``/api/v2/phone/messages``: what was sent, every attempt, and the vendor's receipts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from phonegate.delivery.direct import send_test
from phonegate.domain import delivery_plan, phone_providers, phone_templates
from phonegate.domain.delivery_plan import Plan, Step
from phonegate.domain.models import CHANNELS, DeliveryAttempt, OutboxMessage, PhoneProvider, Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import InvalidRequest, NotFound
from phonegate.phone import mask
from phonegate.web.management import branding
from phonegate.web.management.auth import management_scope, record_write
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import branding as branding_doc
from phonegate.web.management.schemas import phone as doc
from phonegate.web.requests import container, read_object

router = APIRouter(prefix="/api/v2/phone")
MAX_FALLBACKS = 10


def fallback_json(request: Request, tenant: Tenant, row: PhoneProvider) -> dict[str, Any]:
    body = branding.provider_json(request, tenant, row)
    body.pop("warnings", None)
    body["position"] = row.position
    return body


async def _fallback(uow: UnitOfWork, tenant: Tenant, provider_id: str) -> PhoneProvider:
    row = await uow.phone_providers.get(tenant.id, provider_id)
    if row is None or row.role != "fallback":
        raise NotFound("Phone provider not found", error_code="phone_provider_not_found")
    return row


def _position(body: dict[str, Any], default: int) -> int:
    value = body.get("position", default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        raise InvalidRequest(
            "Payload validation error: 'position' must be an integer from 0 to 1000.",
            error_code="invalid_body",
        )
    return value


@router.get(
    "/providers",
    **documented(
        "List the fallback providers",
        tag="phone",
        scopes=["read:phone_providers"],
        response=doc.FallbackProviders,
    ),
)
async def list_fallbacks(request: Request) -> JSONResponse:
    async with management_scope(request, "read:phone_providers") as (uow, tenant, _):
        rows = [r for r in await uow.phone_providers.list(tenant.id) if r.role == "fallback"]
        return JSONResponse({"providers": [fallback_json(request, tenant, r) for r in rows]})


@router.post(
    "/providers",
    **documented(
        "Add a fallback provider",
        tag="phone",
        scopes=["create:phone_providers"],
        body=doc.FallbackCreate,
        response=doc.FallbackProvider,
        status=201,
    ),
)
async def create_fallback(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "create:phone_providers") as (uow, tenant, caller):
        body = await read_object(request)
        existing = [r for r in await uow.phone_providers.list(tenant.id) if r.role == "fallback"]
        if len(existing) >= MAX_FALLBACKS:
            raise InvalidRequest(
                f"A tenant may have at most {MAX_FALLBACKS} fallback providers.",
                error_code="too_many_providers",
            )
        now = c.clock.now()
        row = phone_providers.new_row(
            tenant.id,
            "fallback",
            str(body.get("name", "")),
            now,
            position=_position(body, max((r.position for r in existing), default=0) + 1),
        )
        phone_providers.apply_body(
            c.registry,
            c.keys,
            row,
            {k: v for k, v in body.items() if k != "position"},
            now,
            creating=True,
        )
        await uow.phone_providers.add(row)
        await record_write(request, uow, tenant.id, caller, "Create a fallback phone provider")
        return JSONResponse(fallback_json(request, tenant, row), status_code=201)


@router.get(
    "/providers/{provider_id}",
    **documented(
        "Get a fallback provider",
        tag="phone",
        scopes=["read:phone_providers"],
        response=doc.FallbackProvider,
        errors=[404],
    ),
)
async def get_fallback(request: Request, provider_id: str) -> JSONResponse:
    async with management_scope(request, "read:phone_providers") as (uow, tenant, _):
        row = await _fallback(uow, tenant, provider_id)
        return JSONResponse(fallback_json(request, tenant, row))


@router.patch(
    "/providers/{provider_id}",
    **documented(
        "Update a fallback provider",
        tag="phone",
        scopes=["update:phone_providers"],
        body=doc.FallbackChange,
        response=doc.FallbackProvider,
        errors=[404],
    ),
)
async def update_fallback(request: Request, provider_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "update:phone_providers") as (uow, tenant, caller):
        row = await _fallback(uow, tenant, provider_id)
        body = await read_object(request)
        row.position = _position(body, row.position)
        phone_providers.apply_body(
            c.registry,
            c.keys,
            row,
            {k: v for k, v in body.items() if k != "position"},
            c.clock.now(),
            creating=False,
        )
        await uow.phone_providers.update(row)
        await record_write(request, uow, tenant.id, caller, "Update a fallback phone provider")
        return JSONResponse(fallback_json(request, tenant, row))


@router.delete(
    "/providers/{provider_id}",
    **documented(
        "Delete a fallback provider",
        tag="phone",
        scopes=["delete:phone_providers"],
        status=204,
        errors=[404],
    ),
)
async def delete_fallback(request: Request, provider_id: str) -> Response:
    async with management_scope(request, "delete:phone_providers") as (uow, tenant, caller):
        await _fallback(uow, tenant, provider_id)
        await uow.phone_providers.delete(tenant.id, provider_id)
        await record_write(request, uow, tenant.id, caller, "Delete a fallback phone provider")
    return Response(status_code=204)


@router.post(
    "/providers/{provider_id}/try",
    **documented(
        "Send a test message through a fallback provider",
        tag="phone",
        scopes=["create:phone_providers", "update:phone_providers"],
        body=branding_doc.TrySend,
        response=branding_doc.TryAccepted,
        status=202,
        errors=[404],
        failures=branding_doc.TRY_FAILURES,
    ),
)
async def try_fallback(request: Request, provider_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "create:phone_providers", "update:phone_providers") as (
        uow,
        tenant,
        caller,
    ):
        row = await _fallback(uow, tenant, provider_id)
        recipient, channel = branding.try_target(await read_object(request))
        spec = phone_providers.spec_for(row, {})
        step = Step(f"{row.name} (fallback)", spec.kind, spec.channels, row=row)
        await record_write(
            request, uow, tenant.id, caller, "Send a test message through a fallback provider"
        )
    result = await send_test(
        c.chain,
        step,
        tenant_id=tenant.id,
        recipient=recipient,
        channel=channel,
        text=phone_templates.test_text(tenant, channel),
        locale="en",
    )
    return branding.try_answer(result)


# -- the chain -----------------------------------------------------------------------------


def plan_json(planned: Plan) -> dict[str, Any]:
    return {
        "primary": planned.primary,
        "steps": [
            {
                "provider": step.label,
                "kind": step.kind,
                "id": step.row.id if step.row else (step.action.id if step.action else None),
                "channels": sorted(step.channels),
            }
            for step in planned.steps
        ],
        "problem": planned.problem,
        "skipped": planned.skipped,
    }


@router.get(
    "/delivery-chain",
    **documented(
        "Show the delivery chain the next message would use",
        tag="phone",
        scopes=["read:phone_providers", "read:guardian_factors"],
        response=doc.DeliveryChain,
    ),
)
async def delivery_chain(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "read:phone_providers", "read:guardian_factors") as (
        uow,
        tenant,
        _,
    ):
        return JSONResponse(
            {
                channel: plan_json(await delivery_plan.plan(uow, c.registry, tenant, channel))
                for channel in CHANNELS
            }
        )


# -- messages ------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def attempt_json(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "provider": attempt.provider,
        "position": attempt.position,
        "started_at": _iso(attempt.started_at),
        "finished_at": _iso(attempt.finished_at),
        "outcome": attempt.outcome,
        "error_code": attempt.error_code,
        "error": attempt.error,
        "provider_message_id": attempt.provider_message_id,
    }


def message_json(
    message: OutboxMessage, attempts: list[DeliveryAttempt] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": message.id,
        "channel": message.channel,
        "recipient": mask(message.recipient),
        "status": message.status,
        "provider": message.provider,
        "provider_message_id": message.provider_message_id,
        "delivery": {
            "status": message.receipt_status,
            "error_code": message.receipt_error_code,
            "updated_at": _iso(message.receipt_at),
        },
        "last_error": message.last_error,
        "user_id": message.user_id,
        "client_id": message.client_id,
        "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
        "expires_at": _iso(message.expires_at),
    }
    if attempts is not None:
        body["attempts"] = [attempt_json(a) for a in attempts]
    return body


@router.get(
    "/messages",
    **documented(
        "List the newest phone messages",
        tag="phone",
        scopes=["read:phone_messages", "read:logs"],
        response=list[doc.PhoneMessage],
        query=doc.MESSAGES_QUERY,
        errors=[400],
    ),
)
async def list_messages(request: Request) -> JSONResponse:
    async with management_scope(request, "read:phone_messages", "read:logs") as (uow, tenant, _):
        raw_limit = request.query_params.get("limit", "50")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 200:
            raise InvalidRequest(
                "Query validation error: limit must be an integer from 1 to 200.",
                error_code="invalid_query_string",
            )
        recipient = request.query_params.get("recipient") or None
        rows = await uow.outbox.list_for_tenant(tenant.id, int(raw_limit), recipient)
        return JSONResponse([message_json(m) for m in rows])


@router.get(
    "/messages/{message_id}",
    **documented(
        "Get a phone message with its attempts and receipt",
        tag="phone",
        scopes=["read:phone_messages", "read:logs"],
        response=doc.PhoneMessageDetail,
        errors=[404],
    ),
)
async def get_message(request: Request, message_id: str) -> JSONResponse:
    async with management_scope(request, "read:phone_messages", "read:logs") as (uow, tenant, _):
        message = await uow.outbox.get(tenant.id, message_id)
        if message is None:
            raise NotFound("Message not found", error_code="message_not_found")
        attempts = await uow.delivery_attempts.for_message(message.id)
        return JSONResponse(message_json(message, attempts))
