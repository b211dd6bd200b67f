"""Apply Alembic migrations with the application's own engine; safe to run concurrently."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from clippost.db.dialect import is_postgresql
from clippost.db.engine import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Any constant: every clippost process that upgrades PostgreSQL takes the same lock.
_PG_MIGRATION_LOCK = 7_301_947_118


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


async def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision; a no-op when it already is."""
    async with db.engine.connect() as connection:
        await connection.run_sync(_upgrade_sync)
        await connection.commit()


def _upgrade_sync(connection: Connection) -> None:
    # Every process start comes here; at the head (nearly always) the one read of
    # alembic_version is the whole cost, not Alembic's reading of every script (~15 ms).
    if MigrationContext.configure(connection).get_current_revision() == head_revision():
        return
    if is_postgresql(connection):
        # Two processes starting at once would otherwise both create alembic_version.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


@functools.cache
def head_revision() -> str | None:
    """The newest migration this code knows (read from the scripts once per process)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
