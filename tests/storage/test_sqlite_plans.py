"""On SQLite, no statement of a login, challenge, delivery, verify or passwordless start
reads a whole table that grows with the users or the traffic: each finds its rows through
an index (docs/benchmarks.md shows PostgreSQL's plans)."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
import sqlalchemy as sa

from phonegate.container import Container
from tests.conftest import Api
from tests.web.test_passwordless import sms_connection

# Tables that hold a handful of rows per tenant may be read whole.
SMALL = {"tenants", "tenant_settings", "applications", "phone_providers", "phone_templates"}
SMALL |= {"signing_keys", "connections", "actions", "log_streams", "due"}

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_the_hot_statements_use_indexes(
    api: Api, container: Container, database_url: str
) -> None:
    seen: dict[str, Any] = {}

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, many: bool) -> None:
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH", "INSERT")):
            seen[sql] = params[0] if many and params else params

    await api.enable_mfa()
    await sms_connection(api)
    await api.enrolled_user()
    await container.dispatcher.run_once()
    sa.event.listen(container.engine.sync_engine, "before_cursor_execute", record)
    token = await api.mfa_token()
    r = await api.challenge(token)
    assert r.status_code == 200, r.text
    await container.dispatcher.run_once()
    r = await api.oob_grant(token, r.json()["oob_code"], await api.last_code())
    assert r.status_code == 200, r.text
    r = await api.client.post(
        "/passwordless/start",
        json={**api.app_auth, "connection": "sms", "phone_number": "+14155550199", "send": "code"},
    )
    assert r.status_code == 200, r.text
    await container.dispatcher.run_once()
    sa.event.remove(container.engine.sync_engine, "before_cursor_execute", record)

    assert len(seen) > 20
    db = sqlite3.connect(database_url.split("///", 1)[1])
    scans: list[str] = []
    for sql, params in seen.items():
        values = list(params) if isinstance(params, list | tuple) else [None] * sql.count("?")
        for *_, detail in db.execute("EXPLAIN QUERY PLAN " + sql, values):
            table = detail.split()[1] if detail.startswith("SCAN") else None
            if table is not None and table not in SMALL:
                scans.append(f"{detail}: {' '.join(sql.split())[:120]}")
            if "ix_outbox_feedback" in detail and "challenge_id" in sql:
                scans.append(f"{detail}: the feedback request must find its challenge's rows")
    assert scans == []
