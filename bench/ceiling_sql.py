"""The SQL of the work ceiling (``bench.ceiling_work``): the statements phonegate's
repositories run for the benchmark's scenarios, without SQLAlchemy, portable between SQLite
and PostgreSQL. ``{table}`` marks the two tables of single-use codes. The f-strings only
join this module's own fragments; every value is a bound parameter.
"""

TENANT = """SELECT t.id, s.friendly_name FROM tenants t
    JOIN tenant_settings s ON s.tenant_id = t.id WHERE t.is_default = :yes"""
APP = """SELECT client_id, name, secret_hash FROM applications
    WHERE tenant_id = :tenant AND client_id = :client"""
USER = """SELECT user_id, email, name, nickname, email_verified, updated_at FROM users
    WHERE tenant_id = :tenant AND user_id = :user"""
USER_BY_EMAIL = """SELECT user_id, password_hash FROM users
    WHERE tenant_id = :tenant AND email_key = :email"""
USER_BY_PHONE = """SELECT user_id, email, name, nickname, email_verified, updated_at FROM users
    WHERE tenant_id = :tenant AND connection = :connection AND phone_number = :phone"""
AUTHENTICATORS = """SELECT id, phone_number, confirmed FROM phone_authenticators
    WHERE tenant_id = :tenant AND user_id = :user ORDER BY created_at, id"""
AUTHENTICATOR = (
    "SELECT id, phone_number FROM phone_authenticators WHERE tenant_id = :tenant AND id = :id"
)
PROVIDERS = """SELECT id, configuration, credentials FROM phone_providers
    WHERE tenant_id = :tenant ORDER BY position, created_at"""
TEMPLATES = "SELECT type, content FROM phone_templates WHERE tenant_id = :tenant"
CONNECTION = "SELECT id, name FROM connections WHERE tenant_id = :tenant AND name = :name"
BLOCK = 'SELECT until FROM rate_blocks WHERE "key" = :key'
_ELAPSED = (
    "(CASE WHEN :now > rate_buckets.updated_at THEN :now - rate_buckets.updated_at ELSE 0 END)"
)
_REFILLED = (
    f"(CASE WHEN rate_buckets.tokens + {_ELAPSED} * :rate < :capacity "
    f"THEN rate_buckets.tokens + {_ELAPSED} * :rate ELSE :capacity END)"
)
_STAMP = "CASE WHEN rate_buckets.updated_at > :now THEN rate_buckets.updated_at ELSE :now END"
TAKE = f"""INSERT INTO rate_buckets ("key", tokens, updated_at) VALUES (:key, :capacity - 1, :now)
    ON CONFLICT ("key") DO UPDATE SET tokens = {_REFILLED} - 1, updated_at = {_STAMP}
    WHERE {_REFILLED} >= 1 RETURNING tokens"""  # noqa: S608
GIVE_BACK = f"""UPDATE rate_buckets SET updated_at = {_STAMP},
    tokens = CASE WHEN {_REFILLED} + 1 < :capacity THEN {_REFILLED} + 1 ELSE :capacity END
    WHERE "key" = :key"""  # noqa: S608
ADD_CHALLENGE = """INSERT INTO challenges (id, tenant_id, user_id, client_id, authenticator_id,
    kind, channel, oob_hash, code_hash, key_id, created_at, expires_at, attempts, max_attempts,
    recovery_code_id) VALUES (:id, :tenant, :user, :client, :authenticator, :kind, 'sms', :oob,
    :hash, :key_id, :now, :expires, 0, 5, :recovery)"""
CHALLENGE = """SELECT id, user_id, client_id, authenticator_id, kind, code_hash, key_id,
    recovery_code_id FROM challenges WHERE tenant_id = :tenant AND oob_hash = :oob"""
COUNT_ATTEMPT = """UPDATE {table} SET attempts = attempts + 1 WHERE id = :id
    AND consumed_at IS NULL AND attempts < max_attempts AND expires_at > :now"""
CONSUME = "UPDATE {table} SET consumed_at = :now WHERE id = :id AND consumed_at IS NULL"
TOUCH = "UPDATE phone_authenticators SET last_auth_at = :now WHERE tenant_id = :tenant AND id = :id"
CONFIRM = """UPDATE phone_authenticators SET confirmed = :yes, confirmed_at = :now,
    last_auth_at = :now WHERE tenant_id = :tenant AND id = :id AND confirmed = :no"""
CONFIRM_RECOVERY = (
    "UPDATE recovery_codes SET confirmed = :yes WHERE tenant_id = :tenant AND id = :id"
)
REQUEST_FEEDBACK = """UPDATE outbox_messages SET feedback_status = 'due'
    WHERE challenge_id = :challenge AND status = 'sent' AND feedback_status IS NULL
    AND provider_config_id IS NOT NULL"""
RECORD_LOGIN = """UPDATE users SET last_login = :now, logins_count = logins_count + 1
    WHERE tenant_id = :tenant AND user_id = :user"""
DROP_UNCONFIRMED = (
    "DELETE FROM {table} WHERE tenant_id = :tenant AND user_id = :user AND confirmed = :no"
)
ADD_AUTHENTICATOR = """INSERT INTO phone_authenticators (id, tenant_id, user_id, phone_number,
    channel, confirmed, created_at) VALUES (:id, :tenant, :user, :phone, 'sms', :no, :now)"""
RECOVERY_CODES = (
    "SELECT id, confirmed FROM recovery_codes WHERE tenant_id = :tenant AND user_id = :user"
)
ADD_RECOVERY = """INSERT INTO recovery_codes (id, tenant_id, user_id, code_hash, key_id,
    confirmed, created_at) VALUES (:id, :tenant, :user, :hash, 'sha256', :no, :now)"""
PASSWORDLESS_CODE = """SELECT id, user_id, phone_number, code_hash, key_id, client_id
    FROM passwordless_codes WHERE tenant_id = :tenant AND connection_id = :connection
    AND phone_number = :phone"""
REPLACE_PASSWORDLESS = """INSERT INTO passwordless_codes (id, tenant_id, connection_id,
    phone_number, user_id, client_id, code_hash, key_id, created_at, expires_at, attempts,
    max_attempts) VALUES (:id, :tenant, :connection, :phone, :user, :client, :hash, :key_id,
    :now, :expires, 0, 3) ON CONFLICT (tenant_id, connection_id, phone_number) DO UPDATE SET
    id = :id, user_id = :user, client_id = :client, code_hash = :hash, key_id = :key_id,
    created_at = :now, expires_at = :expires, attempts = 0, consumed_at = NULL"""
ADD_MESSAGE = """INSERT INTO outbox_messages (id, tenant_id, challenge_id, user_id, client_id,
    channel, recipient, payload, status, attempts, not_before, expires_at, created_at, ip)
    VALUES (:id, :tenant, :challenge, :user, :client, 'sms', :phone, :payload, 'pending', 0,
    :now, :expires, :now, :ip)"""
CLAIM = """UPDATE outbox_messages SET status = 'sending', claimed_until = :until,
    claim_token = :token, attempts = attempts + 1 WHERE id = :id AND status = 'pending'"""
ADD_ATTEMPT = """INSERT INTO delivery_attempts (id, tenant_id, message_id, provider, position,
    started_at) VALUES (:id, :tenant, :message, 'twilio', 0, :now)"""
MARK_SENT = """UPDATE outbox_messages SET status = 'sent', sent_at = :now, provider = 'twilio',
    provider_message_id = :sid, provider_config_id = :config, payload = NULL,
    claimed_until = NULL WHERE id = :id"""
FINISH_ATTEMPT = """UPDATE delivery_attempts SET finished_at = :now, outcome = 'sent',
    provider_message_id = :sid WHERE id = :id"""
ADD_EVENT = """INSERT INTO log_events (log_id, tenant_id, date, type, description, client_id,
    client_name, ip, user_id, user_name, connection, details) VALUES (:log_id, :tenant, :now,
    :type, :type, :client, :client_name, :ip, :user, :user_name, :connection, :details)"""
