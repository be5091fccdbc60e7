"""Plain data the domain works on. Storage maps rows to these; the web layer renders them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Channel = Literal["sms", "voice"]
ChallengeKind = Literal["enrollment", "authentication"]
CHANNELS: tuple[Channel, ...] = ("sms", "voice")
DATABASE_CONNECTION = "Username-Password-Authentication"


@dataclass(slots=True)
class TenantSettings:
    friendly_name: str = "phonegate"
    mfa_policies: list[str] = field(default_factory=list)
    factor_sms_enabled: bool = False
    factor_recovery_code_enabled: bool = False
    message_types: list[str] = field(default_factory=lambda: ["sms"])
    selected_provider: str = "auth0"
    enrollment_message: str | None = None
    verification_message: str | None = None
    # Language of messages when nothing in the request or the user's profile chooses one.
    default_locale: str = "en"
    # Which action runs for each trigger (Auth0 binds one action per phone trigger).
    action_bindings: dict[str, str] = field(default_factory=dict)
    # Guardian phone settings (auth0-python 6.8's /guardian/factors/phone/settings); None
    # means the server's default lifetime.
    otp_length: int = 6
    otp_ttl_seconds: int | None = None
    # Abuse limits and destination-country rules; missing keys take the defaults.
    limits: dict[str, Any] = field(default_factory=dict)
    # Spike alerts: [{"type": "gd_send_voice", "threshold": 100, "window_seconds": 3600}].
    alert_rules: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Tenant:
    id: str
    name: str
    domain: str | None
    is_default: bool
    settings: TenantSettings
    created_at: datetime


@dataclass(slots=True)
class Application:
    tenant_id: str
    client_id: str
    name: str
    secret_hash: str
    secret_key_id: str
    grant_types: list[str]
    client_grants: dict[str, list[str]]
    metadata: dict[str, str]
    app_type: str
    created_at: datetime
    # Universal Login (OAuth 2.0 authorization code flow): where codes may be sent, where
    # logout may return to, and how the application authenticates at the token endpoint
    # ("none" for public clients, which must use PKCE).
    callbacks: list[str] = field(default_factory=list)
    allowed_logout_urls: list[str] = field(default_factory=list)
    web_origins: list[str] = field(default_factory=list)
    token_endpoint_auth_method: str = "client_secret_post"  # noqa: S105 - a method name


@dataclass(slots=True)
class User:
    tenant_id: str
    user_id: str
    email: str | None  # None for users of the passwordless ``sms`` connection
    password_hash: str
    email_verified: bool
    name: str
    nickname: str
    blocked: bool
    user_metadata: dict[str, Any]
    app_metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_login: datetime | None = None
    logins_count: int = 0
    connection: str = DATABASE_CONNECTION
    phone_number: str | None = None  # E.164; the identifier of ``sms`` connection users
    phone_verified: bool = False


@dataclass(slots=True)
class PhoneAuthenticator:
    id: str  # dev_<16 url-safe chars>
    tenant_id: str
    user_id: str
    phone_number: str  # E.164
    channel: Channel  # the channel chosen at enrollment
    confirmed: bool
    created_at: datetime
    confirmed_at: datetime | None
    last_auth_at: datetime | None
    name: str | None = None


@dataclass(slots=True)
class RecoveryCode:
    id: str
    tenant_id: str
    user_id: str
    code_hash: str
    key_id: str
    confirmed: bool
    created_at: datetime


@dataclass(slots=True)
class Challenge:
    id: str
    tenant_id: str
    user_id: str
    client_id: str
    authenticator_id: str
    kind: ChallengeKind
    channel: Channel
    code_hash: str
    key_id: str
    created_at: datetime
    expires_at: datetime
    attempts: int
    max_attempts: int
    consumed_at: datetime | None
    # Set on an enrollment challenge that also creates the user's first recovery code.
    recovery_code_id: str | None = None


@dataclass(slots=True)
class AuthorizationCode:
    """An OAuth 2.0 authorization code (RFC 6749 §4.1), stored by the SHA-256 of the code.
    One login transaction issues at most one; ``refresh_family`` names the refresh tokens
    its exchange issued, so a replayed code can revoke them (§4.1.2)."""

    code_hash: str
    tenant_id: str
    client_id: str
    user_id: str
    transaction_id: str
    redirect_uri: str
    scope: str
    audience: str | None
    nonce: str | None
    code_challenge: str | None  # S256 only
    amr: list[str]
    auth_time: datetime
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None = None
    refresh_family: str | None = None


@dataclass(slots=True)
class RefreshToken:
    """A rotating refresh token, stored by the SHA-256 of the token. Each use spends it and
    issues the next of its ``family_id``; a spent one coming back revokes the family."""

    id: str
    tenant_id: str
    token_hash: str
    family_id: str
    client_id: str
    user_id: str
    scope: str
    audience: str | None
    amr: list[str]
    auth_time: datetime
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(slots=True)
class Connection:
    """A tenant's identity source (Auth0's connection). phonegate stores its passwordless
    ``sms`` connection; the database connection is built in and has no row.
    ``enabled_clients`` None means every application of the tenant may use it."""

    id: str  # con_<16 chars>
    tenant_id: str
    name: str
    strategy: str  # "sms", or "auth0" for the database connection
    options: dict[str, Any]
    enabled_clients: list[str] | None
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class PasswordlessCode:
    """The live passwordless code of one phone on one connection; a new code replaces the
    row. ``user_id`` is the user's, or the id the first login will sign the user up with."""

    id: str  # 24 hex characters: the ``_id`` of the /passwordless/start answer
    tenant_id: str
    connection_id: str
    phone_number: str  # E.164
    user_id: str
    client_id: str
    code_hash: str
    key_id: str
    created_at: datetime
    expires_at: datetime
    attempts: int
    max_attempts: int
    consumed_at: datetime | None


ProviderRole = Literal["branding", "guardian", "fallback"]


@dataclass(slots=True)
class PhoneProvider:
    """A configured delivery provider of a tenant.

    ``branding`` is the tenant phone provider of the Unified Phone Experience (one per
    tenant); ``guardian`` is the Twilio configuration of the Guardian phone factor (one);
    ``fallback`` providers (phonegate's own addition) are tried in ``position`` order when
    the primary one fails. ``credentials`` is the sealed JSON of the secret fields.
    """

    id: str
    tenant_id: str
    role: ProviderRole
    name: str
    disabled: bool
    configuration: dict[str, Any]
    credentials: str | None
    position: int
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class PhoneTemplate:
    """A tenant's customised Branding phone template; built-in defaults have no row."""

    id: str
    tenant_id: str
    type: str
    disabled: bool
    content: dict[str, Any]  # {"syntax", "from", "body": {"text", "voice"}}
    translations: dict[str, dict[str, str]]  # locale -> {"text", "voice"}
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class Action:
    """Operator code for a phone trigger; ``code`` names a Python callable
    (``package.module:function``). ``code``/``secrets`` are the draft; what runs is the
    ``deployed_*`` copy made by the last deploy, as Auth0 runs the deployed version."""

    id: str
    tenant_id: str
    name: str
    trigger: str
    code: str
    secrets: str | None  # sealed JSON {name: value}
    secret_names: dict[str, str]  # name -> ISO time it was last set
    created_at: datetime
    updated_at: datetime
    deployed_code: str | None = None
    deployed_secrets: str | None = None
    deployed_at: datetime | None = None
    version: int = 0
    all_changes_deployed: bool = False

    @property
    def deployed(self) -> bool:
        return self.deployed_code is not None


@dataclass(slots=True)
class DeliveryAttempt:
    id: str
    tenant_id: str
    message_id: str
    provider: str
    position: int  # index in the delivery chain
    started_at: datetime
    finished_at: datetime | None = None
    outcome: str | None = None  # sent | retry | rejected | misconfigured | interrupted
    error_code: str | None = None
    error: str | None = None
    provider_message_id: str | None = None


@dataclass(slots=True)
class OutboxMessage:
    id: str
    tenant_id: str
    challenge_id: str | None
    user_id: str | None
    client_id: str | None
    channel: Channel
    recipient: str  # E.164
    payload: str  # encrypted JSON {text, code}: erased once delivered or expired
    status: str  # pending | sending | sent | failed | expired
    attempts: int
    not_before: datetime
    expires_at: datetime
    created_at: datetime
    provider: str | None = None
    last_error: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    provider_message_id: str | None = None
    # The tenant provider row that took the message (receipts are checked against it).
    provider_config_id: str | None = None
    # What the vendor reported later: queued, sent, delivered, undelivered, failed.
    receipt_status: str | None = None
    receipt_error_code: str | None = None
    receipt_at: datetime | None = None
    sent_at: datetime | None = None
    feedback_status: str | None = None


@dataclass(slots=True)
class InboxMessage:
    id: str
    tenant_id: str
    provider: str
    recipient: str
    channel: Channel
    text: str
    code: str | None
    created_at: datetime


@dataclass(slots=True)
class LogEvent:
    log_id: str
    tenant_id: str
    date: datetime
    type: str
    description: str
    client_id: str | None = None
    client_name: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    connection: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking: carried into events and provider payloads."""

    ip: str | None = None
    user_agent: str | None = None
    language: str | None = None
    host: str = "localhost"
    # Language preferences in order: ui_locales, x-request-language, Accept-Language.
    languages: tuple[str, ...] = ()


@dataclass(slots=True)
class LogStream:
    """An operator's log stream (Auth0's ``http`` type). ``sink`` holds the non-secret sink
    settings in Auth0's names; ``secrets`` is the sealed JSON of the Authorization value and
    the signing secret. ``cursor`` is the last delivered log_id: events after it go next."""

    id: str  # lst_<16 chars>
    tenant_id: str
    name: str
    type: str
    status: str  # active | paused | suspended (set by the shipper after repeated failure)
    sink: dict[str, Any]
    secrets: str | None
    filters: list[dict[str, str]]
    cursor: str
    created_at: datetime
    updated_at: datetime
    is_priority: bool = False
    failures: int = 0  # consecutive failed batches
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    claimed_until: datetime | None = None  # a shipper's lease


@dataclass(slots=True)
class Admin:
    """An operator of one tenant's dashboard (``/admin``), signing in with a password."""

    id: str  # adm_<22 chars>
    tenant_id: str
    email: str
    password_hash: str  # argon2id
    created_at: datetime
    updated_at: datetime
    last_login: datetime | None = None
    # Part of every session cookie; signing out bumps it, which ends every earlier session.
    session_generation: int = 0
