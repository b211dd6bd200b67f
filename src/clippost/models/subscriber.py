"""A reader: an address, its lifecycle state and delivery preferences."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Integer,
    String,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import IDS_NEVER_REUSED, Base, UTCDateTime, utcnow


class SubscriberStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        CheckConstraint("per_email BETWEEN 1 AND 15", name="per_email_range"),
        CheckConstraint("hour BETWEEN 0 AND 23", name="hour_range"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("day_of_month BETWEEN 1 AND 28", name="day_of_month_range"),
        # The planner scans confirmed subscribers whose next slot is due.
        Index("ix_subscribers_status_next_slot_at", "status", "next_slot_at"),
        IDS_NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised (see library)
    status: Mapped[str] = mapped_column(String(16), default=SubscriberStatus.PENDING)
    cadence: Mapped[str] = mapped_column(String(16), default="weekly")
    hour: Mapped[int] = mapped_column(Integer, default=7)
    weekday: Mapped[int] = mapped_column(Integer, default=0)
    day_of_month: Mapped[int] = mapped_column(Integer, default=1)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    per_email: Mapped[int] = mapped_column(Integer, default=5)
    paused_until: Mapped[date | None] = mapped_column(Date, default=None)
    # The language of the reader's emails and pages they chose, a catalogue name such as
    # "de" or "pt_BR"; None is "from my library": `library_locale`, else English.
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    # The device language of the reader's latest import that named one (a Kindle's "de").
    library_locale: Mapped[str | None] = mapped_column(String(16), default=None)
    next_slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Bumped on erase and on "sign me out everywhere": manage links name the generation.
    link_generation: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The reader's rotation (selection.model.Reader): its clock, how many highlights are in
    # it, and whether the library changed since the planner last laid it out (an import,
    # a favourite or discard, a book's frequency): then the next plan rebuilds it.
    rotation_clock: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    rotation_size: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rotation_stale: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The date span of the library when the planner last laid it out (the age bias is
    # measured on it; None: no dated highlight).
    rotation_oldest: Mapped[date | None] = mapped_column(Date, default=None)
    rotation_newest: Mapped[date | None] = mapped_column(Date, default=None)
    # Which passages first (selection.Bias: "none", "recent", "older"), and whether a
    # digest opens with one highlighted on this date in an earlier year (migration 0013).
    age_bias: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    on_this_day: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def language(self) -> str | None:
        """The language of the reader's emails and pages: theirs, else their library's."""
        return self.locale or self.library_locale
