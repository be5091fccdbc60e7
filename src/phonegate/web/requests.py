"""Request plumbing shared by the routes: bodies, tenant, audiences, bearer tokens.

Bodies are read here, never by FastAPI's parsers, so that JSON and form bodies are treated
alike (Auth0 accepts both), JSON ``null`` means "absent", and size and content type are
checked before anything is parsed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import BackgroundTasks, Request

from phonegate.container import Container
from phonegate.domain.grants import Audiences
from phonegate.domain.models import RequestContext, Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.domain.texts import parse_accept_language
from phonegate.errors import (
    InvalidRequest,
    InvalidToken,
    PayloadTooLarge,
    PhonegateError,
    UnsupportedMediaType,
)

JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded",)


def container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


async def raw_body(request: Request, limit: int) -> bytes:
    """The body's bytes, refused past ``limit`` before or while it is read."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
        except ValueError:
            raise InvalidRequest("Invalid Content-Length header.") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


MAX_DEPTH = 16


def _check_values(value: Any, depth: int = 0) -> None:
    """Refuse what no field of ours accepts and the databases cannot store: nesting deeper
    than any API shape, NUL characters (PostgreSQL text cannot hold them) and unpaired
    surrogates (not encodable as UTF-8)."""
    if depth > MAX_DEPTH:
        raise InvalidRequest("The request body is nested too deeply.", error_code="invalid_body")
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidRequest(
                "The request body contains a NUL character.", error_code="invalid_body"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest(
                "The request body contains text that is not valid Unicode.",
                error_code="invalid_body",
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_values(key, depth + 1)
            _check_values(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_values(item, depth + 1)


def _drop_nulls(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


async def read_any(request: Request) -> Any:
    """The body as JSON (any value) or form (a dict); empty body → None."""
    raw = await raw_body(request, container(request).settings.max_body_bytes)
    if not raw.strip():
        return None
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in JSON_TYPES or ctype.endswith("+json"):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise InvalidRequest(
                "The request body is not valid JSON.", error_code="invalid_body"
            ) from None
        _check_values(data)
        return data
    if ctype in FORM_TYPES:
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise InvalidRequest("The form body is not valid UTF-8.") from None
        form: dict[str, Any] = {}
        for key, value in pairs:
            if key in form:
                previous = form[key]
                form[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                form[key] = value
        _check_values(form)
        return form
    raise UnsupportedMediaType(
        "Content-Type must be application/json or application/x-www-form-urlencoded."
    )


async def read_object(request: Request) -> dict[str, Any]:
    data = await read_any(request)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.", error_code="invalid_body")
    return _drop_nulls(data)


def request_context(request: Request) -> RequestContext:
    ui_locales = request.query_params.get("ui_locales", "")[:200].split()
    header = request.headers.get("x-request-language", "")[:100].split()
    accepted = parse_accept_language(request.headers.get("accept-language", "")[:500])
    languages = tuple(dict.fromkeys([*ui_locales, *header, *accepted]))
    language = languages[0] if languages else None
    return RequestContext(
        languages=languages,
        ip=request.client.host if request.client else None,
        user_agent=(request.headers.get("user-agent") or "")[:512] or None,
        language=language,
        host=request.headers.get("host", "localhost"),
    )


def issuer(request: Request) -> str:
    configured = container(request).settings.public_url
    if configured:
        return configured.rstrip("/") + "/"
    host = request.headers.get("host") or "localhost"
    # The scope's scheme, not request.url: building the URL object costs more than the rest.
    return f"{request.scope.get('scheme', 'http')}://{host}/"


def audiences(request: Request) -> Audiences:
    base = issuer(request)
    host = base.split("://", 1)[1]
    both = ("https://" + host, "http://" + host)
    return Audiences(
        userinfo=base + "userinfo",
        mfa=frozenset(p + "mfa/" for p in both),
        management=frozenset(p + "api/v2/" for p in both),
    )


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Missing authentication")
    return token.strip()


@asynccontextmanager
async def tenant_scope(
    request: Request, *, read_only: bool = False
) -> AsyncIterator[tuple[UnitOfWork, Tenant]]:
    """A transaction plus the tenant the Host header names (or the default tenant);
    ``read_only`` for one that only reads (``Container.reading``)."""
    c = container(request)
    async with c.reading() if read_only else c.unit_of_work() as uow:
        tenant = await uow.tenants.for_host(request.headers.get("host", ""))
        if tenant is None:
            raise PhonegateError(
                "No tenant is configured; run `phonegate bootstrap`.",
                status=404,
                error="bad.tenant",
            )
        yield uow, tenant


def deliver_after_commit(request: Request, background: BackgroundTasks) -> None:
    """Send what the request queued right after its response (the transaction has committed
    by then), unless separate `phonegate worker` processes do the delivering."""
    c = container(request)
    if c.settings.background_in_server:
        background.add_task(c.dispatcher.run_once)
