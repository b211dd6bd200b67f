"""The schema comes from Alembic, matches the models, and upgrading is idempotent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from clippost.db.base import Base
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.db.migrate import (
    HEAD_REVISION,
    MIGRATIONS,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)


class TestMigrations:
    async def test_upgrade_twice_is_a_no_op(self, database: Database) -> None:
        """Running the upgrade on an up-to-date schema changes nothing and does not fail."""
        await upgrade(database)
        await upgrade(database)
        assert await current_revision(database) == head_revision()

    def test_the_head_constant_is_the_newest_script(self) -> None:
        """`HEAD_REVISION`, which spares a process start Alembic's import, names the newest
        migration script (a new migration must move it)."""
        assert head_revision() == HEAD_REVISION

    def test_a_start_at_the_head_never_imports_alembic(self, sqlite_url: str) -> None:
        """Upgrading a database already at the head reads its revision and stops there;
        Alembic is imported only when there is something to migrate."""
        script = (
            "import asyncio, sys\n"
            "from clippost.db.dialect import normalise_database_url\n"
            "from clippost.db.engine import Database\n"
            "from clippost.db.migrate import upgrade\n"
            "async def main(url):\n"
            "    db = Database(normalise_database_url(url))\n"
            "    await upgrade(db)\n"
            "    await db.dispose()\n"
            "asyncio.run(main(sys.argv[1]))\n"
            "print('alembic' in sys.modules)\n"
        )
        at_head = subprocess.run(
            [sys.executable, "-c", script, sqlite_url], capture_output=True, text=True, check=True
        )
        assert at_head.stdout.strip() == "False"
        empty = sqlite_url.replace("clippost.db", "empty.db")
        fresh = subprocess.run(
            [sys.executable, "-c", script, empty], capture_output=True, text=True, check=True
        )
        assert fresh.stdout.strip() == "True"

    async def test_models_match_migrations(self, database: Database) -> None:
        """Autogenerate finds no difference between the migrated schema and the models."""

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))

        async with database.engine.connect() as connection:
            assert await connection.run_sync(diff) == []

    async def test_the_outbox_payload_is_compressed_with_lz4(
        self, postgres_database: Database
    ) -> None:
        """On PostgreSQL (built with lz4, as here) a new payload is stored lz4-compressed
        (migration 0015); SQLite stores it as before."""
        database = postgres_database
        payload = '{"text": "' + "a passage worth keeping, " * 200 + '"}'
        async with database.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO outbox (idempotency_key, message_id, kind, requested, "
                    "recipient, recipient_hash, payload, state, due_at, attempts, created_at) "
                    "VALUES ('k', 'm', 'digest', false, 'r@example.org', 'h', CAST(:p AS json), "
                    "'pending', now(), 0, now())"
                ),
                {"p": payload},
            )
            method = await session.scalar(text("SELECT pg_column_compression(payload) FROM outbox"))
        assert method == "lz4"

    async def test_fresh_sqlite_file_is_created_and_migrated(self, tmp_path: Path) -> None:
        """A SQLite URL for a file that does not exist yet gives a migrated database."""
        db = Database(normalise_database_url(f"sqlite:///{tmp_path}/new/clippost.db"))
        try:
            await upgrade(db)
            async with db.engine.connect() as connection:
                tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        finally:
            await db.dispose()
        assert {"subscribers", "outbox", "highlights"} <= set(tables)

    def test_revision_files_have_dated_names(self) -> None:
        """Every migration file name starts with its date (YYYYMMDD_)."""
        names = [p.name for p in (MIGRATIONS / "versions").glob("*.py")]
        assert names
        assert all(name[:8].isdigit() and name[8] == "_" for name in names)

    async def test_outbox_claim_index_holds_only_pending_rows(self, database: Database) -> None:
        """Migration 0002 replaces (state, due_at) by a partial index on pending rows' due_at."""
        if database.dialect == "postgresql":
            query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'outbox'"
        else:
            query = (
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'"
            )
        async with database.engine.connect() as connection:
            indexes = dict((await connection.exec_driver_sql(query)).all())
        assert "ix_outbox_state_due_at" not in indexes
        definition = " ".join(indexes["ix_outbox_pending_due_at"].split())
        assert "(due_at)" in definition
        assert "WHERE" in definition
        assert "pending" in definition

    async def test_outbox_pages_leave_room_for_hot_updates(
        self, postgres_database: Database
    ) -> None:
        """On PostgreSQL the outbox table is created half full (fillfactor 50)."""
        async with postgres_database.engine.connect() as connection:
            options = await connection.scalar(
                text("SELECT reloptions FROM pg_class WHERE relname = 'outbox'")
            )
        assert options == ["fillfactor=50"]

    async def test_claim_index_migration_downgrades_and_upgrades(self, database: Database) -> None:
        """Migration 0002 downgrades to 0001 and upgrades back to the head cleanly."""

        def downgrade(connection: Connection) -> None:
            command.downgrade(alembic_config(connection), "0001")

        async with database.engine.connect() as connection:
            await connection.run_sync(downgrade)
            await connection.commit()
        assert await current_revision(database) == "0001"
        await upgrade(database)
        assert await current_revision(database) == head_revision()

    async def test_sqlite_runs_in_wal_mode(self, sqlite_url: str) -> None:
        """The embedded database uses WAL, a busy timeout and enforced foreign keys."""
        db = Database(normalise_database_url(sqlite_url))
        try:
            async with db.engine.connect() as connection:
                mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
                timeout = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
                fks = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        finally:
            await db.dispose()
        assert (mode, timeout, fks) == ("wal", 30000, 1)
