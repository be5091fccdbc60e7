"""The log events of delivery: a message sent, an attempt or a message failed, and the admin
event that says an operator must fix the delivery set-up. Shared by the dispatcher and the
receipt callbacks. Numbers are masked; codes never appear."""

from __future__ import annotations

from datetime import datetime

from phonegate.domain.events import new_event
from phonegate.domain.models import LogEvent, OutboxMessage, RequestContext
from phonegate.phone import mask


def _ctx(message: OutboxMessage) -> RequestContext:
    return RequestContext(ip=message.ip, user_agent=message.user_agent)


def sent_event(
    message: OutboxMessage, provider: str, label: str, position: int, now: datetime
) -> LogEvent:
    return new_event(
        message.tenant_id,
        f"gd_send_{message.channel}",
        now,
        _ctx(message),
        client_id=message.client_id,
        user_id=message.user_id,
        details={
            "provider": provider,
            "provider_label": label,
            "to": mask(message.recipient),
            "message_id": message.id,
            "attempt": position + 1,
            "failover": position > 0,
        },
    )


def failure_event(
    message: OutboxMessage,
    provider: str | None,
    reason: str,
    code: str | None,
    now: datetime,
    *,
    failover: bool = False,
) -> LogEvent:
    """``gd_send_sms_failure`` / ``gd_send_voice_failure`` for a message: a failed attempt,
    a final failure, or a vendor's later receipt saying it was not delivered."""
    return new_event(
        message.tenant_id,
        f"gd_send_{message.channel}_failure",
        now,
        _ctx(message),
        description=f"The {message.channel} message could not be sent: {reason}"
        + (" Trying the next provider." if failover else ""),
        client_id=message.client_id,
        user_id=message.user_id,
        details={
            "provider": provider,
            "to": mask(message.recipient),
            "message_id": message.id,
            "failover": failover,
            "failure_details": {"errorCode": code or "error_sending_sms", "message": reason},
            "provider_error": {"errorCode": code, "message": reason} if code else None,
        },
    )


def admin_event(
    message: OutboxMessage, provider: str | None, reason: str, now: datetime
) -> LogEvent:
    return new_event(
        message.tenant_id,
        "pg_provider_misconfigured",
        now,
        description=f"Phone messages cannot be sent: {reason}",
        details={"provider": provider, "message_id": message.id, "channel": message.channel},
    )
