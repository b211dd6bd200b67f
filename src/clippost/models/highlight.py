"""One highlight of a reader's, with its delivery history and the reader's verdict."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import IDS_NEVER_REUSED, Base, UTCDateTime, utcnow


class Highlight(Base):
    __tablename__ = "highlights"
    __table_args__ = (
        # Re-imports merge by content identity: the same highlight is never stored twice.
        UniqueConstraint("subscriber_id", "identity"),
        Index("ix_highlights_subscriber_id_book_id", "subscriber_id", "book_id"),
        # The planner's window: a reader's next-due highlights in rotation order, one index
        # range read per digest whatever the library's size (planner/repository.py).
        # Partial: a discarded highlight or a fragment is not in it and costs nothing.
        Index(
            "ix_highlights_rotation",
            "subscriber_id",
            "turn",
            "id",
            postgresql_where=text("in_rotation"),
            sqlite_where=text("in_rotation"),
        ),
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
    times_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The rotation (selection/, docs/architecture.md "Selection"): the virtual time the
    # highlight is next due; NULL until the planner has placed it.
    turn: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The stride `turn` was computed with: when the weight or favourite flag changes the
    # stride, the planner rescales the time left until the turn.
    stride: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Whether it may be chosen (selection.eligibility), as the planner last worked it out.
    in_rotation: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
