"""The operator dashboard, ``/admin``: its own sign-in (admin accounts, ``domain.admins``),
and pages mirroring Auth0's dashboard screens for the phone factor, the phone provider, the
Send Phone Message action, the logs and the users, plus the sandbox inbox. Every action is
a Management API call underneath (``api``). Pages work without JavaScript (plain forms,
POST/redirect/GET), every form carries a CSRF token, and no page can be framed."""

from __future__ import annotations

from fastapi import APIRouter

from phonegate.web.admin import (
    actions,
    login,
    logs,
    phone_message,
    phone_provider,
    sandbox,
    users,
)

router = APIRouter()
for _part in (
    login.router,
    phone_message.router,
    phone_provider.router,
    actions.router,
    logs.router,
    users.router,
    sandbox.router,
):
    router.include_router(_part)
