"""index outbox messages by challenge

Every successful code check asks for provider feedback on its challenge's messages
(``SqlOutboxRepo.request_feedback``) and hosted verification reads them
(``for_challenge``): both filter on ``challenge_id``, which had no index, so each verify
scanned the whole outbox (docs/benchmarks.md shows the plans).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_challenge", "outbox_messages", ["challenge_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_challenge", table_name="outbox_messages")
