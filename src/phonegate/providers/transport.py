"""HTTP plumbing every vendor module shares: send a request, read its answer, and turn
transport failures, vendor error codes and generic HTTP statuses into the provider error kinds.

Vendor modules call :func:`send` and then look at the body themselves (several vendors answer
200 for a failure), read it with :func:`json_body` or :func:`xml_body`, map the codes they
know with :func:`raise_for_code`, and leave the rest to :func:`raise_for_status`, the fallback
mapping for statuses a vendor does not explain further.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from xml.etree import ElementTree

import httpx

from phonegate.outbound import BlockedDestination
from phonegate.providers.base import Misconfigured, ProviderError, Rejected, Retryable

_K = TypeVar("_K")

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


def json_body(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; empty when the body is not JSON or not an object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def xml_body(response: httpx.Response) -> ElementTree.Element | None:
    """The answer's XML document; None when the body is not well-formed XML."""
    # The body comes from the configured vendor endpoint; expat >= 2.4.1 (CPython 3.11)
    # bounds entity expansion and ElementTree fetches no external entities.
    try:
        return ElementTree.fromstring(response.content)  # noqa: S314
    except ElementTree.ParseError:
        return None


def bad_response(provider: str, missing: str) -> Retryable:
    """A success answer without what identifies the message. The vendor may have taken it:
    retrying risks a duplicate, not a loss."""
    return Retryable(f"{provider} answered without {missing}", code="bad_response")


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
    if status in (408, 429) or status >= 500:
        raise Retryable(text, code=vendor_code, retry_after=retry_after(response))
    if status in (401, 403):
        raise Misconfigured(text, code=vendor_code)
    raise Rejected(text, code=vendor_code)


def raise_for_code(
    response: httpx.Response, code: _K | None, text: str, kinds: Mapping[_K, type[ProviderError]]
) -> None:
    """Raise the error kind ``kinds`` lists for the vendor's ``code`` with ``text`` (a
    ``Retryable`` honours the answer's Retry-After); return when it lists none."""
    kind = kinds.get(code) if code is not None else None
    if kind is Retryable:
        raise Retryable(text, code=str(code), retry_after=retry_after(response))
    if kind is not None:
        raise kind(text, code=str(code))
