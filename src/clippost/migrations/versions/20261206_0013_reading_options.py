"""subscribers: the reader's age bias and on-this-day choice, and the library's date span

Revision ID: 0013
Revises: 0010h
Create Date: 2026-12-06 09:00:00.000000

`age_bias` ("none", "recent", "older") and `on_this_day` are preferences the manage page
sets; every existing reader keeps the behaviour they had (no bias, no on-this-day slot).
`rotation_oldest` / `rotation_newest` are the dates of the library's oldest and newest
highlights as the planner last laid the rotation out (the span the age bias is measured
on); NULL until then.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0010h"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite allows it with a constant default): a batch recreation of the
    # table would drop its AUTOINCREMENT, and erased readers' ids could then come back.
    op.add_column(
        "subscribers",
        sa.Column("age_bias", sa.String(length=16), nullable=False, server_default="none"),
    )
    op.add_column(
        "subscribers",
        sa.Column("on_this_day", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("subscribers", sa.Column("rotation_oldest", sa.Date(), nullable=True))
    op.add_column("subscribers", sa.Column("rotation_newest", sa.Date(), nullable=True))


def downgrade() -> None:
    for column in ("rotation_newest", "rotation_oldest", "on_this_day", "age_bias"):
        op.drop_column("subscribers", column)
