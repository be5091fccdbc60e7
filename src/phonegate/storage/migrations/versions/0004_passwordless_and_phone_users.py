"""passwordless connections and phone users

Users of the passwordless sms connection have a phone number and no email, so email and
email_key become nullable (their unique constraint keeps holding for the values that are
set) and users gain connection, phone_number and phone_verified.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATABASE_CONNECTION = "Username-Password-Authentication"


# The tables whose rows reference users at this revision.
REFERENCING_USERS = ("challenges", "phone_authenticators", "recovery_codes")


@contextmanager
def _users_rebuilt_with_references_set_aside() -> Iterator[None]:
    """SQLite rebuilds a table to change a column's nullability, and dropping the old copy
    fails while rows of other tables reference it (foreign keys are on, and cannot be
    turned off inside the migration's transaction). So the referencing rows wait in
    temporary tables while users is rebuilt, then come back unchanged."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    kept = REFERENCING_USERS if sqlite else ()
    # The names are this module's constants, never input.
    for name in kept:
        op.execute(f"CREATE TEMP TABLE kept_{name} AS SELECT * FROM {name}")  # noqa: S608
        op.execute(f"DELETE FROM {name}")  # noqa: S608
    yield
    for name in kept:
        op.execute(f"INSERT INTO {name} SELECT * FROM kept_{name}")  # noqa: S608
        op.execute(f"DROP TABLE kept_{name}")


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("enabled_clients", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_connections_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("tenant_id", "name", name="uq_connections_tenant_name"),
        sa.UniqueConstraint("tenant_id", "strategy", name="uq_connections_tenant_strategy"),
    )
    op.create_table(
        "passwordless_codes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("phone_number", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_passwordless_codes_connection_id_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passwordless_codes")),
        sa.UniqueConstraint(
            "tenant_id", "connection_id", "phone_number", name="uq_passwordless_codes_phone"
        ),
    )
    with op.batch_alter_table("passwordless_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_passwordless_codes_user_id"), ["user_id"], unique=False
        )

    with _users_rebuilt_with_references_set_aside(), op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("email", existing_type=sa.String(length=320), nullable=True)
        batch_op.alter_column("email_key", existing_type=sa.String(length=320), nullable=True)
        batch_op.add_column(
            sa.Column(
                "connection",
                sa.String(length=128),
                server_default=DATABASE_CONNECTION,
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("phone_number", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("phone_verified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_unique_constraint(
            "uq_users_tenant_connection_phone", ["tenant_id", "connection", "phone_number"]
        )


def downgrade() -> None:
    # Users without an email (the sms connection's) cannot live in the old table.
    op.execute(sa.text("DELETE FROM users WHERE email IS NULL"))
    with _users_rebuilt_with_references_set_aside(), op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("uq_users_tenant_connection_phone", type_="unique")
        batch_op.drop_column("phone_verified")
        batch_op.drop_column("phone_number")
        batch_op.drop_column("connection")
        batch_op.alter_column("email_key", existing_type=sa.String(length=320), nullable=False)
        batch_op.alter_column("email", existing_type=sa.String(length=320), nullable=False)

    with op.batch_alter_table("passwordless_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passwordless_codes_user_id"))
    op.drop_table("passwordless_codes")
    op.drop_table("connections")
