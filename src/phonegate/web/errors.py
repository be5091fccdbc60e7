"""Errors → HTTP, in one place, in the two shapes Auth0 uses.

Authentication API: ``{"error", "error_description"}`` (plus ``mfa_token`` for mfa_required).
Management API:     ``{"statusCode", "error", "message", "errorCode"}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from phonegate.errors import PhonegateError

log = logging.getLogger("phonegate.web")


def is_management(request: Request) -> bool:
    return request.url.path.startswith("/api/v2")


def render(request: Request, exc: PhonegateError) -> JSONResponse:
    headers = dict(exc.headers)
    if exc.status == 401 and not is_management(request):
        # Answer in the scheme the client tried (RFC 6749 §5.2 for HTTP Basic).
        if getattr(request.state, "basic_auth", False):
            headers.setdefault("WWW-Authenticate", 'Basic realm="phonegate"')
        else:
            headers.setdefault("WWW-Authenticate", f'Bearer error="{exc.error}"')
    if is_management(request):
        body: dict[str, object] = {
            "statusCode": exc.status,
            "error": HTTPStatus(exc.status).phrase,
            "message": exc.description,
        }
        code = exc.error_code or (exc.error if exc.error not in ("invalid_request",) else None)
        if code:
            body["errorCode"] = code
    else:
        body = {"error": exc.error, "error_description": exc.description, **exc.extra}
    return JSONResponse(body, status_code=exc.status, headers=headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (FastAPI keeps one route per method,
    inside included routers, so Starlette's own Allow header names only the first)."""
    probe = {"type": "http", "path": request.url.path, "root_path": "", "method": "__NONE__"}
    methods: set[str] = set()

    def walk(routes: Iterable[Any]) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(inner.routes)
            elif getattr(route, "methods", None) and route.matches(probe)[0] != Match.NONE:
                methods.update(route.methods)

    walk(request.app.router.routes)
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(PhonegateError)
    async def _domain(request: Request, exc: PhonegateError) -> JSONResponse:
        return render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "path", "query"))
        message = f"Payload validation error: {first.get('msg', 'invalid input')}" + (
            f" at {where}" if where else ""
        )
        return render(
            request,
            PhonegateError(message, status=400, error="invalid_request", error_code="invalid_body"),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        error = {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "invalid_request"
        )
        message = {404: "Not Found", 405: "Method Not Allowed"}.get(
            exc.status_code, str(exc.detail)
        )
        return render(
            request,
            PhonegateError(message, status=exc.status_code, error=error, headers=headers),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(
            request,
            PhonegateError(
                "Internal error.", status=500, error="server_error", error_code="server_error"
            ),
        )
