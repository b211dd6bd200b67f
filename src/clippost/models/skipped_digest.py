"""A scheduled digest the planner did not send, and why (the lateness policy, suppression).

Written by the planner instead of an outbox row: after downtime only the latest missed slot
is sent, and only while it is less than `CLIPPOST_DIGEST_MAX_LATENESS_HOURS` late; every other
slot it passes over is recorded here, once (UNIQUE per reader, kind and slot), and
`clippost stats` counts them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import Base, UTCDateTime, utcnow


class SkipReason:
    """The reasons a slot is recorded as skipped."""

    MISSED = "missed"  # an older slot of a downtime: only the latest one is considered
    LATE = "late"  # the latest missed slot, but past the lateness limit
    SUPPRESSED = "suppressed"  # the address is suppressed (bounce, complaint, operator)


class SkippedDigest(Base):
    __tablename__ = "skipped_digests"
    __table_args__ = (UniqueConstraint("subscriber_id", "kind", "slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Erasing a reader erases their skipped slots with them.
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    slot: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(64))
    # Indexed: `clippost stats` counts the last days' records.
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
