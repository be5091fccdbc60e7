"""User Management > Users: find a user by email (``/api/v2/users-by-email``) or by id, and a
user's page with their authentication methods and recent events, "Reset MFA" (after a
confirmation) and "Regenerate recovery code" (the new code shown once)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response

from phonegate.web.admin.context import AdminRequest, AdminRoute, signed_in

router = APIRouter(prefix="/admin/users", route_class=AdminRoute)

PAGE = "/admin/users"
RECENT_EVENTS = 10


def _path(user_id: str) -> str:
    """A user id (``auth0|…``) as one path segment."""
    return quote(user_id, safe="")


@router.get("", include_in_schema=False)
async def search(request: Request, admin: AdminRequest = Depends(signed_in)) -> Response:
    wanted = request.query_params.get("q", "").strip()[:320]
    found: list[dict[str, Any]] = []
    error = None
    if wanted:
        if "@" in wanted:
            answer = await admin.api.call("GET", "/users-by-email", params={"email": wanted})
        else:
            answer = await admin.api.call("GET", f"/users/{_path(wanted)}")
        if answer.ok:
            found = answer.body if isinstance(answer.body, list) else [answer.body]
        elif answer.status != 404:
            error = answer.message
    return admin.page(
        "users.html",
        status=400 if error else 200,
        current="users",
        wanted=wanted,
        users=found,
        error=error,
        path=_path,
    )


async def _user(admin: AdminRequest, user_id: str) -> dict[str, Any]:
    user: dict[str, Any] = await admin.api.get(f"/users/{_path(user_id)}")
    return user


@router.get("/{user_id}", include_in_schema=False)
async def show(user_id: str, admin: AdminRequest = Depends(signed_in)) -> Response:
    user = await _user(admin, user_id)
    methods = await admin.api.get(f"/users/{_path(user_id)}/authentication-methods")
    events = await admin.api.get(
        f"/users/{_path(user_id)}/logs", params={"per_page": str(RECENT_EVENTS)}
    )
    return admin.page(
        "user.html",
        current="users",
        user=user,
        methods=methods,
        events=events,
        path=_path,
    )


@router.get("/{user_id}/reset-mfa", include_in_schema=False)
async def confirm_reset(user_id: str, admin: AdminRequest = Depends(signed_in)) -> Response:
    return admin.page(
        "user_reset.html", current="users", user=await _user(admin, user_id), path=_path
    )


@router.post("/{user_id}/reset-mfa", include_in_schema=False)
async def reset(user_id: str, admin: AdminRequest = Depends(signed_in)) -> Response:
    await admin.form()
    await admin.api.must("DELETE", f"/users/{_path(user_id)}/authenticators")
    return admin.done(
        f"{PAGE}/{_path(user_id)}",
        "MFA is reset: the user's phones and recovery code are removed; they enroll again at "
        "their next sign-in.",
        section="methods",
    )


@router.post("/{user_id}/recovery-code", include_in_schema=False)
async def regenerate(user_id: str, admin: AdminRequest = Depends(signed_in)) -> Response:
    await admin.form()
    issued = await admin.api.must("POST", f"/users/{_path(user_id)}/recovery-code-regeneration")
    return admin.done(
        f"{PAGE}/{_path(user_id)}",
        "A new recovery code: give it to the user now, it is not shown again. The previous "
        "one no longer works.",
        result={"recovery_code": issued["recovery_code"]},
        section="recovery",
    )
