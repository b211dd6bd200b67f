"""Counters for rate limits, in the database so that they hold across processes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import Base, UTCDateTime


class RateLimitWindow(Base):
    """Fixed-window counter: `count` events for `key` since `window_start`."""

    __tablename__ = "rate_limit_windows"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)


class TokenBucket(Base):
    """A send-rate bucket shared by every worker of one transport."""

    __tablename__ = "token_buckets"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
