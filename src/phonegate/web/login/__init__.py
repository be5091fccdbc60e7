"""Universal Login: ``/authorize``, the server-rendered ``/u/…`` pages (password, phone
enrollment and challenge, recovery codes, passwordless SMS) and ``/v2/logout``. The pages work without
JavaScript (plain forms, POST/redirect/GET); the layout in ``templates/pages/base.html``
is shared with other server-rendered pages."""

from __future__ import annotations

from fastapi import APIRouter

from phonegate.web.login import authorize, login_page, mfa_pages, passwordless_pages

router = APIRouter()
for _part in (authorize.router, login_page.router, mfa_pages.router, passwordless_pages.router):
    router.include_router(_part)
