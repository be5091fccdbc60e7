"""Management API: users of the database connection and their phone authenticators."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from phonegate.domain import challenges, enrollments, users
from phonegate.domain.models import User
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import InvalidRequest, NotFound
from phonegate.phone import mask
from phonegate.web.management.auth import management_scope, record_write
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import users as doc
from phonegate.web.management.schemas.common import AnyObject
from phonegate.web.requests import container, read_object, request_context

router = APIRouter(prefix="/api/v2/users")


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def user_json(user: User, multifactor: list[str] | None = None) -> dict[str, Any]:
    provider, _, identity_id = user.user_id.partition("|")
    body: dict[str, Any] = {"user_id": user.user_id}
    if user.email is not None:
        body.update(email=user.email, email_verified=user.email_verified)
    if user.phone_number:
        body.update(phone_number=user.phone_number, phone_verified=user.phone_verified)
    body.update(
        {
            "name": user.name,
            "nickname": user.nickname,
            "created_at": _iso(user.created_at),
            "updated_at": _iso(user.updated_at),
            "identities": [
                {
                    "connection": user.connection,
                    "user_id": identity_id,
                    "provider": provider,
                    "isSocial": False,
                }
            ],
            "app_metadata": user.app_metadata,
            "user_metadata": user.user_metadata,
            "blocked": user.blocked,
            "logins_count": user.logins_count,
        }
    )
    if user.last_login:
        body["last_login"] = _iso(user.last_login)
    if multifactor:
        body["multifactor"] = multifactor
    return body


def _id(raw: str) -> str:
    user_id = unquote(raw)
    if len(user_id) > 128:
        raise InvalidRequest(
            "Path validation error: user_id is too long.", error_code="invalid_uri"
        )
    return user_id


@router.post(
    "",
    status_code=201,
    **documented(
        "Create a user",
        tag="users",
        scopes=["create:users"],
        body=doc.UserCreate,
        response=doc.User,
        status=201,
        errors=[409],
    ),
)
async def create_user(request: Request) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "create:users") as (uow, tenant, _):
        body = await read_object(request)
        user = await users.create_user(uow, c.deps, tenant.id, body, request_context(request))
    return JSONResponse(user_json(user), status_code=201)


@router.get(
    "/{user_id}",
    **documented(
        "Get a user", tag="users", scopes=["read:users"], response=doc.User, errors=[400, 404]
    ),
)
async def get_user(request: Request, user_id: str) -> JSONResponse:
    async with management_scope(request, "read:users") as (uow, tenant, _):
        user = await users.get_user(uow, tenant.id, _id(user_id))
        enrolled = any(
            a.confirmed for a in await uow.authenticators.list_for_user(tenant.id, user.user_id)
        )
    return JSONResponse(user_json(user, ["guardian"] if enrolled else None))


@router.patch(
    "/{user_id}",
    **documented(
        "Update a user",
        tag="users",
        scopes=["update:users"],
        body=doc.UserUpdate,
        response=doc.User,
        errors=[404, 409],
    ),
)
async def update_user(request: Request, user_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "update:users") as (uow, tenant, caller):
        body = await read_object(request)
        user = await users.update_user(uow, c.deps, tenant.id, _id(user_id), body)
        await record_write(request, uow, tenant.id, caller, "Update a user", user_id=user.user_id)
    return JSONResponse(user_json(user))


@router.delete(
    "/{user_id}",
    status_code=204,
    **documented(
        "Delete a user", tag="users", scopes=["delete:users"], status=204, errors=[400, 404]
    ),
)
async def delete_user(request: Request, user_id: str) -> Response:
    c = container(request)
    async with management_scope(request, "delete:users") as (uow, tenant, _):
        await users.delete_user(uow, c.deps, tenant.id, _id(user_id), request_context(request))
    return Response(status_code=204)


def _page_params(request: Request) -> tuple[int, int, bool]:
    q = request.query_params
    try:
        page = int(q.get("page", "0"))
        per_page = int(q.get("per_page", "50"))
    except ValueError:
        raise InvalidRequest(
            "Query validation error: page and per_page must be integers.",
            error_code="invalid_query_string",
        ) from None
    if page < 0 or not 1 <= per_page <= 100:
        raise InvalidRequest(
            "Query validation error: page must be >= 0 and per_page 1..100.",
            error_code="invalid_query_string",
        )
    return page, per_page, q.get("include_totals", "false").lower() == "true"


async def _methods(uow: UnitOfWork, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
    auths = await uow.authenticators.list_for_user(tenant_id, user_id)
    codes = [rc for rc in await uow.recovery_codes.get_for_user(tenant_id, user_id) if rc.confirmed]
    methods = enrollments.authentication_methods(auths, bool(codes), codes[0].id if codes else None)
    for method in methods:
        method.setdefault("created_at", _iso(codes[0].created_at) if codes else None)
    return methods


@router.get(
    "/{user_id}/authentication-methods",
    **documented(
        "List a user's authentication methods",
        tag="users",
        scopes=["read:authentication_methods", "read:users"],
        response=doc.AuthenticationMethods,
        query=doc.AUTHENTICATION_METHODS_QUERY,
        errors=[400, 404],
    ),
)
async def authentication_methods(request: Request, user_id: str) -> JSONResponse:
    scopes = ("read:authentication_methods", "read:users")
    async with management_scope(request, *scopes) as (uow, tenant, _):
        page, per_page, totals = _page_params(request)
        user = await users.get_user(uow, tenant.id, _id(user_id))
        methods = await _methods(uow, tenant.id, user.user_id)
    chunk = methods[page * per_page : (page + 1) * per_page]
    if totals:
        return JSONResponse(
            {
                "authenticators": chunk,
                "start": page * per_page,
                "limit": per_page,
                "total": len(methods),
            }
        )
    return JSONResponse(chunk)


@router.get(
    "/{user_id}/authentication-methods/{method_id}",
    **documented(
        "Get an authentication method",
        tag="users",
        scopes=["read:authentication_methods", "read:users"],
        response=doc.AuthenticationMethod,
        errors=[400, 404],
    ),
)
async def authentication_method(request: Request, user_id: str, method_id: str) -> JSONResponse:
    scopes = ("read:authentication_methods", "read:users")
    async with management_scope(request, *scopes) as (uow, tenant, _):
        user = await users.get_user(uow, tenant.id, _id(user_id))
        methods = await _methods(uow, tenant.id, user.user_id)
    found = next((m for m in methods if m["id"] == unquote(method_id)), None)
    if found is None:
        raise NotFound(
            "Authentication method not found.", error_code="authentication_method_not_found"
        )
    return JSONResponse(found)


@router.delete(
    "/{user_id}/authentication-methods/{method_id}",
    status_code=204,
    **documented(
        "Delete an authentication method",
        tag="users",
        scopes=["delete:authentication_methods", "delete:users"],
        status=204,
        errors=[400, 404],
    ),
)
async def delete_authentication_method(request: Request, user_id: str, method_id: str) -> Response:
    c = container(request)
    scopes = ("delete:authentication_methods", "delete:users")
    async with management_scope(request, *scopes) as (uow, tenant, caller):
        user = await users.get_user(uow, tenant.id, _id(user_id))
        raw = unquote(method_id)
        try:
            await enrollments.delete_authenticator(
                uow, c.deps, tenant, user, raw, request_context(request), caller.client_id
            )
        except (NotFound, InvalidRequest):
            raise NotFound(
                "Authentication method not found.", error_code="authentication_method_not_found"
            ) from None
    return Response(status_code=204)


@router.delete(
    "/{user_id}/authentication-methods",
    status_code=204,
    **documented(
        "Delete all of a user's authentication methods",
        tag="users",
        scopes=["delete:authentication_methods", "delete:users"],
        status=204,
        errors=[400, 404],
    ),
)
async def delete_authentication_methods(request: Request, user_id: str) -> Response:
    c = container(request)
    scopes = ("delete:authentication_methods", "delete:users")
    async with management_scope(request, *scopes) as (uow, tenant, _):
        user = await users.get_user(uow, tenant.id, _id(user_id))
        await enrollments.delete_all(uow, c.deps, tenant, user, request_context(request))
    return Response(status_code=204)


@router.get(
    "/{user_id}/enrollments",
    **documented(
        "List a user's Guardian enrollments",
        tag="users",
        scopes=["read:users", "read:guardian_enrollments"],
        response=list[doc.Enrollment],
        errors=[400, 404],
    ),
)
async def guardian_enrollments(request: Request, user_id: str) -> JSONResponse:
    async with management_scope(request, "read:users", "read:guardian_enrollments") as (
        uow,
        tenant,
        _,
    ):
        user = await users.get_user(uow, tenant.id, _id(user_id))
        auths = await uow.authenticators.list_for_user(tenant.id, user.user_id)
    return JSONResponse(
        [
            {
                "id": a.id,
                "status": "confirmed" if a.confirmed else "pending",
                "type": "sms",
                "name": a.name or "",
                "phone_number": mask(a.phone_number),
                "auth_method": a.channel,
                "enrolled_at": _iso(a.confirmed_at),
                "last_auth": _iso(a.last_auth_at),
            }
            for a in auths
        ]
    )


@router.delete(
    "/{user_id}/authenticators",
    status_code=204,
    **documented(
        "Delete all of a user's MFA enrollments",
        tag="users",
        scopes=["delete:guardian_enrollments", "delete:users"],
        status=204,
        errors=[400, 404],
    ),
)
async def delete_authenticators(request: Request, user_id: str) -> Response:
    c = container(request)
    async with management_scope(request, "delete:guardian_enrollments", "delete:users") as (
        uow,
        tenant,
        _,
    ):
        user = await users.get_user(uow, tenant.id, _id(user_id))
        await enrollments.delete_all(uow, c.deps, tenant, user, request_context(request))
    return Response(status_code=204)


@router.post(
    "/{user_id}/recovery-code-regeneration",
    **documented(
        "Regenerate a user's recovery code",
        tag="users",
        scopes=["update:users"],
        body=AnyObject,
        body_required=False,
        response=doc.RecoveryCode,
        errors=[404],
    ),
)
async def regenerate_recovery_code(request: Request, user_id: str) -> JSONResponse:
    c = container(request)
    async with management_scope(request, "update:users") as (uow, tenant, caller):
        await read_object(request)
        user = await users.get_user(uow, tenant.id, _id(user_id))
        await uow.recovery_codes.delete_all(tenant.id, user.user_id)
        _, code = await challenges.add_recovery_code(
            uow, c.deps, tenant.id, user.user_id, confirmed=True
        )
        await record_write(
            request, uow, tenant.id, caller, "Regenerate a recovery code", user_id=user.user_id
        )
    return JSONResponse({"recovery_code": code})
