"""``GET /metrics``: this process's Prometheus metrics, an operator endpoint (all tenants).

Answers 404, like any unknown path, when ``metrics_enabled`` is false, and wants
``Authorization: Bearer <metrics_token>`` when a token is set. The outbox gauges are read
from the database at each scrape, so they are right whichever process is scraped.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import SecretStr

from phonegate.clock import as_utc
from phonegate.container import Container
from phonegate.domain.ports import UnitOfWork
from phonegate.errors import InvalidToken
from phonegate.metrics import Metrics
from phonegate.providers.registry import BUILTIN_PROVIDERS, PROVIDER_CLASSES
from phonegate.storage import tables as t
from phonegate.storage.repositories import SqlUnitOfWork
from phonegate.web.requests import bearer, container

router = APIRouter(prefix="")

_outbox = t.outbox_messages.c
# Filters on the leading column of ix_outbox_due, so it reads only the backlog's rows.
OUTBOX_BACKLOG = (
    sa.select(_outbox.channel, sa.func.count(), sa.func.min(_outbox.created_at))
    .where(_outbox.status.in_(("pending", "sending")))
    .group_by(_outbox.channel)
)
# Until the container builds its own (``Container.metrics``), one instance per process.
_FALLBACK = Metrics(providers=BUILTIN_PROVIDERS.keys() | PROVIDER_CLASSES.keys())


def metrics_of(c: Container) -> Metrics:
    found = getattr(c, "metrics", None)
    return found if isinstance(found, Metrics) else _FALLBACK


async def outbox_backlog(uow: UnitOfWork) -> tuple[Mapping[str, int], datetime | None]:
    """Messages waiting or being sent, by channel, and when the oldest was created.

    SQL belongs in storage/repositories.py: this moves there once the outbox port has it.
    """
    assert isinstance(uow, SqlUnitOfWork)
    rows = (await uow.conn.execute(OUTBOX_BACKLOG)).all()
    oldest = min((as_utc(row[2]) for row in rows), default=None)  # SQLite returns naive
    return {row[0]: row[1] for row in rows}, oldest


def _authorize(request: Request, token: SecretStr | None) -> None:
    expected = token.get_secret_value() if token is not None else ""
    if not expected:
        return
    if not hmac.compare_digest(bearer(request).encode(), expected.encode()):
        raise InvalidToken("Invalid metrics token.")


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request) -> Response:
    c = container(request)
    if not getattr(c.settings, "metrics_enabled", True):
        raise HTTPException(status_code=404)
    _authorize(request, getattr(c.settings, "metrics_token", None))
    metrics = metrics_of(c)
    async with c.unit_of_work() as uow:
        pending, oldest = await outbox_backlog(uow)
    metrics.set_outbox(pending, oldest, c.clock.now())
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
