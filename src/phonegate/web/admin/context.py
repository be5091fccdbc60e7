"""What every dashboard page shares: the signed-in admin's request (:class:`AdminRequest`:
session, CSRF-checked forms, the Management API client, pages, POST/redirect/GET with a
one-time notice) and the routes' error handling (:class:`AdminRoute`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from phonegate.domain.models import Admin, Tenant
from phonegate.errors import PhonegateError
from phonegate.web.admin import cookies, csrf
from phonegate.web.admin import session as sessions
from phonegate.web.admin.api import ApiRefused, ManagementApi
from phonegate.web.admin.rendering import render
from phonegate.web.admin.session import AdminSession
from phonegate.web.login.security import redirect
from phonegate.web.requests import container, read_object, tenant_scope

FLASH_COOKIE = "phonegate_admin_flash"
FLASH_SECONDS = 120
HOME = "/admin/mfa/phone-message"


class SignInRequired(Exception):
    """No current admin session: the page needs a sign-in first."""


@dataclass(slots=True)
class AdminRequest:
    """A request of a signed-in admin."""

    request: Request
    admin: Admin
    tenant: Tenant
    session: AdminSession
    api: ManagementApi

    @property
    def csrf(self) -> str:
        return csrf.session_token(container(self.request).keys, self.session.id)

    async def form(self) -> dict[str, Any]:
        """The posted form, once its CSRF token is checked."""
        form = await read_object(self.request)
        csrf.check(self.csrf, form)
        return form

    def _flash(self) -> dict[str, Any] | None:
        sealed = self.request.cookies.get(FLASH_COOKIE)
        plain = container(self.request).keys.decrypt(sealed[:4096]) if sealed else None
        found = json.loads(plain) if plain else None
        return found if isinstance(found, dict) else None

    def page(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        """A dashboard page, with the notice of the action that led here (shown once)."""
        flash = self._flash()
        response = render(
            template,
            self.tenant.settings.friendly_name,
            status=status,
            admin=self.admin,
            csrf=self.csrf,
            flash=flash,
            **context,
        )
        if flash is not None:
            cookies.drop(response, self.request, FLASH_COOKIE)
        return response

    def done(
        self, location: str, notice: str, *, result: Any = None, section: str | None = None
    ) -> Response:
        """After a successful action: back to a page (303), which shows ``notice`` and
        ``result`` once, in its ``section`` (the form that was sent, scrolled to) or at the
        top."""
        response = redirect(f"{location}#{section}" if section else location)
        sealed = container(self.request).keys.encrypt(
            json.dumps({"notice": notice, "result": result, "section": section})
        )
        cookies.put(response, self.request, FLASH_COOKIE, sealed, FLASH_SECONDS)
        return response


async def signed_in(request: Request) -> AdminRequest:
    """The route dependency of every signed-in page (``SignInRequired`` without one)."""
    c = container(request)
    now = c.clock.now()
    session = sessions.open_session(request.cookies.get(sessions.COOKIE), c.keys, now)
    async with tenant_scope(request) as (uow, tenant):
        admin = (
            await uow.admins.get(tenant.id, session.admin_id)
            if session is not None and session.tenant_id == tenant.id
            else None
        )
        if session is None or admin is None or not session.current(admin):
            raise SignInRequired
        keys = await c.signing_keys(tenant.id, uow)
    request.state.admin_session = sessions.seen(session, now)
    request.state.brand = tenant.settings.friendly_name
    return AdminRequest(request, admin, tenant, session, ManagementApi(request, admin, keys[0]))


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    brand = getattr(request.state, "brand", "phonegate")
    return render("error.html", brand, status=status, message=message)


def sign_in_location(request: Request) -> str:
    """The sign-in page, then back to the page asked for (a form's page is lost)."""
    url = request.url
    wanted = (
        (url.path + (f"?{url.query}" if url.query else "")) if request.method == "GET" else HOME
    )
    return "/admin/login?next=" + quote(wanted, safe="/")


class AdminRoute(APIRoute):
    """A dashboard route: without a session, the sign-in page; a refused API call or a
    form that did not come from the dashboard, an error page; a signed-in page renews the
    session cookie (its idle time starts again)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def admin_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                response = redirect(sign_in_location(request))
                sessions.clear(response, request)
                return response
            except csrf.CsrfRefused:
                message = (
                    "The form did not come from this dashboard. Reload the page and try again."
                )
                response = error_page(request, 403, message)
            except ApiRefused as refused:
                response = error_page(request, refused.answer.status, refused.answer.message)
            except PhonegateError as exc:
                response = error_page(request, exc.status, exc.description)
            renewed: AdminSession | None = getattr(request.state, "admin_session", None)
            if renewed is not None:  # signing out sets it to None
                sessions.store(response, request, renewed, container(request).keys)
            return response

        return admin_handler
