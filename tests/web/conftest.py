"""The web app on a real database (SQLite file and PostgreSQL), driven through ASGI.

`web` gives a reader's browser: an httpx client with a cookie jar, running the app's
lifespan, plus helpers that read what the app stored (the outbox is where emails are).
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

import factories
from clippost.app import create_app
from clippost.bounces.sns import SnsFetcher
from clippost.config import Settings
from clippost.db.engine import Database
from clippost.links import Purpose
from clippost.models import (
    Book,
    Highlight,
    ImportProgress,
    OutboxMessage,
    PendingImport,
    Subscriber,
    Suppression,
)

COUNTED_TABLES = (Subscriber, Book, Highlight, PendingImport, OutboxMessage, Suppression)
CSRF_INPUT = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
CLIENT_ADDRESS = ("203.0.113.7", 40000)
# The TLS context of every app's SNS fetcher, loaded once per test process: the default one
# (certifi's roots, what `SnsFetcher()` loads) costs 25-40 ms, which each app start paid
# again. The same roots and checks (`httpx.create_ssl_context()` is what httpx makes of
# verify=True); only the loading is shared.
sns_tls = functools.cache(httpx.create_ssl_context)


def clippings_file(*books: tuple[str, str, list[str]]) -> bytes:
    """A My Clippings.txt as a Kindle writes it (CRLF, English device), one entry per text."""
    entries = []
    location = 100
    for title, author, texts in books:
        for text in texts:
            entries.append(
                f"{title} ({author})\r\n- Your Highlight on page 3 | Location {location}-"
                f"{location + 2} | Added on Monday, 2 January 2023 10:00:00\r\n\r\n{text}\r\n"
                "==========\r\n"
            )
            location += 10
    return "".join(entries).encode()


def many_books(books: int, per_book: int, *, line: str = "Passage {b}-{n}.") -> bytes:
    """A file of `books` books by as many authors, `per_book` highlights each, made from
    `line` (formatted with the book's number `b` and the highlight's `n`)."""
    return clippings_file(
        *(
            (f"Book {b}", f"Author {b}", [line.format(b=b, n=n) for n in range(per_book)])
            for b in range(books)
        )
    )


SAMPLE = clippings_file(
    (
        "Meditations",
        "Marcus Aurelius",
        ["The impediment to action advances action.", "Waste no more time arguing."],
    ),
    (
        "Walden",
        "Henry David Thoreau",
        ["I went to the woods because I wished to live deliberately."],
    ),
)


@dataclass
class Web:
    """One browser (cookie jar) on one app, and a view of what the app stored."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    # Test modules reach the shared helpers through the fixture (no conftest imports).
    sample: ClassVar[bytes] = SAMPLE
    clippings_file = staticmethod(clippings_file)
    many_books = staticmethod(many_books)
    default_preferences = staticmethod(lambda: default_preferences())

    @property
    def db(self) -> Database:
        database: Database = self.app.state.runtime.db
        return database

    async def csrf(self, path: str = "/") -> str:
        page = await self.client.get(path)
        found = CSRF_INPUT.search(page.text)
        assert found, f"no CSRF token on {path}"
        return found.group(1)

    async def post_form(
        self, path: str, data: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        token = await self.csrf(kw.pop("csrf_from", "/"))
        return await self.client.post(path, data={"csrf_token": token, **(data or {})}, **kw)

    async def sign_up(
        self,
        email: str,
        content: bytes = SAMPLE,
        filename: str = "My Clippings.txt",
        headers: dict[str, str] | None = None,
        **prefs: str,
    ) -> httpx.Response:
        form = {"email": email, **default_preferences(), **prefs}
        files = {"file": (filename, content, "text/plain")}
        return await self.post_form("/signup", form, files=files, headers=headers)

    def link(
        self, purpose: Purpose, subject: int, *, now: datetime | None = None, extra: str = ""
    ) -> str:
        """A signed link of the app's, as a path (`now` in the past makes an expired one)."""
        url = self.app.state.runtime.links.url(
            purpose, subject, now=now or datetime.now(UTC), extra=extra
        )
        return str(url).removeprefix(self.settings.base_url)

    async def import_progress(self) -> ImportProgress:
        """How far the latest pending import's merge has come."""
        async with self.db.read() as session:
            latest = select(PendingImport.id).order_by(PendingImport.id.desc()).limit(1)
            found = await session.scalar(
                select(ImportProgress).where(
                    ImportProgress.pending_import_id == latest.scalar_subquery()
                )
            )
            assert found is not None
            return found

    async def subscriber_id(self, email: str) -> int:
        subscriber = await self.subscriber(email)
        assert subscriber is not None, email
        return subscriber.id

    async def outbox(self, kind: str | None = None) -> list[OutboxMessage]:
        async with self.db.transaction() as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if kind is not None:
                query = query.where(OutboxMessage.kind == kind)
            return list((await session.scalars(query)).all())

    async def last_link(self, kind: str, field: str) -> str:
        messages = await self.outbox(kind)
        assert messages, f"no {kind} email in the outbox"
        url: str = messages[-1].payload[field]
        return url.removeprefix(self.settings.base_url)

    async def counts(self) -> dict[str, int]:
        async with self.db.transaction() as session:
            return {
                table.__tablename__: int(
                    await session.scalar(select(func.count()).select_from(table)) or 0
                )
                for table in COUNTED_TABLES
            }

    async def subscriber(self, email: str) -> Subscriber | None:
        async with self.db.transaction() as session:
            found: Subscriber | None = await session.scalar(
                select(Subscriber).where(Subscriber.email == email)
            )
            return found

    async def confirmed_reader(
        self, email: str = "reader@example.org", content: bytes = SAMPLE
    ) -> None:
        """Sign up and confirm through the pages, as a reader would."""
        await self.sign_up(email, content)
        link = await self.last_link("confirm", "confirm_url")
        response = await self.post_form(link, csrf_from=link)
        assert response.status_code == 200, response.text

    async def manage_link(self, email: str = "reader@example.org") -> str:
        await self.post_form("/manage", {"email": email}, csrf_from="/manage")
        return await self.last_link("magic_link", "manage_url")


def default_preferences() -> dict[str, str]:
    return {
        "cadence": "weekly",
        "hour": "7",
        "weekday": "0",
        "day_of_month": "1",
        "timezone": "Europe/Paris",
        "per_email": "3",
    }


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    """Rate limits out of the way; tests of the limits set their own."""
    return settings.model_copy(
        update={
            "signups_per_client_per_hour": 100_000,
            "emails_per_address_per_hour": 100_000,
            "page_loads_per_client_per_minute": 100_000,
        }
    )


@pytest.fixture
async def web(web_settings: Settings) -> AsyncIterator[Web]:
    async with open_web(web_settings) as opened:
        yield opened


@pytest.fixture
async def sqlite_web(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Web]:
    """`web` on SQLite alone, for tests whose subject is a page, not the database (a test
    class makes it its `web` with a one-line fixture of its own)."""
    settings = factories.make_settings(
        data_dir=tmp_path / "data",
        database_url=sqlite_url,
        signups_per_client_per_hour=100_000,
        emails_per_address_per_hour=100_000,
        page_loads_per_client_per_minute=100_000,
    )
    async with open_web(settings) as opened:
        yield opened


class open_web:
    """The app with its lifespan running, and a fresh browser on it."""

    def __init__(
        self, settings: Settings, *, with_worker: bool = False, bound_host: str | None = None
    ) -> None:
        self.settings = settings
        self.app = create_app(
            settings,
            with_worker=with_worker,
            bound_host=bound_host,
            sns_fetcher=SnsFetcher(verify=sns_tls()),
        )

    async def __aenter__(self) -> Web:
        self._lifespan = self.app.router.lifespan_context(self.app)
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.app, client=CLIENT_ADDRESS)
        self._client = httpx.AsyncClient(transport=transport, base_url=self.settings.base_url)
        return Web(self.app, self._client, self.settings)

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._lifespan.__aexit__(None, None, None)


@pytest.fixture
def web_app() -> type[open_web]:
    """Open another app (other settings) inside a test: `async with web_app(s) as web`."""
    return open_web
