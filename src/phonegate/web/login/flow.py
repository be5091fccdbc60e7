"""The plumbing every login page shares: the sealed transaction cookie, one transaction's
worth of context (:class:`Flow`), the routes' error handling (:class:`PageRoute`) and the
move from one page to the next."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse

from phonegate.domain import authorization
from phonegate.domain.authorization import LoginTransaction, Stage, StepError
from phonegate.domain.deps import DomainDeps
from phonegate.domain.grants import Audiences
from phonegate.domain.models import Application, RequestContext, Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.domain.texts import parse_accept_language
from phonegate.errors import PhonegateError
from phonegate.keys import KeyRing
from phonegate.web.login.csrf import check_csrf
from phonegate.web.login.i18n import Translator, page_locale
from phonegate.web.login.messages import describe
from phonegate.web.login.rendering import render
from phonegate.web.login.security import redirect
from phonegate.web.requests import audiences, container, issuer, request_context, tenant_scope

COOKIE = "phonegate_login"
PAGES: dict[Stage, str] = {
    "login": "/u/login",
    "enroll": "/u/mfa-phone-enrollment",
    "challenge": "/u/mfa-phone-challenge",
    "show_recovery": "/u/mfa-recovery-code-shown",
    "sms_phone": "/u/login-passwordless-sms",
    "sms_code": "/u/login-passwordless-sms-otp",
    "done": "/u/login",
}


# Step errors after which the transaction cannot go on.
ENDED = frozenset({"transaction_expired", "transaction_used", "user_blocked"})


class MovedOn(Exception):
    """The transaction is at another stage: its page is elsewhere."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


def store_transaction(response: Response, request: Request, txn: LoginTransaction) -> None:
    c = container(request)
    response.set_cookie(
        COOKIE,
        authorization.seal_transaction(txn, c.keys),
        max_age=max(1, int(txn.expires_at - c.clock.now().timestamp())),
        path="/",
        secure=issuer(request).startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def clear_transaction(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE,
        path="/",
        secure=issuer(request).startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def languages(request: Request) -> list[str]:
    return parse_accept_language(request.headers.get("accept-language", "")[:500])


@dataclass(slots=True)
class Flow:
    """A login page request inside its unit of work."""

    request: Request
    uow: UnitOfWork
    deps: DomainDeps
    keys: KeyRing
    tenant: Tenant
    app: Application
    txn: LoginTransaction
    t: Translator
    ctx: RequestContext

    @property
    def auds(self) -> Audiences:
        return audiences(self.request)

    def page(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        response = render(
            template,
            self.t,
            status=status,
            brand=self.tenant.settings.friendly_name,
            app_name=self.app.name,
            csrf=authorization.csrf_token(self.txn, self.keys),
            **context,
        )
        store_transaction(response, self.request, self.txn)
        return response

    async def advance(self) -> Response:
        """After a step: the next page, or with the login done the application's callback
        with the authorization code (the transaction cookie goes)."""
        if self.txn.stage != "done":
            response: Response = redirect(PAGES[self.txn.stage])
            store_transaction(response, self.request, self.txn)
            return response
        location = await authorization.finish(
            self.uow, self.deps, self.tenant, self.app, self.txn, self.auds, self.ctx
        )
        response = redirect(location)
        clear_transaction(response, self.request)
        return response


@asynccontextmanager
async def open_flow(
    request: Request, *stages: Stage, form: Mapping[str, object] | None = None
) -> AsyncIterator[Flow]:
    """The transaction of this browser at one of ``stages``; with a posted ``form``, its
    CSRF token checked."""
    c = container(request)
    async with tenant_scope(request) as (uow, tenant):
        txn = authorization.open_transaction(request.cookies.get(COOKIE), c.keys, c.clock.now())
        app = (
            await uow.applications.get(tenant.id, txn.client_id)
            if txn is not None and txn.tenant_id == tenant.id
            else None
        )
        if txn is None or app is None:
            raise StepError("transaction_expired", "The login transaction expired.")
        t = Translator(
            page_locale([txn.ui_locales, *languages(request)], tenant.settings.default_locale)
        )
        request.state.page = (t.locale, tenant.settings.friendly_name)
        if form is not None:
            check_csrf(txn, c.keys, form)
        if stages and txn.stage not in stages:
            raise MovedOn(PAGES[txn.stage])
        base = request_context(request)
        # The messages sent go out in the page's language.
        ctx = replace(base, language=t.locale, languages=(t.locale, *base.languages))
        yield Flow(request, uow, c.deps, c.keys, tenant, app, txn, t, ctx)


def error_page(request: Request, exc: PhonegateError) -> Response:
    """The error page; a transaction that cannot go on is forgotten."""
    locale, brand = getattr(request.state, "page", (None, "phonegate"))
    t = Translator(locale or page_locale(languages(request), "en"))
    response = render("error.html", t, status=exc.status, brand=brand, message=describe(t, exc))
    if exc.error_code in ENDED:
        clear_transaction(response, request)
    return response


class PageRoute(APIRoute):
    """A login page route: a refused step becomes an HTML page in the user's language, and
    a page opened at the wrong stage sends the browser to the right one."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except MovedOn as moved:
                return redirect(moved.location)
            except PhonegateError as exc:
                return error_page(request, exc)

        return page_handler


def form_status(exc: PhonegateError) -> int:
    """A form shown again is a 400, unless a limit (429) or an outage (5xx) refused it."""
    return exc.status if exc.status == 429 or exc.status >= 500 else 400


def form_text(form: Mapping[str, object], name: str, limit: int = 256) -> str:
    """A form field as one string (the first of repeated values), cut at ``limit``."""
    value = form.get(name, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return value[:limit] if isinstance(value, str) else ""
