"""The dashboard's operators: accounts of one tenant, an email and an argon2id password.

Signing in is guarded the way code checks are (``ratelimits``): before a password is
compared, one failure is reserved from the account's bucket and from the client IP's, and a
right password gives both back. An empty bucket refuses without comparing, so guessing is
bounded per account (whatever the IP) and per IP (whatever the account). Signing out ends
every session of the account: the session generation each cookie carries moves on.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime

from phonegate import ids
from phonegate.domain.deps import DomainDeps
from phonegate.domain.models import Admin
from phonegate.domain.ports import UnitOfWork
from phonegate.domain.ratelimits import Reservation, counters_for
from phonegate.domain.users import validate_email
from phonegate.errors import Conflict, InvalidGrant, InvalidRequest, TooManyRequests

MIN_PASSWORD_LENGTH = 12  # an admin holds every Management API scope
MAX_PASSWORD_LENGTH = 128
# Wrong passwords allowed before sign-ins are refused, and how fast one comes back.
ACCOUNT_FAILURES, ACCOUNT_REFILL_SECONDS = 5, 300
IP_FAILURES, IP_REFILL_SECONDS = 20, 180
WRONG_CREDENTIALS = "Wrong email or password."


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def validate_password(password: object) -> str:
    if not isinstance(password, str) or not (
        MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH
    ):
        raise InvalidRequest(
            f"An admin password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} "
            "characters long."
        )
    return password


async def create_admin(
    uow: UnitOfWork, deps: DomainDeps, tenant_id: str, email: object, password: object
) -> Admin:
    now = deps.clock.now()
    admin = Admin(
        id=ids.prefixed("adm"),
        tenant_id=tenant_id,
        email=validate_email(email),
        password_hash=await deps.passwords.hash(validate_password(password)),
        created_at=now,
        updated_at=now,
    )
    if not await uow.admins.add(admin):
        raise Conflict(f"An admin with the email {admin.email} already exists.")
    return admin


def _buckets(tenant_id: str, email: str, ip: str | None) -> list[tuple[str, int, float]]:
    # Hashed: an email may be longer than a counter key, and keys are not for reading.
    account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return [
        (f"{tenant_id}:admin-sign-in:{account}", ACCOUNT_FAILURES, 1 / ACCOUNT_REFILL_SECONDS),
        (f"{tenant_id}:admin-sign-in-ip:{ip or 'unknown'}", IP_FAILURES, 1 / IP_REFILL_SECONDS),
    ]


async def sign_in(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant_id: str,
    email: str,
    password: str,
    ip: str | None,
) -> Admin:
    """The admin these credentials name, or ``InvalidGrant`` (the failure stays counted) or
    ``TooManyRequests`` (nothing was compared)."""
    now = deps.clock.now()
    reserved = Reservation(counters_for(uow, deps.counters), now.timestamp())
    for key, capacity, per_second in _buckets(tenant_id, email, ip):
        if not await reserved.take(key, capacity, per_second):
            wait = max(1, math.ceil(reserved.last_retry_after))
            await reserved.release()
            minutes = math.ceil(wait / 60)
            raise TooManyRequests(
                f"Too many failed sign-ins. Try again in {minutes} minute"
                f"{'s' if minutes != 1 else ''}.",
                error_code="too_many_sign_ins",
                headers={"Retry-After": str(wait)},
            )
    admin = await uow.admins.get_by_email(tenant_id, email.strip())
    # An unknown email still costs a hash check, so timing does not tell which emails exist.
    matched = await deps.passwords.verify(admin.password_hash if admin else "", password)
    if admin is None or not matched:
        raise InvalidGrant(WRONG_CREDENTIALS)
    await reserved.release()
    await uow.admins.record_login(tenant_id, admin.id, now)
    return admin


async def sign_out(uow: UnitOfWork, admin: Admin, now: datetime) -> None:
    await uow.admins.end_sessions(admin.tenant_id, admin.id, now)
