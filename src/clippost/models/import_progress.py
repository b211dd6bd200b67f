"""How far the chunked merge of one pending import has come (subscriptions/merging.py), and,
for an import merged by the worker (subscriptions/background_merge.py), the request, the
worker's lease and the outcome.

A row of its own, not columns of `pending_imports`: that row carries the upload (megabytes),
and SQLite rewrites a whole row on every UPDATE, so counting a chunk there would copy the
upload once per chunk.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import Base, UTCDateTime


class ImportProgress(Base):
    __tablename__ = "import_progress"
    __table_args__ = (
        # The worker's queue: only the requests still waiting (migration 0014).
        Index(
            "ix_import_progress_waiting",
            "requested_at",
            postgresql_where=text("requested_at IS NOT NULL"),
            sqlite_where=text("requested_at IS NOT NULL"),
        ),
    )

    pending_import_id: Mapped[int] = mapped_column(
        ForeignKey("pending_imports.id", ondelete="CASCADE"), primary_key=True
    )
    merged_chunks: Mapped[int] = mapped_column(Integer, default=0)
    merged_books: Mapped[int] = mapped_column(Integer, default=0)
    merged_highlights: Mapped[int] = mapped_column(Integer, default=0)
    # Set while the import waits for (or is being merged by) a worker; NULL once it is done.
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    purpose: Mapped[str | None] = mapped_column(String(16), default=None)  # "confirm" | "add"
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    progressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    total_chunks: Mapped[int | None] = mapped_column(Integer, default=None)
    failure: Mapped[str | None] = mapped_column(Text, default=None)
