"""Builders of the binary fixtures: real SQLite databases (with their -wal), zips, .docx
documents and plists, made by the libraries that make them for real, in a temporary
folder. Text fixtures are files under fixtures/."""

from __future__ import annotations

import io
import plistlib
import sqlite3
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def sqlite_bytes(
    directory: Path, statements: Iterable[tuple[str, Sequence[Any]]], *, wal: bool = False
) -> tuple[bytes, bytes | None]:
    """(database, -wal) after running `statements`; with `wal`, the last writes stay in
    the -wal file, as on a device that was not shut down (read before the last close)."""
    path = directory / f"db{len(list(directory.iterdir()))}.sqlite"
    connection = sqlite3.connect(path)
    if wal:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA wal_autocheckpoint = 0")
    for sql, params in statements:
        connection.execute(sql, params)
    connection.commit()
    main = path.read_bytes()
    wal_path = Path(f"{path}-wal")
    side = wal_path.read_bytes() if wal and wal_path.exists() else None
    connection.close()
    return main, side


KOBO_SCHEMA = (
    "CREATE TABLE content (ContentID TEXT NOT NULL, ContentType TEXT NOT NULL, Title TEXT,"
    " Attribution TEXT, PRIMARY KEY (ContentID, ContentType))"
)
KOBO_BOOKMARK = (
    "CREATE TABLE Bookmark (BookmarkID TEXT PRIMARY KEY, VolumeID TEXT, ContentID TEXT,"
    " Text TEXT, Annotation TEXT, DateCreated TEXT, DateModified TEXT, ChapterProgress REAL"
    "{extra})"
)


@pytest.fixture
def kobo_db(tmp_path: Path) -> Callable[..., tuple[bytes, bytes | None]]:
    """A KoboReader.sqlite: `books` {volume: (title, author)}, `rows` of (volume, text,
    annotation, created, type, hidden); old firmware has no Type (and no Hidden)."""

    def build(
        books: dict[str, tuple[str, str | None]],
        rows: list[tuple[str, str | None, str | None, str, str | None, str | None]],
        *,
        old_firmware: bool = False,
        wal_rows: int = 0,
    ) -> tuple[bytes, bytes | None]:
        extra = "" if old_firmware else ", Type TEXT, Hidden TEXT"
        statements: list[tuple[str, Sequence[Any]]] = [
            (KOBO_SCHEMA, ()),
            (KOBO_BOOKMARK.format(extra=extra), ()),
        ]
        for volume, (title, author) in books.items():
            statements.append(
                ("INSERT INTO content VALUES (?, '6', ?, ?)", (volume, title, author))
            )
            statements.append(
                ("INSERT INTO content VALUES (?, '9', 'chapter', NULL)", (volume + "#(1)c.html",))
            )
        for index, (volume, text, note, created, kind, hidden) in enumerate(rows):
            values: tuple[Any, ...] = (
                f"b{index}",
                volume,
                volume,
                text,
                note,
                created,
                created,
                0.5,
            )
            if old_firmware:
                statements.append(("INSERT INTO Bookmark VALUES (?,?,?,?,?,?,?,?)", values))
            else:
                statements.append(
                    ("INSERT INTO Bookmark VALUES (?,?,?,?,?,?,?,?,?,?)", (*values, kind, hidden))
                )
        if not wal_rows:
            return sqlite_bytes(tmp_path, statements)
        # The last `wal_rows` rows are written after the WAL is switched on.
        head, tail = statements[: len(statements) - wal_rows], statements[-wal_rows:]
        main, _ = sqlite_bytes(tmp_path, head)
        return _append_in_wal(tmp_path, main, tail)

    return build


def _append_in_wal(
    directory: Path, main: bytes, statements: list[tuple[str, Sequence[Any]]]
) -> tuple[bytes, bytes | None]:
    path = directory / "appended.sqlite"
    path.write_bytes(main)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA wal_autocheckpoint = 0")
    for sql, params in statements:
        connection.execute(sql, params)
    connection.commit()
    data, wal = path.read_bytes(), Path(f"{path}-wal").read_bytes()
    connection.close()
    return data, wal


AE_SCHEMA = (
    "CREATE TABLE ZAEANNOTATION (Z_PK INTEGER PRIMARY KEY, ZANNOTATIONASSETID VARCHAR,"
    " ZANNOTATIONSELECTEDTEXT VARCHAR, ZANNOTATIONNOTE VARCHAR,"
    " ZANNOTATIONREPRESENTATIVETEXT VARCHAR, ZANNOTATIONLOCATION VARCHAR,"
    " ZFUTUREPROOFING5 VARCHAR, ZANNOTATIONSTYLE INTEGER, ZANNOTATIONTYPE INTEGER,"
    " ZANNOTATIONDELETED INTEGER, ZANNOTATIONCREATIONDATE TIMESTAMP)"
)
BK_SCHEMA = (
    "CREATE TABLE ZBKLIBRARYASSET (Z_PK INTEGER PRIMARY KEY, ZASSETID VARCHAR, ZTITLE VARCHAR,"
    " ZAUTHOR VARCHAR)"
)


@pytest.fixture
def apple_dbs(tmp_path: Path) -> Callable[..., dict[str, bytes]]:
    """The Mac's AEAnnotation and BKLibrary databases as zip members: `annotations` rows of
    (asset, text, note, core-data seconds, type, style, deleted); all but the first row
    written into the -wal file, as Apple Books leaves them while it runs."""

    def build(
        books: dict[str, tuple[str, str]],
        annotations: list[tuple[str, str | None, str | None, float, int, int, int]],
    ) -> dict[str, bytes]:
        insert = (
            "INSERT INTO ZAEANNOTATION (ZANNOTATIONASSETID, ZANNOTATIONSELECTEDTEXT,"
            " ZANNOTATIONNOTE, ZANNOTATIONCREATIONDATE, ZANNOTATIONTYPE, ZANNOTATIONSTYLE,"
            " ZANNOTATIONDELETED) VALUES (?,?,?,?,?,?,?)"
        )
        first, rest = annotations[:1], annotations[1:]
        main, _ = sqlite_bytes(tmp_path, [(AE_SCHEMA, ()), *((insert, row) for row in first)])
        wal = None
        if rest:
            main, wal = _append_in_wal(tmp_path, main, [(insert, row) for row in rest])
        library, _ = sqlite_bytes(
            tmp_path,
            [
                (BK_SCHEMA, ()),
                *(
                    (
                        "INSERT INTO ZBKLIBRARYASSET (ZASSETID, ZTITLE, ZAUTHOR) VALUES (?,?,?)",
                        (a, t, w),
                    )
                    for a, (t, w) in books.items()
                ),
            ],
        )
        name = "AEAnnotation/AEAnnotation_v10312011_1727_local.sqlite"
        members = {name: main, "BKLibrary/BKLibrary-1-091020131601.sqlite": library}
        if wal:
            members[f"{name}-wal"] = wal
        return members

    return build


def zip_of(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def zipped() -> Callable[..., bytes]:
    return zip_of


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _run(text: str, *, italic: bool = False, fill: str | None = None) -> str:
    props = ('<w:i w:val="1"/>' if italic else "") + (
        f'<w:shd w:fill="{fill}" w:val="clear"/>' if fill else ""
    )
    return f'<w:r><w:rPr>{props}</w:rPr><w:t xml:space="preserve">{text}</w:t></w:r>'


def _paragraph(text: str = "", *, style: str | None = None, **run: Any) -> str:
    style_xml = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{style_xml}{_run(text, **run) if text else ''}</w:p>"


def _cell(*paragraphs: str) -> str:
    return "<w:tc>" + "".join(paragraphs) + "</w:tc>"


def playbooks_docx(
    title: str,
    author: str,
    chapters: list[tuple[str, list[tuple[str, str | None, str, str]]]],
    *,
    declared: int | None = None,
) -> bytes:
    """A Play Books notes document: `chapters` of (heading, entries of (quote, note, date,
    page)); an empty quote is a bookmark. `declared` overrides the count it states."""
    count = declared or sum(len(entries) for _, entries in chapters)
    swatch = '<w:r><w:drawing><a:blip xmlns:a="a" r:embed="rId7"/></w:drawing></w:r>'
    body = [
        "<w:tbl><w:tr>"
        + _cell("<w:p>" + swatch + "</w:p>")
        + _cell(_paragraph(title, style="Heading1"), _paragraph(author), _paragraph("Publisher"))
        + "</w:tr></w:tbl>",
        "<w:tbl><w:tr>"
        + _cell(_paragraph("This document is overwritten when you make changes in Play Books."))
        + "</w:tr></w:tbl>",
        _paragraph(f"{count} notes/highlights", style="Heading1"),
        _paragraph("Created by Reader – Last synced April 28, 2016"),
    ]
    for heading, entries in chapters:
        body.append(_paragraph(heading, style="Heading2"))
        inner = []
        for quote, note, day, page in entries:
            text = [_paragraph(quote, italic=True, fill="fde096")] if quote else []
            if note:
                text.append(_paragraph(note))
            text.append(_paragraph(day))
            inner.append(
                "<w:tbl><w:tr>"
                + _cell("<w:p>" + swatch + "</w:p>")
                + _cell(*text)
                + _cell(_paragraph(page))
                + "</w:tr></w:tbl>"
            )
        body.append("<w:tbl><w:tr>" + _cell(*inner) + "</w:tr></w:tbl>")
    document = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f"<w:body>{''.join(body)}</w:body></w:document>"
    )
    return zip_of(
        {
            "[Content_Types].xml": b"<Types/>",
            "word/document.xml": document.encode(),
            "word/media/image7.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        }
    )


@pytest.fixture
def docx() -> Callable[..., bytes]:
    return playbooks_docx


@pytest.fixture
def plist() -> Callable[..., bytes]:
    def build(document: Any, *, binary: bool = False) -> bytes:
        return plistlib.dumps(document, fmt=plistlib.FMT_BINARY if binary else plistlib.FMT_XML)

    return build
