"""Migration 0016 moves the rotation out of `highlights` into `rotation`, and back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Connection, inspect, text

from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.db.migrate import alembic_config, current_revision, head_revision, upgrade
from clippost.models import Book, Subscriber

SENT = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
MADE = datetime(2021, 3, 4, 5, 6)


def _to(revision: str) -> Callable[[Connection], None]:
    def move(connection: Connection) -> None:
        if revision < "0016":
            command.downgrade(alembic_config(connection), revision)
        else:
            command.upgrade(alembic_config(connection), revision)

    return move


async def _migrate(database: Database, revision: str) -> None:
    async with database.engine.connect() as connection:
        await connection.run_sync(_to(revision))
        await connection.commit()
    assert await current_revision(database) == revision


async def _stock_at_0015(database: Database) -> None:
    """A reader with a "more" book and a "less" one; three highlights: placed and sent,
    sent before the rotation existed (never placed), and neither."""
    async with database.transaction() as session:
        session.add(Subscriber(id=1, email="r@example.org"))
        await session.flush()
        session.add_all(
            [
                Book(id=1, subscriber_id=1, identity="a", title="A", frequency="more"),
                Book(id=2, subscriber_id=1, identity="b", title="B", frequency="less"),
            ]
        )
        await session.flush()
        for number, book, turn, stride, flag, sent in (
            (1, 1, 700, 40, True, 2),
            (2, 2, None, None, False, 1),
            (3, 2, None, None, False, 0),
        ):
            await session.execute(
                text(
                    "INSERT INTO highlights (id, subscriber_id, book_id, identity, text, "
                    "favourite, discarded, times_sent, last_sent_at, created_at, "
                    "highlighted_at, turn, stride, in_rotation) VALUES (:id, 1, :book, :identity, "
                    "'x', :fav, false, :sent, :last, :now, :made, :turn, :stride, :flag)"
                ),
                {
                    "id": number,
                    "identity": f"h{number}",
                    "book": book,
                    "fav": number == 1,
                    "sent": sent,
                    "last": SENT if sent else None,
                    "now": SENT,
                    "made": MADE,
                    "turn": turn,
                    "stride": stride,
                    "flag": flag,
                },
            )


class TestRotationMigration:
    async def test_rows_move_to_rotation_and_back(self, database: Database) -> None:
        """Upgrading gives every placed or sent highlight its row (copies and the book's
        weight included, nothing for the rest) and drops the highlights' columns;
        downgrading puts every value back."""
        await upgrade(database)
        await _migrate(database, "0015")
        await _stock_at_0015(database)
        await _migrate(database, "0016")
        async with database.engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT highlight_id, subscriber_id, book_id, weight, favourite, turn, "
                        "stride, in_rotation, times_sent FROM rotation ORDER BY highlight_id"
                    )
                )
            ).all()
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("highlights")}
            )
        assert [tuple(row) for row in rows] == [
            (1, 1, 1, 2.0, True, 700, 40, True, 2),
            (2, 1, 2, 0.5, False, None, None, False, 1),
        ]
        assert not columns & {"turn", "stride", "in_rotation", "times_sent", "last_sent_at"}
        await _migrate(database, "0015")
        async with database.engine.connect() as connection:
            back = (
                await connection.execute(
                    text(
                        "SELECT id, turn, stride, in_rotation, times_sent, last_sent_at IS NULL "
                        "FROM highlights ORDER BY id"
                    )
                )
            ).all()
        assert [tuple(row) for row in back] == [
            (1, 700, 40, True, 2, False),
            (2, None, None, False, 1, False),
            (3, None, None, False, 0, True),
        ]
        await upgrade(database)
        assert await current_revision(database) == head_revision()

    async def test_sqlite_keeps_ids_never_reused(self, sqlite_url: str) -> None:
        """The columns are dropped in place: `highlights` keeps its AUTOINCREMENT."""
        database = Database(normalise_database_url(sqlite_url))
        try:
            await upgrade(database)
            async with database.engine.connect() as connection:
                sql = await connection.scalar(
                    text("SELECT sql FROM sqlite_master WHERE name = 'highlights'")
                )
        finally:
            await database.dispose()
        assert "AUTOINCREMENT" in str(sql).upper()
