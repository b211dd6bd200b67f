"""Declarative base: constraint naming convention and UTC-only timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from clippost.db.dialect import SQLITE

# Named constraints make Alembic batch migrations on SQLite (which rebuild tables) and
# PostgreSQL produce the same names, so a later migration can drop them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Table option for every table whose ids links name (subscribers, books, highlights,
# pending imports). Without AUTOINCREMENT, SQLite hands the largest rowid out again after
# that row is deleted, so an erased reader's old unsubscribe or favourite link, or a
# replaced pending import's confirm link, would act on the next row to get that id.
# PostgreSQL sequences never reuse a value; the option is SQLite's alone.
IDS_NEVER_REUSED: dict[str, Any] = {"sqlite_autoincrement": True}

# Every id column is an INTEGER: 32 bits on PostgreSQL (SQLite's 64 bits hold more, but
# its sequences start where PostgreSQL's do), so no row has an id above this one.
MAX_ROW_ID = 2**31 - 1
_MAX_ID_DIGITS = len(str(MAX_ROW_ID))


def row_id(text: str) -> int | None:
    """The row id `text` names, or None when no row can have it: not ASCII digits (int()
    takes "\u0662" and "1_0" too), zero, or past MAX_ROW_ID. An id a request or a link
    carries goes through this before it is bound, so a driver never sees one it cannot
    hold (an overflow there is a 500, not the 404 it should be)."""
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_ID_DIGITS:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ROW_ID else None


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; `timestamptz` on PostgreSQL, naive UTC text on SQLite.

    Refusing naive values at bind time keeps local device times (which are naive by nature)
    from ever being stored as if they were instants.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(UTC)
        # Asked of the Dialect directly: this runs for every datetime bound.
        return value.replace(tzinfo=None) if dialect.name == SQLITE else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL paths on SQLite
            value = datetime.fromisoformat(value)
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)
