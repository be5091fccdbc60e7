"""The outermost layer of every request: our own access log, default security headers, and
the refusal of URLs holding a NUL — as plain ASGI, because Starlette's BaseHTTPMiddleware
costs most of the framework's overhead per request (docs/benchmarks.md)."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phonegate.errors import PhonegateError
from phonegate.web import errors

access_log = logging.getLogger("phonegate.access")
DEFAULT_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULT_HEADERS:
                    headers.setdefault(name, value)
            await send(message)

        try:
            if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
                # No path or query value of ours holds a NUL, and PostgreSQL text cannot.
                refused = PhonegateError("The request URL contains a NUL character.", status=400)
                await errors.render(Request(scope), refused)(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            # Without the query string: a query may carry a phone number (?recipient=+1…),
            # and full numbers never go into logs.
            client = scope.get("client")
            access_log.info(
                "%s %s %s %d %.1fms",
                client[0] if client else "-",
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
            )
