"""The dashboard's cookies (session, flash, sign-in form): sent only to ``/admin``, never
to scripts (HttpOnly), never on requests another site starts (SameSite=Strict), and only
over https when the server is reached by https."""

from __future__ import annotations

from fastapi import Request, Response

from phonegate.web.requests import issuer

PATH = "/admin"


def _secure(request: Request) -> bool:
    return issuer(request).startswith("https://")


def put(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )


def drop(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=PATH, secure=_secure(request), httponly=True, samesite="strict"
    )
