"""``GET /authorize`` (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2) and ``GET /v2/logout``
(Auth0's logout endpoint)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from phonegate.domain import authorization
from phonegate.domain.authorization import AuthorizeError, AuthorizeRefused, StepError
from phonegate.domain.events import new_event
from phonegate.web.login.flow import PageRoute, clear_transaction, languages, store_transaction
from phonegate.web.login.i18n import Translator, page_locale
from phonegate.web.login.rendering import render
from phonegate.web.login.security import PAGE_HEADERS, redirect
from phonegate.web.requests import audiences, container, request_context, tenant_scope

router = APIRouter(route_class=PageRoute)


def _single(request: Request) -> dict[str, str]:
    """Query parameters, each at most once (RFC 6749 §3.1)."""
    pairs = request.query_params.multi_items()
    params = dict(pairs)
    if len(params) != len(pairs):
        raise AuthorizeRefused("A request parameter was repeated.")
    return params


@router.get("/authorize")
async def authorize(request: Request) -> Response:
    c = container(request)
    params = _single(request)
    async with tenant_scope(request) as (uow, tenant):
        locale = page_locale(
            [params.get("ui_locales"), *languages(request)], tenant.settings.default_locale
        )
        request.state.page = (locale, tenant.settings.friendly_name)
        try:
            txn = await authorization.begin(uow, tenant, params, audiences(request), c.clock.now())
        except AuthorizeError as refused:
            return redirect(refused.location)
    response = redirect("/u/login")
    store_transaction(response, request, txn)
    return response


@router.get("/v2/logout")
async def logout(request: Request) -> Response:
    """Forget this browser's login transaction, then go back to ``returnTo`` if it is one of
    the application's allowed logout URLs (phonegate keeps no other login session)."""
    client_id = request.query_params.get("client_id", "")[:64]
    return_to = request.query_params.get("returnTo")
    async with tenant_scope(request) as (uow, tenant):
        app = await uow.applications.get(tenant.id, client_id) if client_id else None
        locale = page_locale(languages(request), tenant.settings.default_locale)
        request.state.page = (locale, tenant.settings.friendly_name)
        await uow.events.add(
            new_event(
                tenant.id,
                "slo",
                container(request).clock.now(),
                request_context(request),
                client_id=app.client_id if app else None,
                client_name=app.name if app else None,
            )
        )
    response: Response
    if return_to:
        if app is None or return_to not in app.allowed_logout_urls:
            raise StepError(
                "logout_url_not_allowed",
                "The returnTo URL is not in the application's allowed logout URLs.",
            )
        response = redirect(return_to)
    else:
        t = Translator(locale)
        response = render("logged_out.html", t, brand=tenant.settings.friendly_name)
    clear_transaction(response, request)
    response.headers.update(PAGE_HEADERS)
    return response
