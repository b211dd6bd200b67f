"""Kobo's KoboReader.sqlite: highlights, notes, dog-ears, tombstones, old firmware, a -wal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from clippost.clippings import ErrorKind, Kind, ProblemKind, SourceFormat, parse

DB = Callable[..., tuple[bytes, bytes | None]]
DUNE = "file:///mnt/onboard/Herbert, Frank/Dune - Frank Herbert.epub"
STORE = "5a1e2b6c-0000-4000-8000-000000000001"
BOOKS = {DUNE: ("Dune", "Frank Herbert"), STORE: ("Walden", "Henry David Thoreau")}
ROWS = [
    (DUNE, "Fear is the mind-killer.", None, "2024-12-15T00:43:25.852", "highlight", "false"),
    (DUNE, "The spice must flow.", "a motto", "2024-12-15T00:44:00.000", "note", "false"),
    (DUNE, None, None, "2024-12-15T00:45:00.000", "dogear", "false"),
    (DUNE, "removed passage", None, "2024-12-15T00:46:00.000", "highlight", "true"),
    (STORE, "I went to the woods.", "", "2024-12-16T10:00:00.000", "highlight", "false"),
]


class TestKoboDatabase:
    def test_kinds_notes_and_tombstones(self, kobo_db: DB) -> None:
        """Highlights, a highlight with its note, a dog-ear; Hidden rows are left out."""
        data, _ = kobo_db(BOOKS, ROWS)
        result = parse(data)
        assert result.format is SourceFormat.KOBO
        assert [(e.kind, e.content, e.note) for e in result.entries] == [
            (Kind.HIGHLIGHT, "Fear is the mind-killer.", None),
            (Kind.HIGHLIGHT, "The spice must flow.", "a motto"),
            (Kind.BOOKMARK, "", None),
            (Kind.HIGHLIGHT, "I went to the woods.", None),
        ]
        assert result.problems == []

    def test_titles_authors_and_times(self, kobo_db: DB) -> None:
        """Title and author come from the book's content row; times are kept as written (UTC)."""
        entries = parse(kobo_db(BOOKS, ROWS)[0]).entries
        assert (entries[0].title, entries[0].author) == ("Dune", "Frank Herbert")
        assert (entries[3].title, entries[3].author) == ("Walden", "Henry David Thoreau")
        assert entries[0].added_at == datetime(2024, 12, 15, 0, 43, 25)

    def test_old_firmware_without_type(self, kobo_db: DB) -> None:
        """Without a Type column, a row without text is a bookmark and others highlights."""
        rows = [(DUNE, "A passage.", None, "2012-01-01T10:00:00", None, None)]
        rows.append((DUNE, None, None, "2012-01-01T11:00:00", None, None))
        entries = parse(kobo_db(BOOKS, rows, old_firmware=True)[0]).entries
        assert [e.kind for e in entries] == [Kind.HIGHLIGHT, Kind.BOOKMARK]

    def test_missing_content_row_falls_back_to_the_file_name(self, kobo_db: DB) -> None:
        """A sideloaded book without its content row is titled from its file name."""
        entries = parse(kobo_db({}, ROWS[:1])[0]).entries
        assert (entries[0].title, entries[0].author) == ("Dune - Frank Herbert", None)

    def test_store_book_without_content_row_is_reported(self, kobo_db: DB) -> None:
        """A store book's bare id names nothing: a placeholder title, and a TITLE problem."""
        result = parse(kobo_db({}, [ROWS[4]])[0])
        assert result.entries[0].title == "Unknown book"
        assert [(p.kind, p.text) for p in result.problems] == [(ProblemKind.TITLE, STORE)]

    def test_rows_in_the_wal_are_read(self, kobo_db: DB, zipped: Callable[..., bytes]) -> None:
        """A database uploaded with its -wal (zipped) shows the rows still in the WAL."""
        main, wal = kobo_db(BOOKS, ROWS, wal_rows=2)
        assert wal is not None
        alone = [e.content for e in parse(main).entries]
        together = parse(zipped({"KoboReader.sqlite": main, "KoboReader.sqlite-wal": wal}))
        assert together.format is SourceFormat.KOBO
        assert "I went to the woods." not in alone
        assert [e.content for e in together.entries] == [*alone, "I went to the woods."]

    def test_unreadable_date_is_reported(self, kobo_db: DB) -> None:
        """A DateCreated that is not a time is a DATE problem; the highlight is kept."""
        rows = [(DUNE, "A passage.", None, "last Tuesday", "highlight", "false")]
        result = parse(kobo_db(BOOKS, rows)[0])
        assert [e.added_at for e in result.entries] == [None]
        assert [(p.kind, p.text) for p in result.problems] == [(ProblemKind.DATE, "last Tuesday")]

    def test_empty_highlight_does_not_crash(self, kobo_db: DB) -> None:
        """A highlight row with empty text is kept as an empty highlight (merge drops it)."""
        rows = [(DUNE, "", None, "2024-12-15T00:43:25", "highlight", "false")]
        assert [e.content for e in parse(kobo_db(BOOKS, rows)[0]).entries] == [""]


class TestOtherDatabases:
    def test_database_of_another_app(self, tmp_path: object) -> None:
        """A SQLite file of another app is refused with a sentence saying what we read."""
        import sqlite3
        from pathlib import Path

        path = Path(str(tmp_path)) / "other.sqlite"
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE recipes (name TEXT)")
        result = parse(path.read_bytes())
        assert result.error_kind is ErrorKind.NOT_HIGHLIGHTS
        assert "KoboReader.sqlite" in (result.error or "")

    def test_damaged_database(self, kobo_db: DB) -> None:
        """A database cut short is refused as damaged, not crashed on."""
        data, _ = kobo_db(BOOKS, ROWS)
        result = parse(data[: len(data) // 2 + 100])
        assert result.error_kind in (ErrorKind.DAMAGED, ErrorKind.NOT_HIGHLIGHTS)
        assert result.entries == []
