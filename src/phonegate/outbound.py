"""The one outbound HTTP client: providers, webhooks and log streams all go through it.

It has timeouts, no automatic retries (the dispatcher decides what to retry), and a guard
that refuses private, loopback, link-local and other non-public destinations unless the
operator allows them (``PHONEGATE_OUTBOUND_ALLOW_PRIVATE``), so a webhook URL typed into the
Management API cannot reach the metadata service or the database port.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class BlockedDestination(httpx.ConnectError):
    """The destination resolves to an address outbound requests may not reach."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def _resolve(host: str, port: int) -> list[str]:
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks where a request would go before letting the real transport send it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, allow_private: bool) -> None:
        self._inner = inner
        self._allow_private = allow_private

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._allow_private:
            host = request.url.host
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            try:
                addresses = await _resolve(host, port)
            except OSError as exc:
                raise httpx.ConnectError(f"cannot resolve {host}", request=request) from exc
            if not addresses or not all(is_public(a) for a in addresses):
                raise BlockedDestination(
                    f"{host} is not a public address; set PHONEGATE_OUTBOUND_ALLOW_PRIVATE=true "
                    "to allow private destinations",
                    request=request,
                )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def outbound_client(
    *, allow_private: bool, timeout: httpx.Timeout = DEFAULT_TIMEOUT
) -> httpx.AsyncClient:
    inner = httpx.AsyncHTTPTransport(retries=0)
    return httpx.AsyncClient(
        transport=GuardedTransport(inner, allow_private=allow_private),
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": "phonegate"},
        trust_env=False,
    )
