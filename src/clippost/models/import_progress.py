"""How far the chunked merge of one pending import has come (subscriptions/merging.py).

A row of its own, not columns of `pending_imports`: that row carries the upload (megabytes),
and SQLite rewrites a whole row on every UPDATE, so counting a chunk there would copy the
upload once per chunk.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import Base


class ImportProgress(Base):
    __tablename__ = "import_progress"

    pending_import_id: Mapped[int] = mapped_column(
        ForeignKey("pending_imports.id", ondelete="CASCADE"), primary_key=True
    )
    merged_chunks: Mapped[int] = mapped_column(Integer, default=0)
    merged_books: Mapped[int] = mapped_column(Integer, default=0)
    merged_highlights: Mapped[int] = mapped_column(Integer, default=0)
