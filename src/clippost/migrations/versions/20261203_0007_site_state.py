"""site_state: facts one process records for the others sharing the database

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-03 00:00:00.000000

A tiny key-value table; its first key is the base URL `serve` started with, which CLI
commands compare with theirs to warn when links would point elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_site_state")),
    )


def downgrade() -> None:
    op.drop_table("site_state")
