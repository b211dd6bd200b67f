"""indexes for the operator's figures: outbox.finished_at, delivery_events.occurred_at

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 00:00:00.000000

`clippost stats`, the operator page and its chart count what finished (sent, failed) and
what was reported (bounces, complaints) on each of the last days. The outbox keeps its
whole history, so without an index each of those counts would read every row ever sent;
with one, a range of the last days is read. (On PostgreSQL the result update of a row
already writes new entries into every outbox index, the partial pending index's state
being one of its columns, so this one adds little to a send.)
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_finished_at"), ["finished_at"], unique=False)
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_events_occurred_at"), ["occurred_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_events_occurred_at"))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_finished_at"))
