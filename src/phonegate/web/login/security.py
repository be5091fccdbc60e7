"""HTTP headers of the login pages: never framed, never cached, only our own scripts and
styles (no inline script or style), and helpers for the redirects between pages."""

from __future__ import annotations

from fastapi.responses import RedirectResponse

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def redirect(location: str) -> RedirectResponse:
    """303 See Other: after a POST the browser GETs the next page (POST/redirect/GET)."""
    return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)
