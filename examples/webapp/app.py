"""The sample application: log in through phonegate's ``/authorize`` with PKCE, exchange
the code at ``/oauth/token``, check the ID token against the JWKS, show its claims and the
access token's scope, and log out through ``/v2/logout``.

Sessions live in this process's memory (a sample, not a pattern for production)."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from examples.webapp.config import WebappConfig
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

COOKIE = "webapp_session"
SCOPE = "openid profile email offline_access"


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;
color:#1b1f24}}table{{border-collapse:collapse}}td,th{{border:1px solid #8a939d;padding:.3rem .6rem;
text-align:start}}a{{color:#0b5cad}}</style></head>
<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>""",
        status_code=status,
    )


def create_app(config: WebappConfig) -> Starlette:
    sessions: dict[str, dict[str, Any]] = {}

    def session(request: Request) -> dict[str, Any]:
        return sessions.get(request.cookies.get(COOKIE, ""), {})

    async def home(request: Request) -> Response:
        signed_in = session(request).get("claims")
        if not signed_in:
            return page("Sample application", '<p><a href="/login">Log in</a></p>')
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in sorted(signed_in.items())
        )
        scope = html.escape(session(request)["scope"])
        return page(
            "Signed in",
            f'<p>Access token scope: <code id="scope">{scope}</code></p>'
            f'<h2>ID token claims</h2><table id="claims">{rows}</table>'
            '<p><a href="/logout">Log out</a></p>',
        )

    async def login(request: Request) -> Response:
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        sid = secrets.token_urlsafe(24)
        sessions[sid] = {"state": state, "nonce": nonce, "verifier": verifier}
        params = {
            "response_type": "code",
            "client_id": config.client_id,
            "redirect_uri": config.url + "/callback",
            "scope": SCOPE,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if request.query_params.get("ui_locales"):
            params["ui_locales"] = request.query_params["ui_locales"]
        response = RedirectResponse(f"{config.issuer}authorize?{urlencode(params)}", 302)
        response.set_cookie(COOKIE, sid, httponly=True, samesite="lax")
        return response

    async def callback(request: Request) -> Response:
        pending = session(request)
        if "error" in request.query_params:
            reason = request.query_params.get("error_description", request.query_params["error"])
            return page("Login failed", f"<p>{html.escape(reason)}</p>", 400)
        if not pending.get("state") or request.query_params.get("state") != pending["state"]:
            return page("Login failed", "<p>The state does not match this browser.</p>", 400)
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.post(
                config.issuer + "oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": request.query_params.get("code", ""),
                    "redirect_uri": config.url + "/callback",
                    "code_verifier": pending["verifier"],
                    "client_id": config.client_id,
                    "client_secret": config.client_secret,
                },
            )
            if r.status_code != 200:
                return page("Login failed", f"<p>{html.escape(r.text)}</p>", 400)
            tokens = r.json()
            jwks = jwt.PyJWKSet.from_dict(
                (await client.get(config.issuer + ".well-known/jwks.json")).json()
            )
        kid = jwt.get_unverified_header(tokens["id_token"]).get("kid")
        key = next(k for k in jwks.keys if k.key_id == kid)
        claims = jwt.decode(
            tokens["id_token"],
            key.key,
            algorithms=["RS256"],
            audience=config.client_id,
            issuer=config.issuer,
        )
        if claims.get("nonce") != pending["nonce"]:
            return page("Login failed", "<p>The ID token's nonce does not match.</p>", 400)
        pending.clear()
        pending.update(claims=claims, scope=tokens.get("scope", ""))
        return RedirectResponse("/", 303)

    async def logout(request: Request) -> Response:
        sessions.pop(request.cookies.get(COOKIE, ""), None)
        params = {"client_id": config.client_id, "returnTo": config.url + "/"}
        response = RedirectResponse(f"{config.issuer}v2/logout?{urlencode(params)}", 302)
        response.delete_cookie(COOKIE)
        return response

    return Starlette(
        routes=[
            Route("/", home),
            Route("/login", login),
            Route("/callback", callback),
            Route("/logout", logout),
        ]
    )
