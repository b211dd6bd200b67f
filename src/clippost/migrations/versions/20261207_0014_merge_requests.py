"""import_progress: a big import's merge asked of the worker, its lease and its outcome

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 09:00:00.000000

An import of more than `merge_in_worker_over` highlights is merged by the worker, not by
the request that confirms it (issue 9: the request would hold the event loop for seconds).
The request records that it asked (`requested_at`, `purpose`); a worker takes it under a
lease (`lease_owner`, `lease_until`: a worker that dies leaves a lease that expires, and
another resumes at the next chunk); each chunk moves `progressed_at` on, so the page can
tell a slow merge from one nobody is running; `total_chunks` is known once a worker has
cut the import; `failure` is what the reader is told when it cannot be applied (a library
limit). The partial index holds only the requests still waiting, as the outbox's does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WAITING = sa.text("requested_at IS NOT NULL")
_COLUMNS = (
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("purpose", sa.String(length=16), nullable=True),
    sa.Column("lease_owner", sa.String(length=100), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("progressed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("total_chunks", sa.Integer(), nullable=True),
    sa.Column("failure", sa.Text(), nullable=True),
)


def upgrade() -> None:
    # Plain ADD COLUMN: nullable columns need no table rebuild on SQLite.
    for column in _COLUMNS:
        op.add_column("import_progress", column)
    op.create_index(
        "ix_import_progress_waiting",
        "import_progress",
        ["requested_at"],
        unique=False,
        postgresql_where=_WAITING,
        sqlite_where=_WAITING,
    )


def downgrade() -> None:
    op.drop_index("ix_import_progress_waiting", table_name="import_progress")
    with op.batch_alter_table("import_progress", schema=None) as batch_op:
        for column in reversed(_COLUMNS):
            batch_op.drop_column(column.name)
