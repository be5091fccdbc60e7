"""All SQL lives here: the domain's ports implemented over one AsyncConnection.

Nothing here commits; the caller's unit of work does. Guarded writes (``try_*``) use
``UPDATE … WHERE <still allowed>`` and report the row count, which is what makes single use
and caps hold across concurrent requests and processes on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncConnection

from phonegate.clock import as_utc
from phonegate.domain.models import (
    Action,
    Admin,
    Application,
    AuthorizationCode,
    Challenge,
    Connection,
    DeliveryAttempt,
    InboxMessage,
    LogEvent,
    OutboxMessage,
    PasswordlessCode,
    PhoneAuthenticator,
    PhoneProvider,
    PhoneTemplate,
    RecoveryCode,
    RefreshToken,
    Tenant,
    TenantSettings,
    User,
)
from phonegate.storage import fast_sql
from phonegate.storage import tables as t
from phonegate.storage.counters import SqlCounters
from phonegate.storage.log_search import SqlLogSearch
from phonegate.storage.log_streams import SqlLogStreamRepo

T = TypeVar("T")


_FIELD_NAMES: dict[type[Any], frozenset[str]] = {}


def _field_names(cls: type[Any]) -> frozenset[str]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
    return names


def _row_to(cls: type[T], row: sa.Row[Any], **overrides: Any) -> T:
    names = _field_names(cls)
    values = {
        k: (as_utc(v) if isinstance(v, datetime) else v)
        for k, v in row._mapping.items()
        if k in names
    }
    values.update(overrides)
    return cls(**values)


def _values(obj: Any) -> dict[str, Any]:
    """A model's fields as an INSERT's parameters: a shallow copy, where ``asdict`` would
    deep-copy every list and dict only for the driver to serialise them."""
    return {name: getattr(obj, name) for name in _field_names(type(obj))}


def _p(name: str) -> sa.BindParameter[Any]:
    """A named parameter of a statement built once (module level) and run with values:
    building a statement and its cache key anew for each call cost more than running it
    (docs/benchmarks.md). Named ``p_*`` so no name is also a column's."""
    return sa.bindparam(f"p_{name}")


def _by_tenant_and(table: sa.Table, column: str) -> sa.Select[Any]:
    c = table.c
    return sa.select(table).where(c.tenant_id == _p("tenant"), c[column] == _p(column))


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult | fast_sql.FastResult)
    return int(result.rowcount)


# Every table's INSERT, run with a row's values as parameters.
_INSERT = {table: table.insert() for table in t.metadata.tables.values()}


class _Repo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def _run(self, statement: Any, params: Any = None) -> Any:
        """A statement built once at import: on SQLite, the short path (fast_sql)."""
        return await fast_sql.execute(self.conn, statement, params)

    def _insert(self, table: sa.Table) -> Any:
        # INSERT … ON CONFLICT is spelled alike on both databases, from different modules.
        return (pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert)(table)


_TENANT_JOIN = sa.select(t.tenants, t.tenant_settings).join(
    t.tenant_settings, t.tenant_settings.c.tenant_id == t.tenants.c.id
)
_HOST_MATCHES = t.tenants.c.domain.in_([_p("host"), _p("bare")])
# One query: a tenant whose domain matches wins over the default tenant.
_TENANT_FOR_HOST = (
    _TENANT_JOIN.where(sa.or_(_HOST_MATCHES, t.tenants.c.is_default.is_(True)))
    .order_by(sa.case((_HOST_MATCHES, 0), else_=1))
    .limit(1)
)
_TENANT_BY_ID = _TENANT_JOIN.where(t.tenants.c.id == _p("id"))
_TENANT_BY_NAME = _TENANT_JOIN.where(t.tenants.c.name == _p("name"))


class SqlTenantRepo(_Repo):
    async def _load(self, query: Any, params: dict[str, Any]) -> Tenant | None:
        row = (await self._run(query, params)).first()
        if row is None:
            return None
        m = row._mapping
        settings = TenantSettings(
            friendly_name=m["friendly_name"],
            mfa_policies=list(m["mfa_policies"]),
            factor_sms_enabled=m["factor_sms_enabled"],
            factor_recovery_code_enabled=m["factor_recovery_code_enabled"],
            message_types=list(m["message_types"]),
            selected_provider=m["selected_provider"],
            enrollment_message=m["enrollment_message"],
            verification_message=m["verification_message"],
            default_locale=m["default_locale"],
            action_bindings=dict(m["action_bindings"] or {}),
            otp_length=m["otp_length"],
            otp_ttl_seconds=m["otp_ttl_seconds"],
            limits=dict(m["limits"] or {}),
            alert_rules=list(m["alert_rules"] or []),
        )
        return Tenant(
            id=m["id"],
            name=m["name"],
            domain=m["domain"],
            is_default=m["is_default"],
            settings=settings,
            created_at=as_utc(m["created_at"]),
        )

    async def for_host(self, host: str) -> Tenant | None:
        host = host.lower()
        bare = host.rsplit(":", 1)[0] if ":" in host and not host.endswith("]") else host
        return await self._load(_TENANT_FOR_HOST, {"p_host": host, "p_bare": bare})

    async def get(self, tenant_id: str) -> Tenant | None:
        return await self._load(_TENANT_BY_ID, {"p_id": tenant_id})

    async def get_by_name(self, name: str) -> Tenant | None:
        return await self._load(_TENANT_BY_NAME, {"p_name": name})

    async def add(self, tenant: Tenant) -> None:
        await self.conn.execute(
            t.tenants.insert().values(
                id=tenant.id,
                name=tenant.name,
                domain=tenant.domain,
                is_default=tenant.is_default,
                created_at=tenant.created_at,
            )
        )
        await self.conn.execute(
            t.tenant_settings.insert().values(
                tenant_id=tenant.id,
                evaluation_messages_sent=0,
                updated_at=tenant.created_at,
                **asdict(tenant.settings),
            )
        )

    async def save_settings(self, tenant_id: str, settings: TenantSettings, now: datetime) -> None:
        await self.conn.execute(
            t.tenant_settings.update()
            .where(t.tenant_settings.c.tenant_id == tenant_id)
            .values(updated_at=now, **asdict(settings))
        )

    async def try_count_evaluation_message(self, tenant_id: str, cap: int) -> bool:
        c = t.tenant_settings.c
        result = await self.conn.execute(
            t.tenant_settings.update()
            .where(c.tenant_id == tenant_id, c.evaluation_messages_sent < cap)
            .values(evaluation_messages_sent=c.evaluation_messages_sent + 1)
        )
        return _rowcount(result) == 1


_APPLICATION = _by_tenant_and(t.applications, "client_id")


class SqlApplicationRepo(_Repo):
    async def get(self, tenant_id: str, client_id: str) -> Application | None:
        params = {"p_tenant": tenant_id, "p_client_id": client_id}
        row = (await self._run(_APPLICATION, params)).first()
        return _row_to(Application, row) if row else None

    async def get_by_name(self, tenant_id: str, name: str) -> Application | None:
        c = t.applications.c
        row = (
            await self.conn.execute(
                sa.select(t.applications).where(c.tenant_id == tenant_id, c.name == name)
            )
        ).first()
        return _row_to(Application, row) if row else None

    async def add(self, app: Application) -> None:
        await self.conn.execute(t.applications.insert().values(**asdict(app)))

    async def set_grants(
        self,
        tenant_id: str,
        client_id: str,
        grant_types: list[str],
        client_grants: dict[str, list[str]],
    ) -> None:
        c = t.applications.c
        await self.conn.execute(
            t.applications.update()
            .where(c.tenant_id == tenant_id, c.client_id == client_id)
            .values(grant_types=grant_types, client_grants=client_grants)
        )

    async def set_urls(
        self,
        tenant_id: str,
        client_id: str,
        *,
        callbacks: list[str],
        allowed_logout_urls: list[str],
        web_origins: list[str],
    ) -> None:
        c = t.applications.c
        await self.conn.execute(
            t.applications.update()
            .where(c.tenant_id == tenant_id, c.client_id == client_id)
            .values(
                callbacks=callbacks,
                allowed_logout_urls=allowed_logout_urls,
                web_origins=web_origins,
            )
        )


def _email_key(user: User) -> str | None:
    return user.email.lower() if user.email is not None else None


_USER = _by_tenant_and(t.users, "user_id")
_USER_BY_EMAIL = _by_tenant_and(t.users, "email_key")
_USER_BY_PHONE = _by_tenant_and(t.users, "phone_number").where(
    t.users.c.connection == _p("connection")
)
_USER_LOGGED_IN = (
    t.users.update()
    .where(t.users.c.tenant_id == _p("tenant"), t.users.c.user_id == _p("user_id"))
    .values(last_login=_p("now"), logins_count=t.users.c.logins_count + 1)
)


class SqlUserRepo(_Repo):
    async def get(self, tenant_id: str, user_id: str) -> User | None:
        params = {"p_tenant": tenant_id, "p_user_id": user_id}
        row = (await self._run(_USER, params)).first()
        return _row_to(User, row) if row else None

    async def get_by_email(self, tenant_id: str, email: str) -> User | None:
        params = {"p_tenant": tenant_id, "p_email_key": email.lower()}
        row = (await self._run(_USER_BY_EMAIL, params)).first()
        return _row_to(User, row) if row else None

    async def get_by_phone(self, tenant_id: str, connection: str, phone_number: str) -> User | None:
        params = {"p_tenant": tenant_id, "p_connection": connection, "p_phone_number": phone_number}
        row = (await self._run(_USER_BY_PHONE, params)).first()
        return _row_to(User, row) if row else None

    async def add(self, user: User) -> None:
        await self._run(_INSERT[t.users], {**_values(user), "email_key": _email_key(user)})

    async def update(self, user: User) -> None:
        await self.conn.execute(
            t.users.update()
            .where(t.users.c.user_id == user.user_id, t.users.c.tenant_id == user.tenant_id)
            .values(email_key=_email_key(user), **asdict(user))
        )

    async def replace_password_hash(self, tenant_id: str, user_id: str, old: str, new: str) -> bool:
        c = t.users.c
        result = await self.conn.execute(
            t.users.update()
            .where(c.tenant_id == tenant_id, c.user_id == user_id, c.password_hash == old)
            .values(password_hash=new)
        )
        return _rowcount(result) == 1

    async def delete(self, tenant_id: str, user_id: str) -> bool:
        tables = (t.challenges, t.recovery_codes, t.phone_authenticators, t.passwordless_codes)
        for table in tables:
            await self.conn.execute(
                table.delete().where(table.c.tenant_id == tenant_id, table.c.user_id == user_id)
            )
        result = await self.conn.execute(
            t.users.delete().where(t.users.c.tenant_id == tenant_id, t.users.c.user_id == user_id)
        )
        return _rowcount(result) == 1

    async def record_login(self, tenant_id: str, user_id: str, now: datetime) -> None:
        params = {"p_tenant": tenant_id, "p_user_id": user_id, "p_now": now}
        await self._run(_USER_LOGGED_IN, params)


class SqlAdminRepo(_Repo):
    table = t.admins

    async def _one(self, tenant_id: str, where: Any) -> Admin | None:
        row = (
            await self.conn.execute(
                sa.select(self.table).where(self.table.c.tenant_id == tenant_id, where)
            )
        ).first()
        return _row_to(Admin, row) if row else None

    async def get(self, tenant_id: str, admin_id: str) -> Admin | None:
        return await self._one(tenant_id, self.table.c.id == admin_id)

    async def get_by_email(self, tenant_id: str, email: str) -> Admin | None:
        return await self._one(tenant_id, self.table.c.email_key == email.lower())

    async def add(self, admin: Admin) -> bool:
        # ON CONFLICT DO NOTHING on (tenant_id, email_key): of two concurrent creations one wins.
        result = await self.conn.execute(
            self._insert(self.table)
            .values(email_key=admin.email.lower(), **asdict(admin))
            .on_conflict_do_nothing()
        )
        return _rowcount(result) == 1

    async def record_login(self, tenant_id: str, admin_id: str, now: datetime) -> None:
        c = self.table.c
        await self.conn.execute(
            self.table.update()
            .where(c.tenant_id == tenant_id, c.id == admin_id)
            .values(last_login=now)
        )

    async def end_sessions(self, tenant_id: str, admin_id: str, now: datetime) -> None:
        c = self.table.c
        await self.conn.execute(
            self.table.update()
            .where(c.tenant_id == tenant_id, c.id == admin_id)
            .values(session_generation=c.session_generation + 1, updated_at=now)
        )


_AUTHENTICATORS_OF_USER = _by_tenant_and(t.phone_authenticators, "user_id").order_by(
    t.phone_authenticators.c.created_at, t.phone_authenticators.c.id
)
_AUTHENTICATOR = _by_tenant_and(t.phone_authenticators, "id")
_AUTHENTICATOR_USED = (
    t.phone_authenticators.update()
    .where(
        t.phone_authenticators.c.tenant_id == _p("tenant"), t.phone_authenticators.c.id == _p("id")
    )
    .values(last_auth_at=_p("now"))
)


class SqlAuthenticatorRepo(_Repo):
    table = t.phone_authenticators

    async def list_for_user(self, tenant_id: str, user_id: str) -> list[PhoneAuthenticator]:
        params = {"p_tenant": tenant_id, "p_user_id": user_id}
        rows = await self._run(_AUTHENTICATORS_OF_USER, params)
        return [_row_to(PhoneAuthenticator, r) for r in rows]

    async def get(self, tenant_id: str, authenticator_id: str) -> PhoneAuthenticator | None:
        params = {"p_tenant": tenant_id, "p_id": authenticator_id}
        row = (await self._run(_AUTHENTICATOR, params)).first()
        return _row_to(PhoneAuthenticator, row) if row else None

    async def add(self, authenticator: PhoneAuthenticator) -> None:
        await self._run(_INSERT[self.table], _values(authenticator))

    async def try_confirm(self, tenant_id: str, authenticator_id: str, now: datetime) -> bool:
        c = self.table.c
        result = await self.conn.execute(
            self.table.update()
            .where(c.tenant_id == tenant_id, c.id == authenticator_id, c.confirmed.is_(False))
            .values(confirmed=True, confirmed_at=now, last_auth_at=now)
        )
        return _rowcount(result) == 1

    async def touch(self, tenant_id: str, authenticator_id: str, now: datetime) -> None:
        params = {"p_tenant": tenant_id, "p_id": authenticator_id, "p_now": now}
        await self._run(_AUTHENTICATOR_USED, params)

    async def delete(self, tenant_id: str, authenticator_id: str) -> bool:
        c = self.table.c
        await self.conn.execute(
            t.challenges.delete().where(
                t.challenges.c.tenant_id == tenant_id,
                t.challenges.c.authenticator_id == authenticator_id,
            )
        )
        result = await self.conn.execute(
            self.table.delete().where(c.tenant_id == tenant_id, c.id == authenticator_id)
        )
        return _rowcount(result) == 1

    async def delete_unconfirmed(self, tenant_id: str, user_id: str) -> None:
        c = self.table.c
        await self.conn.execute(
            self.table.delete().where(
                c.tenant_id == tenant_id, c.user_id == user_id, c.confirmed.is_(False)
            )
        )

    async def delete_all(self, tenant_id: str, user_id: str) -> int:
        c = self.table.c
        await self.conn.execute(
            t.challenges.delete().where(
                t.challenges.c.tenant_id == tenant_id, t.challenges.c.user_id == user_id
            )
        )
        result = await self.conn.execute(
            self.table.delete().where(c.tenant_id == tenant_id, c.user_id == user_id)
        )
        return _rowcount(result)


class SqlRecoveryCodeRepo(_Repo):
    table = t.recovery_codes

    async def get_for_user(self, tenant_id: str, user_id: str) -> list[RecoveryCode]:
        c = self.table.c
        rows = await self.conn.execute(
            sa.select(self.table).where(c.tenant_id == tenant_id, c.user_id == user_id)
        )
        return [_row_to(RecoveryCode, r) for r in rows]

    async def add(self, code: RecoveryCode) -> None:
        await self._run(_INSERT[self.table], _values(code))

    async def confirm(self, tenant_id: str, code_id: str) -> None:
        c = self.table.c
        await self.conn.execute(
            self.table.update()
            .where(c.tenant_id == tenant_id, c.id == code_id)
            .values(confirmed=True)
        )

    async def try_consume(self, tenant_id: str, code_id: str) -> bool:
        c = self.table.c
        result = await self.conn.execute(
            self.table.delete().where(
                c.tenant_id == tenant_id, c.id == code_id, c.confirmed.is_(True)
            )
        )
        return _rowcount(result) == 1

    async def delete_all(self, tenant_id: str, user_id: str) -> None:
        c = self.table.c
        await self.conn.execute(
            self.table.delete().where(c.tenant_id == tenant_id, c.user_id == user_id)
        )

    async def delete_unconfirmed(self, tenant_id: str, user_id: str) -> None:
        c = self.table.c
        await self.conn.execute(
            self.table.delete().where(
                c.tenant_id == tenant_id, c.user_id == user_id, c.confirmed.is_(False)
            )
        )


@cache
def _code_statements(table: sa.Table) -> tuple[Any, Any]:
    c = table.c
    count_attempt = (
        table.update()
        .where(
            c.id == _p("id"),
            c.consumed_at.is_(None),
            c.attempts < c.max_attempts,
            c.expires_at > _p("now"),
        )
        .values(attempts=c.attempts + 1)
    )
    consume = (
        table.update()
        .where(c.id == _p("id"), c.consumed_at.is_(None))
        .values(consumed_at=_p("now"))
    )
    return count_attempt, consume


class _SingleUseCodes(_Repo):
    """The guarded writes of a table of one-time codes (challenges, passwordless codes)."""

    table: sa.Table

    async def try_count_attempt(self, code_id: str, now: datetime) -> bool:
        # Counted before the compare, in its own statement: a guess is spent even if the
        # request dies afterwards, and the row lock orders concurrent submissions.
        statement = _code_statements(self.table)[0]
        result = await self._run(statement, {"p_id": code_id, "p_now": now})
        return _rowcount(result) == 1

    async def try_consume(self, code_id: str, now: datetime) -> bool:
        statement = _code_statements(self.table)[1]
        result = await self._run(statement, {"p_id": code_id, "p_now": now})
        return _rowcount(result) == 1


_CHALLENGE_BY_OOB = _by_tenant_and(t.challenges, "oob_hash")
_CHALLENGE = _by_tenant_and(t.challenges, "id")


class SqlChallengeRepo(_SingleUseCodes):
    table = t.challenges

    async def add(self, challenge: Challenge, oob_hash: str) -> None:
        await self._run(_INSERT[self.table], {**_values(challenge), "oob_hash": oob_hash})

    async def get_by_oob_hash(self, tenant_id: str, oob_hash: str) -> Challenge | None:
        params = {"p_tenant": tenant_id, "p_oob_hash": oob_hash}
        row = (await self._run(_CHALLENGE_BY_OOB, params)).first()
        return _row_to(Challenge, row) if row else None

    async def get(self, tenant_id: str, challenge_id: str) -> Challenge | None:
        params = {"p_tenant": tenant_id, "p_id": challenge_id}
        row = (await self._run(_CHALLENGE, params)).first()
        return _row_to(Challenge, row) if row else None


_PASSWORDLESS_CODE = _by_tenant_and(t.passwordless_codes, "connection_id").where(
    t.passwordless_codes.c.phone_number == _p("phone")
)


@cache
def _replace_passwordless(dialect: str) -> Any:
    table = t.passwordless_codes
    c = table.c
    insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    phone = {"tenant_id", "connection_id", "phone_number"}
    return insert.on_conflict_do_update(
        index_elements=[c.tenant_id, c.connection_id, c.phone_number],
        set_={col.name: insert.excluded[col.name] for col in table.c if col.name not in phone},
    )


class SqlPasswordlessCodeRepo(_SingleUseCodes):
    table = t.passwordless_codes

    async def get(
        self, tenant_id: str, connection_id: str, phone_number: str
    ) -> PasswordlessCode | None:
        params = {"p_tenant": tenant_id, "p_connection_id": connection_id, "p_phone": phone_number}
        row = (await self._run(_PASSWORDLESS_CODE, params)).first()
        return _row_to(PasswordlessCode, row) if row else None

    async def replace(self, code: PasswordlessCode) -> None:
        """A number's new code replaces its old one (one live code per number)."""
        await self._run(_replace_passwordless(self.conn.dialect.name), _values(code))


_CONNECTION = _by_tenant_and(t.connections, "id")
_CONNECTION_BY_NAME = _by_tenant_and(t.connections, "name")


class SqlConnectionRepo(_Repo):
    table = t.connections

    async def _one(self, query: Any, params: dict[str, Any]) -> Connection | None:
        row = (await self._run(query, params)).first()
        return _row_to(Connection, row) if row else None

    async def list(self, tenant_id: str) -> list[Connection]:
        c = self.table.c
        rows = await self.conn.execute(
            sa.select(self.table).where(c.tenant_id == tenant_id).order_by(c.created_at, c.id)
        )
        return [_row_to(Connection, r) for r in rows]

    async def get(self, tenant_id: str, connection_id: str) -> Connection | None:
        return await self._one(_CONNECTION, {"p_tenant": tenant_id, "p_id": connection_id})

    async def get_by_name(self, tenant_id: str, name: str) -> Connection | None:
        return await self._one(_CONNECTION_BY_NAME, {"p_tenant": tenant_id, "p_name": name})

    async def add(self, connection: Connection) -> bool:
        # ON CONFLICT DO NOTHING: of two concurrent creations one inserts, the other is told.
        result = await self.conn.execute(
            self._insert(self.table).values(**asdict(connection)).on_conflict_do_nothing()
        )
        return _rowcount(result) == 1

    async def update(self, connection: Connection) -> None:
        c = self.table.c
        await self.conn.execute(
            self.table.update()
            .where(c.tenant_id == connection.tenant_id, c.id == connection.id)
            .values(
                options=connection.options,
                enabled_clients=connection.enabled_clients,
                updated_at=connection.updated_at,
            )
        )

    async def delete(self, tenant_id: str, connection_id: str) -> bool:
        codes = t.passwordless_codes.c
        await self.conn.execute(
            t.passwordless_codes.delete().where(
                codes.tenant_id == tenant_id, codes.connection_id == connection_id
            )
        )
        c = self.table.c
        result = await self.conn.execute(
            self.table.delete().where(c.tenant_id == tenant_id, c.id == connection_id)
        )
        return _rowcount(result) == 1


class SqlAuthorizationCodeRepo(_Repo):
    table = t.authorization_codes

    async def try_add(self, code: AuthorizationCode) -> bool:
        result = await self.conn.execute(
            self._insert(self.table).values(**asdict(code)).on_conflict_do_nothing()
        )
        return _rowcount(result) == 1

    async def get(self, tenant_id: str, code_hash: str) -> AuthorizationCode | None:
        c = self.table.c
        row = (
            await self.conn.execute(
                sa.select(self.table).where(c.tenant_id == tenant_id, c.code_hash == code_hash)
            )
        ).first()
        return _row_to(AuthorizationCode, row) if row else None

    async def try_consume(self, code_hash: str, now: datetime) -> bool:
        c = self.table.c
        result = await self.conn.execute(
            self.table.update()
            .where(c.code_hash == code_hash, c.consumed_at.is_(None), c.expires_at > now)
            .values(consumed_at=now)
        )
        return _rowcount(result) == 1

    async def set_refresh_family(self, code_hash: str, family_id: str) -> None:
        await self.conn.execute(
            self.table.update()
            .where(self.table.c.code_hash == code_hash)
            .values(refresh_family=family_id)
        )


class SqlRefreshTokenRepo(_Repo):
    table = t.refresh_tokens

    async def add(self, token: RefreshToken) -> None:
        await self.conn.execute(self.table.insert().values(**asdict(token)))

    async def get_by_hash(self, tenant_id: str, token_hash: str) -> RefreshToken | None:
        c = self.table.c
        row = (
            await self.conn.execute(
                sa.select(self.table).where(c.tenant_id == tenant_id, c.token_hash == token_hash)
            )
        ).first()
        return _row_to(RefreshToken, row) if row else None

    async def try_use(self, token_id: str, now: datetime) -> bool:
        c = self.table.c
        result = await self.conn.execute(
            self.table.update()
            .where(
                c.id == token_id,
                c.used_at.is_(None),
                c.revoked_at.is_(None),
                c.expires_at > now,
            )
            .values(used_at=now)
        )
        return _rowcount(result) == 1

    async def revoke_family(self, tenant_id: str, family_id: str, now: datetime) -> int:
        c = self.table.c
        result = await self.conn.execute(
            self.table.update()
            .where(c.tenant_id == tenant_id, c.family_id == family_id, c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return _rowcount(result)


OUTBOX_BACKLOG = (
    sa.select(
        t.outbox_messages.c.channel, sa.func.count(), sa.func.min(t.outbox_messages.c.created_at)
    )
    .where(t.outbox_messages.c.status.in_(("pending", "sending")))
    .group_by(t.outbox_messages.c.channel)
)


_OUTBOX_IS_DUE = sa.or_(
    sa.and_(t.outbox_messages.c.status == "pending", t.outbox_messages.c.not_before <= _p("now")),
    sa.and_(t.outbox_messages.c.status == "sending", t.outbox_messages.c.claimed_until < _p("now")),
)
_OUTBOX_DUE = (
    sa.select(t.outbox_messages.c.id)
    .where(_OUTBOX_IS_DUE)
    .order_by(t.outbox_messages.c.not_before)
    .limit(_p("limit"))
    # PostgreSQL: rows another dispatcher is claiming are passed over, not waited on and
    # lost; SQLite serialises writers and renders no clause.
    .with_for_update(skip_locked=True)
)
# A CTE, not IN (subquery): PostgreSQL may run an IN subquery more than once, and with
# SKIP LOCKED each run can pick other rows, claiming more than the limit.
_OUTBOX_DUE_IDS = _OUTBOX_DUE.cte("due")
# One statement claims a batch: the guard is repeated outside the subquery, so a message
# another dispatcher claimed in between (SQLite, or PostgreSQL re-reading the row after
# its lock) is left out rather than claimed twice.
_OUTBOX_CLAIM = (
    t.outbox_messages.update()
    .where(t.outbox_messages.c.id == _OUTBOX_DUE_IDS.c.id, _OUTBOX_IS_DUE)
    .values(
        status="sending",
        claimed_until=_p("until"),
        claim_token=_p("token"),
        attempts=t.outbox_messages.c.attempts + 1,
    )
    .returning(*t.outbox_messages.c)
)
_OUTBOX_RENEW = (
    t.outbox_messages.update()
    .where(
        t.outbox_messages.c.id == _p("id"),
        t.outbox_messages.c.status == "sending",
        t.outbox_messages.c.claim_token == _p("token"),
    )
    .values(claimed_until=_p("until"))
)
# Only a provider that learns from feedback gets any (Twilio Verify): feedback_status is
# "wanted" for its messages and NULL for the others.
_OUTBOX_SENT = (
    t.outbox_messages.update()
    .where(t.outbox_messages.c.id == _p("id"))
    .values(
        status="sent",
        sent_at=_p("now"),
        provider=_p("provider"),
        provider_message_id=_p("provider_message_id"),
        payload=None,
        claimed_until=None,
        feedback_status=_p("feedback_status"),
        provider_config_id=_p("provider_config_id"),
    )
)
_OUTBOX_ANY_FEEDBACK_DUE = (
    sa.select(t.outbox_messages.c.id).where(t.outbox_messages.c.feedback_status == "due").limit(1)
)
_OUTBOX_FEEDBACK_DUE = (
    t.outbox_messages.update()
    .where(
        t.outbox_messages.c.challenge_id == _p("challenge_id"),
        # An expression, so the row is found by its challenge: SQLite (without statistics)
        # would otherwise pick the feedback index, and "wanted" grows with every message
        # of a provider that learns from feedback whose code was never used.
        sa.func.coalesce(t.outbox_messages.c.feedback_status, "") == "wanted",
    )
    .values(feedback_status="due")
)


class SqlOutboxRepo(_Repo):
    table = t.outbox_messages

    async def add(self, message: OutboxMessage) -> None:
        await self._run(_INSERT[self.table], _values(message))

    async def claim_due(
        self, now: datetime, lease_seconds: float, limit: int, token: str = ""
    ) -> list[OutboxMessage]:
        """Claim due messages with a lease held under ``token``: a dispatcher that dies
        mid-send leaves the message to be claimed again once the lease runs out, so nothing
        is lost."""
        until = now + timedelta(seconds=lease_seconds)
        params = {"p_now": now, "p_limit": limit, "p_until": until, "p_token": token or None}
        rows = await self._run(_OUTBOX_CLAIM, params)
        claimed = [_row_to(OutboxMessage, row) for row in rows]
        return sorted(claimed, key=lambda m: (m.not_before, m.id))  # RETURNING has no order

    async def renew(self, message_id: str, token: str, until: datetime) -> bool:
        """Extend a lease only while ``token`` still holds it."""
        params = {"p_id": message_id, "p_token": token, "p_until": until}
        return _rowcount(await self._run(_OUTBOX_RENEW, params)) == 1

    async def mark_sent(
        self,
        message_id: str,
        provider: str,
        provider_message_id: str | None,
        now: datetime,
        *,
        wants_feedback: bool = False,
        provider_config_id: str | None = None,
    ) -> None:
        """Sent, by the provider configuration ``provider_config_id`` (the row feedback and
        receipts are later matched against)."""
        params = {
            "p_provider_config_id": provider_config_id,
            "p_id": message_id,
            "p_now": now,
            "p_provider": provider,
            "p_provider_message_id": provider_message_id,
            "p_feedback_status": "wanted" if wants_feedback else None,
        }
        await self._run(_OUTBOX_SENT, params)

    async def mark_failed(
        self, message_id: str, provider: str | None, error: str, status: str
    ) -> None:
        await self.conn.execute(
            self.table.update()
            .where(self.table.c.id == message_id)
            .values(
                status=status, provider=provider, last_error=error, payload=None, claimed_until=None
            )
        )

    async def reschedule(self, message_id: str, not_before: datetime, error: str) -> None:
        await self.conn.execute(
            self.table.update()
            .where(self.table.c.id == message_id)
            .values(status="pending", not_before=not_before, last_error=error, claimed_until=None)
        )

    async def get(self, tenant_id: str, message_id: str) -> OutboxMessage | None:
        c = self.table.c
        row = (
            await self.conn.execute(
                sa.select(self.table).where(c.tenant_id == tenant_id, c.id == message_id)
            )
        ).first()
        return _row_to(OutboxMessage, row) if row else None

    async def find_by_provider_id(
        self, provider: str, provider_message_id: str
    ) -> OutboxMessage | None:
        c = self.table.c
        row = (
            await self.conn.execute(
                sa.select(self.table).where(
                    c.provider_message_id == provider_message_id, c.provider == provider
                )
            )
        ).first()
        return _row_to(OutboxMessage, row) if row else None

    async def record_receipt(
        self, message_id: str, status: str, error_code: str | None, now: datetime
    ) -> bool:
        """Store a receipt unless a final one is already there (receipts arrive out of
        order: a late "sent" must not overwrite "delivered")."""
        c = self.table.c
        final = ("delivered", "undelivered", "failed")
        guard = sa.or_(c.receipt_status.is_(None), c.receipt_status.not_in(final))
        result = await self.conn.execute(
            self.table.update()
            .where(c.id == message_id, guard)
            .values(receipt_status=status, receipt_error_code=error_code, receipt_at=now)
        )
        return _rowcount(result) == 1

    async def request_feedback(self, challenge_id: str) -> None:
        """Ask for the provider feedback of a challenge's sent messages, those whose provider
        wants it (marked when they were sent); others are left alone."""
        await self._run(_OUTBOX_FEEDBACK_DUE, {"p_challenge_id": challenge_id})

    async def for_challenge(self, challenge_id: str) -> list[OutboxMessage]:
        c = self.table.c
        rows = await self.conn.execute(
            sa.select(self.table).where(c.challenge_id == challenge_id).order_by(c.created_at)
        )
        return [_row_to(OutboxMessage, r) for r in rows]

    async def backlog(self) -> tuple[dict[str, int], datetime | None]:
        """Messages waiting or being sent, by channel, and when the oldest was created;
        filters on the leading column of ix_outbox_due, so only the backlog is read."""
        rows = (await self.conn.execute(OUTBOX_BACKLOG)).all()
        oldest = min((as_utc(row[2]) for row in rows), default=None)  # SQLite returns naive
        return {row[0]: row[1] for row in rows}, oldest

    async def purge_finished_before(self, cutoff: datetime, limit: int = 1000) -> int:
        """Delete up to ``limit`` finished messages created before ``cutoff`` (and their
        attempts); pending and sending ones are never touched."""
        c = self.table.c
        ids_ = (
            (
                await self.conn.execute(
                    sa.select(c.id)
                    .where(c.created_at < cutoff, c.status.not_in(("pending", "sending")))
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        if ids_:
            attempts = t.delivery_attempts
            await self.conn.execute(attempts.delete().where(attempts.c.message_id.in_(ids_)))
            await self.conn.execute(self.table.delete().where(c.id.in_(ids_)))
        return len(ids_)

    async def feedback_due(self) -> bool:
        """Whether any message waits for its feedback (a read: no claim is taken)."""
        return (await self._run(_OUTBOX_ANY_FEEDBACK_DUE)).first() is not None

    async def claim_feedback(self, limit: int) -> list[OutboxMessage]:
        """Claim due feedback, each message by one dispatcher only (a guarded UPDATE)."""
        c = self.table.c
        ids_ = (
            (
                await self.conn.execute(
                    sa.select(c.id).where(c.feedback_status == "due").limit(limit)
                )
            )
            .scalars()
            .all()
        )
        claimed: list[OutboxMessage] = []
        for message_id in ids_:
            result = await self.conn.execute(
                self.table.update()
                .where(c.id == message_id, c.feedback_status == "due")
                .values(feedback_status="sending")
            )
            if _rowcount(result) == 1:
                row = (
                    await self.conn.execute(sa.select(self.table).where(c.id == message_id))
                ).one()
                claimed.append(_row_to(OutboxMessage, row))
        return claimed

    async def set_feedback(self, message_id: str, status: str) -> None:
        await self.conn.execute(
            self.table.update().where(self.table.c.id == message_id).values(feedback_status=status)
        )

    async def list_for_tenant(
        self, tenant_id: str, limit: int = 50, recipient: str | None = None
    ) -> list[OutboxMessage]:
        c = self.table.c
        query = sa.select(self.table).where(c.tenant_id == tenant_id)
        if recipient:
            query = query.where(c.recipient == recipient)
        rows = await self.conn.execute(query.order_by(c.created_at.desc()).limit(limit))
        return [_row_to(OutboxMessage, r) for r in rows]

    async def pending(self, tenant_id: str | None = None) -> list[OutboxMessage]:
        c = self.table.c
        query = sa.select(self.table).where(c.status.in_(("pending", "sending")))
        if tenant_id:
            query = query.where(c.tenant_id == tenant_id)
        rows = await self.conn.execute(query.order_by(c.created_at))
        return [_row_to(OutboxMessage, r) for r in rows]


_ATTEMPT_FINISHED = (
    t.delivery_attempts.update()
    .where(t.delivery_attempts.c.id == _p("id"))
    .values(
        outcome=_p("outcome"),
        finished_at=_p("now"),
        error_code=_p("error_code"),
        error=_p("error"),
        provider_message_id=_p("provider_message_id"),
    )
)


class SqlDeliveryAttemptRepo(_Repo):
    table = t.delivery_attempts

    async def add(self, attempt: DeliveryAttempt) -> None:
        await self._run(_INSERT[self.table], _values(attempt))

    async def finish(
        self,
        attempt_id: str,
        *,
        outcome: str,
        now: datetime,
        error_code: str | None = None,
        error: str | None = None,
        provider_message_id: str | None = None,
    ) -> None:
        params = {
            "p_id": attempt_id,
            "p_outcome": outcome,
            "p_now": now,
            "p_error_code": error_code,
            "p_error": error,
            "p_provider_message_id": provider_message_id,
        }
        await self._run(_ATTEMPT_FINISHED, params)

    async def for_message(self, message_id: str) -> list[DeliveryAttempt]:
        c = self.table.c
        rows = await self.conn.execute(
            sa.select(self.table)
            .where(c.message_id == message_id)
            .order_by(c.started_at, c.position, c.id)
        )
        return [_row_to(DeliveryAttempt, r) for r in rows]


_PROVIDERS_OF_TENANT = (
    sa.select(t.phone_providers)
    .where(t.phone_providers.c.tenant_id == _p("tenant"))
    .order_by(t.phone_providers.c.position, t.phone_providers.c.created_at)
)


class SqlPhoneProviderRepo(_Repo):
    table = t.phone_providers

    async def list(self, tenant_id: str) -> list[PhoneProvider]:
        rows = await self._run(_PROVIDERS_OF_TENANT, {"p_tenant": tenant_id})
        return [_row_to(PhoneProvider, r) for r in rows]

    async def get(self, tenant_id: str, provider_id: str) -> PhoneProvider | None:
        c = self.table.c
        row = (
            await self.conn.execute(
                sa.select(self.table).where(c.tenant_id == tenant_id, c.id == provider_id)
            )
        ).first()
        return _row_to(PhoneProvider, row) if row else None

    async def add(self, provider: PhoneProvider) -> bool:
        """Insert; False when the tenant already has this singleton (branding, guardian)."""
        slot = provider.id if provider.role == "fallback" else provider.role
        # ON CONFLICT DO NOTHING on (tenant_id, slot): of two concurrent creations one wins.
        result = await self.conn.execute(
            self._insert(self.table).values(slot=slot, **asdict(provider)).on_conflict_do_nothing()
        )
        return _rowcount(result) == 1

    async def update(self, provider: PhoneProvider) -> None:
        values = asdict(provider)
        for key in ("id", "tenant_id", "role", "created_at"):
            values.pop(key)
        await self.conn.execute(
            self.table.update()
            .where(self.table.c.tenant_id == provider.tenant_id, self.table.c.id == provider.id)
            .values(**values)
        )

    async def delete(self, tenant_id: str, provider_id: str) -> bool:
        c = self.table.c
        result = await self.conn.execute(
            self.table.delete().where(c.tenant_id == tenant_id, c.id == provider_id)
        )
        return _rowcount(result) == 1


_TEMPLATES_OF_TENANT = (
    sa.select(t.phone_templates)
    .where(t.phone_templates.c.tenant_id == _p("tenant"))
    .order_by(t.phone_templates.c.created_at)
)


class SqlPhoneTemplateRepo(_Repo):
    table = t.phone_templates

    async def list(self, tenant_id: str) -> list[PhoneTemplate]:
        rows = await self._run(_TEMPLATES_OF_TENANT, {"p_tenant": tenant_id})
        return [_row_to(PhoneTemplate, r) for r in rows]

    async def get(self, tenant_id: str, template_id: str) -> PhoneTemplate | None:
        c = self.table.c
        row = (
            await self.conn.execute(
                sa.select(self.table).where(c.tenant_id == tenant_id, c.id == template_id)
            )
        ).first()
        return _row_to(PhoneTemplate, row) if row else None

    async def add(self, template: PhoneTemplate) -> bool:
        """Insert; False when the tenant already customised this type (unique, race-safe)."""
        result = await self.conn.execute(
            self._insert(self.table).values(**asdict(template)).on_conflict_do_nothing()
        )
        return _rowcount(result) == 1

    async def update(self, template: PhoneTemplate) -> None:
        c = self.table.c
        await self.conn.execute(
            self.table.update()
            .where(c.tenant_id == template.tenant_id, c.id == template.id)
            .values(
                disabled=template.disabled,
                content=template.content,
                translations=template.translations,
                updated_at=template.updated_at,
            )
        )

    async def delete(self, tenant_id: str, template_id: str) -> bool:
        c = self.table.c
        result = await self.conn.execute(
            self.table.delete().where(c.tenant_id == tenant_id, c.id == template_id)
        )
        return _rowcount(result) == 1


class SqlActionRepo(_Repo):
    table = t.actions

    async def list(self, tenant_id: str) -> list[Action]:
        c = self.table.c
        rows = await self.conn.execute(
            sa.select(self.table).where(c.tenant_id == tenant_id).order_by(c.created_at)
        )
        return [_row_to(Action, r) for r in rows]

    async def get(self, tenant_id: str, action_id: str) -> Action | None:
        c = self.table.c
        row = (
            await self.conn.execute(
                sa.select(self.table).where(c.tenant_id == tenant_id, c.id == action_id)
            )
        ).first()
        return _row_to(Action, row) if row else None

    async def add(self, action: Action) -> bool:
        """Insert; False when the name is taken (unique per tenant, race-safe)."""
        result = await self.conn.execute(
            self._insert(self.table).values(**asdict(action)).on_conflict_do_nothing()
        )
        return _rowcount(result) == 1

    async def update(self, action: Action) -> None:
        values = asdict(action)
        for key in ("id", "tenant_id", "created_at"):
            values.pop(key)
        await self.conn.execute(
            self.table.update()
            .where(self.table.c.tenant_id == action.tenant_id, self.table.c.id == action.id)
            .values(**values)
        )

    async def delete(self, tenant_id: str, action_id: str) -> bool:
        c = self.table.c
        result = await self.conn.execute(
            self.table.delete().where(c.tenant_id == tenant_id, c.id == action_id)
        )
        return _rowcount(result) == 1


class SqlInboxRepo(_Repo):
    table = t.inbox_messages

    async def purge_before(self, cutoff: datetime) -> int:
        result = await self.conn.execute(
            self.table.delete().where(self.table.c.created_at < cutoff)
        )
        return _rowcount(result)

    async def add(self, message: InboxMessage) -> None:
        await self._run(_INSERT[self.table], _values(message))

    async def list(
        self, tenant_id: str, limit: int = 100, recipient: str | None = None
    ) -> list[InboxMessage]:
        c = self.table.c
        query = sa.select(self.table).where(c.tenant_id == tenant_id)
        if recipient:
            query = query.where(c.recipient == recipient)
        rows = await self.conn.execute(
            query.order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        )
        return [_row_to(InboxMessage, r) for r in rows]


class SqlEventRepo(_Repo):
    """Events are written together when the unit of work commits: a verify logs three,
    and one multi-row statement costs what one insert does."""

    table = t.log_events

    def __init__(self, conn: AsyncConnection) -> None:
        super().__init__(conn)
        self._pending: list[dict[str, Any]] = []

    async def add(self, event: LogEvent) -> None:
        self._pending.append(_values(event))

    async def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            await self._run(_INSERT[self.table], pending)

    async def list(
        self, tenant_id: str, limit: int = 100, type_: str | None = None
    ) -> list[LogEvent]:
        await self.flush()
        c = self.table.c
        query = sa.select(self.table).where(c.tenant_id == tenant_id)
        if type_:
            query = query.where(c.type == type_)
        rows = await self.conn.execute(query.order_by(c.date.desc(), c.log_id.desc()).limit(limit))
        return [_row_to(LogEvent, r) for r in rows]


class SqlSigningKeyRepo(_Repo):
    table = t.signing_keys

    async def active(self, tenant_id: str) -> list[tuple[str, str]]:
        c = self.table.c
        rows = await self.conn.execute(
            sa.select(c.kid, c.private_key)
            .where(c.tenant_id == tenant_id, c.retired_at.is_(None))
            .order_by(c.created_at.desc())
        )
        return [(r.kid, r.private_key) for r in rows]

    async def add(self, tenant_id: str, kid: str, encrypted_pem: str, now: datetime) -> None:
        await self.conn.execute(
            self.table.insert().values(
                kid=kid, tenant_id=tenant_id, private_key=encrypted_pem, created_at=now
            )
        )

    async def kids(self, tenant_id: str) -> set[str]:
        c = self.table.c
        rows = await self.conn.execute(
            sa.select(c.kid).where(c.tenant_id == tenant_id, c.retired_at.is_(None))
        )
        return {str(kid) for kid in rows.scalars()}

    async def rewrap(self, kid: str, encrypted_pem: str) -> None:
        await self.conn.execute(
            self.table.update().where(self.table.c.kid == kid).values(private_key=encrypted_pem)
        )


class SqlSecretRepo(_Repo):
    table = t.stored_secrets

    async def get(self, tenant_id: str, name: str) -> str | None:
        c = self.table.c
        value = (
            await self.conn.execute(
                sa.select(c.value).where(c.tenant_id == tenant_id, c.name == name)
            )
        ).scalar_one_or_none()
        return str(value) if value is not None else None

    async def put(self, tenant_id: str, name: str, sealed: str, now: datetime) -> None:
        c = self.table.c
        result = await self.conn.execute(
            self.table.update()
            .where(c.tenant_id == tenant_id, c.name == name)
            .values(value=sealed, updated_at=now)
        )
        if _rowcount(result) == 0:
            await self.conn.execute(
                self.table.insert().values(
                    tenant_id=tenant_id, name=name, value=sealed, updated_at=now
                )
            )


# Every column that holds a value sealed with the server keys: re-sealed under the current
# key after a rotation (signing keys are also re-encrypted whenever a process loads them).
SEALED_COLUMNS: tuple[tuple[sa.Table, str, str], ...] = (
    (t.signing_keys, "private_key", "kid"),
    (t.stored_secrets, "value", "name"),
    (t.phone_providers, "credentials", "id"),
    (t.actions, "secrets", "id"),
    (t.actions, "deployed_secrets", "id"),
    (t.log_streams, "secrets", "id"),
)


async def reseal_all(conn: AsyncConnection, rewrap: Callable[[str], str | None]) -> int:
    """Re-seal every stored secret an older server key sealed; returns how many changed.
    ``rewrap`` gives the new sealed text, or None when nothing is to do."""
    changed = 0
    for table, column, key in SEALED_COLUMNS:
        col, key_col = table.c[column], table.c[key]
        tenant = table.c.tenant_id
        rows = (await conn.execute(sa.select(tenant, key_col, col).where(col.is_not(None)))).all()
        for row in rows:
            fresh = rewrap(row[2])
            if fresh is not None:
                await conn.execute(
                    table.update()
                    .where(tenant == row[0], key_col == row[1], col == row[2])
                    .values({column: fresh})
                )
                changed += 1
    return changed


class SqlUnitOfWork:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.tenants = SqlTenantRepo(conn)
        self.applications = SqlApplicationRepo(conn)
        self.users = SqlUserRepo(conn)
        self.admins = SqlAdminRepo(conn)
        self.authenticators = SqlAuthenticatorRepo(conn)
        self.recovery_codes = SqlRecoveryCodeRepo(conn)
        self.challenges = SqlChallengeRepo(conn)
        self.outbox = SqlOutboxRepo(conn)
        self.inbox = SqlInboxRepo(conn)
        self.events = SqlEventRepo(conn)
        self.signing_keys = SqlSigningKeyRepo(conn)
        self.secrets = SqlSecretRepo(conn)
        self.delivery_attempts = SqlDeliveryAttemptRepo(conn)
        self.phone_providers = SqlPhoneProviderRepo(conn)
        self.phone_templates = SqlPhoneTemplateRepo(conn)
        self.actions = SqlActionRepo(conn)
        self.connections = SqlConnectionRepo(conn)
        self.passwordless_codes = SqlPasswordlessCodeRepo(conn)
        self.counters = SqlCounters(conn)
        self.log_search = SqlLogSearch(conn, before_reading=self.events.flush)
        self.log_streams = SqlLogStreamRepo(conn)
        self.authorization_codes = SqlAuthorizationCodeRepo(conn)
        self.refresh_tokens = SqlRefreshTokenRepo(conn)

    async def flush(self) -> None:
        """Write what the repositories hold back (the events) before the commit."""
        await self.events.flush()
