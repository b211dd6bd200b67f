"""Synthetic inputs for the import engine's other formats, for bench/parse.py.

Each builder makes one file of `count` items in the format's real layout (the same the
tests' fixtures follow), with passages of realistic length: what a reader with a large
library would upload. Databases are made with sqlite3 itself, zips with zipfile.
"""

from __future__ import annotations

import csv
import io
import json
import plistlib
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

_PROSE = (
    "the reader kept a lamp by the window and every night the sea brought back another"
    " sentence worth keeping so the notebook grew page by page until the shelf bent"
)
WORDS = _PROSE.split(" ")


def passage(i: int, words: int = 45) -> str:
    """A passage of about 250 characters, different for every `i`."""
    return " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(words)) + f" ({i})."


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def kobo(count: int) -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "KoboReader.sqlite"
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TABLE content (ContentID TEXT, ContentType TEXT, Title TEXT,"
                " Attribution TEXT)"
            )
            db.execute(
                "CREATE TABLE Bookmark (BookmarkID TEXT, VolumeID TEXT, ContentID TEXT, Text TEXT,"
                " Annotation TEXT, DateCreated TEXT, DateModified TEXT, Type TEXT, Hidden TEXT)"
            )
            for book in range(50):
                db.execute(
                    "INSERT INTO content VALUES (?, '6', ?, 'An Author')",
                    (f"v{book}", f"Book {book}"),
                )
            db.executemany(
                "INSERT INTO Bookmark VALUES (?,?,?,?,?,?,?,?,?)", map(_kobo_row, range(count))
            )
        return path.read_bytes()


def _kobo_row(i: int) -> tuple[object, ...]:
    noted = i % 5 == 0
    return (
        f"b{i}",
        f"v{i % 50}",
        f"v{i % 50}#c",
        passage(i),
        "a note" if noted else None,
        "2024-12-15T00:43:25.852",
        "2024-12-15T00:43:25Z",
        "note" if noted else "highlight",
        "true" if i % 20 == 0 else "false",  # a removed highlight's tombstone
    )


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\\n") + '"'


def koreader_sidecar(count: int, title: str = "A Book") -> bytes:
    items = []
    for i in range(count):
        note = f'            ["note"] = {_lua_string("a note")},\n' if i % 5 == 0 else ""
        items.append(
            f"        [{i + 1}] = {{\n"
            f'            ["chapter"] = "Chapter {i // 40}",\n'
            f'            ["datetime"] = "2024-05-01 21:{i // 60 % 60:02d}:{i % 60:02d}",\n'
            f'            ["drawer"] = "lighten",\n{note}'
            f'            ["pageno"] = {i // 3 + 1},\n'
            f'            ["pos0"] = "/body/DocFragment[4]/body/p[{i}]/text().0",\n'
            f'            ["text"] = {_lua_string(passage(i))},\n'
            "        },\n"
        )
    text = (
        "-- /mnt/onboard/book.sdr/metadata.epub.lua\nreturn {\n"
        f'    ["annotations"] = {{\n{"".join(items)}    }},\n'
        f'    ["doc_props"] = {{ ["authors"] = "An Author", ["title"] = "{title}" }},\n}}\n'
    )
    return text.encode()


def koreader_library(count: int) -> bytes:
    per_book = 50
    books = max(count // per_book, 1)
    return _zip(
        {
            f"books/Book {b}.sdr/metadata.epub.lua": koreader_sidecar(per_book, f"Book {b}")
            for b in range(books)
        }
    )


def koreader_json(count: int) -> bytes:
    entries = [
        {"sort": "highlight", "text": passage(i), "page": i // 3 + 1, "chapter": "C",
         "drawer": "lighten", "time": 1714590000 + i, **({"note": "a note"} if i % 5 == 0 else {})}
        for i in range(count)
    ]  # fmt: skip
    document = {
        "version": "json/1.0.0",
        "title": "A Book",
        "author": "An Author",
        "entries": entries,
    }
    return json.dumps(document, indent=4).encode()


def apple_books_mac(count: int) -> bytes:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "AEAnnotation.sqlite"
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA wal_autocheckpoint = 0")
        db.execute(
            "CREATE TABLE ZAEANNOTATION (Z_PK INTEGER PRIMARY KEY, ZANNOTATIONASSETID TEXT,"
            " ZANNOTATIONSELECTEDTEXT TEXT, ZANNOTATIONNOTE TEXT, ZANNOTATIONCREATIONDATE REAL,"
            " ZANNOTATIONTYPE INTEGER, ZANNOTATIONSTYLE INTEGER, ZANNOTATIONDELETED INTEGER)"
        )
        db.executemany(
            "INSERT INTO ZAEANNOTATION (ZANNOTATIONASSETID, ZANNOTATIONSELECTEDTEXT,"
            " ZANNOTATIONNOTE, ZANNOTATIONCREATIONDATE, ZANNOTATIONTYPE, ZANNOTATIONSTYLE,"
            " ZANNOTATIONDELETED) VALUES (?,?,?,?,2,3,0)",
            (
                (f"A{i % 50}", passage(i), "#tag" if i % 5 == 0 else None, 696581611.0 + i)
                for i in range(count)
            ),
        )
        db.commit()
        main, wal = path.read_bytes(), Path(f"{path}-wal").read_bytes()
        db.close()
        library = Path(directory) / "BKLibrary.sqlite"
        with sqlite3.connect(library) as titles:
            titles.execute(
                "CREATE TABLE ZBKLIBRARYASSET (ZASSETID TEXT, ZTITLE TEXT, ZAUTHOR TEXT)"
            )
            titles.executemany(
                "INSERT INTO ZBKLIBRARYASSET VALUES (?, ?, 'An Author')",
                ((f"A{b}", f"Book {b}") for b in range(50)),
            )
        members = {"AEAnnotation.sqlite": main, "AEAnnotation.sqlite-wal": wal}
        members["BKLibrary.sqlite"] = library.read_bytes()
    return _zip(members)


def apple_books_ios(count: int) -> bytes:
    bookmarks = [
        {"annotationAssetID": f"A{i % 50}", "annotationSelectedText": passage(i),
         "annotationCreationDate": 1674888811 + i, "annotationType": 2, "annotationStyle": 3,
         "annotationDeleted": 0}
        for i in range(count)
    ]  # fmt: skip
    books = {
        "Books": [
            {"Name": f"Book {b}", "Artist": "An Author", "Package Hash": f"A{b}"} for b in range(50)
        ]
    }
    sync = {"Bookmark-Container-12202011": {"Bookmarks": bookmarks}}
    return _zip(
        {"com.apple.ibooks-sync.plist": plistlib.dumps(sync), "Books.plist": plistlib.dumps(books)}
    )


def readwise_csv(count: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["Highlight", "Book Title", "Book Author", "Amazon Book ID", "Note", "Color", "Tags",
         "Location Type", "Location", "Highlighted at"]
    )  # fmt: skip
    for i in range(count):
        tags = "favorite" if i % 10 == 0 else "discard" if i % 10 == 1 else ""
        writer.writerow(
            [passage(i), f"Book {i % 50}", "An Author", "", ".h1" if i % 7 == 0 else "", "yellow",
             tags, "location", str(100 + i), "2020-11-26 03:28:15+00:00"]
        )  # fmt: skip
    return out.getvalue().encode()


def kindle_html(count: int) -> bytes:
    parts = ['<html><body><div class="bodyContainer"><div class="bookTitle">A Book</div>',
             '<div class="authors">An Author</div><div class="citation"></div><hr/>']  # fmt: skip
    for i in range(count):
        parts.append(
            f'<div class="noteHeading">Highlight(<span class="highlight_yellow">yellow</span>)'
            f" - Page {i // 3 + 1} · Location {100 + i * 10}</div>"
            f'<div class="noteText">{passage(i)}</div>'
        )
    return ("".join(parts) + "</div></body></html>").encode()


def moon_reader(count: int) -> bytes:
    lines = ["5", "indent:true", "trim:false"]
    for i in range(count):
        lines += ["#", str(i), "A Book", "/sdcard/a.epub", "/sdcard/a.epub", str(i // 40), "0",
                  str(i * 10), "250", "-256", str(1714590000000 + i * 1000), "",
                  "a note" if i % 5 == 0 else "", passage(i), "0", "0", "0"]  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def boox(count: int) -> bytes:
    nbsp = "\u00a0"
    lines = [f"Reading Notes{nbsp}|{nbsp}<<A Book>>An Author"]
    for i in range(count):
        meta = f"2023-04-03 {i // 60 % 24:02d}:{i % 60:02d}{nbsp}{nbsp}|{nbsp}{nbsp}Page No.: {i}"
        note = ["【Note】a note"] if i % 5 == 0 else []
        lines += [meta, passage(i), *note, "-" * 19]
    return ("\n".join(lines) + "\n").encode()


def play_books(count: int) -> bytes:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'

    def para(text: str, *, italic: bool = False, style: str = "") -> str:
        props = '<w:rPr><w:i w:val="1"/></w:rPr>' if italic else ""
        pstyle = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
        return f"<w:p>{pstyle}<w:r>{props}<w:t>{text}</w:t></w:r></w:p>"

    swatch = "<w:tc><w:p><w:r><w:drawing/></w:r></w:p></w:tc>"
    entries = "".join(
        f"<w:tbl><w:tr>{swatch}<w:tc>{para(passage(i), italic=True)}{para('April 25, 2016')}</w:tc>"
        f"<w:tc>{para(str(i // 3 + 1))}</w:tc></w:tr></w:tbl>"
        for i in range(count)
    )
    header = f"<w:tc>{para('A Book', style='Heading1')}{para('An Author')}</w:tc>"
    body = (
        f"<w:tbl><w:tr>{swatch}{header}</w:tr></w:tbl>"
        f"{para('This document is overwritten when you make changes in Play Books.')}"
        f"{para(f'{count} notes/highlights', style='Heading1')}"
        f"<w:tbl><w:tr><w:tc>{entries}</w:tc></w:tr></w:tbl>"
    )
    document = f'<?xml version="1.0"?><w:document {w}><w:body>{body}</w:body></w:document>'
    return _zip({"word/document.xml": document.encode()})


BUILDERS: dict[str, Callable[[int], bytes]] = {
    "kobo-sqlite": kobo,
    "koreader-sidecar": koreader_sidecar,
    "koreader-sdr-zip": koreader_library,
    "koreader-json": koreader_json,
    "apple-books-mac (zip, wal)": apple_books_mac,
    "apple-books-ios (zip)": apple_books_ios,
    "readwise-csv": readwise_csv,
    "kindle-notebook-html": kindle_html,
    "play-books-docx": play_books,
    "moon-reader-mrexpt": moon_reader,
    "boox-txt": boox,
}
