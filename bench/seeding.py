"""Users in bulk: one of each kind written through phonegate's repositories, then cloned
``count - 1`` times by a single ``INSERT … SELECT`` over a number sequence
(``generate_series`` on PostgreSQL, a recursive CTE on SQLite), so a million users take
seconds. Enrolled users come with the challenge and the sent outbox message of their
enrollment, as a real database has them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from phonegate.domain.models import (
    DATABASE_CONNECTION,
    Challenge,
    OutboxMessage,
    PhoneAuthenticator,
    User,
)
from phonegate.storage import tables
from phonegate.storage.repositories import SqlUnitOfWork

SMS_CONNECTION = "sms"


@dataclass(frozen=True, slots=True)
class Group:
    """Users numbered 0…count-1 whose ids, addresses and phones follow from their number."""

    name: str
    count: int
    phone_base: int  # user i has the phone +<phone_base + i>

    @property
    def user_prefix(self) -> str:
        return "sms|b" if self.name == "sms" else f"auth0|b{self.name}"

    @property
    def mail_prefix(self) -> str:
        return f"b{self.name}"

    def user_id(self, i: int) -> str:
        return f"{self.user_prefix}{i}"

    def email(self, i: int) -> str:
        return f"{self.mail_prefix}{i}@example.com"

    def phone(self, i: int) -> str:
        return f"+{self.phone_base + i}"


_SEQUENCES = {
    "sqlite": "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n - 1)",
    "postgresql": "WITH seq(i) AS (SELECT generate_series(1, :n - 1))",
}


def _numbered(param: str) -> str:
    # The same text on both databases: a prefix bound as a parameter, then the number.
    return f"CAST(:{param} AS VARCHAR(255)) || seq.i"


def _phone(param: str) -> str:
    return f"'+' || (CAST(:{param} AS BIGINT) + seq.i)"


async def _clone(
    conn: AsyncConnection,
    table: sa.Table,
    template: str,
    n: int,
    overrides: dict[str, str],
    params: dict[str, Any],
) -> None:
    """Copy row ``template`` (by primary key) as rows 1…n-1, with ``overrides`` computed
    from each row's number ``seq.i``."""
    if n <= 1:
        return
    (key,) = table.primary_key.columns
    names = [c.name for c in table.columns]
    values = [overrides.get(name, f"t.{name}") for name in names]
    # The statement is built from this module's constants and the table's own column names;
    # every value is a bound parameter.
    statement = (
        f"{_SEQUENCES[conn.dialect.name]} INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM seq, {table.name} AS t WHERE t.{key.name} = :template"
    )
    await conn.execute(sa.text(statement), {"n": n, "template": template, **params})


def _user(group: Group, tenant_id: str, password_hash: str, now: datetime) -> User:
    sms = group.name == "sms"
    return User(
        tenant_id=tenant_id,
        user_id=group.user_id(0),
        email=None if sms else group.email(0),
        password_hash="" if sms else password_hash,
        email_verified=not sms,
        name="Bench User",
        nickname="bench",
        blocked=False,
        user_metadata={},
        app_metadata={},
        created_at=now,
        updated_at=now,
        connection=SMS_CONNECTION if sms else DATABASE_CONNECTION,
        phone_number=group.phone(0) if sms else None,
        phone_verified=sms,
    )


async def _add_group(
    conn: AsyncConnection, group: Group, tenant_id: str, client_id: str, password_hash: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    uow = SqlUnitOfWork(conn)
    await uow.users.add(_user(group, tenant_id, password_hash, now))
    if group.name == "sms":
        identity = {"user_id": _numbered("user"), "phone_number": _phone("phone")}
    else:
        email = _numbered("mail") + " || '@example.com'"
        identity = {"user_id": _numbered("user"), "email": email, "email_key": email}
    params = {"user": group.user_prefix, "mail": group.mail_prefix, "phone": group.phone_base}
    await _clone(conn, tables.users, group.user_id(0), group.count, identity, params)
    if group.name != "enrolled":
        return
    await _add_enrollment_history(conn, uow, group, tenant_id, client_id, now, params)


async def _add_enrollment_history(
    conn: AsyncConnection,
    uow: SqlUnitOfWork,
    group: Group,
    tenant_id: str,
    client_id: str,
    now: datetime,
    params: dict[str, Any],
) -> None:
    """Each enrolled user's confirmed phone, and the challenge and message that enrolled it."""
    earlier = now - timedelta(days=1)
    await uow.authenticators.add(
        PhoneAuthenticator(
            id="dev_b0",
            tenant_id=tenant_id,
            user_id=group.user_id(0),
            phone_number=group.phone(0),
            channel="sms",
            confirmed=True,
            created_at=earlier,
            confirmed_at=earlier,
            last_auth_at=earlier,
        )
    )
    await uow.challenges.add(
        Challenge(
            id="ch_b0",
            tenant_id=tenant_id,
            user_id=group.user_id(0),
            client_id=client_id,
            authenticator_id="dev_b0",
            kind="enrollment",
            channel="sms",
            code_hash="0" * 64,
            key_id="seed",
            created_at=earlier,
            expires_at=earlier + timedelta(minutes=5),
            attempts=1,
            max_attempts=5,
            consumed_at=earlier,
        ),
        oob_hash="seed0",
    )
    await uow.outbox.add(
        OutboxMessage(
            id="msg_b0",
            tenant_id=tenant_id,
            challenge_id="ch_b0",
            user_id=group.user_id(0),
            client_id=client_id,
            channel="sms",
            recipient=group.phone(0),
            payload="",
            status="sent",
            attempts=1,
            not_before=earlier,
            expires_at=earlier + timedelta(minutes=5),
            created_at=earlier,
            provider="twilio",
            provider_message_id="SMb0",
            sent_at=earlier,
        )
    )
    numbered = {
        "dev": "dev_b",
        "ch": "ch_b",
        "msg": "msg_b",
        "seed": "seed",
        "sm": "SMb",
        **params,
    }
    user, phone = _numbered("user"), _phone("phone")
    for table, template, overrides in (
        (
            tables.phone_authenticators,
            "dev_b0",
            {"id": _numbered("dev"), "user_id": user, "phone_number": phone},
        ),
        (
            tables.challenges,
            "ch_b0",
            {
                "id": _numbered("ch"),
                "user_id": user,
                "authenticator_id": _numbered("dev"),
                "oob_hash": _numbered("seed"),
            },
        ),
        (
            tables.outbox_messages,
            "msg_b0",
            {
                "id": _numbered("msg"),
                "challenge_id": _numbered("ch"),
                "user_id": user,
                "recipient": phone,
                "provider_message_id": _numbered("sm"),
            },
        ),
    ):
        await _clone(conn, table, template, group.count, overrides, numbered)


async def _may_skip_triggers(conn: AsyncConnection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    superuser = await conn.scalar(sa.text("SELECT current_setting('is_superuser')"))
    return bool(superuser == "on")


async def add_users(
    conn: AsyncConnection,
    groups: Sequence[Group],
    tenant_id: str,
    client_id: str,
    password_hash: str,
) -> None:
    """Every group's users, in the caller's transaction; statistics refreshed after."""
    if await _may_skip_triggers(conn):
        # Foreign-key checks are triggers: a bulk load of rows known to be consistent goes
        # three times faster without them.
        await conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
    for group in groups:
        await _add_group(conn, group, tenant_id, client_id, password_hash)
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("ANALYZE"))
