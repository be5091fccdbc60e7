"""Table definitions (SQLAlchemy Core). The Alembic migrations create exactly these."""

from __future__ import annotations

import sqlalchemy as sa

from phonegate.domain.models import DATABASE_CONNECTION

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = sa.DateTime(timezone=True)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("domain", sa.String(255), unique=True),
    sa.Column("is_default", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", TS, nullable=False),
)

tenant_settings = sa.Table(
    "tenant_settings",
    metadata,
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("friendly_name", sa.String(255), nullable=False),
    sa.Column("mfa_policies", sa.JSON, nullable=False),
    sa.Column("factor_sms_enabled", sa.Boolean, nullable=False),
    sa.Column("factor_recovery_code_enabled", sa.Boolean, nullable=False),
    sa.Column("message_types", sa.JSON, nullable=False),
    sa.Column("selected_provider", sa.String(64), nullable=False),
    sa.Column("enrollment_message", sa.Text),
    sa.Column("verification_message", sa.Text),
    sa.Column("default_locale", sa.String(35), nullable=False, server_default="en"),
    sa.Column("action_bindings", sa.JSON, nullable=False, server_default="{}"),
    sa.Column("otp_length", sa.Integer, nullable=False, server_default="6"),
    sa.Column("otp_ttl_seconds", sa.Integer),
    # Abuse limits and country rules (domain/ratelimits.py); {} means the defaults.
    sa.Column("limits", sa.JSON, nullable=False, server_default="{}"),
    # Spike alerts on log event types (logstream/alerts.py).
    sa.Column("alert_rules", sa.JSON, nullable=False, server_default="[]"),
    # Lifetime count of messages sent by the capped ``auth0`` evaluation provider.
    sa.Column("evaluation_messages_sent", sa.Integer, nullable=False, default=0),
    sa.Column("updated_at", TS, nullable=False),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("private_key", sa.Text, nullable=False),  # PEM, encrypted with the server key
    sa.Column("created_at", TS, nullable=False),
    sa.Column("retired_at", TS),
)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("app_type", sa.String(32), nullable=False),
    sa.Column("secret_hash", sa.String(128), nullable=False),
    sa.Column("secret_key_id", sa.String(16), nullable=False),
    sa.Column("grant_types", sa.JSON, nullable=False),
    sa.Column("client_grants", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    # Universal Login: exact redirect URIs, logout return URLs, browser origins.
    sa.Column("callbacks", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("allowed_logout_urls", sa.JSON, nullable=False, server_default="[]"),
    sa.Column("web_origins", sa.JSON, nullable=False, server_default="[]"),
    sa.Column(
        "token_endpoint_auth_method",
        sa.String(32),
        nullable=False,
        server_default="client_secret_post",
    ),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    # NULL for users of the passwordless sms connection; unique only where set (NULLs are
    # distinct in unique constraints on SQLite and PostgreSQL alike).
    sa.Column("email", sa.String(320)),
    sa.Column("email_key", sa.String(320)),  # lower-cased, for uniqueness
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("email_verified", sa.Boolean, nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("nickname", sa.String(255), nullable=False),
    sa.Column("blocked", sa.Boolean, nullable=False),
    sa.Column("user_metadata", sa.JSON, nullable=False),
    sa.Column("app_metadata", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("last_login", TS),
    sa.Column("logins_count", sa.Integer, nullable=False, default=0),
    sa.Column("connection", sa.String(128), nullable=False, server_default=DATABASE_CONNECTION),
    sa.Column("phone_number", sa.String(32)),  # E.164
    sa.Column("phone_verified", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("tenant_id", "email_key", name="uq_users_tenant_email"),
    # One user per number and connection, for the users that have a number.
    sa.UniqueConstraint(
        "tenant_id", "connection", "phone_number", name="uq_users_tenant_connection_phone"
    ),
)

# The tenant's passwordless sms connection (the database connection is built in).
connections = sa.Table(
    "connections",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("strategy", sa.String(32), nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("enabled_clients", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_connections_tenant_name"),
    # One connection per strategy and tenant: two concurrent creations cannot both win.
    sa.UniqueConstraint("tenant_id", "strategy", name="uq_connections_tenant_strategy"),
)

# The live code of each phone: /passwordless/start replaces the row, so a new code
# invalidates every earlier one. No foreign key to users: a first login creates the user.
passwordless_codes = sa.Table(
    "passwordless_codes",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("connection_id", sa.String(40), sa.ForeignKey("connections.id"), nullable=False),
    sa.Column("phone_number", sa.String(32), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("code_hash", sa.String(128), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("consumed_at", TS),
    sa.UniqueConstraint(
        "tenant_id", "connection_id", "phone_number", name="uq_passwordless_codes_phone"
    ),
)

phone_authenticators = sa.Table(
    "phone_authenticators",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("user_id", sa.String(64), sa.ForeignKey("users.user_id"), nullable=False, index=True),
    sa.Column("phone_number", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("confirmed", sa.Boolean, nullable=False),
    sa.Column("name", sa.String(255)),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("confirmed_at", TS),
    sa.Column("last_auth_at", TS),
)

recovery_codes = sa.Table(
    "recovery_codes",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("user_id", sa.String(64), sa.ForeignKey("users.user_id"), nullable=False, index=True),
    sa.Column("code_hash", sa.String(128), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("confirmed", sa.Boolean, nullable=False),
    sa.Column("created_at", TS, nullable=False),
)

challenges = sa.Table(
    "challenges",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("user_id", sa.String(64), sa.ForeignKey("users.user_id"), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("authenticator_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("oob_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("code_hash", sa.String(128), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("consumed_at", TS),
    sa.Column("recovery_code_id", sa.String(40)),
)

outbox_messages = sa.Table(
    "outbox_messages",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("challenge_id", sa.String(40)),
    sa.Column("user_id", sa.String(64)),
    sa.Column("client_id", sa.String(64)),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("recipient", sa.String(32), nullable=False),
    sa.Column("payload", sa.Text),  # encrypted; erased once delivered, failed or expired
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("not_before", TS, nullable=False),
    sa.Column("claimed_until", TS),
    # Who holds the lease: a dispatcher renews it before each attempt only while it is
    # still its own, so two dispatchers never send one message at the same time.
    sa.Column("claim_token", sa.String(32)),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("sent_at", TS),
    sa.Column("provider", sa.String(64)),
    sa.Column("provider_message_id", sa.String(128)),
    sa.Column("last_error", sa.Text),
    sa.Column("ip", sa.String(64)),
    sa.Column("user_agent", sa.String(512)),
    sa.Column("provider_config_id", sa.String(40)),
    sa.Column("receipt_status", sa.String(16)),
    sa.Column("receipt_error_code", sa.String(32)),
    sa.Column("receipt_at", TS),
    # "wanted" when a provider that learns from feedback sent it (Twilio Verify's Fraud
    # Guard), "due" once its code was used, then "sending", "done" or "failed".
    sa.Column("feedback_status", sa.String(8)),
    sa.Index("ix_outbox_due", "status", "not_before"),
    sa.Index("ix_outbox_feedback", "feedback_status"),
    sa.Index("ix_outbox_provider_message", "provider_message_id"),
    sa.Index("ix_outbox_tenant_created", "tenant_id", "created_at"),
    # Every right code asks for feedback on its challenge's messages (request_feedback).
    sa.Index("ix_outbox_challenge", "challenge_id"),
)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("message_id", sa.String(40), nullable=False, index=True),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("started_at", TS, nullable=False),
    sa.Column("finished_at", TS),
    sa.Column("outcome", sa.String(16)),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error", sa.Text),
    sa.Column("provider_message_id", sa.String(128)),
)

phone_providers = sa.Table(
    "phone_providers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    # "branding" and "guardian" for the two singletons, the id for fallbacks: at most one
    # singleton of each kind per tenant, enforced by the database.
    sa.Column("slot", sa.String(40), nullable=False),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("configuration", sa.JSON, nullable=False),
    sa.Column("credentials", sa.Text),  # sealed JSON of the secret fields
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "slot", name="uq_phone_providers_tenant_slot"),
)

phone_templates = sa.Table(
    "phone_templates",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("translations", sa.JSON, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "type", name="uq_phone_templates_tenant_type"),
)

actions = sa.Table(
    "actions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("trigger", sa.String(40), nullable=False),
    sa.Column("code", sa.String(512), nullable=False),
    sa.Column("secrets", sa.Text),  # sealed JSON {name: value}
    sa.Column("secret_names", sa.JSON, nullable=False),
    # What runs: the draft as it was at the last deploy (Auth0 keeps running the deployed
    # version while the draft is edited).
    sa.Column("deployed_code", sa.String(512)),
    sa.Column("deployed_secrets", sa.Text),
    sa.Column("deployed_at", TS),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("all_changes_deployed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.UniqueConstraint("tenant_id", "name", name="uq_actions_tenant_name"),
)

inbox_messages = sa.Table(
    "inbox_messages",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("recipient", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("code", sa.String(16)),
    sa.Column("created_at", TS, nullable=False),
    sa.Index("ix_inbox_tenant_created", "tenant_id", "created_at"),
)

log_events = sa.Table(
    "log_events",
    metadata,
    sa.Column("log_id", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(40), nullable=False),
    sa.Column("date", TS, nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("client_id", sa.String(64)),
    sa.Column("client_name", sa.String(255)),
    sa.Column("ip", sa.String(64)),
    sa.Column("user_agent", sa.String(512)),
    sa.Column("user_id", sa.String(64)),
    sa.Column("user_name", sa.String(320)),
    sa.Column("connection", sa.String(128)),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index("ix_log_events_tenant_date", "tenant_id", "date"),
    sa.Index("ix_log_events_tenant_type_date", "tenant_id", "type", "date"),
    sa.Index("ix_log_events_tenant_user", "tenant_id", "user_id"),
    # Checkpoint reads (logs API ``from``, log streams) walk one tenant's events in order.
    sa.Index("ix_log_events_tenant_log_id", "tenant_id", "log_id"),
)

# Small encrypted values kept per tenant (demo credentials now; provider credentials and
# action secrets later). Encrypted with the server key ring, re-encrypted on rotation.
stored_secrets = sa.Table(
    "stored_secrets",
    metadata,
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)


# Token buckets for rate limits when Redis is not configured (storage/counters.py). A key
# names its tenant and subject, e.g. "ten_x:user:auth0|abc:send".
rate_buckets = sa.Table(
    "rate_buckets",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),  # epoch seconds
)

# Temporary blocks (an IP after a burst of sends), until an epoch second.
rate_blocks = sa.Table(
    "rate_blocks",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("until", sa.Float, nullable=False),
)

log_streams = sa.Table(
    "log_streams",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False, index=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # active | paused | suspended
    sa.Column("sink", sa.JSON, nullable=False),  # non-secret sink settings
    sa.Column("secrets", sa.Text),  # sealed JSON: authorization header value, signing secret
    sa.Column("filters", sa.JSON, nullable=False),
    # The last log_id delivered: events after it go next, in log_id order.
    sa.Column("cursor", sa.String(64), nullable=False),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", TS),
    sa.Column("claimed_until", TS),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)


# Authorization codes of the Universal Login flow, by the SHA-256 of the code. A login
# transaction issues one at most (unique transaction_id), whoever replays its cookie.
authorization_codes = sa.Table(
    "authorization_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("transaction_id", sa.String(64), nullable=False, unique=True),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("audience", sa.String(255)),
    sa.Column("nonce", sa.String(255)),
    sa.Column("code_challenge", sa.String(128)),
    sa.Column("amr", sa.JSON, nullable=False),
    sa.Column("auth_time", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False, index=True),
    sa.Column("consumed_at", TS),
    sa.Column("refresh_family", sa.String(40)),
)

# Rotating refresh tokens, by the SHA-256 of the token; one family per authorization.
refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("family_id", sa.String(40), nullable=False, index=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("user_id", sa.String(64), nullable=False, index=True),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("audience", sa.String(255)),
    sa.Column("amr", sa.JSON, nullable=False),
    sa.Column("auth_time", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("used_at", TS),
    sa.Column("revoked_at", TS),
)

# The dashboard's operators (domain/admins.py), per tenant.
admins = sa.Table(
    "admins",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("tenant_id", sa.String(40), sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_key", sa.String(320), nullable=False),  # lower-cased, for uniqueness
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("last_login", TS),
    sa.Column("session_generation", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("tenant_id", "email_key", name="uq_admins_tenant_email"),
)
