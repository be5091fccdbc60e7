"""Second-factor challenges: issue a code, deliver it through the outbox, verify it.

A challenge holds only a keyed hash of its code. Verification counts the attempt in its own
guarded UPDATE before comparing (so a guess is spent even if the request then dies), and a
correct code wins only through a second guarded UPDATE (``consumed_at IS NULL``): of any
number of concurrent correct submissions exactly one gets tokens.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from phonegate import ids, otp, phone
from phonegate.domain import delivery_plan, messages, phone_templates, ratelimits
from phonegate.domain.deps import DomainDeps
from phonegate.domain.events import new_event
from phonegate.domain.models import (
    DATABASE_CONNECTION,
    Application,
    Challenge,
    ChallengeKind,
    Channel,
    PhoneAuthenticator,
    RecoveryCode,
    RequestContext,
    Tenant,
    User,
)
from phonegate.domain.outbox import Payload, new_message
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import (
    DeliveryUnavailable,
    ExpiredToken,
    InvalidGrant,
    InvalidRequest,
    PhonegateError,
    ProviderUnavailable,
    TooManyRequests,
)
from phonegate.phone import mask
from phonegate.tokens import MfaTransaction, open_mfa_token


def oob_hash(oob_code: str) -> str:
    # oob_codes are 32 random characters, so a plain digest is enough to find the row
    # without storing the code, and it survives server-key rotation.
    return hashlib.sha256(oob_code.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Issued:
    oob_code: str
    challenge: Challenge


async def load_transaction(
    uow: UnitOfWork, deps: DomainDeps, tenant: Tenant, app: Application, mfa_token: object
) -> tuple[MfaTransaction, User]:
    txn = open_mfa_token(
        mfa_token if isinstance(mfa_token, str) else None, deps.keys, deps.clock.now()
    )
    if txn.tenant_id != tenant.id:
        raise InvalidGrant("Malformed mfa_token")
    if txn.client_id != app.client_id:
        raise InvalidRequest("mfa_token not issued to this client")
    user = await uow.users.get(tenant.id, txn.user_id)
    if user is None or user.blocked:
        raise InvalidGrant("The mfa_token provided is invalid. Try getting a new token.")
    return txn, user


def authenticator_details(auth: PhoneAuthenticator, channel: Channel) -> dict[str, object]:
    return {
        "authenticator": {
            "id": f"{channel}|{auth.id}",
            "type": channel,
            "phone_number": mask(auth.phone_number),
        }
    }


async def check_deliverable(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    channel: Channel,
    ctx: RequestContext,
    app: Application,
    user: User,
) -> delivery_plan.Plan:
    """Refuse up front what the tenant's delivery chain cannot carry, and log it as a failed
    send (and, when an operator must act, as an admin event) — never a silent drop."""
    planned = await delivery_plan.plan(uow, deps.catalog, tenant, channel)
    if planned.steps:
        return planned
    reason = planned.problem or f"no provider can send {channel} messages"
    now = deps.clock.now()
    await uow.events.add(
        new_event(
            tenant.id,
            f"gd_send_{channel}_failure",
            now,
            ctx,
            description=reason,
            client_id=app.client_id,
            client_name=app.name,
            user_id=user.user_id,
            user_name=user.email,
            details={"failure_details": {"errorCode": "error_sending_sms", "message": reason}},
        )
    )
    if "cannot send" not in reason:
        await uow.events.add(
            new_event(
                tenant.id,
                "pg_provider_misconfigured",
                now,
                description=f"Phone messages cannot be sent: {reason}",
                details={"channel": channel},
            )
        )
    raise DeliveryUnavailable(f"The code cannot be sent: {reason}.")


async def admit_send(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    user: User,
    channel: Channel,
    number: phone.PhoneNumber,
    ctx: RequestContext,
) -> None:
    """The abuse checks of one send, before anything is queued: destination rules first
    (no provider is ever asked to reach a refused country or a premium number), then every
    rate limit (domain/ratelimits.py). A refusal is logged and raised."""
    now = deps.clock.now()
    who: dict[str, str | None] = {
        "client_id": app.client_id,
        "client_name": app.name,
        "user_id": user.user_id,
        "user_name": user.email,
    }
    destination = ratelimits.Destination(
        number.e164, number.region, number.country_code, number.premium
    )
    reason = ratelimits.check_destination(tenant, channel, destination)
    refused: PhonegateError | None = None
    if reason is not None:
        refused = InvalidRequest(
            f"The code cannot be sent: {reason}.", error_code="destination_not_allowed"
        )
    else:
        try:
            reservation = await ratelimits.reserve_send(
                uow,
                deps.counters,
                tenant,
                user_id=user.user_id,
                channel=channel,
                number=destination,
                ctx=ctx,
                now=now,
            )
        except TooManyRequests as exc:
            refused = exc
        else:
            if reservation.budget_warned and deps.metrics is not None:
                deps.metrics.record_budget_warning()
    if refused is not None:
        if deps.metrics is not None:
            deps.metrics.record_refusal(getattr(refused, "limit", "country"))
        await ratelimits.log_send_refusal(uow, tenant, refused, channel, ctx, now, **who)
        raise refused


async def issue(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    user: User,
    auth: PhoneAuthenticator,
    channel: Channel,
    kind: ChallengeKind,
    ctx: RequestContext,
    planned: delivery_plan.Plan,
    *,
    recovery_code_id: str | None = None,
) -> Issued:
    """A new challenge and its message in the outbox. When the first provider of the chain
    owns the code (hosted verification), phonegate makes none: the challenge remembers which
    provider will check it, and the message asks the vendor to send its own."""
    now = deps.clock.now()
    ttl = tenant.settings.otp_ttl_seconds or deps.policy.code_ttl_seconds
    expires = now + timedelta(seconds=ttl)
    challenge_id = ids.prefixed("ch")
    first = planned.steps[0] if planned.steps else None
    hosted_by = first.row.id if first is not None and first.hosted and first.row else None
    code = otp.new_code(tenant.settings.otp_length)
    hashed = (
        # No code to hash: the "hash" names the provider that will check it.
        otp.HashedSecret(HOSTED_PREFIX + hosted_by, HOSTED_KEY)
        if hosted_by
        else otp.hash_code(deps.keys, code, challenge_id)
    )
    oob_code = ids.random_token(32)
    challenge = Challenge(
        id=challenge_id,
        tenant_id=tenant.id,
        user_id=user.user_id,
        client_id=app.client_id,
        authenticator_id=auth.id,
        kind=kind,
        channel=channel,
        code_hash=hashed.digest,
        key_id=hashed.key_id,
        created_at=now,
        expires_at=expires,
        attempts=0,
        max_attempts=deps.policy.code_max_attempts,
        consumed_at=None,
        recovery_code_id=recovery_code_id,
    )
    await uow.challenges.add(challenge, oob_hash(oob_code))
    message_type = "otp_enroll" if kind == "enrollment" else "otp_verify"
    composed = await compose_for_user(
        uow, tenant, app, user, message_type, channel, code, ctx, phone_number=auth.phone_number
    )
    sent_code: str | None = None if hosted_by else code
    await uow.outbox.add(
        new_message(
            deps.keys,
            tenant_id=tenant.id,
            channel=channel,
            recipient=auth.phone_number,
            payload=Payload(
                text="" if hosted_by else composed.text,
                code=sent_code,
                locale=composed.locale,
                kind="enrollment" if kind == "enrollment" else "verification",
                sender=composed.sender,
            ),
            now=now,
            expires_at=expires,
            challenge_id=challenge_id,
            user_id=user.user_id,
            client_id=app.client_id,
            ctx=ctx,
        )
    )
    return Issued(oob_code=oob_code, challenge=challenge)


async def compose_for_user(
    uow: UnitOfWork,
    tenant: Tenant,
    app: Application,
    user: User,
    message_type: str,
    channel: Channel,
    code: str,
    ctx: RequestContext,
    *,
    phone_number: str | None = None,
) -> phone_templates.Composed:
    """The text of a code message to this user, in the language the request or the user's
    profile asks for (see ``phone_templates``)."""
    template = next(
        (t for t in await uow.phone_templates.list(tenant.id) if t.type == message_type), None
    )
    stored_locale = user.user_metadata.get("locale")
    return phone_templates.compose(
        message_type,
        channel,
        messages.MessageContext(
            code=code,
            channel=channel,
            friendly_name=tenant.settings.friendly_name,
            application_name=app.name,
            client_id=app.client_id,
            client_metadata=dict(app.metadata),
            user={
                "user_id": user.user_id,
                "email": user.email,
                "email_verified": user.email_verified,
                "name": user.name,
                "nickname": user.nickname,
                "phone_number": phone_number or "",
                "login_count": user.logins_count,
                "user_metadata": user.user_metadata,
                "app_metadata": user.app_metadata,
            },
            connection=user.connection,
            tenant_name=tenant.name,
        ),
        tenant=tenant,
        languages=[*ctx.languages, stored_locale if isinstance(stored_locale, str) else None],
        template=template,
    )


HOSTED_PREFIX = "hosted:"
HOSTED_KEY = "hosted"  # the key id of a challenge whose code the vendor owns


def _measure(deps: DomainDeps, challenge: Challenge, outcome: str) -> None:
    if deps.metrics is not None:
        deps.metrics.record_verification(challenge.kind, outcome)


async def _code_matches(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    challenge: Challenge,
    auth: PhoneAuthenticator,
    candidate: str,
) -> bool:
    """Compare locally in constant time, or ask the vendor that owns the code."""
    if challenge.key_id != HOSTED_KEY:
        stored = otp.HashedSecret(challenge.code_hash, challenge.key_id)
        return otp.check_code(deps.keys, candidate, challenge.id, stored)
    row = await uow.phone_providers.get(tenant.id, challenge.code_hash.removeprefix(HOSTED_PREFIX))
    if row is None or deps.hosted is None:
        raise ProviderUnavailable(
            "The provider that sent this code is no longer configured. Request a new code."
        )
    if not candidate.isdigit():
        return False  # never forward garbage to the vendor
    sent = [m for m in await uow.outbox.for_challenge(challenge.id) if m.provider_message_id]
    verification_id = sent[-1].provider_message_id if sent else None
    return await deps.hosted.check(row, auth.phone_number, candidate, verification_id)


def parse_authenticator_id(raw: object) -> tuple[str, str]:
    if not isinstance(raw, str) or "|" not in raw or len(raw) > 100:
        raise InvalidRequest("Invalid authenticator_id.")
    kind, _, device = raw.partition("|")
    return kind, device


async def start_challenge(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    body: dict[str, object],
    ctx: RequestContext,
) -> str:
    """``POST /mfa/challenge``: send a verification code to an enrolled phone."""
    _, user = await load_transaction(uow, deps, tenant, app, body.get("mfa_token"))
    challenge_type = body.get("challenge_type", "oob")
    if not isinstance(challenge_type, str) or "oob" not in challenge_type.split():
        raise PhonegateError(
            "User does not have any authenticator enrolled that supports the requested challenge type.",
            error="unsupported_challenge_type",
        )
    enrolled = [
        a for a in await uow.authenticators.list_for_user(tenant.id, user.user_id) if a.confirmed
    ]
    if not enrolled:
        raise PhonegateError(
            "User is not enrolled. Please enroll first.", error="association_required"
        )
    if not tenant.settings.factor_sms_enabled:
        raise PhonegateError(
            "The phone factor is not enabled for this tenant.", error="unsupported_challenge_type"
        )
    channel: Channel
    if body.get("authenticator_id") is not None:
        kind, device = parse_authenticator_id(body.get("authenticator_id"))
        auth = next((a for a in enrolled if a.id == device), None)
        if auth is None or kind not in ("sms", "voice"):
            raise InvalidRequest(
                "Authenticator not found for this user.", error_code="not_enrolled"
            )
        channel = "voice" if kind == "voice" else "sms"
    else:
        auth = enrolled[0]
        wanted = body.get("oob_channel")
        channel = "voice" if wanted == "voice" else ("sms" if wanted == "sms" else auth.channel)
    if channel != auth.channel and channel not in tenant.settings.message_types:
        raise InvalidRequest(f"The {channel} message type is not enabled for this tenant.")
    planned = await check_deliverable(uow, deps, tenant, channel, ctx, app, user)
    await admit_send(uow, deps, tenant, app, user, channel, phone.parse(auth.phone_number), ctx)
    issued = await issue(
        uow, deps, tenant, app, user, auth, channel, "authentication", ctx, planned
    )
    await uow.events.add(
        new_event(
            tenant.id,
            "gd_start_auth",
            deps.clock.now(),
            ctx,
            client_id=app.client_id,
            client_name=app.name,
            user_id=user.user_id,
            user_name=user.email,
            details=authenticator_details(auth, channel),
        )
    )
    return issued.oob_code


async def verify_oob(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    body: dict[str, object],
    ctx: RequestContext,
    *,
    user: User | None = None,
) -> tuple[User, ChallengeKind]:
    """The ``mfa-oob`` grant: confirm an enrollment or complete a challenge. ``user`` is the
    mfa_token's user when the caller has already loaded the token (load_transaction)."""
    if user is None:
        _, user = await load_transaction(uow, deps, tenant, app, body.get("mfa_token"))
    oob_code, binding_code = body.get("oob_code"), body.get("binding_code")
    if not isinstance(oob_code, str) or not oob_code:
        raise InvalidRequest("Missing required parameter: oob_code")
    if not isinstance(binding_code, str) or not binding_code:
        raise InvalidRequest("binding_code is required")
    challenge = await uow.challenges.get_by_oob_hash(tenant.id, oob_hash(oob_code[:128]))
    if challenge is None:
        raise InvalidGrant("Invalid oob_code.")
    if challenge.user_id != user.user_id or challenge.client_id != app.client_id:
        raise InvalidRequest("The oob_code doesn't match the mfa_token")
    now = deps.clock.now()
    auth = await uow.authenticators.get(tenant.id, challenge.authenticator_id)
    if auth is None:
        raise InvalidGrant("Invalid oob_code.")
    details = authenticator_details(auth, challenge.channel)
    if not await uow.challenges.try_count_attempt(challenge.id, now):
        fresh = await uow.challenges.get(tenant.id, challenge.id)
        if fresh is None or fresh.consumed_at is not None:
            _measure(deps, challenge, "reused")
            raise InvalidGrant("This oob_code has already been used.")
        if fresh.expires_at <= now:
            _measure(deps, challenge, "expired")
            raise ExpiredToken("The oob_code is expired. Request a new code.")
        _measure(deps, challenge, "too_many_attempts")
        raise InvalidGrant(
            "Too many failed codes for this oob_code. Request a new code.",
            error_code="too_many_attempts",
        )
    try:
        budget = await ratelimits.reserve_wrong_code(uow, deps.counters, tenant, user.user_id, now)
    except TooManyRequests as exc:
        _measure(deps, challenge, "too_many_attempts")
        if deps.metrics is not None:
            deps.metrics.record_refusal("wrong_code")
        await uow.events.add(
            new_event(
                tenant.id,
                "gd_otp_rate_limit_exceed",
                now,
                ctx,
                description=exc.description,
                client_id=app.client_id,
                client_name=app.name,
                user_id=user.user_id,
                user_name=user.email,
                details=details,
            )
        )
        raise
    if await _code_matches(uow, deps, tenant, challenge, auth, binding_code.strip()[:32]):
        await budget.release()  # a right code costs nothing from the wrong-code budget
    else:
        await uow.events.add(
            new_event(
                tenant.id,
                "gd_auth_failed",
                now,
                ctx,
                description="Invalid binding_code.",
                client_id=app.client_id,
                client_name=app.name,
                user_id=user.user_id,
                user_name=user.email,
                details=details,
            )
        )
        _measure(deps, challenge, "wrong_code")
        raise InvalidGrant("Invalid binding_code.", error_code="invalid_otp")
    if not await uow.challenges.try_consume(challenge.id, now):
        _measure(deps, challenge, "reused")
        raise InvalidGrant("This oob_code has already been used.")
    _measure(deps, challenge, "success")
    if challenge.kind == "enrollment":
        await uow.authenticators.try_confirm(tenant.id, auth.id, now)
        if challenge.recovery_code_id:
            await uow.recovery_codes.confirm(tenant.id, challenge.recovery_code_id)
        event_type = "gd_enrollment_complete"
    else:
        await uow.authenticators.touch(tenant.id, auth.id, now)
        event_type = "gd_auth_succeed"
    await uow.outbox.request_feedback(challenge.id)
    await uow.events.add(
        new_event(
            tenant.id,
            event_type,
            now,
            ctx,
            client_id=app.client_id,
            client_name=app.name,
            user_id=user.user_id,
            user_name=user.email,
            connection=DATABASE_CONNECTION,
            details=details,
        )
    )
    return user, challenge.kind


async def use_recovery_code(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    body: dict[str, object],
    ctx: RequestContext,
) -> tuple[User, str]:
    """The ``mfa-recovery-code`` grant: the used code dies, a fresh one is returned."""
    _, user = await load_transaction(uow, deps, tenant, app, body.get("mfa_token"))
    candidate = body.get("recovery_code")
    if not isinstance(candidate, str) or not candidate:
        raise InvalidRequest("Missing required parameter: recovery_code")
    now = deps.clock.now()
    codes = [
        c for c in await uow.recovery_codes.get_for_user(tenant.id, user.user_id) if c.confirmed
    ]
    match = next(
        (
            c
            for c in codes
            if otp.check_recovery_code(
                candidate[:64], user.user_id, otp.HashedSecret(c.code_hash, c.key_id)
            )
        ),
        None,
    )
    if match is None or not await uow.recovery_codes.try_consume(tenant.id, match.id):
        await uow.events.add(
            new_event(
                tenant.id,
                "gd_recovery_failed",
                now,
                ctx,
                client_id=app.client_id,
                client_name=app.name,
                user_id=user.user_id,
                user_name=user.email,
            )
        )
        if deps.metrics is not None:
            deps.metrics.record_verification("recovery_code", "wrong_code")
        raise InvalidGrant("Invalid recovery code.", error_code="invalid_recovery_code")
    if deps.metrics is not None:
        deps.metrics.record_verification("recovery_code", "success")
    fresh = await add_recovery_code(uow, deps, tenant.id, user.user_id, confirmed=True)
    await uow.events.add(
        new_event(
            tenant.id,
            "gd_recovery_succeed",
            now,
            ctx,
            client_id=app.client_id,
            client_name=app.name,
            user_id=user.user_id,
            user_name=user.email,
        )
    )
    return user, fresh[1]


async def add_recovery_code(
    uow: UnitOfWork, deps: DomainDeps, tenant_id: str, user_id: str, *, confirmed: bool
) -> tuple[str, str]:
    code = otp.new_recovery_code()
    hashed = otp.hash_recovery_code(code, user_id)
    record = RecoveryCode(
        id=ids.device_id(),
        tenant_id=tenant_id,
        user_id=user_id,
        code_hash=hashed.digest,
        key_id=hashed.key_id,
        confirmed=confirmed,
        created_at=deps.clock.now(),
    )
    await uow.recovery_codes.add(record)
    return record.id, code
