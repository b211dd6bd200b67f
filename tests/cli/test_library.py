"""`clippost import` and `clippost preview`, run through `main()` on a real database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from clippost.cli import main
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.models import Highlight, OutboxMessage
from factories import add_pending_reader, kindle_text

BOOKS = {
    ("Dune", "Frank Herbert"): ["Fear is the mind-killer.", "The spice must flow."],
    ("Emma", "Austen, Jane"): ["Badly done, Emma!"],
}


async def _count(url: str, column: object) -> int:
    db = Database(normalise_database_url(url))
    try:
        async with db.sessions() as session:
            return int(await session.scalar(select(func.count(column))) or 0)
    finally:
        await db.dispose()


async def _seed_reader(url: str) -> None:
    db = Database(normalise_database_url(url))
    try:
        async with db.transaction() as session:
            await add_pending_reader(session, email="reader@example.org")
    finally:
        await db.dispose()


@pytest.fixture
def environment(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Path]:
    monkeypatch.setenv("CLIPPOST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CLIPPOST_DATABASE_URL", database_url)
    monkeypatch.setenv("CLIPPOST_SECRET_KEY", "cli-test-secret-0123456789abcdefghijklmnop")
    asyncio.run(_seed_reader(database_url))
    upload = tmp_path / "My Clippings.txt"
    upload.write_text(kindle_text(BOOKS), encoding="utf-8")
    return database_url, upload


class TestImport:
    def test_import_adds_highlights_once(
        self, environment: tuple[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A file merges into the reader's library; importing it again adds nothing."""
        url, upload = environment
        assert main(["import", "Reader@Example.org", str(upload)]) == 0
        assert "added 3 new highlights from 2 new books" in capsys.readouterr().out
        assert main(["import", "reader@example.org", str(upload)]) == 0
        assert "added 0 new highlights" in capsys.readouterr().out
        assert asyncio.run(_count(url, Highlight.id)) == 3

    def test_unknown_reader_is_refused(
        self, environment: tuple[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An address nobody signed up with exits 2 and stores nothing."""
        url, upload = environment
        assert main(["import", "someone@example.org", str(upload)]) == 2
        assert "No reader with the address someone@example.org" in capsys.readouterr().err
        assert asyncio.run(_count(url, Highlight.id)) == 0

    def test_a_file_that_is_not_highlights_is_refused(
        self, environment: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Binary junk gets the same message a reader would see, and nothing is stored."""
        url, _ = environment
        junk = tmp_path / "photo.jpg"
        junk.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40)
        assert main(["import", "reader@example.org", str(junk)]) == 2
        assert "not a text file" in capsys.readouterr().err
        assert asyncio.run(_count(url, Highlight.id)) == 0

    def test_a_missing_file_is_named(
        self, environment: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A path that does not exist is an error naming it, not a traceback."""
        assert main(["import", "reader@example.org", str(tmp_path / "nope.txt")]) == 2
        assert "No file at" in capsys.readouterr().err


class TestPreview:
    def test_preview_prints_the_next_digest_and_changes_nothing(
        self, environment: tuple[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The digest's subject and highlights are printed; nothing is queued or counted sent."""
        url, upload = environment
        assert main(["import", "reader@example.org", str(upload)]) == 0
        capsys.readouterr()
        assert main(["preview", "reader@example.org"]) == 0
        printed = capsys.readouterr().out
        assert printed.startswith("Subject: ")
        assert sum(text in printed for text in ("mind-killer", "spice", "Badly done")) >= 1
        assert main(["preview", "reader@example.org", "--html"]) == 0
        assert "<html" in capsys.readouterr().out.lower()
        assert asyncio.run(_count(url, OutboxMessage.id)) == 0
        assert asyncio.run(_sent_total(url)) == 0

    def test_preview_of_an_empty_library_says_so(
        self, environment: tuple[str, Path], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A reader with no highlights has nothing to preview (exit 1, a plain sentence)."""
        assert main(["preview", "reader@example.org"]) == 1
        assert "nothing to send" in capsys.readouterr().out


async def _sent_total(url: str) -> int:
    db = Database(normalise_database_url(url))
    try:
        async with db.sessions() as session:
            return int(await session.scalar(select(func.sum(Highlight.times_sent))) or 0)
    finally:
        await db.dispose()
