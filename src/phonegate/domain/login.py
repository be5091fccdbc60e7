"""The first factor: password grants, and the decision to demand a second factor."""

from __future__ import annotations

from dataclasses import dataclass

from phonegate.domain import tenants
from phonegate.domain.deps import DomainDeps
from phonegate.domain.events import new_event
from phonegate.domain.grants import Audiences, Grant, granted_scope
from phonegate.domain.models import DATABASE_CONNECTION, Application, RequestContext, Tenant, User
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import AccessDenied, InvalidGrant, InvalidRequest, MfaRequired, PhonegateError
from phonegate.phone import mask
from phonegate.tokens import MfaTransaction, seal_mfa_token


def check_audience(audience: object, audiences: Audiences) -> str | None:
    if audience is None or audience == "":
        return None
    if not isinstance(audience, str):
        raise InvalidRequest("audience must be a string")
    if audience == audiences.userinfo or audience in audiences.mfa:
        return audience
    raise AccessDenied(f"Service not found: {audience}", status=403)


@dataclass(frozen=True, slots=True)
class CheckedPassword:
    """A password checked before the grant's transaction: argon2 is slow by design, and
    inside the transaction it would hold SQLite's write lock (and a PostgreSQL connection)
    for the whole hash. ``password_hash`` is what it was checked against, so a password
    changed in between is checked again."""

    password_hash: str
    ok: bool
    # The password hashed with today's argon2 parameters, when ``password_hash`` used
    # others: the grant stores it, so changed parameters reach every user who logs in.
    rehashed: str | None = None


async def check_password_first(
    uow: UnitOfWork, deps: DomainDeps, tenant: Tenant, body: dict[str, object]
) -> str:
    """The stored hash for the grant's username ("" when there is none), read in a short
    transaction of its own; the caller verifies it with ``verify_outside``."""
    username = body.get("username")
    if not isinstance(username, str) or not username:
        return ""
    user = await uow.users.get_by_email(tenant.id, username)
    return user.password_hash if user else ""


async def verify_outside(
    deps: DomainDeps, password_hash: str, body: dict[str, object]
) -> CheckedPassword | None:
    password = body.get("password")
    if not isinstance(password, str) or not password:
        return None  # the grant itself explains what is missing
    ok = await deps.passwords.verify(password_hash, password[:1024])
    rehashed = (
        await deps.passwords.hash(password[:1024])
        if ok and deps.passwords.needs_rehash(password_hash)
        else None
    )
    return CheckedPassword(password_hash, ok, rehashed)


async def password_grant(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    body: dict[str, object],
    audiences: Audiences,
    ctx: RequestContext,
    *,
    realm_required: bool,
    checked: CheckedPassword | None = None,
) -> Grant:
    username, password, realm = body.get("username"), body.get("password"), body.get("realm")
    if not isinstance(username, str) or not username:
        raise InvalidRequest("Missing required parameter: username")
    if not isinstance(password, str) or not password:
        raise InvalidRequest("Missing required parameter: password")
    if realm_required and realm is None:
        raise InvalidRequest("Missing required parameter: realm")
    if realm is not None and realm != DATABASE_CONNECTION:
        raise InvalidRequest(f"Connection does not exist: {realm}")
    audience = check_audience(body.get("audience"), audiences)
    now = deps.clock.now()
    user = await uow.users.get_by_email(tenant.id, username)
    stored = user.password_hash if user else ""
    if checked is not None and checked.password_hash == stored:
        ok = checked.ok
    else:  # not checked beforehand, or the password changed since
        ok = await deps.passwords.verify(stored, password[:1024])
    if user is None or not ok:
        await uow.events.add(
            new_event(
                tenant.id,
                "fu" if user is None else "fp",
                now,
                ctx,
                client_id=app.client_id,
                client_name=app.name,
                user_id=user.user_id if user else None,
                user_name=username[:320],
                connection=DATABASE_CONNECTION,
            )
        )
        raise InvalidGrant("Wrong email or password.")
    if user.blocked:
        raise PhonegateError("user is blocked", status=401, error="unauthorized")
    if checked is not None and checked.rehashed and checked.password_hash == stored:
        await uow.users.replace_password_hash(tenant.id, user.user_id, stored, checked.rehashed)
    scope = granted_scope(body.get("scope"), audience, audiences)
    enrolled = any(
        a.confirmed for a in await uow.authenticators.list_for_user(tenant.id, user.user_id)
    )
    needs_mfa = tenants.mfa_required_for_every_login(tenant.settings) or (
        audience in audiences.mfa and enrolled
    )
    if needs_mfa:
        txn = MfaTransaction(
            tenant_id=tenant.id,
            user_id=user.user_id,
            client_id=app.client_id,
            audience=audience or "",
            scope=scope,
            realm=realm if isinstance(realm, str) else None,
            issued_at=now.timestamp(),
            expires_at=now.timestamp() + deps.policy.mfa_token_ttl_seconds,
        )
        await uow.events.add(
            new_event(
                tenant.id,
                "mfar",
                now,
                ctx,
                client_id=app.client_id,
                client_name=app.name,
                user_id=user.user_id,
                user_name=user.email,
                connection=DATABASE_CONNECTION,
            )
        )
        raise MfaRequired(
            "Multifactor authentication required",
            extra={"mfa_token": seal_mfa_token(txn, deps.keys)},
        )
    await succeed(uow, deps, tenant, app, user, ctx)
    return Grant(user=user, app=app, scope=scope, audience=audience)


async def succeed(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    user: User,
    ctx: RequestContext,
) -> None:
    now = deps.clock.now()
    await uow.users.record_login(tenant.id, user.user_id, now)
    await uow.events.add(
        new_event(
            tenant.id,
            "s",
            now,
            ctx,
            client_id=app.client_id,
            client_name=app.name,
            user_id=user.user_id,
            # Events never hold a full number: a phone user is named by its masked number.
            user_name=user.email or (mask(user.phone_number) if user.phone_number else None),
            connection=user.connection,
        )
    )
