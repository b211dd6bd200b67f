"""Addresses that must not be emailed (invariant 10), kept only as a keyed hash."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import Base, UTCDateTime, utcnow


class SuppressionReason(StrEnum):
    UNSUBSCRIBED = "unsubscribed"  # digests stop; mail the reader asks for still goes
    BOUNCED = "bounced"  # hard bounce: nothing goes
    COMPLAINED = "complained"  # spam complaint: nothing goes
    ERASED = "erased"  # erased and asked never to be emailed again: nothing goes
    OPERATOR = "operator"  # the operator stopped all mail to the address


# Reasons that also stop mail the reader asks for (confirmation, magic links). "Never email
# this address again" holds against a sign-up by anyone: only the operator lifts it.
BLOCKS_REQUESTED_MAIL = (
    SuppressionReason.ERASED,
    SuppressionReason.BOUNCED,
    SuppressionReason.COMPLAINED,
    SuppressionReason.OPERATOR,
)


class Suppression(Base):
    __tablename__ = "suppressions"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
