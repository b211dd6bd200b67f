"""A book in a reader's library, identified by normalised title and author."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import IDS_NEVER_REUSED, Base, UTCDateTime, utcnow


class BookFrequency(StrEnum):
    NEVER = "never"
    LESS = "less"
    NORMAL = "normal"
    MORE = "more"


BOOK_WEIGHTS: dict[str, float] = {"never": 0.0, "less": 0.5, "normal": 1.0, "more": 2.0}


class Book(Base):
    __tablename__ = "books"
    __table_args__ = (UniqueConstraint("subscriber_id", "identity"), IDS_NEVER_REUSED)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    identity: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(1000))
    author: Mapped[str | None] = mapped_column(String(1000), default=None)
    frequency: Mapped[str] = mapped_column(String(8), default=BookFrequency.NORMAL)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
