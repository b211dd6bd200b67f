"""A few facts a process records for the others sharing its database, by key.

Today one: `server_base_url`, the public URL the last `serve` started with, which a command
run from a shell compares with its own (a link in an email must point where the server is).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import Base, UTCDateTime, utcnow


class SiteState(Base):
    __tablename__ = "site_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
