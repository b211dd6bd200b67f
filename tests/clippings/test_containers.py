"""Zips and databases read under limits: zip bombs, lying headers, private read-only copies."""

from __future__ import annotations

import io
import sqlite3
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from clippost.clippings import ErrorKind, Limits, SourceFormat, parse
from clippost.clippings.formats.archive import read_zip
from clippost.clippings.formats.base import FormatError
from clippost.clippings.formats.sqlite_copy import open_copy

FIXTURES = Path(__file__).parent / "fixtures"
KINDLE = (FIXTURES / "kindle" / "en_us.txt").read_bytes()
Zipped = Callable[..., bytes]


class TestZipLimits:
    def test_zip_bomb_is_refused_by_ratio(self, zipped: Zipped) -> None:
        """A member that inflates far beyond its compressed size is refused as too large."""
        data = zipped({"My Clippings.txt": b"\x00" * 2_000_000})
        result = parse(data, limits=Limits(max_ratio=50))
        assert (result.error_kind, result.entries) == (ErrorKind.TOO_LARGE, [])
        assert "times its size" in (result.error or "")

    def test_total_size_is_bounded(self, zipped: Zipped) -> None:
        """Members that add up to more than the limit are refused before all are read."""
        members = {f"part{i}.txt": KINDLE for i in range(20)}
        result = parse(zipped(members), limits=Limits(max_total_bytes=len(KINDLE) * 5))
        assert result.error_kind is ErrorKind.TOO_LARGE

    def test_member_count_is_bounded(self, zipped: Zipped) -> None:
        """An archive of more files than the limit is refused without reading them."""
        result = parse(zipped({f"{i}.txt": b"x" for i in range(30)}), limits=Limits(max_members=10))
        assert result.error_kind is ErrorKind.TOO_LARGE

    def test_lying_header_is_not_inflated_past_its_word(self) -> None:
        """A member whose header understates its size is refused, not read to the end."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("a.txt", b"y" * 500_000)
        data = bytearray(buffer.getvalue())
        central = data.rfind(b"PK\x01\x02")
        struct.pack_into("<I", data, 22, 100)  # local header: uncompressed size
        struct.pack_into("<I", data, central + 24, 100)  # central directory: the same
        with pytest.raises(FormatError) as caught:
            read_zip(bytes(data), Limits())
        assert caught.value.kind in (ErrorKind.DAMAGED, ErrorKind.TOO_LARGE)

    def test_damaged_and_encrypted_archives(self, zipped: Zipped) -> None:
        """A broken zip and a password-protected one are refused as damaged."""
        data = zipped({"My Clippings.txt": KINDLE})
        assert parse(data[:40]).error_kind is ErrorKind.DAMAGED
        flagged = bytearray(data)
        for marker in (b"PK\x03\x04", b"PK\x01\x02"):
            at = flagged.find(marker)
            offset = 6 if marker == b"PK\x03\x04" else 8
            flagged[at + offset] |= 0x1
        assert parse(bytes(flagged)).error_kind is ErrorKind.DAMAGED

    def test_pictures_books_and_resource_forks_are_left_unread(self, zipped: Zipped) -> None:
        """Only files that can hold highlights are read; the rest of a folder is skipped."""
        data = zipped(
            {
                "My Clippings.txt": KINDLE,
                "__MACOSX/._My Clippings.txt": b"\x00\x05\x16\x07" + b"\x00" * 50,
                "cover.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 50,
                "book.pdf": b"%PDF-1.7" + b"\x00" * 50,
            }
        )
        result = parse(data)
        assert (result.format, result.error) == (SourceFormat.KINDLE_TXT, None)
        assert len(result.entries) == len(parse(KINDLE).entries)

    def test_members_name_their_problems(self, zipped: Zipped) -> None:
        """A problem inside an archive names the member it is in."""
        broken = b"T (A)\n- Your Highlight | Added on someday\n\nx\n==========\n"
        problems = parse(zipped({"a/My Clippings.txt": broken})).problems
        assert [p.file for p in problems] == ["a/My Clippings.txt"]

    def test_zip_of_nothing_readable(self, zipped: Zipped) -> None:
        """An archive with no highlights file says so."""
        result = parse(zipped({"notes.txt": b"shopping: eggs"}))
        assert result.error_kind is ErrorKind.NOT_HIGHLIGHTS


class TestDatabaseCopy:
    def _database(self, tmp_path: Path) -> bytes:
        path = tmp_path / "source.sqlite"
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE t (x)")
            connection.execute("INSERT INTO t VALUES (1)")
        return path.read_bytes()

    def test_copy_is_private_read_only_and_removed(self, tmp_path: Path) -> None:
        """The copy sits in a directory only we can read, refuses writes, and goes after."""
        with open_copy(self._database(tmp_path), None, Limits()) as connection:
            (path,) = [row[2] for row in connection.execute("PRAGMA database_list")]
            folder = Path(path).parent
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
            assert connection.execute("SELECT x FROM t").fetchall() == [(1,)]
            with pytest.raises(sqlite3.OperationalError):
                connection.execute("INSERT INTO t VALUES (2)")
        assert not folder.exists()

    def test_size_limit(self, tmp_path: Path) -> None:
        """A database beyond the limit is refused before it is written anywhere."""
        with (
            pytest.raises(FormatError) as caught,
            open_copy(self._database(tmp_path), None, Limits(max_database_bytes=100)),
        ):
            pass
        assert caught.value.kind is ErrorKind.TOO_LARGE

    def test_not_a_database_behind_the_magic(self) -> None:
        """Bytes that only start like SQLite are refused as damaged, never crashed on."""
        result = parse(b"SQLite format 3\x00" + b"\xff" * 4000)
        assert result.error_kind in (ErrorKind.DAMAGED, ErrorKind.NOT_HIGHLIGHTS)
