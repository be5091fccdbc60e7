"""Management API: Auth0's ``GET /api/v2/users-by-email`` (auth0-api.md §3.5), the users
whose email is the one given, compared case-insensitively (an array: Auth0 may hold one per
connection; phonegate's one database connection holds at most one)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from phonegate.errors import InvalidRequest
from phonegate.web.management.auth import management_scope
from phonegate.web.management.openapi import documented
from phonegate.web.management.schemas import users as doc
from phonegate.web.management.schemas.common import TEXT, query
from phonegate.web.management.users import user_json

router = APIRouter(prefix="/api/v2")

MAX_EMAIL_CHARS = 320
EMAIL_QUERY = [{**query("email", TEXT, "The email, in any case."), "required": True}]


@router.get(
    "/users-by-email",
    **documented(
        "Find users by email",
        tag="users",
        scopes=["read:users"],
        response=list[doc.User],
        query=EMAIL_QUERY,
        errors=[400],
    ),
)
async def users_by_email(request: Request) -> JSONResponse:
    async with management_scope(request, "read:users") as (uow, tenant, _):
        email = request.query_params.get("email", "").strip()
        if not email or len(email) > MAX_EMAIL_CHARS:
            raise InvalidRequest(
                "Query validation error: email is required (at most 320 characters).",
                error_code="invalid_query_string",
            )
        user = await uow.users.get_by_email(tenant.id, email)
    return JSONResponse([user_json(user)] if user is not None else [])
