"""import_progress: how far a confirmed import's merge has come

Revision ID: 0010h
Revises: 0009
Create Date: 2026-12-05 00:00:00.000000

A big import is merged in chunks, each its own short transaction, so that no other request
waits long for the write lock. Each chunk commits with its row here: the merge resumes where
it stopped (a killed process, a second click), and the import is marked applied only when
every chunk is in. A table of its own: the pending import's row holds the upload, and SQLite
rewrites a whole row on every UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010h"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_progress",
        sa.Column("pending_import_id", sa.Integer(), nullable=False),
        sa.Column("merged_chunks", sa.Integer(), nullable=False),
        sa.Column("merged_books", sa.Integer(), nullable=False),
        sa.Column("merged_highlights", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pending_import_id"],
            ["pending_imports.id"],
            name=op.f("fk_import_progress_pending_import_id_pending_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pending_import_id", name=op.f("pk_import_progress")),
    )


def downgrade() -> None:
    op.drop_table("import_progress")
