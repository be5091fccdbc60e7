"""The ASGI application: routes, error handlers and the container's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from phonegate import __version__
from phonegate.container import Container
from phonegate.web import errors
from phonegate.web.auth0 import mfa, token, wellknown
from phonegate.web.management import guardian, sandbox, users


def create_app(container: Container, *, background: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background:
            await container.start_background()
        yield
        await container.aclose()

    app = FastAPI(
        title="phonegate",
        version=__version__,
        description="Phone (SMS and voice) authentication, wire-compatible with Auth0's phone factor.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.container = container
    errors.install(app)
    for router in (
        token.router,
        mfa.router,
        wellknown.router,
        users.router,
        guardian.router,
        sandbox.router,
    ):
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    @app.middleware("http")
    async def security_headers(request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    return app
