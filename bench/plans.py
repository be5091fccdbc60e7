"""The query plans behind a challenge and its verify, on a large PostgreSQL database.

The statements are not copied from the repositories: one challenge and one verify go
through the real application in process (httpx's ASGI transport runs the after-response
delivery too), every statement the engine sends is recorded with its parameters, and each
read, update and delete is then explained with those same parameters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url

from bench import scenarios
from bench.dataset import Population, settings_for
from bench.fake_provider import FakeTwilio
from phonegate.container import Container
from phonegate.web.app import create_app

_COLUMNS = re.compile(r"^SELECT .+? FROM ", re.DOTALL)
_EXPLAINED = ("SELECT", "UPDATE", "DELETE")


def _readable(statement: str) -> str:
    # The column lists say nothing about the plan; the tables and conditions do.
    return _COLUMNS.sub("SELECT … FROM ", " ".join(statement.split()))


async def _record(
    pop: Population, fake: FakeTwilio, work_dir: Path, redis_url: str
) -> list[tuple[str, Any]]:
    settings = settings_for(pop.database_url, pop.secret_keys, work_dir, redis_url)
    recorded: list[tuple[str, Any]] = []
    async with Container(settings) as c:

        @event.listens_for(c.engine.sync_engine, "before_cursor_execute")
        def _seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
            recorded.append((statement, params))

        transport = httpx.ASGITransport(
            app=create_app(c, background=False), client=("192.0.2.1", 1)
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.test") as http:
            user = 0
            mfa_token = pop.mfa_tokens[user]
            answer = await http.post(
                "/mfa/challenge",
                json={**pop.app_auth, "mfa_token": mfa_token, "challenge_type": "oob"},
            )
            answer.raise_for_status()
            code, _ = await fake.next_code(pop.enrolled.phone(user))
            verified = await http.post(
                "/oauth/token",
                json={
                    "grant_type": scenarios.GRANT_OOB,
                    **pop.app_auth,
                    "mfa_token": mfa_token,
                    "oob_code": answer.json()["oob_code"],
                    "binding_code": code,
                },
            )
            verified.raise_for_status()
    return recorded


def _redacted(plan: str, params: Sequence[Any]) -> str:
    """The plan without the values of long parameters (ids, client ids, hashes, times):
    they say nothing about the plan, and a client id or a hash in the docs reads as a
    credential."""
    for value in params:
        text = str(value) if value is not None else ""
        if len(text) >= 12:
            plan = plan.replace(text, "…")
    return plan


async def explain(
    pop: Population, fake: FakeTwilio, work_dir: Path, redis_url: str
) -> list[tuple[str, str]]:
    """(statement, plan) for each distinct read, update and delete of a challenge (with its
    delivery) and a verify."""
    recorded = await _record(pop, fake, work_dir, redis_url)
    dsn = make_url(pop.database_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(dsn)
    try:
        plans: dict[str, str] = {}
        for statement, params in recorded:
            if not statement.lstrip().upper().startswith(_EXPLAINED) or statement in plans:
                continue
            rows = await conn.fetch("EXPLAIN " + statement, *(params or ()))
            plans[statement] = _redacted("\n".join(r[0] for r in rows), params or ())
    finally:
        await conn.close()
    return [(_readable(s), p) for s, p in plans.items()]
