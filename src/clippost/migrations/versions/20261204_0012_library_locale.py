"""subscribers: the language of the reader's library, beside the one they chose

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-02 01:30:00.000000

`locale` stays the reader's own choice (None: "from my library"); `library_locale` is the
device language of their latest import that named one. Their emails and pages are in
`locale`, else `library_locale`, else English. Readers confirmed before this revision had
their library's language copied into `locale` at confirmation; that stays their choice.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("library_locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("library_locale")
