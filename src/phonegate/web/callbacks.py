"""Delivery receipts: the vendors' status callbacks (providers-wire.md §1.5, §1.7 and §2).

A receipt is accepted only for a message this server sent through that vendor, checked with
the credentials of the provider row that sent it, and with the vendor's proof where it gives
one: Twilio's ``X-Twilio-Signature`` over the URL Twilio called (rebuilt from
PHONEGATE_PUBLIC_URL: behind a proxy the request's own URL is not what Twilio signed),
TeleSign's ``TSA`` signature of the body, and, for Vonage's unsigned DLRs, the account's
``api-key``. Infobip does not sign its reports: the message id it names is phonegate's own
unguessable outbox id. Anything else is a bare 403 that says nothing about why, and nothing
is recorded.

Receipts are stored out-of-order safe (a late "sent" never overwrites "delivered"); an
undelivered or failed one is also a ``gd_send_*_failure`` event. The full numbers callbacks
carry are never logged or stored.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from phonegate.container import Container
from phonegate.delivery.delivery_events import failure_event
from phonegate.domain.models import OutboxMessage
from phonegate.domain.phone_providers import open_sealed, spec_for
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import InvalidRequest
from phonegate.providers import infobip, telesign, twilio, vonage
from phonegate.providers.base import Receipt
from phonegate.web.requests import container, raw_body, read_any

router = APIRouter(prefix="/callbacks")

# Vendor message ids are short and plain; anything else is not one of ours, and is refused
# before it reaches a query (PostgreSQL cannot even compare text holding a NUL).
_VENDOR_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_MAX_ERROR_CODE = 32  # the column's width
_FAILED = ("undelivered", "failed")

# Whether a callback proves it comes from the vendor, given the sending row's configuration.
Authentic = Callable[[BaseModel], bool]
# (the vendor's message id, what it reports, or None when it reports nothing we track).
Items = Sequence[tuple[str, Receipt | None]]


def _forbidden() -> Response:
    return Response(status_code=403)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _flat(params: Mapping[str, Any]) -> dict[str, str]:
    """One string per name (the first of a repeated one); other values are not parameters
    any vendor sends, and are dropped."""
    flat: dict[str, str] = {}
    for name, value in params.items():
        if isinstance(value, list) and value:
            value = value[0]
        if isinstance(value, str):
            flat[name] = value
    return flat


async def _record(request: Request, provider: str, items: Items, authentic: Authentic) -> Response:
    """Store what the items report, for those that match a message sent through
    ``provider`` and pass ``authentic``; 403 when none does."""
    c = container(request)
    accepted = False
    async with c.unit_of_work() as uow:
        for vendor_id, receipt in items:
            message = await _sent_message(uow, provider, vendor_id)
            config = await _sending_config(uow, c, message) if message else None
            if message is None or config is None or not authentic(config):
                continue
            accepted = True
            if receipt is not None:
                await _store(uow, c, message, receipt)
    return Response(status_code=204) if accepted else _forbidden()


async def _sent_message(uow: UnitOfWork, provider: str, vendor_id: str) -> OutboxMessage | None:
    if not _VENDOR_ID.fullmatch(vendor_id):
        return None
    return await uow.outbox.find_by_provider_id(provider, vendor_id)


async def _sending_config(
    uow: UnitOfWork, c: Container, message: OutboxMessage
) -> BaseModel | None:
    """The configuration (credentials included) of the provider row that sent the message,
    when that row still stands for the same vendor."""
    if message.provider_config_id is None:
        return None
    row = await uow.phone_providers.get(message.tenant_id, message.provider_config_id)
    if row is None:
        return None
    try:
        spec = spec_for(row, open_sealed(c.keys, row.credentials))
        if spec.kind != message.provider:
            return None
        return c.registry.config(spec.kind, spec.values)
    except (ValueError, KeyError, ImportError):  # unreadable or no longer valid: not ours
        return None


async def _store(uow: UnitOfWork, c: Container, message: OutboxMessage, receipt: Receipt) -> None:
    now = c.clock.now()
    code = receipt.error_code[:_MAX_ERROR_CODE] if receipt.error_code else None
    if not await uow.outbox.record_receipt(message.id, receipt.status, code, now):
        return  # a final receipt is already stored; this one is late or repeated
    if receipt.status in _FAILED:
        reason = f"{message.provider} reported the message {receipt.status}" + (
            f" (error {code})" if code else ""
        )
        await uow.events.add(failure_event(message, message.provider, reason, code, now))


async def _form(request: Request) -> dict[str, str | list[str]] | None:
    data = await read_any(request)
    if not isinstance(data, dict) or not all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v))
        for v in data.values()
    ):
        return None
    return data


# -- the vendors -------------------------------------------------------------------------


@router.post("/twilio/status")
async def twilio_status(request: Request) -> Response:
    """Message and call status callbacks (§1.5), signed as §1.7 describes."""
    form = await _form(request)
    public_url = container(request).settings.public_url
    signature = request.headers.get("x-twilio-signature", "")
    if form is None or not public_url or not signature:
        return _forbidden()
    params = _flat(form)
    vendor_id = params.get("MessageSid") or params.get("CallSid") or ""
    url = public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query

    def authentic(config: BaseModel) -> bool:
        return isinstance(config, twilio.TwilioConfig) and twilio.valid_signature(
            config.auth_token.get_secret_value(), url, form, signature
        )

    return await _record(request, "twilio", [(vendor_id, twilio.parse_receipt(params))], authentic)


@router.api_route("/vonage/status", methods=["GET", "POST"])
async def vonage_status(request: Request) -> Response:
    """Delivery receipts (DLRs), as query parameters, a form or JSON. Unsigned DLRs prove
    themselves with the account's api-key, which only Vonage and the operator know."""
    if request.method == "GET":
        params = dict(request.query_params)
    else:
        data = await read_any(request)
        params = _flat(data) if isinstance(data, dict) else {}
    api_key = params.get("api-key", "")

    def authentic(config: BaseModel) -> bool:
        return isinstance(config, vonage.VonageConfig) and _same(api_key, config.api_key)

    items = [(params.get("messageId", ""), vonage.parse_receipt(params))]
    return await _record(request, "vonage", items, authentic)


@router.post("/infobip/status")
async def infobip_status(request: Request) -> Response:
    """Delivery reports (JSON ``results``), one receipt per result."""
    data = await read_any(request)
    receipts = infobip.parse_receipt(data) if isinstance(data, dict) else []

    def authentic(config: BaseModel) -> bool:
        return isinstance(config, infobip.InfobipConfig)

    items = [(r.provider_message_id, r) for r in receipts]
    return await _record(request, "infobip", items, authentic)


@router.post("/telesign/status")
async def telesign_status(request: Request) -> Response:
    """Status callbacks, signed ``Authorization: TSA <customer_id>:<signature>`` over the
    raw body, which is why the body is read as bytes here."""
    raw = await raw_body(request, container(request).settings.max_body_bytes)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidRequest(
            "The request body is not valid JSON.", error_code="invalid_body"
        ) from None
    if not isinstance(data, dict):
        return _forbidden()
    authorization = request.headers.get("authorization")
    reference_id = data.get("reference_id")

    def authentic(config: BaseModel) -> bool:
        return isinstance(config, telesign.TelesignConfig) and telesign.valid_signature(
            config, authorization, raw
        )

    items = [(reference_id if isinstance(reference_id, str) else "", telesign.parse_receipt(data))]
    return await _record(request, "telesign", items, authentic)
