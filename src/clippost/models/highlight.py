"""One highlight of a reader's, with the reader's verdict (its place in the rotation and its
delivery history are the planner's, in models/rotation.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import IDS_NEVER_REUSED, Base, UTCDateTime, utcnow


class Highlight(Base):
    __tablename__ = "highlights"
    __table_args__ = (
        # Re-imports merge by content identity: the same highlight is never stored twice.
        UniqueConstraint("subscriber_id", "identity"),
        Index("ix_highlights_subscriber_id_book_id", "subscriber_id", "book_id"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"))
    identity: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    page: Mapped[str | None] = mapped_column(String(32), default=None)
    location_start: Mapped[int | None] = mapped_column(Integer, default=None)
    location_end: Mapped[int | None] = mapped_column(Integer, default=None)
    # The naive local time the device wrote: not an instant, so not a UTC column.
    highlighted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False), default=None)
    favourite: Mapped[bool] = mapped_column(Boolean, default=False)
    discarded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
