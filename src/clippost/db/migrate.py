"""Apply Alembic migrations with the application's own engine; safe to run concurrently.

Every process start upgrades, and nearly always finds the schema at the head: that case is
one read of `alembic_version` against `HEAD_REVISION`, without importing Alembic (its
import, with Mako's, is about 150 ms of a process's start) or reading its scripts.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from clippost.db.dialect import is_postgresql
from clippost.db.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# The newest migration in MIGRATIONS; tests/db/test_migrations.py holds it to the scripts.
HEAD_REVISION = "0016"
# Any constant: every clippost process that upgrades PostgreSQL takes the same lock.
_PG_MIGRATION_LOCK = 7_301_947_118


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

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
    if _revision(connection) == HEAD_REVISION:
        return
    from alembic import command

    if is_postgresql(connection):
        # Two processes starting at once would otherwise both create alembic_version.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as connection:
        return await connection.run_sync(_revision)


def _revision(connection: Connection) -> str | None:
    """The schema's revision, as Alembic stamps it (None on an empty database)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


@functools.cache
def head_revision() -> str | None:
    """The newest migration, read from the scripts (once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
