"""Library test fixtures: real Kindle files parsed by the real import engine, a real database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.clippings.models import Library
from clippost.config import Settings
from clippost.db.engine import Database
from clippost.library.upload import parse_upload
from clippost.links import Links
from clippost.subscriptions import repository as subscriber_repository
from clippost.subscriptions.context import ServiceContext
from clippost.subscriptions.preferences import Preferences

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

Books = Mapping[tuple[str, str | None], Sequence[str | tuple[str, str]]]


def kindle_text(books: Books) -> str:
    """A My Clippings.txt as a device writes it; a (text, note) pair adds a note on it."""
    blocks = []
    for (title, author), passages in books.items():
        header = f"{title} ({author})" if author else title
        for index, passage in enumerate(passages):
            text, note = passage if isinstance(passage, tuple) else (passage, None)
            start = 100 + index * 10
            blocks.append(
                f"{header}\n- Your Highlight on Location {start}-{start + 3} | "
                f"Added on Monday, March 4, 2024 10:00:00 AM\n\n{text}\n==========\n"
            )
            if note:
                blocks.append(
                    f"{header}\n- Your Note on Location {start + 3} | "
                    f"Added on Monday, March 4, 2024 10:01:00 AM\n\n{note}\n==========\n"
                )
    return "\ufeff" + "".join(blocks)


def library_of(books: Books) -> Library:
    return parse_upload(kindle_text(books).encode("utf-8"), max_bytes=1 << 30)


@pytest.fixture
def make_library() -> Callable[[Books], Library]:
    """Books as {(title, author): [text or (text, note), ...]} to a parsed, merged Library."""
    return library_of


@pytest.fixture
def kindle_bytes() -> Callable[[Books], bytes]:
    return lambda books: kindle_text(books).encode("utf-8")


def context(settings: Settings, now: datetime = NOW) -> ServiceContext:
    key = settings.ensure_secret_key()
    return ServiceContext(settings=settings, links=Links.from_settings(settings, key), now=now)


@pytest.fixture
def ctx(settings: Settings) -> ServiceContext:
    return context(settings)


@pytest.fixture
def make_ctx(settings: Settings) -> Callable[[datetime], ServiceContext]:
    """A service context at another moment (links expire, windows pass)."""
    return lambda now: context(settings, now)


async def add_subscriber(session: AsyncSession, email: str = "reader@example.org") -> int:
    """A subscriber row as sign-up leaves it (pending, Paris time)."""
    preferences = Preferences.from_form({"timezone": "Europe/Paris"})
    row = await subscriber_repository.create_pending(session, email, preferences, now=NOW)
    return row.id


@pytest.fixture
def new_subscriber() -> Callable[..., Awaitable[int]]:
    return add_subscriber


@pytest.fixture
async def subscriber_id(database: Database) -> int:
    async with database.transaction() as session:
        return await add_subscriber(session)
