"""Phone enrollment (``/mfa/associate``) and the user's authenticator list.

An enrollment starts unconfirmed and becomes active when its first code comes back through
the ``mfa-oob`` grant. The user's first enrollment also mints a recovery code, returned once
and confirmed together with the phone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from phonegate import ids, phone
from phonegate.domain import challenges
from phonegate.domain.deps import DomainDeps
from phonegate.domain.events import new_event
from phonegate.domain.models import (
    Application,
    Channel,
    PhoneAuthenticator,
    RequestContext,
    Tenant,
    TenantSettings,
    User,
)
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import InvalidRequest, NotFound, PhonegateError


@dataclass(frozen=True, slots=True)
class Enrollment:
    oob_code: str
    channel: Channel
    recovery_code: str | None


def _as_list(value: object, name: str) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InvalidRequest(f"{name} must be an array of strings.")


async def associate(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    user: User,
    body: dict[str, Any],
    ctx: RequestContext,
    *,
    additional_allowed: bool,
) -> Enrollment:
    """Start enrolling a phone. With an mfa_token only a user without an active
    authenticator may enroll; an MFA-API access token with ``enroll`` may add more."""
    types = _as_list(body.get("authenticator_types"), "authenticator_types")
    if types != ["oob"]:
        raise PhonegateError(
            "Only the oob authenticator type is supported.", error="unsupported_challenge_type"
        )
    requested = _as_list(body.get("oob_channels"), "oob_channels")
    if len(requested) != 1 or requested[0] not in ("sms", "voice"):
        raise InvalidRequest('oob_channels must be ["sms"] or ["voice"].')
    channel: Channel = "voice" if requested[0] == "voice" else "sms"
    settings = tenant.settings
    if not settings.factor_sms_enabled:
        raise InvalidRequest(
            "The phone factor is not enabled for this tenant.", error_code="feature_disabled"
        )
    if channel not in settings.message_types:
        raise InvalidRequest(f"The {channel} message type is not enabled for this tenant.")
    number = phone.parse(body.get("phone_number"))
    existing = await uow.authenticators.list_for_user(tenant.id, user.user_id)
    if any(a.confirmed for a in existing) and not additional_allowed:
        raise PhonegateError(
            "User is already enrolled.",
            status=403,
            error="access_denied",
            error_code="already_enrolled",
        )
    planned = await challenges.check_deliverable(uow, deps, tenant, channel, ctx, app, user)
    await challenges.admit_send(uow, deps, tenant, app, user, channel, number, ctx)
    now = deps.clock.now()
    # A new association replaces any that was never confirmed.
    await uow.authenticators.delete_unconfirmed(tenant.id, user.user_id)
    await uow.recovery_codes.delete_unconfirmed(tenant.id, user.user_id)
    auth = PhoneAuthenticator(
        id=ids.device_id(),
        tenant_id=tenant.id,
        user_id=user.user_id,
        phone_number=number.e164,
        channel=channel,
        confirmed=False,
        created_at=now,
        confirmed_at=None,
        last_auth_at=None,
    )
    await uow.authenticators.add(auth)
    recovery: tuple[str, str] | None = None
    has_recovery = any(
        c.confirmed for c in await uow.recovery_codes.get_for_user(tenant.id, user.user_id)
    )
    if settings.factor_recovery_code_enabled and not has_recovery:
        recovery = await challenges.add_recovery_code(
            uow, deps, tenant.id, user.user_id, confirmed=False
        )
    issued = await challenges.issue(
        uow,
        deps,
        tenant,
        app,
        user,
        auth,
        channel,
        "enrollment",
        ctx,
        planned,
        recovery_code_id=recovery[0] if recovery else None,
    )
    await uow.events.add(
        new_event(
            tenant.id,
            "gd_start_enroll",
            now,
            ctx,
            client_id=app.client_id,
            client_name=app.name,
            user_id=user.user_id,
            user_name=user.email,
            details=challenges.authenticator_details(auth, channel),
        )
    )
    return Enrollment(
        oob_code=issued.oob_code, channel=channel, recovery_code=recovery[1] if recovery else None
    )


def listed_channels(auth: PhoneAuthenticator, settings: TenantSettings) -> list[Channel]:
    """One entry per channel the phone can be challenged on (Auth0 lists sms|dev_X and
    voice|dev_X for the same phone when both message types are enabled)."""
    channels: list[Channel] = [auth.channel]
    if auth.confirmed:
        for channel in ("sms", "voice"):
            if channel in settings.message_types and channel not in channels:
                channels.append("sms" if channel == "sms" else "voice")
    return channels


async def list_authenticators(uow: UnitOfWork, tenant: Tenant, user: User) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    codes = [
        c for c in await uow.recovery_codes.get_for_user(tenant.id, user.user_id) if c.confirmed
    ]
    for code in codes[:1]:
        entries.append(
            {
                "id": f"recovery-code|{code.id}",
                "authenticator_type": "recovery-code",
                "active": True,
            }
        )
    for auth in await uow.authenticators.list_for_user(tenant.id, user.user_id):
        for channel in listed_channels(auth, tenant.settings):
            entries.append(
                {
                    "id": f"{channel}|{auth.id}",
                    "authenticator_type": "oob",
                    "active": auth.confirmed,
                    "oob_channel": channel,
                    "name": phone.mask(auth.phone_number),
                }
            )
    return entries


async def delete_authenticator(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    user: User,
    raw_id: str,
    ctx: RequestContext,
    client_id: str | None,
) -> None:
    kind, device = challenges.parse_authenticator_id(raw_id)
    if kind in ("sms", "voice", "phone"):
        auth = await uow.authenticators.get(tenant.id, device)
        if auth is None or auth.user_id != user.user_id:
            raise NotFound("Authenticator not found.", error_code="authenticator_not_found")
        await uow.authenticators.delete(tenant.id, device)
    elif kind == "recovery-code":
        codes = await uow.recovery_codes.get_for_user(tenant.id, user.user_id)
        if not any(c.id == device for c in codes):
            raise NotFound("Authenticator not found.", error_code="authenticator_not_found")
        await uow.recovery_codes.delete_all(tenant.id, user.user_id)
    else:
        raise NotFound("Authenticator not found.", error_code="authenticator_not_found")
    await uow.events.add(
        new_event(
            tenant.id,
            "gd_unenroll",
            deps.clock.now(),
            ctx,
            client_id=client_id,
            user_id=user.user_id,
            user_name=user.email,
            details={"authenticator": {"id": raw_id}},
        )
    )


async def delete_all(
    uow: UnitOfWork, deps: DomainDeps, tenant: Tenant, user: User, ctx: RequestContext
) -> None:
    await uow.authenticators.delete_all(tenant.id, user.user_id)
    await uow.recovery_codes.delete_all(tenant.id, user.user_id)
    await uow.events.add(
        new_event(
            tenant.id,
            "gd_unenroll",
            deps.clock.now(),
            ctx,
            user_id=user.user_id,
            user_name=user.email,
            description="All authenticators removed",
        )
    )


def authentication_methods(
    auths: list[PhoneAuthenticator], codes_confirmed: bool, recovery_id: str | None
) -> list[dict[str, Any]]:
    """``GET /api/v2/users/{id}/authentication-methods`` objects (numbers masked)."""
    methods: list[dict[str, Any]] = []
    for auth in auths:
        methods.append(
            {
                "id": f"phone|{auth.id}",
                "type": "phone",
                "confirmed": auth.confirmed,
                "name": auth.name or "",
                "phone_number": phone.mask(auth.phone_number),
                "preferred_authentication_method": auth.channel,
                "authentication_methods": [
                    {"id": f"{auth.channel}|{auth.id}", "type": auth.channel}
                ],
                "created_at": auth.created_at.isoformat().replace("+00:00", "Z"),
                **(
                    {"last_auth_at": auth.last_auth_at.isoformat().replace("+00:00", "Z")}
                    if auth.last_auth_at
                    else {}
                ),
            }
        )
    if codes_confirmed and recovery_id:
        methods.append(
            {"id": f"recovery-code|{recovery_id}", "type": "recovery-code", "confirmed": True}
        )
    return methods
