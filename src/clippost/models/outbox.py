"""The outbox: every message clippost sends is a row here first (invariants 1-4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import Base, UTCDateTime, utcnow


class OutboxState(StrEnum):
    PENDING = "pending"  # waiting, or claimed under a lease
    SENT = "sent"
    FAILED = "failed"  # permanent failure or retry deadline passed, reason kept
    SUPPRESSED = "suppressed"  # recipient suppressed or not on the staging allowlist
    CANCELLED = "cancelled"  # the cause went away (erased, unsubscribed before sending)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # The claim query walks pending rows in due order; nothing else is scanned. Partial:
        # a finished row leaves the index (its new version is not inserted), so the index
        # stays as small as the queue, not as large as the history.
        Index(
            "ix_outbox_pending_due_at",
            "due_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        # A provider's bounce or complaint names the message by the id it gave it; the
        # operator's figures count what finished on each of the last days. Both partial:
        # a row is inserted without either, so the planner's INSERT of a batch's digests
        # writes neither index (migration 0016).
        Index(
            "ix_outbox_provider_id",
            "provider_id",
            postgresql_where=text("provider_id IS NOT NULL"),
            sqlite_where=text("provider_id IS NOT NULL"),
        ),
        Index(
            "ix_outbox_finished_at",
            "finished_at",
            postgresql_where=text("finished_at IS NOT NULL"),
            sqlite_where=text("finished_at IS NOT NULL"),
        ),
        # PostgreSQL: every row is updated twice (lease, then result). Half-empty pages let
        # the lease update stay on its page without touching any index (a HOT update).
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The same logical message enqueued twice is a no-op: digest:<subscriber>:<slot>, ...
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Requested mail (confirmation, magic link) passes an unsubscribe; bulk mail does not.
    requested: Mapped[bool] = mapped_column(Boolean, default=False)
    recipient: Mapped[str] = mapped_column(String(320))
    recipient_hash: Mapped[str] = mapped_column(String(64), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), default=None, index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # what the renderer needs
    state: Mapped[str] = mapped_column(String(16), default=OutboxState.PENDING)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    provider_id: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
