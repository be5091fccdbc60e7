"""Outbox payloads: the rendered text and code, encrypted until delivered.

The code has to survive a crash between commit and send, so it rides in the outbox row —
encrypted with the server key, and erased by the dispatcher once the message is sent, has
failed for good, or has expired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from phonegate import ids
from phonegate.domain.models import Channel, OutboxMessage, RequestContext
from phonegate.keys import KeyRing


@dataclass(frozen=True, slots=True)
class Payload:
    text: str
    code: str | None
    locale: str
    kind: str
    # The sender a template asks for (Branding ``content.from``), over the provider's default.
    sender: str | None = None


def seal(keys: KeyRing, payload: Payload) -> str:
    return keys.encrypt(
        json.dumps(
            {
                "text": payload.text,
                "code": payload.code,
                "locale": payload.locale,
                "kind": payload.kind,
                "sender": payload.sender,
            }
        )
    )


def open_payload(keys: KeyRing, sealed: str | None) -> Payload | None:
    if not sealed:
        return None
    plain = keys.decrypt(sealed)
    if plain is None:
        return None
    data = json.loads(plain)
    return Payload(
        text=data["text"],
        code=data.get("code"),
        locale=data.get("locale", "en"),
        kind=data.get("kind", ""),
        sender=data.get("sender"),
    )


def new_message(
    keys: KeyRing,
    *,
    tenant_id: str,
    channel: Channel,
    recipient: str,
    payload: Payload,
    now: datetime,
    expires_at: datetime,
    challenge_id: str | None,
    user_id: str | None,
    client_id: str | None,
    ctx: RequestContext,
) -> OutboxMessage:
    return OutboxMessage(
        id=ids.prefixed("msg"),
        tenant_id=tenant_id,
        challenge_id=challenge_id,
        user_id=user_id,
        client_id=client_id,
        channel=channel,
        recipient=recipient,
        payload=seal(keys, payload),
        status="pending",
        attempts=0,
        not_before=now - timedelta(seconds=1),
        expires_at=expires_at,
        created_at=now,
        ip=ctx.ip,
        user_agent=(ctx.user_agent or "")[:512] or None,
    )
