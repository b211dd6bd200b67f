"""the planner's rotation state: highlights' turns, the readers' clocks; skipped digests

Revision ID: 0009
Revises: 0012
Create Date: 2026-12-05 00:00:00.000000

The set-based planner (issue 8) reads, per digest, only the window of a reader's next-due
highlights: `ix_highlights_rotation` on (subscriber_id, turn, id), partial on `in_rotation`,
is that window as one index range. Each highlight keeps its turn and the stride it was
computed with; each reader keeps its clock, how many highlights rotate, and a flag set by
every library change so that the planner rebuilds the rotation (readers and highlights
existing before this revision start stale and unplaced: their first plan lays them out).
`skipped_digests` records the slots the lateness policy and suppressions pass over.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite adds these in place, while a batch would copy
    # the tables and drop their AUTOINCREMENT (ids never reused, which links rely on).
    op.add_column(
        "subscribers",
        sa.Column("rotation_clock", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "subscribers",
        sa.Column("rotation_size", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "subscribers",
        sa.Column("rotation_stale", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column("highlights", sa.Column("turn", sa.BigInteger(), nullable=True))
    op.add_column("highlights", sa.Column("stride", sa.BigInteger(), nullable=True))
    op.add_column(
        "highlights",
        sa.Column("in_rotation", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index(
        "ix_highlights_rotation",
        "highlights",
        ["subscriber_id", "turn", "id"],
        unique=False,
        postgresql_where=sa.text("in_rotation"),
        sqlite_where=sa.text("in_rotation"),
    )
    op.create_table(
        "skipped_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_skipped_digests_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skipped_digests")),
        sa.UniqueConstraint(
            "subscriber_id",
            "kind",
            "slot",
            name=op.f("uq_skipped_digests_subscriber_id_kind_slot"),
        ),
    )
    with op.batch_alter_table("skipped_digests") as batch:
        batch.create_index(batch.f("ix_skipped_digests_recorded_at"), ["recorded_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("skipped_digests") as batch:
        batch.drop_index(batch.f("ix_skipped_digests_recorded_at"))
    op.drop_table("skipped_digests")
    # Plain DROP COLUMN (SQLite 3.35+), for the same reason as in upgrade.
    op.drop_index("ix_highlights_rotation", table_name="highlights")
    for column in ("in_rotation", "stride", "turn"):
        op.drop_column("highlights", column)
    for column in ("rotation_stale", "rotation_size", "rotation_clock"):
        op.drop_column("subscribers", column)
