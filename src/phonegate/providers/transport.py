"""HTTP plumbing every vendor module shares: send a request, and turn transport failures
and generic HTTP statuses into the provider error kinds.

Vendor modules call :func:`send` and then look at the body themselves (several vendors answer
200 for a failure); :func:`raise_for_status` is the fallback mapping for statuses a vendor
does not explain further.
"""

from __future__ import annotations

from typing import Any

import httpx

from phonegate.outbound import BlockedDestination
from phonegate.providers.base import Misconfigured, Rejected, Retryable

DEFAULT_TIMEOUT_SECONDS = 10.0


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    provider: str,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,  # noqa: ASYNC109 - passed to httpx
    **kwargs: Any,
) -> httpx.Response:
    """One request; a timeout or a connection failure is ``Retryable``, a destination the
    outbound guard refuses is ``Misconfigured``."""
    try:
        return await http.request(method, url, timeout=timeout, **kwargs)
    except BlockedDestination as exc:
        raise Misconfigured(f"{provider}: {exc}", code="blocked_destination") from None
    except httpx.TimeoutException:
        raise Retryable(f"{provider} did not answer within {timeout:g} s", code="timeout") from None
    except httpx.TransportError as exc:
        raise Retryable(
            f"{provider} could not be reached ({type(exc).__name__})", code="unreachable"
        ) from None


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def raise_for_status(
    response: httpx.Response, *, provider: str, detail: str = "", code: str | None = None
) -> None:
    """Map a non-2xx status: 429 and 5xx retry, 401/403 are configuration, other 4xx reject."""
    status = response.status_code
    if status < 300:
        return
    text = f"{provider} answered HTTP {status}" + (f": {detail}" if detail else "")
    vendor_code = code or str(status)
    if status == 429 or status == 408:
        raise Retryable(text, code=vendor_code, retry_after=retry_after(response))
    if status >= 500:
        raise Retryable(text, code=vendor_code, retry_after=retry_after(response))
    if status in (401, 403):
        raise Misconfigured(text, code=vendor_code)
    raise Rejected(text, code=vendor_code)
