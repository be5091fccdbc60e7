"""The ASGI application: routes, error handlers and the container's lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from phonegate import __version__
from phonegate.container import Container
from phonegate.web import admin, callbacks, errors, login, metrics
from phonegate.web.access import AccessLog
from phonegate.web.auth0 import mfa, passwordless, token, userinfo, wellknown
from phonegate.web.management import (
    actions,
    attack_protection,
    branding,
    connections,
    guardian,
    log_streams,
    logs,
    openapi,
    phone,
    previews,
    sandbox,
    tenant_settings,
    users,
    users_by_email,
)


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
        passwordless.router,
        userinfo.router,
        wellknown.router,
        users.router,
        users_by_email.router,
        connections.router,
        guardian.router,
        branding.router,
        previews.router,
        phone.router,
        actions.router,
        attack_protection.router,
        tenant_settings.router,
        sandbox.router,
        logs.router,
        log_streams.router,
        openapi.router,
        callbacks.router,
        metrics.router,
        login.router,
        admin.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("phonegate", "static")]), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    app.add_middleware(AccessLog)

    return app


def make_app() -> FastAPI:
    """The application factory for ``uvicorn --factory`` (``phonegate serve --workers N``):
    each worker process builds its own container from the environment."""
    from phonegate.settings import Settings, configure_logging

    settings = Settings()
    configure_logging(settings)
    return create_app(Container(settings), background=settings.background_in_server)
