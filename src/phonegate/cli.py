"""The ``phonegate`` command: serve, migrate, bootstrap, outbox, api, admin."""

from __future__ import annotations

import asyncio
import json
import logging
from enum import StrEnum
from typing import Annotated

import typer

from phonegate.domain.phone_factor import GUARDIAN_PROVIDERS
from phonegate.settings import Settings, configure_logging


class GuardianProvider(StrEnum):
    auth0 = "auth0"
    sandbox = "sandbox"
    twilio = "twilio"
    phone_message_hook = "phone-message-hook"


# The CLI offers exactly the providers the Guardian API accepts.
assert {p.value for p in GuardianProvider} == set(GUARDIAN_PROVIDERS)

app = typer.Typer(
    help="phonegate: a self-hosted phone (SMS and voice) authentication server, "
    "wire-compatible with Auth0's phone factor. Configured by PHONEGATE_* environment variables.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default PHONEGATE_HOST or 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default PHONEGATE_PORT or 8080).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes sharing the port. Use PostgreSQL (and Redis for the rate "
            "limits' speed) with more than one.",
        ),
    ] = 1,
) -> None:
    """Run the HTTP server. Unless PHONEGATE_BACKGROUND_IN_SERVER=false (when `phonegate
    worker` runs them), each process also runs the outbox dispatcher and the log shipper."""
    import uvicorn

    from phonegate.container import Container
    from phonegate.web.app import create_app

    settings = Settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    _configure_logging(settings)
    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "loop": "uvloop",
        "access_log": False,  # phonegate.access logs requests without query strings
        "http": "httptools",
        "proxy_headers": False,
        "server_header": False,
    }
    if workers > 1:
        # Worker processes read the environment themselves: pass the overrides on.
        import os

        os.environ["PHONEGATE_HOST"] = settings.host
        os.environ["PHONEGATE_PORT"] = str(settings.port)
        from phonegate import serving

        if serving.reuse_port_supported():
            serving.serve_workers(workers, options)
        else:
            uvicorn.run("phonegate.web.app:make_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]
        return
    application = create_app(Container(settings), background=settings.background_in_server)
    uvicorn.run(application, **options)  # type: ignore[arg-type]


def _configure_logging(settings: Settings) -> None:
    configure_logging(settings)


@app.command()
def worker() -> None:
    """Run the background work without the HTTP server: the outbox dispatcher (delivery,
    retries, failover, provider feedback) and the log shipper. Run one or more beside
    `phonegate serve` with PHONEGATE_BACKGROUND_IN_SERVER=false; claims are leased, so
    several workers never send the same message at once. Stops cleanly on SIGTERM/SIGINT."""
    import signal

    from phonegate.container import Container

    settings = Settings()
    _configure_logging(settings)

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with Container(settings) as c:
            await c.start_background()
            logging.getLogger("phonegate").info("worker running")
            await stop.wait()

    asyncio.run(_run())


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (Alembic) to the latest revision."""
    from phonegate.storage.migrate import upgrade

    settings = Settings()
    upgrade(settings.resolved_database_url)
    typer.echo("database is at the latest schema revision")


@app.command()
def bootstrap(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the credentials as JSON for scripts.")
    ] = False,
    provider: Annotated[
        GuardianProvider, typer.Option(help="Delivery provider for a new default tenant.")
    ] = GuardianProvider.sandbox,
) -> None:
    """Create the default tenant, a demo application, a management application and a demo
    user if they do not exist yet (idempotent), and print their credentials."""
    from phonegate.bootstrap import Credentials
    from phonegate.bootstrap import bootstrap as run_bootstrap
    from phonegate.container import Container
    from phonegate.storage.migrate import upgrade

    settings = Settings()
    upgrade(settings.resolved_database_url)

    async def _run() -> Credentials:
        async with Container(settings) as c:
            return await run_bootstrap(c, provider=provider.value)

    made = asyncio.run(_run())
    creds = made.as_json()
    if as_json:
        typer.echo(json.dumps(creds))
        return
    app_ = creds["application"]
    mgmt = creds["management"]
    user = creds["user"]
    admin = {"email": made.admin_email, "password": made.admin_password}
    assert isinstance(app_, dict) and isinstance(mgmt, dict) and isinstance(user, dict)
    typer.echo(
        f"""
phonegate is set up.
  URL                  {creds["url"]}
  API docs             {creds["url"]}/docs
  Demo application     client_id={app_["client_id"]}
                       client_secret={app_["client_secret"]}
  Management API       client_id={mgmt["client_id"]}
                       client_secret={mgmt["client_secret"]}
                       audience={mgmt["audience"]}
  Demo user            email={user["email"]}  password={user["password"]}
                       user_id={user["user_id"]}
  Dashboard            {creds["url"]}/admin
                       email={admin["email"]}  password={admin["password"]}
  Sandbox inbox        GET {creds["url"]}/api/v2/sandbox/messages  (or: phonegate outbox)
"""
    )


@app.command()
def outbox(
    limit: Annotated[int, typer.Option(help="How many messages to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the sandbox inbox (newest first) and any messages still waiting to be sent."""
    from phonegate.container import Container

    settings = Settings()

    async def _run() -> tuple[list[dict[str, object]], int]:
        async with Container(settings) as c, c.unit_of_work() as uow:
            tenant = await uow.tenants.for_host("")
            if tenant is None:
                return [], 0
            inbox = await uow.inbox.list(tenant.id, limit=limit)
            pending = await uow.outbox.pending(tenant.id)
            return [
                {
                    "id": m.id,
                    "created_at": m.created_at.isoformat(),
                    "channel": m.channel,
                    "recipient": m.recipient,
                    "code": m.code,
                    "text": m.text,
                    "provider": m.provider,
                }
                for m in inbox
            ], len(pending)

    messages, pending = asyncio.run(_run())
    if as_json:
        typer.echo(json.dumps({"messages": messages, "pending": pending}))
        return
    if not messages:
        typer.echo("the sandbox inbox is empty")
    for m in messages:
        typer.echo(
            f"{m['created_at']}  {m['channel']:<5} {m['recipient']:<16} code={m['code']}  {m['text']}"
        )
    typer.echo(f"{pending} message(s) waiting in the outbox")


@app.command()
def api(
    method: Annotated[str, typer.Argument(help="GET, POST, PUT, PATCH or DELETE.")],
    path: Annotated[
        str,
        typer.Argument(help="A Management API path, e.g. /guardian/factors/phone/message-types."),
    ],
    body: Annotated[
        str | None,
        typer.Argument(
            help="The JSON body; '-' reads it from standard input, '@file' from a file."
        ),
    ] = None,
) -> None:
    """Call the Management API in-process (no server, no token needed): the CLI equivalent
    of every setting. Example:

        phonegate api PUT /guardian/factors/phone/message-types '{"message_types": ["sms", "voice"]}'
    """
    import sys
    from pathlib import Path

    from phonegate.cli_api import call
    from phonegate.container import Container

    settings = Settings()
    payload: object = None
    if body is not None:
        raw = (
            sys.stdin.read()
            if body == "-"
            else (Path(body[1:]).read_text(encoding="utf-8") if body.startswith("@") else body)
        )
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise typer.BadParameter(f"the body is not JSON: {exc}") from None

    async def _run() -> tuple[int, str]:
        async with Container(settings) as c:
            response = await call(c, method, path, payload)
            return response.status_code, response.text

    status, text = asyncio.run(_run())
    try:
        typer.echo(json.dumps(json.loads(text), indent=2, ensure_ascii=False))
    except ValueError:
        if text:
            typer.echo(text)
    if status >= 400:
        raise typer.Exit(1)


admin_app = typer.Typer(help="Dashboard (/admin) accounts.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Argument(help="The admin's email, used to sign in.")],
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate the password instead of asking.")
    ] = False,
) -> None:
    """Create a dashboard admin of the default tenant (the one `phonegate api` calls).
    Asks for the password; leave it empty, or pass --generate, to have one generated and
    printed once."""
    from phonegate.container import Container
    from phonegate.domain import admins
    from phonegate.errors import PhonegateError

    settings = Settings()
    password = (
        ""
        if generate
        else typer.prompt(
            "Password (leave empty to generate one)",
            default="",
            show_default=False,
            hide_input=True,
            confirmation_prompt=True,
        )
    )
    chosen = password or admins.generate_password()

    async def _run() -> None:
        host = (settings.public_url or f"http://{settings.host}:{settings.port}").split("://", 1)[1]
        async with Container(settings) as c, c.unit_of_work() as uow:
            tenant = await uow.tenants.for_host(host.rstrip("/"))
            if tenant is None:
                raise SystemExit("no tenant is configured; run `phonegate bootstrap` first")
            await admins.create_admin(uow, c.deps, tenant.id, email, chosen)

    try:
        asyncio.run(_run())
    except PhonegateError as exc:
        typer.echo(exc.description, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"admin {email} created")
    if not password:
        typer.echo(f"password: {chosen}  (shown once: keep it)")


if __name__ == "__main__":
    app()
