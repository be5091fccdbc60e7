"""``/admin/login`` and ``/admin/logout``: the dashboard's own sign-in, with an admin's email
and password (``domain.admins``: wrong passwords are limited per account and per IP)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from phonegate.domain import admins
from phonegate.errors import PhonegateError
from phonegate.web.admin import cookies, csrf
from phonegate.web.admin import session as sessions
from phonegate.web.admin.context import HOME, AdminRequest, AdminRoute, SignInRequired, signed_in
from phonegate.web.admin.rendering import render
from phonegate.web.login.flow import form_status, form_text
from phonegate.web.login.security import redirect
from phonegate.web.requests import container, read_object, request_context, tenant_scope

router = APIRouter(route_class=AdminRoute)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a dashboard path only, never another site."""
    if value and (value == "/admin" or value.startswith("/admin/")) and "//" not in value:
        return value if "\\" not in value else HOME
    return HOME


async def _brand(request: Request) -> str:
    async with tenant_scope(request) as (_, tenant):
        return tenant.settings.friendly_name


def _form(
    request: Request,
    brand: str,
    *,
    status: int = 200,
    email: str = "",
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    nonce = request.cookies.get(csrf.SIGN_IN_COOKIE) or csrf.sign_in_nonce()
    response = render(
        "login.html",
        brand,
        status=status,
        csrf=csrf.sign_in_token(container(request).keys, nonce),
        email=email,
        error=error,
        next=safe_next(request.query_params.get("next")),
        signed_out=request.query_params.get("signed_out") == "1",
    )
    response.headers.update(headers or {})
    cookies.put(response, request, csrf.SIGN_IN_COOKIE, nonce, csrf.SIGN_IN_SECONDS)
    return response


@router.get("/admin/login", include_in_schema=False)
async def login_page(request: Request) -> Response:
    try:
        await signed_in(request)
        return redirect(safe_next(request.query_params.get("next")))
    except SignInRequired:
        return _form(request, await _brand(request))


@router.post("/admin/login", include_in_schema=False)
async def login_submit(request: Request) -> Response:
    c = container(request)
    form = await read_object(request)
    nonce = request.cookies.get(csrf.SIGN_IN_COOKIE)
    if not nonce:
        raise csrf.CsrfRefused
    csrf.check(csrf.sign_in_token(c.keys, nonce), form)
    email = form_text(form, "email", 320).strip()
    password = form_text(form, "password", 1024)
    brand = await _brand(request)
    if not email or not password:
        return _form(
            request, brand, status=400, email=email, error="Enter your email and password."
        )
    try:
        async with tenant_scope(request) as (uow, tenant):
            admin = await admins.sign_in(
                uow, c.deps, tenant.id, email, password, request_context(request).ip
            )
    except PhonegateError as exc:
        return _form(
            request,
            brand,
            status=form_status(exc),
            email=email,
            error=exc.description,
            headers=exc.headers,
        )
    response = redirect(safe_next(form_text(form, "next", 512)))
    sessions.store(response, request, sessions.start(admin, c.clock.now()), c.keys)
    cookies.drop(response, request, csrf.SIGN_IN_COOKIE)
    return response


@router.post("/admin/logout", include_in_schema=False)
async def logout(admin: AdminRequest = Depends(signed_in)) -> Response:
    await admin.form()
    c = container(admin.request)
    async with c.unit_of_work() as uow:
        await admins.sign_out(uow, admin.admin, c.clock.now())
    admin.request.state.admin_session = None  # nothing to renew
    response = redirect("/admin/login?signed_out=1")
    sessions.clear(response, admin.request)
    return response


@router.get("/admin", include_in_schema=False)
async def home(_: AdminRequest = Depends(signed_in)) -> Response:
    return redirect(HOME)
