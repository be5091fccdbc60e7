"""The inbox of the built-in ``sandbox`` and ``auth0`` providers (``web/management/sandbox.py``):
what they "sent", codes included, for development and tests."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from phonegate.domain.models import Channel
from phonegate.web.management.schemas.common import TEXT, Strict, integer, query


class SandboxMessage(Strict):
    id: str
    recipient: str = Field(description="E.164.")
    channel: Channel
    text: str
    code: str | None
    provider: str
    created_at: datetime


INBOX_QUERY = [
    query("recipient", TEXT, "Only messages to this E.164 number."),
    query("limit", integer(1, 1000, 100), "How many of the newest messages."),
]
