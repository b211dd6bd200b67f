"""pending_imports: how far a confirmed import's merge has come

Revision ID: 0010h
Revises: 0008
Create Date: 2026-12-05 00:00:00.000000

A big import is merged in chunks, each its own short transaction, so that no other request
waits long for the write lock. Each chunk commits with these counters: the merge resumes
where it stopped (a killed process, a second click), and the import is marked applied only
when every chunk is in.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010h"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("merged_chunks", "merged_books", "merged_highlights")


def upgrade() -> None:
    with op.batch_alter_table("pending_imports") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("pending_imports") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
