"""rotation: the planner's turns, strides and send counts in a narrow table of their own;
outbox: the provider-id and finished-at indexes partial

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09 09:00:00.000000

Every digest rewrites each highlight it sends (its next turn, one more send, when). On
`highlights` that is a new version of a row holding the highlight's text, and an entry in
each of its four indexes; on `rotation` it is a row of about 80 bytes with two indexes
(measured on PostgreSQL, 2,500 sent highlights: 77 ms and 8.7 MB of WAL on `highlights`,
37-42 ms and 3.0-3.5 MB on the narrow table). The window the planner reads per digest is
then one range of `ix_rotation_window` with nothing joined: the book, its weight, the
favourite flag and the date are copied into the row when the planner lays the rotation out.

Every highlight placed or ever sent gets its row, the book's weight worked out from its
frequency as `BOOK_WEIGHTS` does; the highlights' own columns and `ix_highlights_rotation`
are dropped (plain DROP COLUMN, not batch mode: SQLite drops them in place, while a batch
would copy the table and lose its AUTOINCREMENT, ids never reused, which links rely on).

A digest is inserted without a provider id or a finish time: with both indexes partial on
NOT NULL the planner's INSERT of a batch's digests writes neither, and the lookups (a
provider's bounce by its id, the operator's figures by day) read them as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUTBOX_INDEXES = (
    ("ix_outbox_provider_id", "provider_id"),
    ("ix_outbox_finished_at", "finished_at"),
)


def upgrade() -> None:
    op.create_table(
        "rotation",
        sa.Column("highlight_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("favourite", sa.Boolean(), nullable=False),
        sa.Column("highlighted_at", sa.DateTime(timezone=False), nullable=True),
        sa.Column("turn", sa.BigInteger(), nullable=True),
        sa.Column("stride", sa.BigInteger(), nullable=True),
        sa.Column("in_rotation", sa.Boolean(), nullable=False),
        sa.Column("times_sent", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["highlight_id"],
            ["highlights.id"],
            name=op.f("fk_rotation_highlight_id_highlights"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("highlight_id", name=op.f("pk_rotation")),
    )
    op.execute(
        "INSERT INTO rotation (highlight_id, subscriber_id, book_id, weight, favourite, "
        "highlighted_at, turn, stride, in_rotation, times_sent, last_sent_at) "
        "SELECT highlights.id, highlights.subscriber_id, highlights.book_id, "
        # BOOK_WEIGHTS (models/book.py), as of this revision.
        "CASE books.frequency WHEN 'never' THEN 0.0 WHEN 'less' THEN 0.5 "
        "WHEN 'more' THEN 2.0 ELSE 1.0 END, "
        "highlights.favourite, highlights.highlighted_at, highlights.turn, highlights.stride, "
        "highlights.in_rotation, highlights.times_sent, highlights.last_sent_at "
        "FROM highlights JOIN books ON books.id = highlights.book_id "
        "WHERE highlights.turn IS NOT NULL OR highlights.times_sent > 0"
    )
    op.create_index(
        "ix_rotation_window",
        "rotation",
        ["subscriber_id", "turn", "highlight_id"],
        unique=False,
        postgresql_where=sa.text("in_rotation"),
        sqlite_where=sa.text("in_rotation"),
    )
    op.drop_index("ix_highlights_rotation", table_name="highlights")
    for column in ("in_rotation", "stride", "turn", "last_sent_at", "times_sent"):
        op.drop_column("highlights", column)
    for name, column in _OUTBOX_INDEXES:
        op.drop_index(name, table_name="outbox")
        op.create_index(
            name,
            "outbox",
            [column],
            unique=False,
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    for name, column in _OUTBOX_INDEXES:
        op.drop_index(name, table_name="outbox")
        op.create_index(name, "outbox", [column], unique=False)
    op.add_column(
        "highlights",
        sa.Column("times_sent", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column("highlights", sa.Column("last_sent_at", sa.DateTime(timezone=True)))
    op.add_column("highlights", sa.Column("turn", sa.BigInteger(), nullable=True))
    op.add_column("highlights", sa.Column("stride", sa.BigInteger(), nullable=True))
    op.add_column(
        "highlights",
        sa.Column("in_rotation", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # UPDATE ... FROM: PostgreSQL, and SQLite since 3.33.
    op.execute(
        "UPDATE highlights SET times_sent = rotation.times_sent, "
        "last_sent_at = rotation.last_sent_at, turn = rotation.turn, "
        "stride = rotation.stride, in_rotation = rotation.in_rotation "
        "FROM rotation WHERE rotation.highlight_id = highlights.id"
    )
    op.create_index(
        "ix_highlights_rotation",
        "highlights",
        ["subscriber_id", "turn", "id"],
        unique=False,
        postgresql_where=sa.text("in_rotation"),
        sqlite_where=sa.text("in_rotation"),
    )
    op.drop_index("ix_rotation_window", table_name="rotation")
    op.drop_table("rotation")
