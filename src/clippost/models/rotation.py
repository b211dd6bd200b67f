"""A highlight's place in its reader's rotation: the planner's own narrow table.

The rotation (selection/, docs/architecture.md "Planning and selection") is a turn and a
stride per highlight. It lives apart from `highlights` so that what every digest writes
(each sent highlight's next turn, its count and time of sending) rewrites a row of about
80 bytes with two indexes, not a highlight's text with four. The columns the window reads
(book, weight, favourite flag, date) are copied here when the planner lays the rotation out
(planner/rotation.py), so the window is one index range of this table, with nothing joined.

A row exists once the planner has placed the highlight (or, from migration 0016, once it was
sent); erasing the highlight (or its reader) erases its row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, text
from sqlalchemy.orm import Mapped, mapped_column

from clippost.db.base import Base, UTCDateTime


class RotationEntry(Base):
    __tablename__ = "rotation"
    __table_args__ = (
        # The planner's window: a reader's next-due highlights in rotation order, one index
        # range per digest whatever the library's size (planner/repository.py). Partial: a
        # discarded highlight or a fragment is not in it and costs nothing.
        Index(
            "ix_rotation_window",
            "subscriber_id",
            "turn",
            "highlight_id",
            postgresql_where=text("in_rotation"),
            sqlite_where=text("in_rotation"),
        ),
    )

    highlight_id: Mapped[int] = mapped_column(
        ForeignKey("highlights.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    subscriber_id: Mapped[int] = mapped_column(Integer)
    # Copies of the highlight's book and flag, and its book's weight, as last laid out.
    book_id: Mapped[int] = mapped_column(Integer)
    weight: Mapped[float] = mapped_column(Float)
    favourite: Mapped[bool] = mapped_column(Boolean)
    # The naive local time the device wrote (highlights.highlighted_at), copied.
    highlighted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=False))
    # The virtual time the highlight is next due, and the stride it was computed with: when
    # the weight or favourite flag changes the stride, the planner rescales the time left.
    # NULL for a highlight sent before the rotation existed and not laid out since.
    turn: Mapped[int | None] = mapped_column(BigInteger)
    stride: Mapped[int | None] = mapped_column(BigInteger)
    # Whether it may be chosen (selection.in_rotation), as the planner last worked it out.
    in_rotation: Mapped[bool] = mapped_column(Boolean)
    times_sent: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
