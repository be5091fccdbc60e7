"""The short path for prebuilt statements on SQLite gives what ``AsyncConnection.execute``
gives: the same rows with the same types, the same row counts, SQLAlchemy's errors, the
cursor events; and it steps aside for what it does not handle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from phonegate.bootstrap import Credentials
from phonegate.container import Container
from phonegate.storage import fast_sql
from phonegate.storage import repositories as r
from phonegate.storage import tables as t
from phonegate.storage.fast_sql import FastResult
from phonegate.storage.repositories import SqlUnitOfWork
from tests.delivery.test_claim_batches import statements

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def rows(result: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in result]


async def test_reads_match_sqlalchemy_row_for_row(container: Container, creds: Credentials) -> None:
    async with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        cases: list[tuple[Any, dict[str, Any]]] = [
            (r._TENANT_FOR_HOST, {"p_host": "", "p_bare": ""}),
            (r._TENANT_BY_ID, {"p_id": tenant.id}),
            (r._USER, {"p_tenant": tenant.id, "p_user_id": creds.user_id}),
            (r._APPLICATION, {"p_tenant": tenant.id, "p_client_id": creds.client_id}),
            (r._USER_BY_EMAIL, {"p_tenant": tenant.id, "p_email_key": "demo@example.com"}),
        ]
        for statement, params in cases:
            fast = await fast_sql.execute(uow.conn, statement, params)
            slow = await uow.conn.execute(statement, params)
            assert isinstance(fast, FastResult)
            expected = rows(slow)
            assert rows(fast) == expected and expected, statement
            for got, want in zip(rows(fast)[0].values(), expected[0].values(), strict=True):
                assert type(got) is type(want)  # datetimes, booleans and JSON alike


async def test_writes_count_rows_and_store_what_sqlalchemy_would(
    container: Container, creds: Credentials
) -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    async with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        params = {"p_tenant": tenant.id, "p_user_id": creds.user_id, "p_now": now}
        updated = await fast_sql.execute(uow.conn, r._USER_LOGGED_IN, params)
        assert updated.rowcount == 1
        missing = await fast_sql.execute(
            uow.conn, r._USER_LOGGED_IN, {**params, "p_user_id": "auth0|nobody"}
        )
        assert missing.rowcount == 0
        user = await uow.users.get(tenant.id, creds.user_id)
        assert user is not None and user.last_login == now and user.logins_count == 1


async def test_a_batch_is_one_statement(container: Container, creds: Credentials) -> None:
    async with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        now = datetime(2026, 12, 1, tzinfo=UTC)
        batch = [
            {"key": f"test:{n}", "tokens": float(n), "updated_at": now.timestamp()}
            for n in range(3)
        ]
        with statements(container) as seen:
            await fast_sql.execute(uow.conn, r._INSERT[t.rate_buckets], batch)
        assert len(seen) == 1
        found = await uow.conn.execute(
            sa.select(t.rate_buckets.c.key).where(t.rate_buckets.c.key.like("test:%"))
        )
        assert sorted(found.scalars()) == ["test:0", "test:1", "test:2"]


async def test_driver_errors_are_sqlalchemy_errors(
    container: Container, creds: Credentials
) -> None:
    async with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        row = {"key": "dup", "tokens": 1.0, "updated_at": 0.0}
        await fast_sql.execute(uow.conn, r._INSERT[t.rate_buckets], row)
        with pytest.raises(sa.exc.IntegrityError):
            await fast_sql.execute(uow.conn, r._INSERT[t.rate_buckets], row)


async def test_what_it_does_not_handle_goes_through_sqlalchemy(
    container: Container, creds: Credentials
) -> None:
    expanding = sa.select(t.tenants.c.id).where(
        t.tenants.c.id.in_(sa.bindparam("ids", expanding=True))
    )
    async with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        tenant = await uow.tenants.for_host("")
        assert tenant is not None
        result = await fast_sql.execute(uow.conn, expanding, {"ids": [tenant.id]})
        assert not isinstance(result, FastResult)
        assert list(result.scalars()) == [tenant.id]
    # Outside a transaction SQLAlchemy begins one itself.
    async with container.engine.connect() as conn:
        result = await fast_sql.execute(conn, r._TENANT_BY_ID, {"p_id": tenant.id})
        assert not isinstance(result, FastResult) and result.first() is not None


async def test_statements_built_per_call_do_not_grow_the_plans_past_their_cap(
    container: Container, creds: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fast_sql, "_plans", {})
    monkeypatch.setattr(fast_sql, "MAX_PLANS", 3)
    async with container.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        for n in range(10):
            fresh = sa.select(t.tenants.c.id).where(t.tenants.c.name != f"n{n}")
            result = await fast_sql.execute(uow.conn, fresh, {})
            assert result.first() is not None
    assert len(fast_sql._plans) == 3
