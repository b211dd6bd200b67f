"""Shared fixtures: settings -> database -> app. Real parts only; the builders behind them
are in factories.py.

`database` runs every test that uses it twice: on a fresh SQLite file and on a PostgreSQL
database of its own (created once per test process, emptied before each test). Without a
reachable PostgreSQL the PostgreSQL half skips, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

import factories
from clippost.clippings.models import Library
from clippost.config import Settings
from clippost.context import ServiceContext
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.db.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "CLIPPOST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
# No per-example deadline: CI machines are shared and slow; speed lives in bench/.
hypothesis_settings.register_profile(
    "clippost", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("clippost")


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _postgres_reachable() -> str | None:
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


def require_postgres() -> None:
    """Skip (or, in CI, fail) when PostgreSQL cannot be reached."""
    problem = _run(_postgres_reachable())
    if problem is None:
        return
    message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({problem})"
    if IN_CI:
        pytest.fail(message + "; CI requires it")
    pytest.skip(message + "; set CLIPPOST_TEST_POSTGRES_URL to run these tests")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL database of this test process's own, dropped afterwards."""
    require_postgres()
    name = f"clippost_test_{uuid.uuid4().hex[:12]}"
    _run(_admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    _run(_migrate(normalise_database_url(url)))
    yield url
    _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (migrating once is what costs)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    _run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


def fresh_sqlite_url(template: Path, folder: Path) -> str:
    target = folder / "clippost.db"
    shutil.copy(template, target)
    return f"sqlite:///{target}"


# Per test database: the statement that empties it (found once, from the catalogue).
_EMPTYING: dict[str, str] = {}


async def empty_postgres(url: str) -> None:
    """Empty every table and restart every sequence in one round trip over one plain
    connection. TRUNCATE, not DELETE: its lock waits for whatever a previous test's process
    still has in flight on the database, where a DELETE would let that land afterwards."""
    conn = await asyncpg.connect(url)
    try:
        if url not in _EMPTYING:
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            )
            names = ", ".join(f'"{row[0]}"' for row in tables)
            _EMPTYING[url] = f"TRUNCATE {names} RESTART IDENTITY CASCADE"
        await conn.execute(_EMPTYING[url])
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """A plain database URL, as an operator would write it, for an empty migrated schema."""
    if request.param == "sqlite":
        return fresh_sqlite_url(sqlite_template, tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    _run(empty_postgres(url))
    return url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_database_url(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """`database_url` for a whole module whose tests only read what it builds once (the
    module overrides `database_url` with it): a fresh SQLite file, or this process's
    PostgreSQL database emptied, as each test's is."""
    if request.param == "sqlite":
        return fresh_sqlite_url(sqlite_template, tmp_path_factory.mktemp("module"))
    url: str = request.getfixturevalue("postgres_url")
    _run(empty_postgres(url))
    return url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """Only SQLite, for tests whose subject is not the database."""
    return fresh_sqlite_url(sqlite_template, tmp_path)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return factories.make_settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(normalise_database_url(database_url))
    yield db
    await db.dispose()


@pytest.fixture
async def postgres_database(postgres_url: str) -> AsyncIterator[Database]:
    """Only PostgreSQL, emptied, for tests whose subject is PostgreSQL's own behaviour."""
    await empty_postgres(postgres_url)
    db = Database(normalise_database_url(postgres_url))
    yield db
    await db.dispose()


@pytest.fixture
def ctx(settings: Settings) -> ServiceContext:
    """A service context at `factories.NOW` on the test's settings."""
    return factories.service_context(settings)


@pytest.fixture
def make_ctx(settings: Settings) -> Callable[[datetime], ServiceContext]:
    """A service context at another moment (links expire, windows pass)."""
    return lambda now: factories.service_context(settings, now=now)


@pytest.fixture
def make_library() -> Callable[[factories.Books], Library]:
    """Books as {(title, author): [text or (text, note), ...]} to a parsed, merged Library."""
    return factories.make_library


@pytest.fixture
def kindle_bytes() -> Callable[[factories.Books], bytes]:
    return lambda books: factories.kindle_text(books).encode("utf-8")


@pytest.fixture
def new_subscriber() -> Callable[..., Awaitable[int]]:
    """`await new_subscriber(session, email)`: a pending reader (`add_pending_reader`)."""
    return lambda session, email="reader@example.org": factories.add_pending_reader(
        session, email=email
    )


@pytest.fixture
async def subscriber_id(database: Database) -> int:
    """A pending reader at reader@example.org."""
    async with database.transaction() as session:
        return await factories.add_pending_reader(session)
