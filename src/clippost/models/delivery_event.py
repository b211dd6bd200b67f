"""What a provider or a bounce mailbox reported about one delivery: a bounce, a complaint,
a delivery. Kept with the outbox row it belongs to, when it could be matched to one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import Base, UTCDateTime, utcnow


class DeliveryEvent(Base):
    __tablename__ = "delivery_events"
    __table_args__ = (
        # A provider retries a webhook, a mailbox is read twice: each report counts once.
        UniqueConstraint("provider", "provider_event_id"),
        # Soft bounces are counted per address within a window.
        Index("ix_delivery_events_recipient_hash_occurred_at", "recipient_hash", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))  # ses, postmark, sendgrid, mailbox
    provider_event_id: Mapped[str] = mapped_column(String(300))
    # SET NULL: erasing or pruning outbox history keeps the counts of what happened.
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), default=None, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # hard_bounce, soft_bounce, complaint...
    detail: Mapped[str | None] = mapped_column(Text, default=None)
    recipient_hash: Mapped[str] = mapped_column(String(64))  # "" when nobody was named
    # Indexed: the operator's figures count each day's bounces and complaints.
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
