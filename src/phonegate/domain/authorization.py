"""The OAuth 2.0 authorization code flow behind Universal Login (RFC 6749 §4.1, PKCE per
RFC 7636, OpenID Connect Core §3.1) and the rules of its login transaction.

``GET /authorize`` is checked by :func:`begin`: a bad ``client_id`` or ``redirect_uri`` is
:class:`AuthorizeRefused` (shown, never redirected: the URI cannot be trusted), anything
else :class:`AuthorizeError` (sent back to the application's callback with ``error`` and
``state``). The resulting :class:`LoginTransaction` is sealed with the server keys and kept
by the browser for ten minutes; its stages are the pages: password, phone enrollment, code
(or recovery code), the new recovery code shown once, done. Each step calls the same domain
functions as the Auth0 MFA API (``login.password_grant``, ``enrollments.associate``,
``challenges.start_challenge`` / ``verify_oob`` / ``use_recovery_code``), through the
transaction's mfa_token, so limits, events and single use hold alike. A passwordless login
("Continue with phone", or ``connection=<sms connection>`` at /authorize) has a phone page
and a code page instead, through ``passwordless.start`` and ``passwordless.exchange_code``
(signup, limits and the code's attempts as in the API; no MFA policy); its code says amr
``["sms"]``.

A finished transaction issues one authorization code (unique per transaction, so a replayed
cookie gets nothing), valid 60 seconds, bound to client and redirect URI, spent by a guarded
UPDATE; a code presented again revokes the refresh tokens its exchange issued (§4.1.2).
Refresh tokens rotate: each use spends the token and issues the next of its family, and a
spent token presented again revokes the whole family (OAuth 2.0 Security BCP §4.14).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from phonegate import ids, otp, phone
from phonegate.domain import challenges, clients, connections, enrollments, login, passwordless
from phonegate.domain.deps import DomainDeps
from phonegate.domain.grants import Audiences, Grant, granted_scope, split_scope
from phonegate.domain.models import (
    DATABASE_CONNECTION,
    Application,
    AuthorizationCode,
    Channel,
    Connection,
    RefreshToken,
    RequestContext,
    Tenant,
    User,
)
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import (
    ExpiredToken,
    InvalidGrant,
    InvalidPhoneNumber,
    InvalidRequest,
    MfaRequired,
    PhonegateError,
)
from phonegate.keys import KeyRing
from phonegate.tokens import open_mfa_token

TRANSACTION_TTL_SECONDS = 600
CODE_TTL_SECONDS = 60
RESEND_WAIT_SECONDS = 30
# Auth0's rotating refresh tokens: an inactivity lifetime within an absolute one.
REFRESH_IDLE_SECONDS = 15 * 86400
REFRESH_ABSOLUTE_SECONDS = 30 * 86400
OFFLINE_ACCESS = "offline_access"
# RFC 7636 §4.2: the S256 challenge is the unpadded base64url SHA-256, 43 characters; a
# verifier is 43-128 unreserved characters (§4.1).
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
# What the transaction keeps of the request, bounded so its sealed cookie stays under the
# 4 KB browsers keep.
LIMITS = {
    "redirect_uri": 512,
    "state": 512,
    "nonce": 255,
    "login_hint": 255,
    "ui_locales": 64,
    "scope": 500,
    "connection": 128,
}
INVALID_CODE = "Invalid authorization code"
INVALID_REFRESH = "Unknown or invalid refresh token."

Stage = Literal["login", "enroll", "challenge", "show_recovery", "sms_phone", "sms_code", "done"]


class AuthorizeRefused(PhonegateError):
    """An /authorize request that cannot be answered at its redirect_uri (unknown client,
    unregistered URI): shown to the user instead (RFC 6749 §4.1.2.1)."""


class AuthorizeError(PhonegateError):
    """An /authorize error sent back to the application's callback."""

    def __init__(self, error: str, description: str, redirect_uri: str, state: str | None):
        super().__init__(description, error=error)
        self.location = redirect_with(
            redirect_uri, {"error": error, "error_description": description, "state": state}
        )


class StepError(PhonegateError):
    """A login page refused a step; ``error_code`` names the text the page shows."""

    def __init__(self, error_code: str, description: str, *, status: int = 400) -> None:
        super().__init__(description, status=status, error_code=error_code)


def redirect_with(uri: str, params: Mapping[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


@dataclass(slots=True)
class LoginTransaction:
    """One Universal Login attempt: the /authorize request and how far the user got."""

    id: str  # random; the CSRF token and the one authorization code are bound to it
    tenant_id: str
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str | None
    audience: str | None
    ui_locales: str
    login_hint: str
    expires_at: float
    stage: Stage = "login"
    user_id: str | None = None
    mfa_token: str | None = None
    auth_time: float | None = None
    mfa_done: bool = False
    enrolling: bool = False  # the code confirms a new phone rather than an enrolled one
    authenticator_id: str | None = None  # dev_… of the enrolled phone being challenged
    phone_number: str | None = None  # E.164 of the phone the codes go to
    channel: Channel | None = None
    oob_code: str | None = None
    code_sent_at: float | None = None
    recovery_code: str | None = None  # shown once, then dropped
    notice: str | None = None  # a StepError code to show once on the next page
    connection: str | None = None  # asked for at /authorize, or the sms one a code came by
    code_expires_at: float | None = None  # of the passwordless code sent last


def seal_transaction(txn: LoginTransaction, keys: KeyRing) -> str:
    return keys.encrypt(json.dumps(asdict(txn), separators=(",", ":")))


def open_transaction(sealed: str | None, keys: KeyRing, now: datetime) -> LoginTransaction | None:
    """The transaction a cookie holds, or None when it is missing, forged or expired."""
    plain = keys.decrypt(sealed[:8192]) if sealed else None
    if plain is None:
        return None
    try:
        txn = LoginTransaction(**json.loads(plain))
    except (TypeError, ValueError):
        return None
    return txn if now.timestamp() < txn.expires_at else None


def csrf_token(txn: LoginTransaction, keys: KeyRing) -> str:
    """A synchronizer token bound to the transaction (and so to this browser's cookie)."""
    return keys.mac("login-csrf", txn.id)


def csrf_matches(txn: LoginTransaction, keys: KeyRing, candidate: object) -> bool:
    return isinstance(candidate, str) and hmac.compare_digest(
        csrf_token(txn, keys), candidate[:128]
    )


async def begin(
    uow: UnitOfWork, tenant: Tenant, params: Mapping[str, str], audiences: Audiences, now: datetime
) -> LoginTransaction:
    """Check an /authorize request and open its login transaction."""
    client_id = params.get("client_id") or ""
    if not client_id:
        raise AuthorizeRefused("Missing required parameter: client_id")
    app = await uow.applications.get(tenant.id, client_id[:64])
    if app is None:
        raise AuthorizeRefused("Unknown client: this application is not registered.")
    redirect_uri = params.get("redirect_uri") or ""
    if not redirect_uri:
        raise AuthorizeRefused("Missing required parameter: redirect_uri")
    if redirect_uri not in app.callbacks:
        raise AuthorizeRefused(
            "Callback URL mismatch: the redirect_uri is not in the application's list of "
            "allowed callback URLs."
        )
    state = params.get("state") or None

    def fail(error: str, description: str) -> AuthorizeError:
        return AuthorizeError(error, description, redirect_uri, state)

    for name, limit in LIMITS.items():
        if len(params.get(name, "")) > limit:
            raise fail("invalid_request", f"{name} is longer than {limit} characters")
    if params.get("response_type") != "code":
        raise fail("unsupported_response_type", "response_type must be code")
    if clients.GRANT_AUTHORIZATION_CODE not in app.grant_types:
        raise fail(
            "unauthorized_client", "The application may not use the authorization code flow."
        )
    if params.get("response_mode", "query") != "query":
        raise fail("invalid_request", "Only response_mode=query is supported.")
    challenge, method = params.get("code_challenge"), params.get("code_challenge_method")
    if challenge:
        # Without a method the challenge is "plain" (RFC 7636 §4.3), which is refused.
        if method != "S256":
            raise fail(
                "invalid_request", "code_challenge_method must be S256; plain is not supported."
            )
        if not _CHALLENGE.fullmatch(challenge):
            raise fail("invalid_request", "code_challenge must be 43 base64url characters.")
    elif method:
        raise fail("invalid_request", "code_challenge_method was sent without code_challenge.")
    elif clients.is_public(app):
        raise fail("invalid_request", "Public clients must send code_challenge with S256 (PKCE).")
    try:
        audience = login.check_audience(params.get("audience"), audiences)
    except PhonegateError as exc:
        raise fail("access_denied", exc.description) from None
    if "none" in params.get("prompt", "").split():
        # phonegate keeps no login session, so it can never answer without the user.
        raise fail("login_required", "Login required")
    connection = params.get("connection") or None
    stage: Stage = "login"
    if connection is not None and connection != DATABASE_CONNECTION:
        await connections.for_passwordless(
            uow, tenant, app, connection, lambda problem: fail("invalid_request", problem)
        )
        stage = "sms_phone"
    return LoginTransaction(
        id=secrets.token_urlsafe(24),
        tenant_id=tenant.id,
        client_id=app.client_id,
        redirect_uri=redirect_uri,
        scope=" ".join(split_scope(params.get("scope"))),
        state=state,
        nonce=params.get("nonce") or None,
        code_challenge=challenge or None,
        audience=audience,
        ui_locales=params.get("ui_locales", ""),
        login_hint=params.get("login_hint", ""),
        expires_at=now.timestamp() + TRANSACTION_TTL_SECONDS,
        stage=stage,
        connection=connection,
    )


def _require(txn: LoginTransaction, *stages: Stage) -> None:
    if txn.stage not in stages:
        raise StepError("wrong_step", "This step of the login is not open.")


async def _login_name(uow: UnitOfWork, tenant: Tenant, identifier: str) -> str:
    """The email the password grant looks up: the identifier itself, or the email of the
    database user whose verified phone number it is (phone as identifier)."""
    if "@" in identifier:
        return identifier
    try:
        number = phone.parse(identifier)
    except InvalidPhoneNumber:
        return identifier
    user = await uow.users.get_by_phone(tenant.id, DATABASE_CONNECTION, number.e164)
    return user.email if user and user.phone_verified and user.email else identifier


async def password_first(uow: UnitOfWork, tenant: Tenant, identifier: str) -> str:
    """The stored hash the login page's password will be checked against, read in a short
    transaction before the page's own (see ``login.CheckedPassword``)."""
    user = await uow.users.get_by_email(tenant.id, await _login_name(uow, tenant, identifier))
    return user.password_hash if user else ""


async def sign_in(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    txn: LoginTransaction,
    identifier: str,
    password: str,
    audiences: Audiences,
    ctx: RequestContext,
    *,
    checked: login.CheckedPassword | None = None,
) -> None:
    """The password step; when the tenant demands MFA, on to enrollment or a challenge
    (whose first code is sent at once). ``checked``: the password verified before the
    page's transaction (see ``password_first``), so argon2 does not run inside it."""
    _require(txn, "login")
    txn.login_hint = identifier[: LIMITS["login_hint"]]
    body: dict[str, object] = {
        "username": await _login_name(uow, tenant, identifier),
        "password": password,
        "scope": txn.scope,
        "audience": txn.audience,
    }
    now = deps.clock.now()
    try:
        grant = await login.password_grant(
            uow, deps, tenant, app, body, audiences, ctx, realm_required=False, checked=checked
        )
    except MfaRequired as exc:
        token = str(exc.extra["mfa_token"])
        txn.mfa_token, txn.auth_time = token, now.timestamp()
        txn.user_id = open_mfa_token(token, deps.keys, now).user_id
        auths = await uow.authenticators.list_for_user(tenant.id, txn.user_id)
        enrolled = next((a for a in auths if a.confirmed), None)
        if enrolled is None:
            txn.stage = "enroll"
            return
        txn.stage, txn.enrolling = "challenge", False
        txn.authenticator_id, txn.phone_number = enrolled.id, enrolled.phone_number
        try:
            await _send(uow, deps, tenant, app, txn, enrolled.channel, ctx)
        except PhonegateError as refused:
            txn.notice = refused.error_code or refused.error  # shown on the code page
        return
    txn.user_id, txn.auth_time, txn.stage = grant.user.user_id, now.timestamp(), "done"


async def _mfa_user(
    uow: UnitOfWork, deps: DomainDeps, tenant: Tenant, app: Application, txn: LoginTransaction
) -> User:
    try:
        _, user = await challenges.load_transaction(uow, deps, tenant, app, txn.mfa_token)
    except ExpiredToken:
        raise StepError("transaction_expired", "The MFA transaction expired.") from None
    return user


async def _send(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    txn: LoginTransaction,
    channel: Channel,
    ctx: RequestContext,
) -> None:
    """Send a code: an enrollment (re)starts the association, an enrolled phone gets a
    challenge. Both go through the MFA API's domain functions."""
    user = await _mfa_user(uow, deps, tenant, app, txn)
    if txn.enrolling:
        body = {
            "authenticator_types": ["oob"],
            "oob_channels": [channel],
            "phone_number": txn.phone_number,
        }
        started = await enrollments.associate(
            uow, deps, tenant, app, user, body, ctx, additional_allowed=False
        )
        # A new association replaces the unconfirmed recovery code with a fresh one.
        txn.oob_code, txn.recovery_code = started.oob_code, started.recovery_code
    else:
        body = {
            "mfa_token": txn.mfa_token,
            "challenge_type": "oob",
            "authenticator_id": f"{channel}|{txn.authenticator_id}",
        }
        txn.oob_code = await challenges.start_challenge(uow, deps, tenant, app, body, ctx)
    txn.channel, txn.code_sent_at = channel, deps.clock.now().timestamp()


async def enroll(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    txn: LoginTransaction,
    number: str,
    channel: Channel,
    ctx: RequestContext,
) -> None:
    """Start enrolling a phone (again, with another number, while it is unconfirmed)."""
    if not (txn.stage == "enroll" or (txn.stage == "challenge" and txn.enrolling)):
        _require(txn, "enroll")
    txn.phone_number, txn.enrolling = phone.parse(number).e164, True
    await _send(uow, deps, tenant, app, txn, channel, ctx)
    txn.stage = "challenge"


def resend_wait(txn: LoginTransaction, now: datetime) -> int:
    """Seconds before the same channel may be asked for another code."""
    if txn.code_sent_at is None:
        return 0
    return max(0, int(txn.code_sent_at + RESEND_WAIT_SECONDS - now.timestamp() + 0.999))


async def resend(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    txn: LoginTransaction,
    channel: Channel | None,
    ctx: RequestContext,
) -> None:
    """Another code, on the same channel after a short wait or on the other one at once."""
    _require(txn, "challenge")
    wanted: Channel = channel or txn.channel or "sms"
    if wanted == txn.channel and txn.oob_code and resend_wait(txn, deps.clock.now()):
        raise StepError("resend_too_early", "Wait before asking for another code.", status=429)
    await _send(uow, deps, tenant, app, txn, wanted, ctx)


def _well_formed(code: str, digits: int) -> str:
    code = code.strip()
    if not (code.isascii() and code.isdigit() and len(code) == digits):
        raise StepError("invalid_otp_format", "The code has the wrong format.")
    return code


async def check_code(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    txn: LoginTransaction,
    code: str,
    ctx: RequestContext,
) -> None:
    _require(txn, "challenge")
    code = _well_formed(code, tenant.settings.otp_length)
    if txn.oob_code is None:
        raise StepError("no_code_sent", "No code has been sent yet.")
    await _mfa_user(uow, deps, tenant, app, txn)
    body: dict[str, object] = {
        "mfa_token": txn.mfa_token,
        "oob_code": txn.oob_code,
        "binding_code": code,
    }
    await challenges.verify_oob(uow, deps, tenant, app, body, ctx)
    txn.mfa_done, txn.oob_code = True, None
    txn.stage = "show_recovery" if txn.enrolling and txn.recovery_code else "done"


async def recover(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    txn: LoginTransaction,
    code: str,
    ctx: RequestContext,
) -> None:
    """Sign in with the recovery code; it dies and its replacement is shown once."""
    _require(txn, "challenge")
    if txn.enrolling:
        raise StepError("wrong_step", "A recovery code cannot confirm a new phone.")
    if len(otp.normalize_recovery_code(code)) != otp.RECOVERY_CODE_LENGTH:
        raise StepError("invalid_recovery_code_format", "The recovery code has the wrong format.")
    await _mfa_user(uow, deps, tenant, app, txn)
    body: dict[str, object] = {"mfa_token": txn.mfa_token, "recovery_code": code}
    _, fresh = await challenges.use_recovery_code(uow, deps, tenant, app, body, ctx)
    txn.mfa_done, txn.oob_code, txn.recovery_code = True, None, fresh
    txn.stage = "show_recovery"


def acknowledge_recovery_code(txn: LoginTransaction) -> None:
    _require(txn, "show_recovery")
    txn.recovery_code, txn.stage = None, "done"


# --- passwordless SMS: the phone page and the code page -----------------------------------


def _not_offered(problem: str) -> StepError:
    return StepError("connection_disabled", problem)


async def sms_connection(
    uow: UnitOfWork, tenant: Tenant, app: Application, txn: LoginTransaction
) -> Connection:
    """The sms connection of this login: the one /authorize named, else the tenant's, if
    it is enabled for the application."""
    name = txn.connection
    if name is None:
        found = await connections.list_connections(
            uow, tenant, strategies=[connections.SMS], name=None
        )
        if not found:
            raise _not_offered("Connection does not exist")
        name = found[0].name
    return await connections.for_passwordless(uow, tenant, app, name, _not_offered)


async def offers_sms_login(
    uow: UnitOfWork, tenant: Tenant, app: Application, txn: LoginTransaction
) -> bool:
    try:
        await sms_connection(uow, tenant, app, txn)
    except StepError:
        return False
    return True


async def send_login_code(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    txn: LoginTransaction,
    number: str,
    ctx: RequestContext,
) -> None:
    """A passwordless code to ``number`` (the first, or one to another number)."""
    _require(txn, "login", "sms_phone", "sms_code")
    connection = await sms_connection(uow, tenant, app, txn)
    # The /authorize request identified the application (a registered callback): the page
    # needs no secret, and every send rule still applies, the per-IP limit included.
    await passwordless.admit_ip(uow, deps, tenant, ctx)
    started = await passwordless.send_code(uow, deps, tenant, app, connection, number, ctx)
    sent_at = deps.clock.now().timestamp()
    txn.connection, txn.phone_number, txn.stage = connection.name, started.phone_number, "sms_code"
    txn.code_sent_at = sent_at
    txn.code_expires_at = sent_at + connections.sms_options(connection).code_ttl_seconds


async def resend_login_code(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    txn: LoginTransaction,
    ctx: RequestContext,
) -> None:
    """A new passwordless code after the wait; it replaces the one sent before."""
    _require(txn, "sms_code")
    if resend_wait(txn, deps.clock.now()):
        raise StepError("resend_too_early", "Wait before asking for another code.", status=429)
    await send_login_code(uow, deps, tenant, app, txn, txn.phone_number or "", ctx)


async def sign_in_with_code(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    txn: LoginTransaction,
    code: str,
    audiences: Audiences,
    ctx: RequestContext,
) -> None:
    """The code page's step: the passwordless/otp grant's rules sign the user in (up, on
    the first login); the MFA policy does not apply."""
    _require(txn, "sms_code")
    connection = await sms_connection(uow, tenant, app, txn)
    body = {
        "username": txn.phone_number,
        "otp": _well_formed(code, connections.sms_options(connection).code_length),
        "realm": connection.name,
        "scope": txn.scope,
        "audience": txn.audience,
    }
    now = deps.clock.now()
    try:
        grant = await passwordless.exchange_code(uow, deps, tenant, app, body, audiences, ctx)
    except InvalidGrant as exc:
        # The API answers an expired code as a wrong one; this page knows when it expired.
        expired = txn.code_expires_at is not None and now.timestamp() >= txn.code_expires_at
        if expired and exc.description == passwordless.WRONG_CODE:
            raise StepError("code_expired", "The code expired.") from None
        raise
    txn.user_id, txn.auth_time, txn.stage = grant.user.user_id, now.timestamp(), "done"


def final_scope(requested: str, audience: str | None, app: Application, auds: Audiences) -> str:
    scope = granted_scope(requested, audience, auds)
    if OFFLINE_ACCESS in split_scope(requested) and clients.GRANT_REFRESH_TOKEN in app.grant_types:
        scope = f"{scope} {OFFLINE_ACCESS}".strip()
    return scope


def _amr(txn: LoginTransaction) -> list[str]:
    if txn.connection not in (None, DATABASE_CONNECTION):
        return ["sms"]  # a login with an sms connection is done only by its code
    return ["pwd", "mfa"] if txn.mfa_done else ["pwd"]


def _digest(secret: str) -> str:
    # Codes and refresh tokens carry 256+ random bits: a plain digest finds the row without
    # storing the secret, and survives server-key rotation.
    return hashlib.sha256(secret.encode()).hexdigest()


async def finish(
    uow: UnitOfWork,
    deps: DomainDeps,
    tenant: Tenant,
    app: Application,
    txn: LoginTransaction,
    auds: Audiences,
    ctx: RequestContext,
) -> str:
    """Issue the transaction's authorization code; the URL to send the browser to."""
    _require(txn, "done")
    user = await uow.users.get(tenant.id, txn.user_id or "")
    if user is None or user.blocked or txn.auth_time is None:
        raise StepError("user_blocked", "The user cannot sign in.", status=403)
    now = deps.clock.now()
    code = secrets.token_urlsafe(32)
    issued = await uow.authorization_codes.try_add(
        AuthorizationCode(
            code_hash=_digest(code),
            tenant_id=tenant.id,
            client_id=app.client_id,
            user_id=user.user_id,
            transaction_id=txn.id,
            redirect_uri=txn.redirect_uri,
            scope=final_scope(txn.scope, txn.audience, app, auds),
            audience=txn.audience,
            nonce=txn.nonce,
            code_challenge=txn.code_challenge,
            amr=_amr(txn),
            auth_time=datetime.fromtimestamp(txn.auth_time, now.tzinfo),
            created_at=now,
            expires_at=now + timedelta(seconds=CODE_TTL_SECONDS),
        )
    )
    if not issued:
        raise StepError("transaction_used", "This login was already completed.")
    if txn.mfa_done:  # the password grant logged the login when no second factor followed
        await login.succeed(uow, deps, tenant, app, user, ctx)
    return redirect_with(txn.redirect_uri, {"code": code, "state": txn.state})


@dataclass(frozen=True, slots=True)
class Authorized:
    """What the token endpoint issues for a code or a refresh token."""

    grant: Grant
    auth_time: datetime
    nonce: str | None
    refresh_token: str | None


def _pkce_matches(verifier: object, challenge: str) -> bool:
    if not isinstance(verifier, str) or not _VERIFIER.fullmatch(verifier):
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(computed, challenge)


async def _user(uow: UnitOfWork, tenant: Tenant, user_id: str, description: str) -> User:
    user = await uow.users.get(tenant.id, user_id)
    if user is None or user.blocked:
        raise InvalidGrant(description)
    return user


async def redeem_code(
    uow: UnitOfWork, deps: DomainDeps, tenant: Tenant, app: Application, body: Mapping[str, Any]
) -> Authorized:
    """The ``authorization_code`` grant (RFC 6749 §4.1.3, RFC 7636 §4.6)."""
    code = body.get("code")
    if not isinstance(code, str) or not code:
        raise InvalidRequest("Missing required parameter: code")
    now = deps.clock.now()
    row = await uow.authorization_codes.get(tenant.id, _digest(code[:256]))
    if row is None or row.client_id != app.client_id:
        raise InvalidGrant(INVALID_CODE)
    if row.consumed_at is not None:
        if row.refresh_family:
            await uow.refresh_tokens.revoke_family(tenant.id, row.refresh_family, now)
        raise InvalidGrant(INVALID_CODE)
    if row.expires_at <= now:
        raise InvalidGrant(INVALID_CODE)
    if body.get("redirect_uri") != row.redirect_uri:
        raise InvalidGrant("redirect_uri does not match the one the code was issued for.")
    if row.code_challenge and not _pkce_matches(body.get("code_verifier"), row.code_challenge):
        raise InvalidGrant("Failed to verify code verifier")
    if not await uow.authorization_codes.try_consume(row.code_hash, now):
        raise InvalidGrant(INVALID_CODE)
    user = await _user(uow, tenant, row.user_id, INVALID_CODE)
    refresh: str | None = None
    if OFFLINE_ACCESS in split_scope(row.scope):
        family = ids.prefixed("rtf")
        refresh = await _issue_refresh(
            uow, now, app, row.scope, row.audience, row.amr, row.auth_time, family, user
        )
        await uow.authorization_codes.set_refresh_family(row.code_hash, family)
    grant = Grant(user=user, app=app, scope=row.scope, audience=row.audience, amr=list(row.amr))
    return Authorized(grant=grant, auth_time=row.auth_time, nonce=row.nonce, refresh_token=refresh)


async def _issue_refresh(
    uow: UnitOfWork,
    now: datetime,
    app: Application,
    scope: str,
    audience: str | None,
    amr: list[str],
    auth_time: datetime,
    family: str,
    user: User,
) -> str:
    token = "v1." + secrets.token_urlsafe(48)
    expires = min(
        now + timedelta(seconds=REFRESH_IDLE_SECONDS),
        auth_time + timedelta(seconds=REFRESH_ABSOLUTE_SECONDS),
    )
    await uow.refresh_tokens.add(
        RefreshToken(
            id=ids.prefixed("rt"),
            tenant_id=app.tenant_id,
            token_hash=_digest(token),
            family_id=family,
            client_id=app.client_id,
            user_id=user.user_id,
            scope=scope,
            audience=audience,
            amr=list(amr),
            auth_time=auth_time,
            created_at=now,
            expires_at=expires,
        )
    )
    return token


async def refresh(
    uow: UnitOfWork, deps: DomainDeps, tenant: Tenant, app: Application, body: Mapping[str, Any]
) -> Authorized:
    """The ``refresh_token`` grant with rotation (RFC 6749 §6): the new refresh token keeps
    the original scope; the access token may ask for less, never for more."""
    presented = body.get("refresh_token")
    if not isinstance(presented, str) or not presented:
        raise InvalidRequest("Missing required parameter: refresh_token")
    now = deps.clock.now()
    row = await uow.refresh_tokens.get_by_hash(tenant.id, _digest(presented[:256]))
    if row is None or row.client_id != app.client_id:
        raise InvalidGrant(INVALID_REFRESH)
    original = split_scope(row.scope)
    wanted = split_scope(body.get("scope")) or original
    if not set(wanted) <= set(original):
        raise PhonegateError(
            "The requested scope is wider than the one originally granted.",
            status=403,
            error="invalid_scope",
        )
    if not await uow.refresh_tokens.try_use(row.id, now):
        if row.expires_at > now:
            # A spent (or revoked) token came back: someone holds a copy, so the whole
            # family dies.
            await uow.refresh_tokens.revoke_family(tenant.id, row.family_id, now)
        raise InvalidGrant(INVALID_REFRESH)
    user = await _user(uow, tenant, row.user_id, INVALID_REFRESH)
    token = await _issue_refresh(
        uow, now, app, row.scope, row.audience, row.amr, row.auth_time, row.family_id, user
    )
    grant = Grant(user=user, app=app, scope=" ".join(wanted), audience=row.audience, amr=row.amr)
    return Authorized(grant=grant, auth_time=row.auth_time, nonce=None, refresh_token=token)
