"""The Management API's OpenAPI 3.1 document, served at ``GET /api/v2/openapi.json``.

The handlers read their bodies themselves and answer ``JSONResponse``, so FastAPI cannot
infer a schema. Each route therefore declares its operation in its decorator with
:func:`documented` (the models are in ``schemas/``), and :func:`build_document` turns
FastAPI's document of the ``/api/v2`` routes into the published one: only the responses a
route declares (FastAPI adds a 200 of its own where the handler, not the decorator, sets the
status; a response declared without a model has no body), request-body models moved into
the components, and the bearer scheme.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import TypeAdapter

from phonegate.web.management.schemas.errors import ManagementError

PREFIX = "/api/v2/"
SECURITY_SCHEME = "managementToken"
COMPONENTS = "#/components/schemas/"

_ERRORS = {
    400: "The request is invalid: its body, query or path (errorCode says which).",
    401: "The bearer token is missing, invalid or expired.",
    403: "The token carries none of the scopes the operation accepts.",
    404: "What the path names does not exist.",
    409: "It conflicts with what exists already.",
    413: "The body is larger than the server takes.",
    415: "The body is neither JSON nor a form.",
    503: "The provider could not be reached; try again.",
}
_BODY_ERRORS = (400, 413, 415)
_ANY_OTHER = "Any other failure, in the same shape (a host with no tenant: 404; a server error)."

TAGS = [
    {"name": "users", "description": "Users and their phone authenticators."},
    {"name": "guardian", "description": "The Guardian factors, the phone factor, MFA policies."},
    {"name": "branding", "description": "The tenant phone provider and templates (Auth0's UPE)."},
    {"name": "phone", "description": "phonegate: fallback providers, the chain, messages."},
    {"name": "actions", "description": "Operator code for the phone triggers."},
    {"name": "connections", "description": "The database and passwordless sms connections."},
    {"name": "logs", "description": "The tenant log."},
    {"name": "log streams", "description": "Log streams and spike-alert rules."},
    {"name": "attack protection", "description": "phonegate: abuse limits for phone messages."},
    {"name": "tenants", "description": "The tenant's name in messages and default language."},
    {"name": "sandbox", "description": "What the built-in development providers sent."},
]
DESCRIPTION = (
    "Auth0's Management API v2 as phonegate serves it, with phonegate's additions. Every "
    "operation takes a bearer JWT from the client_credentials grant for the audience "
    "https://{host}/api/v2/ carrying one of the scopes its security lists. Bodies are JSON "
    "(a form body is read alike); a JSON null means the field is absent. Errors are "
    '{"statusCode", "error", "message", "errorCode"?}.'
)


def documented(
    summary: str,
    *,
    tag: str,
    scopes: Sequence[str],
    response: Any = None,
    status: int = 200,
    body: Any = None,
    body_required: bool = True,
    errors: Iterable[int] = (),
    failures: Mapping[int, Any] | None = None,
    query: Sequence[dict[str, Any]] = (),
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A route decorator's OpenAPI arguments: ``@router.get(path, **documented(...))``.

    ``scopes`` are those the handler's ``management_scope`` accepts, any one of them (one
    security requirement each); ``response`` the model of the ``status`` answer (None: no
    body); ``errors`` the Management-error statuses beyond 401, 403 and, with a ``body``,
    400/413/415; ``failures`` statuses answered in another shape, with their models.
    """
    success: dict[str, Any] = {"description": HTTPStatus(status).phrase}
    if response is not None:
        success["model"] = response
    if headers:
        success["headers"] = headers
    codes = {401, 403, *errors, *(_BODY_ERRORS if body is not None else ())}
    responses: dict[int | str, dict[str, Any]] = {status: success}
    for code in sorted(codes | set(failures or {})):
        model = (failures or {}).get(code, ManagementError)
        responses[code] = {"model": model, "description": _ERRORS[code]}
    responses["default"] = {"model": ManagementError, "description": _ANY_OTHER}
    extra: dict[str, Any] = {"security": [{SECURITY_SCHEME: [scope]} for scope in scopes]}
    if body is not None:
        schema = TypeAdapter(body).json_schema(ref_template=COMPONENTS + "{model}")
        extra["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": schema}},
        }
    if query:
        extra["parameters"] = list(query)
    return {"summary": summary, "tags": [tag], "responses": responses, "openapi_extra": extra}


def management_routes(app: FastAPI) -> list[RouteContext]:
    """The documented ``/api/v2`` routes of the app."""
    return [
        route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        and (route.path_format or "").startswith(PREFIX)
        and route.include_in_schema
    ]


def _status_key(code: int | str) -> str:
    return "default" if str(code).lower() == "default" else str(code)


def _add_schemas(schemas: dict[str, Any], found: Mapping[str, Any]) -> None:
    for name, schema in found.items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name}: rename one")


def build_document(app: FastAPI) -> dict[str, Any]:
    routes = management_routes(app)
    document = get_openapi(
        title=f"{app.title} Management API",
        version=app.version,
        openapi_version="3.1.0",
        description=DESCRIPTION,
        routes=routes,
        tags=TAGS,
    )
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for route in routes:
        declared = {_status_key(code): answer for code, answer in route.responses.items()}
        for method in route.methods or ():
            operation = document["paths"][route.path_format][method.lower()]
            operation["responses"] = {
                code: answer for code, answer in operation["responses"].items() if code in declared
            }
            for code, answer in operation["responses"].items():
                if "model" not in declared[code]:
                    answer.pop("content", None)  # FastAPI's empty schema for the route's status
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                # Nested models were written as component references: add the components.
                _add_schemas(schemas, media["schema"].pop("$defs", {}))
    components["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A Management API access token (client_credentials grant).",
        }
    }
    return document


router = APIRouter(prefix="/api/v2")


@router.get("/openapi.json", include_in_schema=False)
async def openapi_document(request: Request) -> JSONResponse:
    """No token needed: the document describes the API and reveals no tenant's data."""
    state = request.app.state
    if getattr(state, "management_openapi", None) is None:
        # Built once per app (so per process); the routes do not change after start-up.
        state.management_openapi = build_document(request.app)
    return JSONResponse(state.management_openapi)
