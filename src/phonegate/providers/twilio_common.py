"""What the two Twilio providers share (providers-wire.md §1.1, §1.3, §1.6): account
credentials and HTTP Basic auth, form posts, Twilio's ``{code, message, more_info, status}``
error body and its mapping onto the provider error kinds, and locale lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Self, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from phonegate.providers.base import ProviderError, Retryable
from phonegate.providers.transport import raise_for_status, retry_after, send

T = TypeVar("T")

ACCOUNT_SID = r"^AC[0-9a-fA-F]{32}$"
API_KEY_SID = r"^SK[0-9a-fA-F]{32}$"

# Which vendor codes mean what; a code not listed falls back to the HTTP status.
ErrorKinds = Mapping[int, type[ProviderError]]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL such as https://api.twilio.com")
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query string or fragment")
    return value.rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_http_url)]


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
        kind = self._errors.get(code) if code is not None else None
        if kind is Retryable:
            raise Retryable(text, code=str(code), retry_after=retry_after(response))
        if kind is not None:
            raise kind(text, code=str(code))
        raise_for_status(
            response,
            provider=self._provider,
            detail=detail,
            code=str(code) if code is not None else None,
        )

    def resource(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON resource of a successful answer, which must carry a ``sid``."""
        self.raise_for_error(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("sid"), str):
            # Twilio may have taken the request: retrying risks a duplicate, not a loss.
            raise Retryable(
                f"{self._provider} answered HTTP {response.status_code} without a resource sid",
                code="unreadable_response",
            )
        return body


def error_body(response: httpx.Response) -> tuple[int | None, str]:
    """Twilio's error ``code`` and ``message``, when the body has them."""
    try:
        body = response.json()
    except ValueError:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    code = body.get("code")
    message = body.get("message")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message[:200] if isinstance(message, str) else "",
    )


def pick_locale(locale: str, table: Mapping[str, T]) -> T | None:
    """The entry for ``locale`` ("pt-BR", "fr_CA"), else for its language ("fr"), else None.
    Table keys are lower-case."""
    key = locale.strip().replace("_", "-").lower()
    found = table.get(key)
    return found if found is not None else table.get(key.split("-")[0])
