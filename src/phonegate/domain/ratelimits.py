"""Abuse limits: who may make phonegate send a message, or guess a code, and how often.

Every message costs the operator money, and SMS pumping to premium numbers is the attack the
seeds warn about, so the limits are on by default and cover each way to multiply sends:

- the user: a bucket of 10 messages refilling one per hour (Auth0's), and once it is drained
  at most one voice call per hour;
- wrong codes: a bucket of 10 failures per user refilling one per 6 minutes (Auth0's);
- the client IP: 50 send requests a minute, after which the IP is blocked for a while;
- the destination number and its country calling code: velocity limits across users, so one
  number or one premium prefix cannot drain the budget through many accounts;
- the tenant: a daily message budget with a warning threshold and a hard stop;
- destination countries: an allow list or a deny list, for SMS and voice separately, checked
  before any provider is called; premium-rate numbers are refused outright.

All counters go through the ``Counters`` port (the database's, or Redis with several
processes), so every limit holds across processes. A request refused by a later limit gives
back what earlier ones took, so no limit counts a request that did not send.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from phonegate import phone
from phonegate.domain.events import new_event
from phonegate.domain.models import Channel, RequestContext, Tenant
from phonegate.domain.ports import Counters, UnitOfWork
from phonegate.errors import InvalidRequest, PhonegateError, TooManyRequests

HOUR = 3600.0
DAY = 86400.0

DEFAULTS: dict[str, Any] = {
    "user_messages_per_hour": 10,
    "user_voice_per_hour_when_drained": 1,
    "wrong_codes": 10,
    "wrong_code_refill_seconds": 360,
    "ip_sends_per_minute": 50,
    "ip_block_seconds": 900,
    "ip_passwordless_per_hour": 50,
    "number_messages_per_hour": 10,
    "prefix_messages_per_hour": 200,
    "tenant_daily_budget": 10000,
    "tenant_budget_warning_percent": 80,
    "refuse_premium_numbers": True,
    "countries": {"sms": {"allow": [], "deny": []}, "voice": {"allow": [], "deny": []}},
}
# Integer settings and their bounds.
BOUNDS: dict[str, tuple[int, int]] = {
    "user_messages_per_hour": (1, 1000),
    "user_voice_per_hour_when_drained": (0, 100),
    "wrong_codes": (1, 1000),
    "wrong_code_refill_seconds": (1, 86400),
    "ip_sends_per_minute": (1, 100000),
    "ip_block_seconds": (0, 86400),
    "ip_passwordless_per_hour": (1, 100000),
    "number_messages_per_hour": (1, 10000),
    "prefix_messages_per_hour": (1, 1000000),
    "tenant_daily_budget": (1, 100000000),
    "tenant_budget_warning_percent": (1, 100),
}

TOO_MANY_SMS = "Too many SMS sent by the user. Wait for some minutes before retrying."
TOO_MANY_FAILED = "Too many failed codes. Wait for some minutes before retrying."
TOO_MANY_FROM_IP = "Too many requests from this IP address. Wait for some minutes before retrying."


def effective(tenant: Tenant) -> dict[str, Any]:
    merged = {**DEFAULTS, **tenant.settings.limits}
    countries = {**DEFAULTS["countries"], **tenant.settings.limits.get("countries", {})}
    merged["countries"] = {
        ch: {"allow": [], "deny": [], **countries.get(ch, {})} for ch in ("sms", "voice")
    }
    return merged


def _country_list(value: object, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise InvalidRequest(
            f"Payload validation error: {where} must be a list of ISO 3166-1 alpha-2 codes.",
            error_code="invalid_body",
        )
    unknown = sorted({c for c in value if not phone.is_region(c)})
    if unknown:
        # An allow list of a code no number has ("ZZ") would silently block everything.
        raise InvalidRequest(
            f"Payload validation error: {where} holds unknown country codes: {', '.join(unknown)}.",
            error_code="invalid_body",
        )
    return sorted({c.upper() for c in value})


def update(tenant: Tenant, body: Mapping[str, Any]) -> dict[str, Any]:
    """Apply a PATCH of the limits; returns the effective limits."""
    unknown = sorted(set(body) - set(DEFAULTS))
    if unknown:
        raise InvalidRequest(
            f"Payload validation error: unknown field(s): {', '.join(unknown)}.",
            error_code="invalid_body",
        )
    limits = dict(tenant.settings.limits)
    for key, value in body.items():
        if key in BOUNDS:
            low, high = BOUNDS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidRequest(
                    f"Payload validation error: '{key}' must be an integer from {low} to {high}.",
                    error_code="invalid_body",
                )
            limits[key] = value
        elif key == "refuse_premium_numbers":
            if not isinstance(value, bool):
                raise InvalidRequest(
                    "Payload validation error: 'refuse_premium_numbers' must be a boolean.",
                    error_code="invalid_body",
                )
            limits[key] = value
        elif key == "countries":
            if not isinstance(value, dict) or set(value) - {"sms", "voice"}:
                raise InvalidRequest(
                    'Payload validation error: countries must be {"sms": {...}, "voice": {...}}.',
                    error_code="invalid_body",
                )
            countries = dict(limits.get("countries", {}))
            for channel, rule in value.items():
                if not isinstance(rule, dict) or set(rule) - {"allow", "deny"}:
                    raise InvalidRequest(
                        f"Payload validation error: countries.{channel} takes 'allow' and/or 'deny'.",
                        error_code="invalid_body",
                    )
                cleaned = {k: _country_list(v, f"countries.{channel}.{k}") for k, v in rule.items()}
                if cleaned.get("allow") and cleaned.get("deny"):
                    raise InvalidRequest(
                        f"countries.{channel}: use an allow list or a deny list, not both.",
                        error_code="invalid_body",
                    )
                countries[channel] = cleaned
            limits["countries"] = countries
    tenant.settings.limits = limits
    return effective(tenant)


def _refused(
    description: str,
    limit: int,
    retry_after: float,
    now: float,
    *,
    error_code: str,
    limit_name: str,
) -> TooManyRequests:
    # Round up to whole seconds, but not for float noise (1.0000000000002 is 1).
    wait = 60 if math.isinf(retry_after) else max(1, math.ceil(round(retry_after, 6)))
    refused = TooManyRequests(
        description,
        error_code=error_code,
        headers={
            "Retry-After": str(wait),
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(now) + wait),
        },
    )
    refused.limit = limit_name
    return refused


@dataclass
class Reservation:
    """Tokens taken for one request, given back if a later check refuses it."""

    counters: Counters
    now: float
    taken: list[tuple[str, int, float]] = field(default_factory=list)
    spent: list[str] = field(default_factory=list)
    last_retry_after: float = 0.0
    last_remaining: int = 0
    # This take crossed the tenant's daily warning threshold (it happens once a day).
    budget_warned: bool = False

    async def take(self, key: str, capacity: int, per_second: float) -> bool:
        result = await self.counters.take(
            key, capacity=capacity, per_second=per_second, now=self.now
        )
        if result.allowed:
            self.taken.append((key, capacity, per_second))
        self.last_retry_after = result.retry_after
        self.last_remaining = result.remaining
        return result.allowed

    async def spend(self, key: str, limit: int) -> bool:
        result = await self.counters.spend(key, limit=limit, now=self.now)
        if result.allowed:
            self.spent.append(key)
        self.last_remaining = result.remaining
        return result.allowed

    async def release(self) -> None:
        for key, capacity, per_second in reversed(self.taken):
            await self.counters.give_back(
                key, capacity=capacity, per_second=per_second, now=self.now
            )
        for key in reversed(self.spent):
            await self.counters.unspend(key, now=self.now)
        self.taken.clear()
        self.spent.clear()


def counters_for(uow: UnitOfWork, shared: Counters | None) -> Counters:
    return shared if shared is not None else uow.counters


@dataclass(frozen=True, slots=True)
class Destination:
    e164: str
    region: str | None
    country_code: int
    premium: bool


def check_destination(tenant: Tenant, channel: Channel, number: Destination) -> str | None:
    """Why this number may not receive this channel here, or None (no counter involved)."""
    limits = effective(tenant)
    if number.premium and limits["refuse_premium_numbers"]:
        return "premium-rate numbers are not accepted"
    rule = limits["countries"][channel]
    region = (number.region or "").upper()
    if rule.get("allow") and region not in rule["allow"]:
        return f"{channel} messages to {region or 'this country'} are not allowed"
    if region and region in rule.get("deny", []):
        return f"{channel} messages to {region} are not allowed"
    return None


async def reserve_send(
    uow: UnitOfWork,
    shared: Counters | None,
    tenant: Tenant,
    *,
    user_id: str,
    channel: Channel,
    number: Destination,
    ctx: RequestContext,
    now: datetime,
) -> Reservation:
    """Take what one message costs from every bucket it draws on, or refuse with 429 (and
    give back what was taken). The caller logs the refusal through ``refusal_events``."""
    limits = effective(tenant)
    counters = counters_for(uow, shared)
    epoch = now.timestamp()
    r = Reservation(counters, epoch)
    ten = tenant.id
    ip = ctx.ip or "unknown"
    blocked = await counters.blocked_until(f"{ten}:ip-block:{ip}", now=epoch)
    if blocked is not None:
        raise _refused(
            TOO_MANY_FROM_IP,
            limits["ip_sends_per_minute"],
            blocked - epoch,
            epoch,
            error_code="ip_blocked",
            limit_name="ip",
        )
    checks: list[tuple[str, int, float, str, str, str]] = [
        (
            f"{ten}:ip-send:{ip}",
            limits["ip_sends_per_minute"],
            limits["ip_sends_per_minute"] / 60.0,
            TOO_MANY_FROM_IP,
            "ip_blocked",
            "ip",
        ),
        (
            f"{ten}:user-send:{user_id}",
            limits["user_messages_per_hour"],
            1 / HOUR,
            TOO_MANY_SMS,
            "too_many_sms",
            "user_send",
        ),
        (
            f"{ten}:number:{number.e164}",
            limits["number_messages_per_hour"],
            limits["number_messages_per_hour"] / HOUR,
            "Too many messages to this phone number. Wait for some minutes before retrying.",
            "too_many_sms_to_number",
            "destination",
        ),
        (
            f"{ten}:prefix:{number.country_code}",
            limits["prefix_messages_per_hour"],
            limits["prefix_messages_per_hour"] / HOUR,
            "Too many messages to this country calling code. Wait for some minutes before "
            "retrying.",
            "too_many_sms_to_prefix",
            "prefix",
        ),
    ]
    for key, capacity, rate, description, code, name in checks:
        if not await r.take(key, capacity, rate):
            await r.release()
            wait = r.last_retry_after
            if name == "ip" and limits["ip_block_seconds"] > 0:
                wait = limits["ip_block_seconds"]  # the block, not the next token, is the wait
                await counters.block(f"{ten}:ip-block:{ip}", until=epoch + wait, now=epoch)
            raise _refused(description, capacity, wait, epoch, error_code=code, limit_name=name)
        if name == "user_send" and channel == "voice" and r.last_remaining == 0:
            # The burst is spent: from here on at most this many calls an hour.
            per_hour = limits["user_voice_per_hour_when_drained"]
            if per_hour == 0 or not await r.take(
                f"{ten}:user-voice:{user_id}", per_hour, per_hour / HOUR
            ):
                await r.release()
                raise _refused(
                    "Too many voice calls to the user. Wait an hour before retrying.",
                    per_hour,
                    # With no calls once drained, a call waits for a token beyond the
                    # one just given back: an hour.
                    r.last_retry_after if per_hour else HOUR,
                    epoch,
                    error_code="too_many_calls",
                    limit_name="user_voice",
                )
    budget = limits["tenant_daily_budget"]
    day = int(epoch // DAY)
    if not await r.spend(f"{ten}:budget:{day}", budget):
        await r.release()
        raise _refused(
            "The tenant's daily message budget is spent. Try again tomorrow.",
            budget,
            (day + 1) * DAY - epoch,
            epoch,
            error_code="too_many_sms_per_tenant",
            limit_name="tenant_budget",
        )
    warn_at = budget - math.ceil(budget * limits["tenant_budget_warning_percent"] / 100)
    if r.last_remaining == warn_at:
        # Exactly one take sees this count: the warning is written once a day.
        r.budget_warned = True
        await uow.events.add(
            new_event(
                ten,
                "pg_budget_warning",
                now,
                description=(
                    f"{limits['tenant_budget_warning_percent']}% of today's message budget "
                    f"({budget}) is spent"
                ),
                details={"budget": budget, "remaining": warn_at},
            )
        )
    return r


async def reserve_wrong_code(
    uow: UnitOfWork, shared: Counters | None, tenant: Tenant, user_id: str, now: datetime
) -> Reservation:
    """Reserve one failure from the user's wrong-code budget before a code is compared;
    a right code gives it back (``Reservation.release``). Success does not refill it."""
    limits = effective(tenant)
    r = Reservation(counters_for(uow, shared), now.timestamp())
    capacity = limits["wrong_codes"]
    if not await r.take(
        f"{tenant.id}:wrong-code:{user_id}", capacity, 1 / limits["wrong_code_refill_seconds"]
    ):
        raise _refused(
            TOO_MANY_FAILED,
            capacity,
            r.last_retry_after,
            r.now,
            error_code="too_many_failed_codes",
            limit_name="wrong_code",
        )
    return r


async def reserve_passwordless_ip(
    uow: UnitOfWork, shared: Counters | None, tenant: Tenant, ctx: RequestContext, now: datetime
) -> None:
    """Count one ``/passwordless/start`` from the request's IP (Auth0: 50 an hour per IP), or
    refuse with 429. Every request counts, answered with a code or not: the limit is on
    requests, so it also bounds how fast one address can probe which numbers have users."""
    per_hour = effective(tenant)["ip_passwordless_per_hour"]
    r = Reservation(counters_for(uow, shared), now.timestamp())
    if not await r.take(
        f"{tenant.id}:ip-passwordless:{ctx.ip or 'unknown'}", per_hour, per_hour / HOUR
    ):
        raise _refused(
            TOO_MANY_FROM_IP,
            per_hour,
            r.last_retry_after,
            r.now,
            error_code="too_many_requests",
            limit_name="ip_passwordless",
        )


# Which log event each refusal writes besides the failed-send event.
REFUSAL_EVENTS = {
    "ip": "limit_mu",
    "user_send": "limit_phone",
    "user_voice": "limit_phone",
    "destination": "limit_phone",
    "prefix": "limit_phone",
    "tenant_budget": "pg_budget_exceeded",
}


async def log_send_refusal(
    uow: UnitOfWork,
    tenant: Tenant,
    refused: PhonegateError,
    channel: Channel,
    ctx: RequestContext,
    now: datetime,
    *,
    client_id: str | None,
    client_name: str | None,
    user_id: str | None,
    user_name: str | None,
) -> None:
    """The events of a refused send: the failed send with its reason, and the limit's own."""
    limit = getattr(refused, "limit", None)
    common: dict[str, Any] = {
        "client_id": client_id,
        "client_name": client_name,
        "user_id": user_id,
        "user_name": user_name,
    }
    await uow.events.add(
        new_event(
            tenant.id,
            f"gd_send_{channel}_failure",
            now,
            ctx,
            description=refused.description,
            details={
                "failure_details": {
                    "errorCode": refused.error_code or "error_sending_sms",
                    "message": refused.description,
                },
                "limit": limit,
            },
            **common,
        )
    )
    extra = REFUSAL_EVENTS.get(limit or "")
    if extra:
        await uow.events.add(
            new_event(
                tenant.id,
                extra,
                now,
                ctx,
                description=refused.description,
                details={"type": limit, "delivery_method": channel},
                **common,
            )
        )
