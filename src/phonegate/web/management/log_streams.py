"""Management API: log streams (Auth0's ``/api/v2/log-streams``, type ``http``) and
phonegate's spike-alert rules (``/api/v2/log-streams/alerts``); the rules are in
``domain/log_streams.py``, the delivery in ``logstream/``.

Auth0's shapes, plus phonegate's additions: ``sink.signingSecret`` (returned once, by the
create and by a PATCH with ``rotateSigningSecret``) and ``delivery`` (the failure count,
last error and next attempt a suspended or backing-off stream is at). ``httpAuthorization``
and the signing secret are never returned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from phonegate.domain import log_streams, tenants
from phonegate.domain.models import LogStream, Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import InvalidRequest, NotFound
from phonegate.logstream.sinks import destination_refusal
from phonegate.web.management.auth import management_scope, record_write
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import log_streams as doc
from phonegate.web.requests import container, read_any, read_object

router = APIRouter(prefix="/api/v2/log-streams")

READ = "read:log_streams"
CREATE = "create:log_streams"
UPDATE = "update:log_streams"
DELETE = "delete:log_streams"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def stream_json(stream: LogStream, signing_secret: str | None = None) -> dict[str, Any]:
    sink = dict(stream.sink)
    if signing_secret is not None:
        sink[log_streams.SIGNING_SECRET] = signing_secret
    return {
        "id": stream.id,
        "name": stream.name,
        "type": stream.type,
        "status": stream.status,
        "sink": sink,
        "filters": stream.filters,
        "isPriority": stream.is_priority,
        "delivery": {
            "failures": stream.failures,
            "lastError": stream.last_error,
            "nextAttemptAt": _iso(stream.next_attempt_at),
        },
    }


async def _stream(uow: UnitOfWork, tenant: Tenant, stream_id: str) -> LogStream:
    stream = await uow.log_streams.get(tenant.id, stream_id)
    if stream is None:
        raise NotFound("The log stream does not exist.", error_code="inexistent_log_stream")
    return stream


async def _check_destination(request: Request, stream: LogStream) -> None:
    """Refuse a private destination at save time unless the deployment allows them (the
    outbound guard would refuse every send)."""
    if container(request).settings.outbound_allow_private:
        return
    refusal = await destination_refusal(stream.sink["httpEndpoint"])
    if refusal is not None:
        raise InvalidRequest(
            f"sink.httpEndpoint cannot be used: {refusal}.", error_code="invalid_body"
        )


# -- alert rules (before /{stream_id}, which would match "alerts") --------------------------


@router.get(
    "/alerts",
    **documented(
        "Get the spike-alert rules",
        tag="log streams",
        scopes=[READ],
        response=doc.AlertRules,
    ),
)
async def get_alert_rules(request: Request) -> JSONResponse:
    async with management_scope(request, READ) as (_, tenant, _caller):
        return JSONResponse(tenant.settings.alert_rules)


@router.put(
    "/alerts",
    **documented(
        "Set the spike-alert rules",
        tag="log streams",
        scopes=[UPDATE],
        body=doc.AlertRules,
        response=doc.AlertRules,
    ),
)
async def set_alert_rules(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, UPDATE) as (uow, tenant, caller):
        tenant.settings.alert_rules = log_streams.check_alert_rules(await read_any(request))
        await tenants.save(uow, tenant, c.clock.now())
        await record_write(request, uow, tenant.id, caller, "Update the log stream alert rules")
        return JSONResponse(tenant.settings.alert_rules)


# -- streams -------------------------------------------------------------------------------


@router.get(
    "",
    **documented(
        "List the log streams",
        tag="log streams",
        scopes=[READ],
        response=list[doc.LogStream],
    ),
)
async def list_streams(request: Request) -> JSONResponse:
    async with management_scope(request, READ) as (uow, tenant, _):
        return JSONResponse(
            [stream_json(s) for s in await uow.log_streams.list_for_tenant(tenant.id)]
        )


@router.post(
    "",
    **documented(
        "Create a log stream",
        tag="log streams",
        scopes=[CREATE],
        body=doc.StreamCreate,
        response=doc.LogStream,
        status=201,
    ),
)
async def create_stream(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, CREATE) as (uow, tenant, caller):
        body = await read_object(request)
        stream, signing_secret = log_streams.new_stream(c.keys, tenant.id, body, c.clock.now())
        await _check_destination(request, stream)
        await uow.log_streams.add(stream)
        await record_write(request, uow, tenant.id, caller, "Create a log stream")
        return JSONResponse(stream_json(stream, signing_secret), status_code=201)


@router.get(
    "/{stream_id}",
    **documented(
        "Get a log stream",
        tag="log streams",
        scopes=[READ],
        response=doc.LogStream,
        errors=[404],
    ),
)
async def get_stream(request: Request, stream_id: str) -> JSONResponse:
    async with management_scope(request, READ) as (uow, tenant, _):
        return JSONResponse(stream_json(await _stream(uow, tenant, stream_id)))


@router.patch(
    "/{stream_id}",
    **documented(
        "Update, pause or resume a log stream",
        tag="log streams",
        scopes=[UPDATE],
        body=doc.StreamChange,
        response=doc.LogStream,
        errors=[404],
    ),
)
async def update_stream(request: Request, stream_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, UPDATE) as (uow, tenant, caller):
        stream = await _stream(uow, tenant, stream_id)
        endpoint = stream.sink["httpEndpoint"]
        body = await read_object(request)
        patched = log_streams.apply_patch(c.keys, stream, body, c.clock.now())
        if stream.sink["httpEndpoint"] != endpoint:
            await _check_destination(request, stream)
        await uow.log_streams.update(stream)
        if patched.status is not None:
            await uow.log_streams.set_status(tenant.id, stream.id, patched.status, c.clock.now())
        await record_write(request, uow, tenant.id, caller, "Update a log stream")
        return JSONResponse(stream_json(stream, patched.signing_secret))


@router.delete(
    "/{stream_id}",
    **documented(
        "Delete a log stream",
        tag="log streams",
        scopes=[DELETE],
        status=204,
        errors=[404],
    ),
)
async def delete_stream(request: Request, stream_id: str) -> Response:
    async with management_scope(request, DELETE) as (uow, tenant, caller):
        await _stream(uow, tenant, stream_id)
        await uow.log_streams.delete(tenant.id, stream_id)
        await record_write(request, uow, tenant.id, caller, "Delete a log stream")
    return Response(status_code=204)
