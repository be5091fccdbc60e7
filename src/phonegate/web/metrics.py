"""``GET /metrics``: this process's Prometheus metrics, an operator endpoint (all tenants).

Answers 404, like any unknown path, when ``metrics_enabled`` is false, and wants
``Authorization: Bearer <metrics_token>`` when a token is set. The outbox gauges are read
from the database at each scrape, so they are right whichever process is scraped.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import SecretStr

from phonegate.errors import InvalidToken
from phonegate.web.requests import bearer, container

router = APIRouter(prefix="")


def _authorize(request: Request, token: SecretStr | None) -> None:
    expected = token.get_secret_value() if token is not None else ""
    if not expected:
        return
    if not hmac.compare_digest(bearer(request).encode(), expected.encode()):
        raise InvalidToken("Invalid metrics token.")


@router.get("/metrics", include_in_schema=False)
async def scrape(request: Request) -> Response:
    c = container(request)
    if not c.settings.metrics_enabled:
        raise HTTPException(status_code=404)
    _authorize(request, c.settings.metrics_token)
    async with c.unit_of_work() as uow:
        pending, oldest = await uow.outbox.backlog()
    c.metrics.set_outbox(pending, oldest, c.clock.now())
    return Response(c.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
