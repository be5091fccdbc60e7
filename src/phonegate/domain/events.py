"""The closed catalogue of tenant log event codes phonegate emits (Auth0's codes).

Events never carry a code, a secret or a full phone number: numbers are masked first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from phonegate import ids
from phonegate.domain.models import LogEvent, RequestContext

CATALOGUE: dict[str, str] = {
    "s": "Success Login",
    "fp": "Wrong email or password.",
    "fu": "Wrong email or password.",
    "mfar": "Multi-factor authentication required",
    "seccft": "Successful exchange of client credentials for access token",
    "feccft": "Failed exchange of client credentials for access token",
    "seoobft": "Successful exchange of password and OOB challenge for access token",
    "feoobft": "Failed exchange of password and OOB challenge for access token",
    "sercft": "Successful exchange of password and MFA recovery code for access token",
    "fercft": "Failed exchange of password and MFA recovery code for access token",
    "seacft": "Successful exchange of authorization code for access token",
    "feacft": "Failed exchange of authorization code for access token",
    "sertft": "Successful exchange of refresh token for access token",
    "fertft": "Failed exchange of refresh token for access token",
    "slo": "Successful logout",
    "gd_start_enroll": "Enrollment started",
    "gd_enrollment_complete": "Guardian enrollment complete",
    "gd_start_auth": "Second factor authentication started",
    "gd_send_sms": "SMS sent",
    "gd_send_sms_failure": "SMS could not be sent",
    "gd_send_voice": "Voice call made",
    "gd_send_voice_failure": "Voice call could not be made",
    "gd_auth_succeed": "Second factor authentication succeeded",
    "gd_auth_failed": "Second factor authentication failed",
    "gd_recovery_succeed": "Recovery code accepted",
    "gd_recovery_failed": "Recovery code rejected",
    "gd_unenroll": "Authenticator removed",
    "gd_tenant_update": "Guardian tenant settings updated",
    "sapi": "Management API write operation",
    "gd_otp_rate_limit_exceed": "Too many failed codes",
    "limit_phone": "Too many phone messages",
    "limit_mu": "An IP address was blocked for sending too many requests",
    # phonegate's own: an operator must act on the delivery set-up.
    "pg_budget_warning": "The tenant's daily message budget is nearly spent",
    "pg_budget_exceeded": "The tenant's daily message budget is spent",
    "pg_provider_misconfigured": "A phone provider is misconfigured; messages cannot be sent",
    "pg_log_stream_suspended": "A log stream was suspended after repeated delivery failures",
    "pg_alert": "An alert rule's threshold was exceeded",
    "cs": "Passwordless login code has been sent",
    "fepotpft": "Failed exchange of Passwordless OTP for Access Token",
    "api_limit": "The rate limit of an API endpoint was reached",
    "ss": "User created",
    "du": "User deleted",
}


def new_event(
    tenant_id: str,
    type_: str,
    now: datetime,
    ctx: RequestContext | None = None,
    *,
    description: str | None = None,
    client_id: str | None = None,
    client_name: str | None = None,
    user_id: str | None = None,
    user_name: str | None = None,
    connection: str | None = None,
    details: dict[str, Any] | None = None,
) -> LogEvent:
    if type_ not in CATALOGUE:
        raise ValueError(f"unknown log event type {type_!r}")
    return LogEvent(
        log_id=ids.log_id(),
        tenant_id=tenant_id,
        date=now,
        type=type_,
        description=description or CATALOGUE[type_],
        client_id=client_id,
        client_name=client_name,
        ip=ctx.ip if ctx else None,
        user_agent=ctx.user_agent if ctx else None,
        user_id=user_id,
        user_name=user_name,
        connection=connection,
        details=details or {},
    )


def entry(event: LogEvent, tenant_name: str | None = None) -> dict[str, Any]:
    """An event in Auth0's log entry shape (the logs API; log streams wrap it as
    ``{"log_id", "data"}``). Fields the event does not have are left out, as Auth0 does;
    dates have milliseconds and a Z (``2016-02-23T19:57:29.532Z``)."""
    data: dict[str, Any] = {
        "date": event.date.astimezone(UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "type": event.type,
        "description": event.description,
        "client_id": event.client_id,
        "client_name": event.client_name,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "user_id": event.user_id,
        "user_name": event.user_name,
        "connection": event.connection,
        "details": event.details,
        "log_id": event.log_id,
        "_id": event.log_id,
        "tenant_name": tenant_name,
    }
    return {k: v for k, v in data.items() if v is not None}
