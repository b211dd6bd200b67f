"""Keyword-only builders for what tests make again and again: settings, service contexts,
readers in each state, libraries, pending imports, outbox rows, transports built by hand.

Imported as `factories` (pytest puts tests/ on the path). Each builder writes through the
real code or the real schema; nothing here is a mock.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clippost.addresses import address_hash
from clippost.clippings.models import Library
from clippost.config import Settings
from clippost.context import ServiceContext
from clippost.db.engine import Database
from clippost.library.upload import parse_upload
from clippost.links import Links
from clippost.models import (
    Book,
    Highlight,
    OutboxMessage,
    RotationEntry,
    Subscriber,
    Suppression,
)
from clippost.outbox.repository import enqueue
from clippost.subscriptions import repository as subscribers
from clippost.subscriptions.preferences import Preferences

# The moment service tests run at unless they say otherwise (a Monday).
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"

# Settings, links, contexts ------------------------------------------------------------------


def make_settings(*, data_dir: Path, database_url: str, **overrides: object) -> Settings:
    """Settings for a test: its own data folder and database, a fixed key, no .env file."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "base_url": "http://testserver",
        "secret_key": TEST_SECRET,
        "mail_from": "news@clippost.test",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def links_for(settings: Settings) -> Links:
    """The links a runtime opened on `settings` would build."""
    return Links.from_settings(settings, settings.ensure_secret_key())


def service_context(settings: Settings, *, now: datetime = NOW) -> ServiceContext:
    """What `Runtime.context(now)` gives a service call, without opening a runtime."""
    return ServiceContext(
        settings=settings, links=links_for(settings), now=now, mail_domain=settings.mail_domain
    )


# Libraries ------------------------------------------------------------------------------------

# {(title, author): [text, or (text, note), ...]}
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


def make_library(books: Books) -> Library:
    """`books` parsed and merged by the real import engine."""
    return parse_upload(kindle_text(books).encode("utf-8"), max_bytes=1 << 30)


# Readers --------------------------------------------------------------------------------------


async def add_pending_reader(
    session: AsyncSession, *, email: str = "reader@example.org", timezone: str = "Europe/Paris"
) -> int:
    """A subscriber row as sign-up leaves it (pending, nothing confirmed), through the
    repository; returns its id."""
    preferences = Preferences.from_form({"timezone": timezone})
    row = await subscribers.create_pending(session, email, preferences, now=NOW)
    return row.id


async def add_reader(
    db: Database,
    *,
    email: str = "reader@example.org",
    status: str = "confirmed",
    cadence: str = "daily",
    hour: int = 7,
    timezone: str = "Europe/Paris",
    per_email: int = 3,
    next_slot_at: datetime | None,
    paused_until: date | None = None,
    highlights: int = 6,
) -> int:
    """A reader in `status` with a library of two books sharing `highlights` highlights
    (their text carries markup, which templates must escape); returns the reader's id."""
    async with db.transaction() as session:
        reader = Subscriber(
            email=email,
            status=status,
            cadence=cadence,
            hour=hour,
            timezone=timezone,
            per_email=per_email,
            next_slot_at=next_slot_at,
            paused_until=paused_until,
        )
        session.add(reader)
        await session.flush()
        books = [
            Book(subscriber_id=reader.id, identity=f"b{n}", title=f"Book {n}", author="Author")
            for n in range(2)
        ]
        session.add_all(books)
        await session.flush()
        session.add_all(
            Highlight(
                subscriber_id=reader.id,
                book_id=books[n % 2].id,
                identity=f"h{n}",
                text=f"Highlight number {n}, set in <b>bold</b> type",
                location_start=10 * n,
            )
            for n in range(highlights)
        )
        return reader.id


async def add_pending_import(
    db: Database, *, subscriber_id: int, payload: bytes = b"x", now: datetime = NOW
) -> int:
    """A pending import for the reader, beside any earlier one; returns its id."""
    async with db.transaction() as session:
        return await subscribers.add_pending_import(
            session,
            subscriber_id,
            payload=payload,
            book_count=0,
            highlight_count=0,
            now=now,
            expires_at=now + timedelta(hours=1),
        )


# Outbox rows and suppressions -----------------------------------------------------------------


async def queue_messages(
    db: Database,
    *,
    count: int = 1,
    kind: str = "digest",
    recipient: str = "reader{i}@example.org",
    requested: bool = False,
    due_at: datetime,
    prefix: str = "k",
    payload: dict[str, Any] | None = None,
    domain: str = "clippost.test",
) -> None:
    """`count` outbox rows through `enqueue`, keyed `{prefix}{i}`, to `recipient` formatted
    with `i`; the payload defaults to `{"n": i}`."""
    async with db.transaction() as session:
        for i in range(count):
            await enqueue(
                session,
                kind=kind,
                recipient=recipient.format(i=i),
                idempotency_key=f"{prefix}{i}",
                payload={"n": i} if payload is None else payload,
                due_at=due_at,
                domain=domain,
                requested=requested,
            )


async def outbox_rows(db: Database) -> list[OutboxMessage]:
    """Every outbox row, in insertion order."""
    async with db.sessions() as session:
        found = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(found.all())


async def add_suppression(db: Database, *, email: str, reason: str) -> None:
    """A suppression row for `email`, as if the address had bounced or left."""
    async with db.transaction() as session:
        session.add(Suppression(address_hash=address_hash(email), reason=reason))


# Transports built by hand ---------------------------------------------------------------------

# What a transport built by hand takes from Settings besides its own prefix.
_HTTP_TIMEOUT = ("ses_", "postmark_", "sendgrid_")
# Settings with a transport's prefix that are not its options: the provider's webhooks.
_RECEIVING = frozenset(
    {
        "ses_sns_topic_arns",
        "postmark_webhook_username",
        "postmark_webhook_password",
        "sendgrid_webhook_public_key",
        "sendgrid_webhook_tolerance_seconds",
    }
)


def transport_options(prefix: str, **overrides: Any) -> dict[str, Any]:
    """Settings' own defaults for one transport's constructor (`smtp_pool_size` becomes
    `pool_size`), with `overrides`: transports take no defaults of their own."""
    options: dict[str, Any] = {
        name.removeprefix(prefix): field.default
        for name, field in Settings.model_fields.items()
        if name.startswith(prefix) and name not in _RECEIVING
    }
    if prefix in _HTTP_TIMEOUT:
        options["timeout"] = Settings.model_fields["http_timeout"].default
    options.update(overrides)
    return options


def child_script(script: str, *args: str) -> subprocess.Popen[str]:
    """`script` run by this Python with `args`, the tests folder importable, its stdout
    piped (the script says where it is, a line at a time)."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
    )


async def next_line(child: subprocess.Popen[str]) -> str:
    """The child's next line of output, read without blocking the event loop."""
    assert child.stdout is not None
    return (await asyncio.to_thread(child.stdout.readline)).strip()


async def record_sends(
    session: AsyncSession, highlight_ids: Sequence[int], times: int, *, at: datetime = NOW
) -> None:
    """These highlights sent `times` times, the last at `at`, as the planner records it: on
    their rotation rows (models/rotation.py), made as the layout makes them where missing."""
    placed = set(
        await session.scalars(
            select(RotationEntry.highlight_id).where(RotationEntry.highlight_id.in_(highlight_ids))
        )
    )
    if placed:
        await session.execute(
            update(RotationEntry)
            .where(RotationEntry.highlight_id.in_(placed))
            .values(times_sent=times, last_sent_at=at)
        )
    missing = [i for i in highlight_ids if i not in placed]
    for highlight in await session.scalars(select(Highlight).where(Highlight.id.in_(missing))):
        session.add(
            RotationEntry(
                highlight_id=highlight.id,
                subscriber_id=highlight.subscriber_id,
                book_id=highlight.book_id,
                weight=1.0,
                favourite=highlight.favourite,
                highlighted_at=highlight.highlighted_at,
                in_rotation=False,
                times_sent=times,
                last_sent_at=at,
            )
        )
    await session.flush()
