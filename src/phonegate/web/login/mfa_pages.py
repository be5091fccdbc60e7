"""The phone factor's pages: enrollment (country and number, SMS or voice), the code, the
recovery code, and the new recovery code shown once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from phonegate import phone
from phonegate.domain import authorization
from phonegate.domain.authorization import StepError
from phonegate.domain.models import CHANNELS, Channel
from phonegate.errors import PhonegateError
from phonegate.phone import countries, default_region, international
from phonegate.web.login.flow import (
    PAGES,
    Flow,
    MovedOn,
    PageRoute,
    form_status,
    form_text,
    languages,
    open_flow,
)
from phonegate.web.login.messages import describe
from phonegate.web.requests import deliver_after_commit, read_object

router = APIRouter(route_class=PageRoute, prefix="/u")


def _channels(flow: Flow) -> list[Channel]:
    return [ch for ch in CHANNELS if ch in flow.tenant.settings.message_types]


def _chosen(flow: Flow, form: Mapping[str, object]) -> Channel:
    offered = _channels(flow)
    wanted = form_text(form, "channel", 8)
    return next((ch for ch in offered if ch == wanted), offered[0] if offered else "sms")


def _error(flow: Flow, exc: PhonegateError) -> Markup:
    return describe(
        flow.t,
        exc,
        digits=flow.tenant.settings.otp_length,
        seconds=authorization.resend_wait(flow.txn, flow.deps.clock.now()),
    )


# --- enrollment ------------------------------------------------------------------------


def _enrollment(
    flow: Flow,
    *,
    status: int = 200,
    error: Markup | None = None,
    number: str = "",
    region: str = "",
) -> HTMLResponse:
    return flow.page(
        "mfa_enroll.html",
        status=status,
        error=error,
        countries=countries(flow.t.locale),
        region=region or default_region([flow.txn.ui_locales, *languages(flow.request)]),
        number=number,
        channels=_channels(flow),
        channel=flow.txn.channel or "sms",
    )


@router.get("/mfa-phone-enrollment")
async def enrollment_page(request: Request) -> Response:
    async with open_flow(request, "enroll", "challenge") as flow:
        if not flow.txn.enrolling and flow.txn.stage == "challenge":
            raise MovedOn(PAGES["challenge"])
        return _enrollment(flow)


@router.post("/mfa-phone-enrollment")
async def enrollment_submit(request: Request, background: BackgroundTasks) -> Response:
    form = await read_object(request)
    async with open_flow(request, "enroll", "challenge", form=form) as flow:
        region = form_text(form, "country", 2).upper()
        number = form_text(form, "phone_number", 40)
        try:
            await authorization.enroll(
                flow.uow,
                flow.deps,
                flow.tenant,
                flow.app,
                flow.txn,
                international(region, number),
                _chosen(flow, form),
                flow.ctx,
            )
        except PhonegateError as exc:
            return _enrollment(
                flow, status=form_status(exc), error=_error(flow, exc), number=number, region=region
            )
        response = await flow.advance()
    deliver_after_commit(request, background)
    return response


# --- the code --------------------------------------------------------------------------


def _challenge(flow: Flow, *, status: int = 200, error: Markup | None = None) -> HTMLResponse:
    txn = flow.txn
    offered = _channels(flow)
    wait = authorization.resend_wait(txn, flow.deps.clock.now())
    context: dict[str, Any] = {
        # Isolated, so a right-to-left page shows the number in its own order.
        "masked": Markup("<bdi>{}</bdi>").format(phone.mask(txn.phone_number or "")),
        "channel": txn.channel or "sms",
        "sent": txn.oob_code is not None,
        "other": next((ch for ch in offered if ch != txn.channel), None),
        "enrolling": txn.enrolling,
        "digits": flow.tenant.settings.otp_length,
        "wait": wait,
        # The number a script may count down (static/pages.js).
        "wait_span": Markup('<span data-wait="{0}">{0}</span>').format(wait),
    }
    return flow.page("mfa_code.html", status=status, error=error, **context)


@router.get("/mfa-phone-challenge")
async def challenge_page(request: Request) -> Response:
    async with open_flow(request, "challenge") as flow:
        notice, flow.txn.notice = flow.txn.notice, None
        error = _error(flow, StepError(notice, notice)) if notice else None
        return _challenge(flow, error=error)


@router.post("/mfa-phone-challenge")
async def challenge_submit(request: Request) -> Response:
    form = await read_object(request)
    async with open_flow(request, "challenge", form=form) as flow:
        try:
            await authorization.check_code(
                flow.uow,
                flow.deps,
                flow.tenant,
                flow.app,
                flow.txn,
                form_text(form, "code", 32),
                flow.ctx,
            )
        except PhonegateError as exc:
            return _challenge(flow, status=form_status(exc), error=_error(flow, exc))
        return await flow.advance()


@router.post("/mfa-phone-challenge/resend")
async def resend(request: Request, background: BackgroundTasks) -> Response:
    """Another code, or the code by the other channel ("Get a call instead")."""
    form = await read_object(request)
    async with open_flow(request, "challenge", form=form) as flow:
        wanted = form_text(form, "channel", 8)
        channel: Channel | None = next((ch for ch in CHANNELS if ch == wanted), None)
        try:
            await authorization.resend(
                flow.uow, flow.deps, flow.tenant, flow.app, flow.txn, channel, flow.ctx
            )
        except PhonegateError as exc:
            return _challenge(flow, status=form_status(exc), error=_error(flow, exc))
        response = await flow.advance()
    deliver_after_commit(request, background)
    return response


# --- recovery codes --------------------------------------------------------------------


@router.get("/mfa-recovery-code")
async def recovery_page(request: Request) -> Response:
    async with open_flow(request, "challenge") as flow:
        if flow.txn.enrolling:
            raise MovedOn(PAGES["challenge"])
        return flow.page("mfa_recovery.html", error=None)


@router.post("/mfa-recovery-code")
async def recovery_submit(request: Request) -> Response:
    form = await read_object(request)
    async with open_flow(request, "challenge", form=form) as flow:
        try:
            await authorization.recover(
                flow.uow,
                flow.deps,
                flow.tenant,
                flow.app,
                flow.txn,
                form_text(form, "recovery_code", 64),
                flow.ctx,
            )
        except PhonegateError as exc:
            return flow.page("mfa_recovery.html", status=form_status(exc), error=_error(flow, exc))
        return await flow.advance()


@router.get("/mfa-recovery-code-shown")
async def recovery_shown_page(request: Request) -> Response:
    async with open_flow(request, "show_recovery") as flow:
        return flow.page("mfa_recovery_shown.html", code=flow.txn.recovery_code, error=None)


@router.post("/mfa-recovery-code-shown")
async def recovery_shown_submit(request: Request) -> Response:
    form = await read_object(request)
    async with open_flow(request, "show_recovery", form=form) as flow:
        if form_text(form, "confirm", 8) != "yes":
            error = _error(flow, StepError("recovery_not_confirmed", "Confirm the code."))
            return flow.page(
                "mfa_recovery_shown.html", status=400, code=flow.txn.recovery_code, error=error
            )
        authorization.acknowledge_recovery_code(flow.txn)
        return await flow.advance()
