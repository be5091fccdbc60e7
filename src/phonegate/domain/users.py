"""Users of the database connection ``Username-Password-Authentication``."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from phonegate import ids
from phonegate.domain.deps import DomainDeps
from phonegate.domain.events import new_event
from phonegate.domain.models import DATABASE_CONNECTION, RequestContext, User
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import Conflict, InvalidRequest, NotFound

# Deliberately loose (RFC 5322 is not worth enforcing here); one @, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128  # argon2 would take more, but a cap stops hash-cost abuse


def validate_email(email: object) -> str:
    if not isinstance(email, str) or len(email) > 320 or not _EMAIL.match(email):
        raise InvalidRequest(
            "Payload validation error: 'email' must be a valid email address.",
            error_code="invalid_body",
        )
    return email


def validate_password(password: object) -> str:
    if not isinstance(password, str):
        raise InvalidRequest(
            "Payload validation error: 'password' must be a string.", error_code="invalid_body"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"PasswordStrengthError: Password is too weak (at least {MIN_PASSWORD_LENGTH} characters).",
            error_code="invalid_body",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"PasswordStrengthError: Password is too long (at most {MAX_PASSWORD_LENGTH} characters).",
            error_code="invalid_body",
        )
    return password


def _check_connection(connection: object) -> None:
    if connection != DATABASE_CONNECTION:
        raise InvalidRequest(
            f"The connection does not exist; the only database connection is {DATABASE_CONNECTION}.",
            error_code="inexistent_connection",
        )


def _metadata(value: object, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(
            f"Payload validation error: '{field}' must be an object.", error_code="invalid_body"
        )
    return value


async def create_user(
    uow: UnitOfWork, deps: DomainDeps, tenant_id: str, body: dict[str, Any], ctx: RequestContext
) -> User:
    _check_connection(body.get("connection"))
    email = validate_email(body.get("email"))
    password = validate_password(body.get("password"))
    if await uow.users.get_by_email(tenant_id, email):
        raise Conflict("The user already exists.", error_code="auth0_idp_error")
    now = deps.clock.now()
    user = User(
        tenant_id=tenant_id,
        user_id=ids.user_id(),
        email=email,
        password_hash=await deps.passwords.hash(password),
        email_verified=bool(body.get("email_verified", False)),
        name=str(body.get("name") or email),
        nickname=str(body.get("nickname") or email.split("@", 1)[0]),
        blocked=bool(body.get("blocked", False)),
        user_metadata=_metadata(body.get("user_metadata"), "user_metadata"),
        app_metadata=_metadata(body.get("app_metadata"), "app_metadata"),
        created_at=now,
        updated_at=now,
    )
    await uow.users.add(user)
    await uow.events.add(
        new_event(
            tenant_id,
            "ss",
            now,
            ctx,
            user_id=user.user_id,
            user_name=email,
            connection=DATABASE_CONNECTION,
        )
    )
    return user


async def get_user(uow: UnitOfWork, tenant_id: str, user_id: str) -> User:
    user = await uow.users.get(tenant_id, user_id)
    if user is None:
        raise NotFound("The user does not exist.", error_code="inexistent_user")
    return user


async def update_user(
    uow: UnitOfWork, deps: DomainDeps, tenant_id: str, user_id: str, body: dict[str, Any]
) -> User:
    user = await get_user(uow, tenant_id, user_id)
    allowed = {
        "email",
        "password",
        "name",
        "nickname",
        "blocked",
        "email_verified",
        "user_metadata",
        "app_metadata",
        "connection",
        "verify_email",
        "verify_password",
    }
    unknown = set(body) - allowed
    if unknown:
        raise InvalidRequest(
            f"Payload validation error: 'Additional properties not allowed: {', '.join(sorted(unknown))}'.",
            error_code="invalid_body",
        )
    changes: dict[str, Any] = {}
    if "connection" in body:
        _check_connection(body["connection"])
    if "email" in body:
        email = validate_email(body["email"])
        other = await uow.users.get_by_email(tenant_id, email)
        if other and other.user_id != user_id:
            raise Conflict("The specified new email already exists", error_code="email_conflict")
        changes["email"] = email
    if "password" in body:
        changes["password_hash"] = await deps.passwords.hash(validate_password(body["password"]))
    for flag in ("blocked", "email_verified"):
        if flag in body:
            if not isinstance(body[flag], bool):
                raise InvalidRequest(
                    f"Payload validation error: '{flag}' must be a boolean.",
                    error_code="invalid_body",
                )
            changes[flag] = body[flag]
    for text in ("name", "nickname"):
        if text in body:
            if not isinstance(body[text], str) or not body[text] or len(body[text]) > 255:
                raise InvalidRequest(
                    f"Payload validation error: '{text}' must be a non-empty string.",
                    error_code="invalid_body",
                )
            changes[text] = body[text]
    for meta in ("user_metadata", "app_metadata"):
        if meta in body:
            # Auth0 merges metadata one level deep; a null value removes a key.
            merged = dict(getattr(user, meta))
            for key, value in _metadata(body[meta], meta).items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            changes[meta] = merged
    updated = replace(user, updated_at=deps.clock.now(), **changes)
    await uow.users.update(updated)
    return updated


async def delete_user(
    uow: UnitOfWork, deps: DomainDeps, tenant_id: str, user_id: str, ctx: RequestContext
) -> None:
    if not await uow.users.delete(tenant_id, user_id):
        raise NotFound("The user does not exist.", error_code="inexistent_user")
    await uow.events.add(new_event(tenant_id, "du", deps.clock.now(), ctx, user_id=user_id))


def profile_claims(user: User, scopes: list[str]) -> dict[str, Any]:
    """OpenID Connect standard claims for the scopes granted (ID token and /userinfo)."""
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        claims.update(
            name=user.name,
            nickname=user.nickname,
            updated_at=user.updated_at.isoformat().replace("+00:00", "Z"),
        )
    if "email" in scopes and user.email is not None:
        claims.update(email=user.email, email_verified=user.email_verified)
    if "phone" in scopes and user.phone_number:
        claims.update(phone_number=user.phone_number, phone_verified=user.phone_verified)
    return claims
