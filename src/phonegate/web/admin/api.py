"""The dashboard's Management API client: every dashboard action is a Management API call,
made in-process through the application itself (as ``phonegate api`` does, see
``phonegate.cli_api``), so the dashboard validates exactly as the API does and holds no
second copy of any rule.

Each dashboard request mints one short-lived token holding every Management scope, with the
signed-in admin as its subject, and sends the calls with the browser's Host header (the same
tenant) and IP (the same log entries and limits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request

from phonegate.domain.grants import MANAGEMENT_SCOPES
from phonegate.domain.models import Admin
from phonegate.tokens import SigningKey, internal_management_token
from phonegate.web.requests import issuer

DASHBOARD_CLIENT_ID = "phonegate-dashboard"
TOKEN_TTL_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Answer:
    """A Management API response: its status and JSON body (None when empty)."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return self.status < 400

    @property
    def message(self) -> str:
        """The Management error's ``message``, in plain words for the page."""
        found = self.body.get("message") if isinstance(self.body, dict) else None
        return found if isinstance(found, str) else f"The Management API answered {self.status}."


class ApiRefused(Exception):
    """A call the page needed was refused; the page shows the API's message."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.message)
        self.answer = answer


class ManagementApi:
    def __init__(self, request: Request, admin: Admin, key: SigningKey) -> None:
        self._app = request.app
        self._client = (request.client.host if request.client else "127.0.0.1", 0)
        self._base_url = f"{request.url.scheme}://{request.headers.get('host', 'localhost')}"
        self._token = internal_management_token(
            issuer=issuer(request),
            subject=f"admin|{admin.id}",
            client_id=DASHBOARD_CLIENT_ID,
            key=key,
            ttl=TOKEN_TTL_SECONDS,
            scopes=MANAGEMENT_SCOPES,
        )

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
    ) -> Answer:
        """One call, ``path`` under ``/api/v2``; an error is an Answer, not an exception."""
        transport = httpx.ASGITransport(app=self._app, client=self._client)
        async with httpx.AsyncClient(
            transport=transport, base_url=self._base_url, trust_env=False
        ) as client:
            response = await client.request(
                method,
                "/api/v2" + path,
                params=params,
                json=body,
                headers={"authorization": f"Bearer {self._token}"},
            )
        return Answer(response.status_code, response.json() if response.content else None)

    async def get(self, path: str, *, params: dict[str, str] | None = None) -> Any:
        """The body of a read the page cannot do without (``ApiRefused`` otherwise)."""
        return await self.must("GET", path, params=params)

    async def must(
        self, method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None
    ) -> Any:
        answer = await self.call(method, path, body, params=params)
        if not answer.ok:
            raise ApiRefused(answer)
        return answer.body
