"""delivery_events: bounces, complaints and deliveries reported by providers and mailboxes;
an index on outbox.provider_id to match them

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00.000000

Each report is kept once (UNIQUE provider, provider_event_id: webhook retries and a mailbox
read twice insert nothing) with the outbox row it is about. Providers name a message by the
id they gave it (SES MessageId, Postmark MessageID, SendGrid's message id), which the sender
stores as `outbox.provider_id`: without an index, each bounce would scan the whole history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_event_id", sa.String(length=300), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("recipient_hash", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["outbox.id"],
            name=op.f("fk_delivery_events_outbox_id_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_events")),
        sa.UniqueConstraint(
            "provider",
            "provider_event_id",
            name=op.f("uq_delivery_events_provider_provider_event_id"),
        ),
    )
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_events_outbox_id"), ["outbox_id"], unique=False
        )
        batch_op.create_index(
            "ix_delivery_events_recipient_hash_occurred_at",
            ["recipient_hash", "occurred_at"],
            unique=False,
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_provider_id"), ["provider_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_provider_id"))
    with op.batch_alter_table("delivery_events", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_events_recipient_hash_occurred_at")
        batch_op.drop_index(batch_op.f("ix_delivery_events_outbox_id"))
    op.drop_table("delivery_events")
