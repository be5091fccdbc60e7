"""What the two Twilio providers share (providers-wire.md §1.1, §1.3, §1.6): account
credentials and HTTP Basic auth, form posts, and Twilio's ``{code, message, more_info,
status}`` error body and its mapping onto the provider error kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from phonegate.providers.base import ProviderError
from phonegate.providers.transport import (
    bad_response,
    json_body,
    raise_for_code,
    raise_for_status,
    send,
)

ACCOUNT_SID = r"^AC[0-9a-fA-F]{32}$"
API_KEY_SID = r"^SK[0-9a-fA-F]{32}$"

# Which vendor codes mean what; a code not listed falls back to the HTTP status.
ErrorKinds = Mapping[int, type[ProviderError]]


class TwilioCredentials(BaseModel):
    """The account and how to authenticate as it: the Auth Token, or an API key of the
    account (the request path still names the ``AC…`` account)."""

    model_config = ConfigDict(extra="forbid")

    sid: str = Field(pattern=ACCOUNT_SID, description="Account SID (AC…)")
    auth_token: SecretStr
    api_key_sid: str | None = Field(None, pattern=API_KEY_SID, description="API key SID (SK…)")
    api_key_secret: SecretStr | None = None
    timeout_seconds: float = Field(10.0, gt=0, le=60)

    @model_validator(mode="after")
    def _api_key_pair(self) -> Self:
        if (self.api_key_sid is None) != (self.api_key_secret is None):
            raise ValueError("api_key_sid and api_key_secret must be set together")
        return self

    def basic_auth(self) -> httpx.BasicAuth:
        if self.api_key_sid is not None and self.api_key_secret is not None:
            return httpx.BasicAuth(self.api_key_sid, self.api_key_secret.get_secret_value())
        return httpx.BasicAuth(self.sid, self.auth_token.get_secret_value())


class TwilioApi:
    """Form posts to one Twilio host with the account's credentials and timeout."""

    def __init__(
        self,
        credentials: TwilioCredentials,
        base_url: str,
        http: httpx.AsyncClient,
        *,
        provider: str,
        errors: ErrorKinds,
    ) -> None:
        self._auth = credentials.basic_auth()
        self._timeout = credentials.timeout_seconds
        self._base_url = base_url
        self._http = http
        self._provider = provider
        self._errors = errors

    async def post(self, path: str, form: Mapping[str, str | list[str]]) -> httpx.Response:
        """POST ``form`` (lists become repeated keys, as Twilio expects) to ``path``."""
        return await send(
            self._http,
            "POST",
            self._base_url + path,
            provider=self._provider,
            timeout=self._timeout,
            data=dict(form),
            auth=self._auth,
        )

    def raise_for_error(self, response: httpx.Response) -> None:
        """Map a non-2xx answer: the Twilio code decides where it is listed, else the status."""
        if response.is_success:
            return
        code, message = error_body(response)
        detail = f"Twilio error {code}: {message}" if code is not None else message
        text = f"{self._provider} answered HTTP {response.status_code}: {detail}"
        raise_for_code(response, code, text, self._errors)
        raise_for_status(
            response,
            provider=self._provider,
            detail=detail,
            code=str(code) if code is not None else None,
        )

    def resource(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON resource of a successful answer, which must carry a ``sid``."""
        self.raise_for_error(response)
        body = json_body(response)
        if not isinstance(body.get("sid"), str):
            raise bad_response(self._provider, "a resource sid")
        return body


def error_body(response: httpx.Response) -> tuple[int | None, str]:
    """Twilio's error ``code`` and ``message``, when the body has them."""
    body = json_body(response)
    code = body.get("code")
    message = body.get("message")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message[:200] if isinstance(message, str) else "",
    )
