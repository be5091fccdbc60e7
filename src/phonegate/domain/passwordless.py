"""Passwordless SMS login (auth0-api.md §2): ``POST /passwordless/start`` sends a code to a
phone, and the ``passwordless/otp`` grant trades it for tokens, signing the user up on the
first login unless the connection's ``disable_signup`` is set.

The code goes out through the tenant's delivery chain like every phone message (seed 004:
the tenant phone provider of the Unified Phone Experience serves passwordless too, else the
Guardian provider), refused up front by ``challenges.check_deliverable`` when nothing can
carry it, after MFA's destination rules and send limits (``challenges.admit_send``) and
Auth0's 50 starts per hour per IP.

A phone has one live code per connection: a new code replaces the row, so it invalidates
every earlier one. Only an HMAC of the code is stored. Each submission is counted by a
guarded UPDATE before the compare (3 per code, Auth0's), and a right code wins only through
a second guarded UPDATE, so of concurrent correct submissions exactly one signs in. Wrong,
expired, used and superseded codes all get the same answer.

The tenant's MFA policy does not apply to these logins: the code already proves the phone,
and a phone second factor would prove the same thing twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from phonegate import otp, phone
from phonegate.domain import challenges, clients, connections, login, ratelimits
from phonegate.domain.deps import DomainDeps
from phonegate.domain.events import new_event
from phonegate.domain.grants import Audiences, Grant, granted_scope
from phonegate.domain.models import (
    Application,
    Connection,
    PasswordlessCode,
    RequestContext,
    Tenant,
    User,
)
from phonegate.domain.outbox import Payload, new_message
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import (
    AccessDenied,
    DeliveryUnavailable,
    InvalidGrant,
    InvalidPhoneNumber,
    InvalidRequest,
    PhonegateError,
    TooManyRequests,
    UnauthorizedClient,
)

MAX_ATTEMPTS = 3
START_FIELDS = frozenset(
    {"client_id", "client_secret", "connection", "phone_number", "send", "authParams"}
)
# Auth0's own descriptions (its /passwordless/start error table and token-endpoint answers).
WRONG_CODE = "Wrong phone number or verification code."
TOO_MANY_ATTEMPTS = "You've reached the maximum number of attempts. Please try to login again."
SIGNUP_DISABLED = "Public signup is disabled"
_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array"}


@dataclass(frozen=True, slots=True)
class Started:
    """What ``/passwordless/start`` answers."""

    id: str
    phone_number: str
    phone_verified: bool
    request_language: str  # the language the message was written in


def _bad(error: str, description: str) -> PhonegateError:
    # /passwordless/start names the faulty part of the request in ``error`` (bad.<field>).
    return PhonegateError(description, status=400, error=error)


def _sms_user(tenant_id: str, user_id: str, connection: str, e164: str, now: datetime) -> User:
    return User(
        tenant_id=tenant_id,
        user_id=user_id,
        email=None,
        password_hash="",
        email_verified=False,
        name=e164,  # Auth0 names sms users by their number
        nickname=e164,
        blocked=False,
        user_metadata={},
        app_metadata={},
        created_at=now,
        updated_at=now,
        connection=connection,
        phone_number=e164,
    )


async def _start_client(uow: UnitOfWork, tenant: Tenant, body: Mapping[str, Any]) -> Application:
    """Client authentication as on the token endpoint, answered in /passwordless/start's
    terms: confidential applications must send their secret."""
    client_id, secret = body.get("client_id"), body.get("client_secret")
    if not isinstance(client_id, str) or not client_id:
        raise _bad("bad.client_id", "Missing required property: client_id")
    try:
        return await clients.authenticate(
            uow, tenant.id, client_id, secret, clients.GRANT_PASSWORDLESS_OTP
        )
    except AccessDenied:
        if await uow.applications.get(tenant.id, client_id) is None:
            raise _bad("bad.client_id", "Unknown client.") from None
        problem = "Client authentication is required" if secret is None else "Unauthorized"
        raise PhonegateError(problem, status=401, error="unauthorized_client") from None
    except UnauthorizedClient as exc:
        raise PhonegateError(exc.description, status=401, error="unauthorized_client") from None


def _check_request(body: Mapping[str, Any]) -> None:
    unknown = sorted(set(body) - START_FIELDS)
    if unknown:
        raise _bad("bad.request", f"the following properties are not allowed: {', '.join(unknown)}")
    if body.get("send", "code") != "code":
        raise _bad("bad.send", "SMS supports code only")
    params = body.get("authParams", {})
    if not isinstance(params, dict):
        kind = _JSON_TYPES.get(type(params), "value")
        raise _bad(
            "bad.authParams", f"error in authParams - invalid type: {kind} (expected object)"
        )


def _number(raw: object) -> phone.PhoneNumber:
    if raw is None:
        raise _bad("bad.phone_number", "Missing required property: phone_number")
    try:
        return phone.parse(raw)
    except InvalidPhoneNumber as exc:
        raise _bad("bad.phone_number", exc.description) from None


async def admit_ip(uow: UnitOfWork, deps: DomainDeps, tenant: Tenant, ctx: RequestContext) -> None:
    now = deps.clock.now()
    try:
        await ratelimits.reserve_passwordless_ip(uow, deps.counters, tenant, ctx, now)
    except TooManyRequests as exc:
        await uow.events.add(
            new_event(
                tenant.id,
                "api_limit",
                now,
                ctx,
                description=exc.description,
                details={"type": exc.limit, "endpoint": "/passwordless/start"},
            )
        )
        raise


async def _deliverable(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    recipient: User,
    number: phone.PhoneNumber,
    ctx: RequestContext,
) -> None:
    try:
        planned = await challenges.check_deliverable(uow, deps, tenant, "sms", ctx, app, recipient)
    except DeliveryUnavailable as exc:
        raise _bad("sms_provider_error", exc.description) from None
    if planned.steps[0].hosted:
        raise _bad(
            "sms_provider_error",
            "The tenant's first phone provider makes and checks its own codes (Twilio Verify "
            "in hosted mode), which passwordless login cannot use: set it to custom_code mode.",
        )
    await challenges.admit_send(uow, deps, tenant, app, recipient, "sms", number, ctx)


async def start(
    uow: UnitOfWork, deps: DomainDeps, tenant: Tenant, body: Mapping[str, Any], ctx: RequestContext
) -> Started:
    """``POST /passwordless/start``: a new code for the phone, queued in this transaction."""
    await admit_ip(uow, deps, tenant, ctx)
    _check_request(body)
    app = await _start_client(uow, tenant, body)
    if not isinstance(body.get("connection"), str) or not body["connection"]:
        raise _bad("bad.connection", "Missing required property: connection")
    connection = await connections.for_passwordless(
        uow, tenant, app, body["connection"], lambda problem: _bad("bad.connection", problem)
    )
    return await send_code(uow, deps, tenant, app, connection, body.get("phone_number"), ctx)


async def send_code(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    connection: Connection,
    phone_number: object,
    ctx: RequestContext,
) -> Started:
    """A new code for the phone, for an application already identified: by its secret at
    ``/passwordless/start``, or by its registered callback at ``/authorize`` (Universal
    Login's pages have no secret). Every send rule applies here: blocked users, sign-up,
    the delivery plan, the destination rules and the rate limits."""
    number = _number(phone_number)
    options = connections.sms_options(connection)
    user = await uow.users.get_by_phone(tenant.id, connection.name, number.e164)
    if user is not None and user.blocked:
        raise PhonegateError("user is blocked", status=401, error="server_error")
    if user is None and options.disable_signup:
        raise _bad("bad.connection", SIGNUP_DISABLED)
    now = deps.clock.now()
    earlier = await uow.passwordless_codes.get(tenant.id, connection.id, number.e164)
    # A phone without a user yet keeps one prospective id across resends, so the per-user
    # send limit counts its messages, and its first login signs up under that id.
    recipient = user or _sms_user(
        tenant.id,
        earlier.user_id if earlier else "sms|" + secrets.token_hex(12),
        connection.name,
        number.e164,
        now,
    )
    await _deliverable(uow, deps, tenant, app, recipient, number, ctx)
    code = otp.new_code(options.code_length)
    code_id = secrets.token_hex(12)
    hashed = otp.hash_code(deps.keys, code, code_id)
    expires = now + timedelta(seconds=options.code_ttl_seconds)
    await uow.passwordless_codes.replace(
        PasswordlessCode(
            id=code_id,
            tenant_id=tenant.id,
            connection_id=connection.id,
            phone_number=number.e164,
            user_id=recipient.user_id,
            client_id=app.client_id,
            code_hash=hashed.digest,
            key_id=hashed.key_id,
            created_at=now,
            expires_at=expires,
            attempts=0,
            max_attempts=MAX_ATTEMPTS,
            consumed_at=None,
        )
    )
    composed = await challenges.compose_for_user(
        uow, tenant, app, recipient, "otp_verify", "sms", code, ctx, phone_number=number.e164
    )
    await uow.outbox.add(
        new_message(
            deps.keys,
            tenant_id=tenant.id,
            channel="sms",
            recipient=number.e164,
            payload=Payload(
                text=composed.text,
                code=code,
                locale=composed.locale,
                kind="passwordless",
                sender=composed.sender,
            ),
            now=now,
            expires_at=expires,
            challenge_id=code_id,
            user_id=recipient.user_id,
            client_id=app.client_id,
            ctx=ctx,
        )
    )
    await uow.events.add(
        new_event(
            tenant.id,
            "cs",
            now,
            ctx,
            client_id=app.client_id,
            client_name=app.name,
            user_id=user.user_id if user else None,
            user_name=number.masked,
            connection=connection.name,
            details={
                "body": {
                    "client_id": app.client_id,
                    "connection": connection.name,
                    "phone_number": number.masked,
                    "send": "code",
                }
            },
        )
    )
    return Started(
        id=code_id,
        phone_number=number.e164,
        phone_verified=user.phone_verified if user else False,
        request_language=composed.locale,
    )


async def _live_code(
    uow: UnitOfWork, tenant: Tenant, connection: Connection, username: str, now: datetime
) -> PasswordlessCode:
    """The phone's code with this submission counted against it, or the wrong-code answer
    (the maximum-attempts one only for a code that nothing else has killed)."""
    try:
        number = phone.parse(username)
    except InvalidPhoneNumber:
        raise InvalidGrant(WRONG_CODE) from None
    record = await uow.passwordless_codes.get(tenant.id, connection.id, number.e164)
    if record is None:
        raise InvalidGrant(WRONG_CODE)
    if await uow.passwordless_codes.try_count_attempt(record.id, now):
        return record
    fresh = await uow.passwordless_codes.get(tenant.id, connection.id, number.e164)
    spent = (
        fresh is not None
        and fresh.id == record.id
        and fresh.consumed_at is None
        and fresh.expires_at > now
    )
    raise InvalidGrant(TOO_MANY_ATTEMPTS if spent else WRONG_CODE)


async def _signed_in_user(
    uow: UnitOfWork,
    tenant: Tenant,
    app: Application,
    connection: Connection,
    record: PasswordlessCode,
    user: User | None,
    ctx: RequestContext,
    now: datetime,
) -> User:
    """The user the code proves, created on the first login; its number is now verified."""
    if user is not None:
        if user.phone_verified:
            return user
        verified = replace(user, phone_verified=True, updated_at=now)
        await uow.users.update(verified)
        return verified
    created = replace(
        _sms_user(tenant.id, record.user_id, connection.name, record.phone_number, now),
        phone_verified=True,
    )
    await uow.users.add(created)
    await uow.events.add(
        new_event(
            tenant.id,
            "ss",
            now,
            ctx,
            client_id=app.client_id,
            client_name=app.name,
            user_id=created.user_id,
            user_name=phone.mask(record.phone_number),
            connection=connection.name,
        )
    )
    return created


async def exchange_code(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    body: Mapping[str, Any],
    audiences: Audiences,
    ctx: RequestContext,
) -> Grant:
    """The ``passwordless/otp`` grant: ``username`` is the phone, ``realm`` the connection."""
    fields = {name: body.get(name) for name in ("username", "otp", "realm")}
    for name, value in fields.items():
        if not isinstance(value, str) or not value:
            raise InvalidRequest(f"Missing required parameter: {name}")
    username, candidate, realm = (str(v) for v in fields.values())
    audience = login.check_audience(body.get("audience"), audiences)
    connection = await connections.for_passwordless(uow, tenant, app, realm, InvalidRequest)
    options = connections.sms_options(connection)
    now = deps.clock.now()
    record = await _live_code(uow, tenant, connection, username, now)
    user = await uow.users.get_by_phone(tenant.id, connection.name, record.phone_number)
    budget = (
        await ratelimits.reserve_wrong_code(uow, deps.counters, tenant, user.user_id, now)
        if user is not None and options.brute_force_protection
        else None
    )
    stored = otp.HashedSecret(record.code_hash, record.key_id)
    right = otp.check_code(deps.keys, candidate.strip()[:32], record.id, stored)
    if not right or record.client_id != app.client_id:
        raise InvalidGrant(WRONG_CODE)
    if budget is not None:
        await budget.release()  # a right code costs nothing from the wrong-code budget
    if user is not None and user.blocked:
        raise PhonegateError("user is blocked", status=401, error="unauthorized")
    if user is None and options.disable_signup:
        raise AccessDenied(SIGNUP_DISABLED, status=403)
    if not await uow.passwordless_codes.try_consume(record.id, now):
        raise InvalidGrant(WRONG_CODE)
    user = await _signed_in_user(uow, tenant, app, connection, record, user, ctx, now)
    await uow.outbox.request_feedback(record.id)
    await login.succeed(uow, deps, tenant, app, user, ctx)
    return Grant(
        user=user,
        app=app,
        scope=granted_scope(body.get("scope"), audience, audiences),
        audience=audience,
        amr=["sms"],
    )
