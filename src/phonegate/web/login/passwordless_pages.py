"""Passwordless SMS through Universal Login ("Continue with phone"; Auth0's
login-passwordless-sms-otp screens): the phone page (country and number) starts a code the
way ``/passwordless/start`` does, the code page signs in with it the way the
``passwordless/otp`` grant does, and the login ends at the application's callback like the
password path (``domain.authorization``'s phone steps)."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from phonegate import phone
from phonegate.domain import authorization, connections, passwordless
from phonegate.errors import PhonegateError
from phonegate.phone import countries, default_region, international
from phonegate.web.login.flow import (
    PAGES,
    Flow,
    PageRoute,
    form_status,
    form_text,
    languages,
    open_flow,
)
from phonegate.web.login.messages import describe
from phonegate.web.requests import deliver_after_commit, read_object

router = APIRouter(route_class=PageRoute)
PHONE_PAGE, CODE_PAGE = PAGES["sms_phone"], PAGES["sms_code"]
# The passwordless API's refusals in the pages' words: by error name, and by Auth0's
# description where only the description tells them apart.
BY_NAME = {
    "bad.phone_number": "invalid_phone_number",
    "bad.connection": "connection_disabled",
    "too_many_requests": "ip_blocked",
    "sms_provider_error": "error_sending_sms",
    "invalid_grant": "invalid_otp",
}
BY_DESCRIPTION = {
    passwordless.SIGNUP_DISABLED: "signup_disabled",
    passwordless.TOO_MANY_ATTEMPTS: "too_many_attempts",
    "user is blocked": "user_blocked",
}


def _error(flow: Flow, exc: PhonegateError, digits: int = connections.DEFAULT_LENGTH) -> Markup:
    """The refusal's text; ``digits`` matters only to the code page's format error."""
    key = BY_DESCRIPTION.get(exc.description)
    if key:
        return flow.t(f"error.{key}")
    wait = authorization.resend_wait(flow.txn, flow.deps.clock.now())
    return describe(flow.t, exc, overrides=BY_NAME, digits=digits, seconds=wait)


# --- the phone number ------------------------------------------------------------------


def _phone_page(
    flow: Flow,
    *,
    status: int = 200,
    error: Markup | None = None,
    number: str = "",
    region: str = "",
) -> HTMLResponse:
    return flow.page(
        "passwordless_phone.html",
        status=status,
        error=error,
        countries=countries(flow.t.locale),
        region=region or default_region([flow.txn.ui_locales, *languages(flow.request)]),
        number=number,
        # Back to the password only from where the link was followed.
        password_login=flow.txn.stage == "login",
    )


@router.get(PHONE_PAGE)
async def phone_page(request: Request) -> Response:
    async with open_flow(request, "login", "sms_phone", "sms_code") as flow:
        await authorization.sms_connection(flow.uow, flow.tenant, flow.app, flow.txn)
        return _phone_page(flow)


@router.post(PHONE_PAGE)
async def phone_submit(request: Request, background: BackgroundTasks) -> Response:
    form = await read_object(request)
    async with open_flow(request, "login", "sms_phone", "sms_code", form=form) as flow:
        region = form_text(form, "country", 2).upper()
        number = form_text(form, "phone_number", 40)
        try:
            await authorization.send_login_code(
                flow.uow,
                flow.deps,
                flow.tenant,
                flow.app,
                flow.txn,
                international(region, number),
                flow.ctx,
            )
        except PhonegateError as exc:
            return _phone_page(
                flow, status=form_status(exc), error=_error(flow, exc), number=number, region=region
            )
        response = await flow.advance()
    deliver_after_commit(request, background)
    return response


# --- the code --------------------------------------------------------------------------


async def _code_page(
    flow: Flow, *, status: int = 200, refused: PhonegateError | None = None
) -> HTMLResponse:
    connection = await authorization.sms_connection(flow.uow, flow.tenant, flow.app, flow.txn)
    digits = connections.sms_options(connection).code_length
    wait = authorization.resend_wait(flow.txn, flow.deps.clock.now())
    return flow.page(
        "passwordless_code.html",
        status=status,
        error=_error(flow, refused, digits) if refused else None,
        # Isolated, so a right-to-left page shows the number in its own order.
        masked=Markup("<bdi>{}</bdi>").format(phone.mask(flow.txn.phone_number or "")),
        digits=digits,
        wait=wait,
        # The number a script may count down (static/pages.js).
        wait_span=Markup('<span data-wait="{0}">{0}</span>').format(wait),
    )


@router.get(CODE_PAGE)
async def code_page(request: Request) -> Response:
    async with open_flow(request, "sms_code") as flow:
        return await _code_page(flow)


@router.post(CODE_PAGE)
async def code_submit(request: Request) -> Response:
    form = await read_object(request)
    async with open_flow(request, "sms_code", form=form) as flow:
        try:
            await authorization.sign_in_with_code(
                flow.uow,
                flow.deps,
                flow.tenant,
                flow.app,
                flow.txn,
                form_text(form, "code", 32),
                flow.auds,
                flow.ctx,
            )
        except PhonegateError as exc:
            return await _code_page(flow, status=form_status(exc), refused=exc)
        return await flow.advance()


@router.post(CODE_PAGE + "/resend")
async def resend(request: Request, background: BackgroundTasks) -> Response:
    form = await read_object(request)
    async with open_flow(request, "sms_code", form=form) as flow:
        try:
            await authorization.resend_login_code(
                flow.uow, flow.deps, flow.tenant, flow.app, flow.txn, flow.ctx
            )
        except PhonegateError as exc:
            return await _code_page(flow, status=form_status(exc), refused=exc)
        response = await flow.advance()
    deliver_after_commit(request, background)
    return response
