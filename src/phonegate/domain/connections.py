"""Connections, the subset of Auth0's ``/api/v2/connections`` that phonegate serves.

A tenant has the built-in database connection ``Username-Password-Authentication``
(strategy ``auth0``: listed, every application may use it, not editable here) and at most
one passwordless connection of strategy ``sms`` (auth0-api.md §2), stored with Auth0's
options: ``disable_signup``, ``brute_force_protection`` and ``totp`` (``time_step``, the
code's lifetime in seconds, default 180; ``length``, default 6). Its messages go out through
the tenant's phone provider like every phone message (the Unified Phone Experience), so
the legacy per-connection gateway options (``twilio_sid``, ``template``, …) are refused.
As in Auth0, a PATCH of ``options`` replaces the whole object. Deleting the connection
deletes its pending codes; its users stay, and sign in again once it is re-created.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from phonegate import ids, otp
from phonegate.domain.deps import DomainDeps
from phonegate.domain.models import DATABASE_CONNECTION, Application, Connection, Tenant
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import Conflict, InvalidRequest, NotFound, PhonegateError

SMS = "sms"
DATABASE_STRATEGY = "auth0"
DEFAULT_TIME_STEP = 180
DEFAULT_LENGTH = 6
TIME_STEP_BOUNDS = (30, 3600)
MAX_ENABLED_CLIENTS = 1000
# Auth0's rule for connection names: ASCII letters, digits and dashes, not leading dash.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,127}")
_CREATE_FIELDS = frozenset({"name", "strategy", "options", "enabled_clients"})
_UPDATE_FIELDS = frozenset({"options", "enabled_clients"})
_OPTION_FIELDS = frozenset({"disable_signup", "brute_force_protection", "totp"})
_TOTP_FIELDS = frozenset({"time_step", "length"})


@dataclass(frozen=True, slots=True)
class SmsOptions:
    """The options of an sms connection, defaults applied."""

    disable_signup: bool
    brute_force_protection: bool
    code_ttl_seconds: int
    code_length: int


def sms_options(connection: Connection) -> SmsOptions:
    totp = connection.options.get("totp", {})
    return SmsOptions(
        disable_signup=bool(connection.options.get("disable_signup", False)),
        brute_force_protection=bool(connection.options.get("brute_force_protection", True)),
        code_ttl_seconds=int(totp.get("time_step", DEFAULT_TIME_STEP)),
        code_length=int(totp.get("length", DEFAULT_LENGTH)),
    )


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(f"Payload validation error: {message}", error_code="invalid_body")


def _only(body: Mapping[str, Any], allowed: frozenset[str], where: str = "") -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise _invalid(f"Additional properties not allowed{where}: {', '.join(extra)}.")


def _flag(options: Mapping[str, Any], name: str, default: bool) -> bool:
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise _invalid(f"'options.{name}' must be a boolean.")
    return value


def _whole(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _invalid(f"'{where}' must be an integer from {low} to {high}.")
    return value


def validate_options(value: object) -> dict[str, Any]:
    """The sms options as stored: every field present, each checked."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _invalid("'options' must be an object.")
    _only(value, _OPTION_FIELDS, " in options (phonegate sends through the tenant phone provider)")
    totp = value.get("totp", {})
    if not isinstance(totp, dict):
        raise _invalid("'options.totp' must be an object.")
    _only(totp, _TOTP_FIELDS, " in options.totp")
    return {
        "disable_signup": _flag(value, "disable_signup", False),
        "brute_force_protection": _flag(value, "brute_force_protection", True),
        "totp": {
            "time_step": _whole(
                totp.get("time_step", DEFAULT_TIME_STEP),
                "options.totp.time_step",
                *TIME_STEP_BOUNDS,
            ),
            "length": _whole(
                totp.get("length", DEFAULT_LENGTH),
                "options.totp.length",
                otp.MIN_DIGITS,
                otp.MAX_DIGITS,
            ),
        },
    }


async def _enabled_clients(uow: UnitOfWork, tenant_id: str, value: object) -> list[str]:
    if value is None:
        return []
    if (
        not isinstance(value, list)
        or len(value) > MAX_ENABLED_CLIENTS
        or not all(isinstance(v, str) and v for v in value)
    ):
        raise _invalid("'enabled_clients' must be an array of client ids.")
    unique = list(dict.fromkeys(value))
    for client_id in unique:
        if await uow.applications.get(tenant_id, client_id) is None:
            raise _invalid(f"'enabled_clients' names an unknown client: {client_id[:64]}.")
    return unique


def database_connection(tenant: Tenant) -> Connection:
    """The built-in database connection, with an id stable for its tenant."""
    return Connection(
        id="con_" + tenant.id.removeprefix("ten_"),
        tenant_id=tenant.id,
        name=DATABASE_CONNECTION,
        strategy=DATABASE_STRATEGY,
        options={},
        enabled_clients=None,
        created_at=tenant.created_at,
        updated_at=tenant.created_at,
    )


async def list_connections(
    uow: UnitOfWork, tenant: Tenant, *, strategies: list[str], name: str | None
) -> list[Connection]:
    found = [database_connection(tenant), *await uow.connections.list(tenant.id)]
    return [
        c
        for c in found
        if (not strategies or c.strategy in strategies) and (name is None or c.name == name)
    ]


async def find(uow: UnitOfWork, tenant: Tenant, name: str) -> Connection | None:
    """The connection of this name, the database connection included."""
    if name == DATABASE_CONNECTION:
        return database_connection(tenant)
    return await uow.connections.get_by_name(tenant.id, name)


async def get(uow: UnitOfWork, tenant: Tenant, connection_id: str) -> Connection:
    builtin = database_connection(tenant)
    if connection_id == builtin.id:
        return builtin
    found = await uow.connections.get(tenant.id, connection_id)
    if found is None:
        raise NotFound("The connection does not exist.", error_code="inexistent_connection")
    return found


async def create(
    uow: UnitOfWork, deps: DomainDeps, tenant: Tenant, body: Mapping[str, Any]
) -> Connection:
    _only(body, _CREATE_FIELDS)
    name, strategy = body.get("name"), body.get("strategy")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise _invalid(
            "'name' is required: up to 128 letters, digits and dashes, not starting with a dash."
        )
    if strategy == DATABASE_STRATEGY:
        raise InvalidRequest(
            f"This server has one database connection, {DATABASE_CONNECTION}, built in.",
            error_code="operation_not_supported",
        )
    if strategy != SMS:
        raise _invalid("'strategy' must be 'sms': this server serves passwordless SMS only.")
    if name == DATABASE_CONNECTION:
        raise Conflict("A connection with the same name already exists.")
    now = deps.clock.now()
    connection = Connection(
        id=ids.prefixed("con", 16),
        tenant_id=tenant.id,
        name=name,
        strategy=SMS,
        options=validate_options(body.get("options")),
        enabled_clients=await _enabled_clients(uow, tenant.id, body.get("enabled_clients")),
        created_at=now,
        updated_at=now,
    )
    if not await uow.connections.add(connection):
        raise Conflict(
            "A connection with the same name, or the tenant's sms connection, already exists."
        )
    return connection


def _builtin_is_fixed(connection: Connection) -> None:
    if connection.strategy == DATABASE_STRATEGY:
        raise InvalidRequest(
            f"The {DATABASE_CONNECTION} connection is built in and cannot be changed here.",
            error_code="operation_not_supported",
        )


async def update(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    connection_id: str,
    body: Mapping[str, Any],
) -> Connection:
    connection = await get(uow, tenant, connection_id)
    _builtin_is_fixed(connection)
    _only(body, _UPDATE_FIELDS)
    changes: dict[str, Any] = {}
    if "options" in body:
        changes["options"] = validate_options(body["options"])
    if "enabled_clients" in body:
        changes["enabled_clients"] = await _enabled_clients(uow, tenant.id, body["enabled_clients"])
    updated = replace(connection, updated_at=deps.clock.now(), **changes)
    await uow.connections.update(updated)
    return updated


async def delete(uow: UnitOfWork, tenant: Tenant, connection_id: str) -> None:
    _builtin_is_fixed(await get(uow, tenant, connection_id))
    await uow.connections.delete(tenant.id, connection_id)


async def for_passwordless(
    uow: UnitOfWork,
    tenant: Tenant,
    app: Application,
    name: str,
    refuse: Callable[[str], PhonegateError],
) -> Connection:
    """The passwordless connection of this name, if the application may use it; else the
    caller's error with Auth0's description of what is wrong."""
    found = await find(uow, tenant, name)
    if found is None:
        raise refuse("Connection does not exist")
    if found.strategy != SMS:
        raise refuse("Invalid connection strategy. It must either be a passwordless connection")
    if found.enabled_clients is not None and app.client_id not in found.enabled_clients:
        raise refuse("Connection is disabled")
    return found
