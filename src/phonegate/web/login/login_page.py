"""``/u/login``: the first factor, email (or verified phone number) and password, with a
link to passwordless SMS when the application may use the tenant's sms connection."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from phonegate.domain import authorization, login
from phonegate.domain.authorization import StepError
from phonegate.errors import PhonegateError
from phonegate.web.login.flow import Flow, PageRoute, form_status, form_text, open_flow
from phonegate.web.login.messages import describe
from phonegate.web.requests import container, deliver_after_commit, read_object, tenant_scope

router = APIRouter(route_class=PageRoute)
# The password grant's "Wrong email or password." is an invalid_grant.
LOGIN_ERRORS = {"invalid_grant": "wrong_credentials", "invalid_request": "wrong_credentials"}


async def _login(
    flow: Flow, identifier: str, *, status: int = 200, error: Markup | None = None
) -> HTMLResponse:
    phone = await authorization.offers_sms_login(flow.uow, flow.tenant, flow.app, flow.txn)
    return flow.page(
        "login.html", status=status, identifier=identifier, error=error, phone_login=phone
    )


@router.get("/u/login")
async def login_page(request: Request) -> Response:
    async with open_flow(request, "login") as flow:
        return await _login(flow, flow.txn.login_hint)


@router.post("/u/login")
async def login_submit(request: Request, background: BackgroundTasks) -> Response:
    form = await read_object(request)
    identifier = form_text(form, "username", 320).strip()
    password = form_text(form, "password", 1024)
    checked: login.CheckedPassword | None = None
    if identifier and password:
        # argon2 before the page's transaction, never inside it (it would hold the lock).
        c = container(request)
        async with tenant_scope(request, read_only=True) as (uow, tenant):
            stored = await authorization.password_first(uow, tenant, identifier)
        checked = await login.verify_outside(c.deps, stored, {"password": password})
    async with open_flow(request, "login", form=form) as flow:
        try:
            if not identifier or not password:
                raise StepError("missing_credentials", "Enter your identifier and password.")
            await authorization.sign_in(
                flow.uow,
                flow.deps,
                flow.tenant,
                flow.app,
                flow.txn,
                identifier,
                password,
                flow.auds,
                flow.ctx,
                checked=checked,
            )
        except PhonegateError as exc:
            error = describe(flow.t, exc, overrides=LOGIN_ERRORS)
            return await _login(flow, identifier, status=form_status(exc), error=error)
        response = await flow.advance()
    deliver_after_commit(request, background)  # the first challenge's code, if one was sent
    return response
