"""Admin sessions: a cookie sealed with the server keys (encrypted and authenticated; see
``cookies`` for where it goes), naming the admin, the tenant and the admin's session
generation.

Every page re-seals it with the time it was seen, so a session ends after
``IDLE_SECONDS`` without a page, and after ``MAX_SECONDS`` whatever happens. Signing out
bumps the generation stored with the admin, which ends every session issued before, on
every browser (a stolen cookie included).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from fastapi import Request, Response

from phonegate.domain.models import Admin
from phonegate.keys import KeyRing
from phonegate.web.admin import cookies

COOKIE = "phonegate_admin"
IDLE_SECONDS = 8 * 3600
MAX_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class AdminSession:
    id: str  # random: what the session's CSRF token is derived from
    admin_id: str
    tenant_id: str
    generation: int
    issued_at: float
    seen_at: float

    def current(self, admin: Admin) -> bool:
        """Still this admin's session: not ended by a sign-out since it was issued."""
        return admin.id == self.admin_id and admin.session_generation == self.generation


def start(admin: Admin, now: datetime) -> AdminSession:
    at = now.timestamp()
    return AdminSession(
        id=secrets.token_urlsafe(16),
        admin_id=admin.id,
        tenant_id=admin.tenant_id,
        generation=admin.session_generation,
        issued_at=at,
        seen_at=at,
    )


def seen(session: AdminSession, now: datetime) -> AdminSession:
    return replace(session, seen_at=now.timestamp())


def open_session(sealed: str | None, keys: KeyRing, now: datetime) -> AdminSession | None:
    """The session a cookie holds, or None when it is missing, forged or expired."""
    plain = keys.decrypt(sealed[:4096]) if sealed else None
    if plain is None:
        return None
    try:
        session = AdminSession(**json.loads(plain))
    except (TypeError, ValueError):
        return None
    at = now.timestamp()
    if at - session.seen_at >= IDLE_SECONDS or at - session.issued_at >= MAX_SECONDS:
        return None
    return session


def store(response: Response, request: Request, session: AdminSession, keys: KeyRing) -> None:
    sealed = keys.encrypt(json.dumps(asdict(session), separators=(",", ":")))
    cookies.put(response, request, COOKIE, sealed, IDLE_SECONDS)


def clear(response: Response, request: Request) -> None:
    cookies.drop(response, request, COOKIE)
