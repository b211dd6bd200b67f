"""outbox: partial index on pending rows for the claim; fillfactor 50 on PostgreSQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 16:00:00.000000

The claim walks pending rows in due order. `(state, due_at)` kept an entry for every row
ever sent, and each result (state pending -> sent) inserted a new one; the partial index on
`due_at WHERE state = 'pending'` holds only the queue, and a finished row's new version is
not added to it.

PostgreSQL only: with `fillfactor = 50` new pages are left half empty, so the claim's lease
update (no indexed column changes) is a HOT update on the same page: no index insertions,
about half the claim's server time. It applies to pages written from now on; existing
pages keep their layout until the table is rewritten (VACUUM FULL), which is not needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_pending_due_at",
            ["due_at"],
            unique=False,
            postgresql_where=_PENDING,
            sqlite_where=_PENDING,
        )
        batch_op.drop_index("ix_outbox_state_due_at")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbox SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE outbox RESET (fillfactor)")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_state_due_at", ["state", "due_at"], unique=False)
        batch_op.drop_index("ix_outbox_pending_due_at")
