"""An uploaded library waiting for its owner to confirm it by email (invariant 8)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import IDS_NEVER_REUSED, Base, UTCDateTime, utcnow


class PendingImport(Base):
    __tablename__ = "pending_imports"
    __table_args__ = IDS_NEVER_REUSED

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    # The merged library, zlib-compressed JSON: parsing happened once, at upload.
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    book_count: Mapped[int] = mapped_column(Integer)
    highlight_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # How far its merge has come: its import_progress row (migration 0010h).
