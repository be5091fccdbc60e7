"""What the work ceiling's handlers share: the request, the answer, and the state of one
request's transaction (``Flow``)."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.ceiling_db import Row, Transaction
from bench.ceiling_sql import ADD_EVENT


class Refused(Exception):
    """An answer other than success; the ceiling serves only the benchmark's happy paths."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status, self.error = status, error


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    after: Callable[[], Awaitable[None]] | None = None  # run once the answer is sent


@dataclass
class Request:
    path: str
    body: dict[str, Any]
    host: str
    ip: str
    authorization: str = ""


@dataclass
class Outgoing:
    """A queued message, kept in memory for the delivery after the answer."""

    id: str
    tenant: str
    phone: str
    sealed: str
    provider: Row


@dataclass
class Flow:
    """One request's transaction and what its checks have found so far."""

    tx: Transaction
    now: datetime
    tenant: Row
    request: Request
    app: Row = field(default_factory=dict)
    user: Row | None = None
    outgoing: list[Outgoing] = field(default_factory=list)

    @property
    def epoch(self) -> float:
        return self.now.timestamp()

    def params(self, **values: Any) -> dict[str, Any]:
        return {"tenant": self.tenant["id"], "now": self.now, "yes": True, "no": False, **values}

    async def event(self, type_: str) -> None:
        user = self.user or {}
        await add_event(
            self.tx,
            self.tenant["id"],
            self.now,
            type_,
            client=self.app.get("client_id"),
            client_name=self.app.get("name"),
            ip=self.request.ip,
            user=user.get("user_id"),
            user_name=user.get("email"),
        )


async def add_event(
    tx: Transaction, tenant: str, now: datetime, type_: str, **who: str | None
) -> None:
    """A log event, its id time-ordered as phonegate makes them."""
    empty = dict.fromkeys(("client", "client_name", "ip", "user", "user_name"))
    await tx.run(
        ADD_EVENT,
        log_id=f"{time.time_ns():020d}{secrets.token_hex(8)}",
        tenant=tenant,
        now=now,
        type=type_,
        connection=None,
        details="{}",
        **{**empty, **who},
    )


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
