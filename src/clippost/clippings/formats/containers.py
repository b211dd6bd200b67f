"""The binary uploads: a SQLite database, a property list, or a zip of files.

A zip is read as a bundle: a `.docx` is Play Books; otherwise each member is recognised
from its content like any upload, except that files which only make sense together are
read together: a database with its `-wal` beside it (same name plus "-wal"), Apple Books'
annotations with the library that titles them (databases on a Mac, plists on iOS); a
KOReader sidecar's `.old` backup is skipped when the sidecar itself is there.
Entries of every member are numbered in one sequence; problems name their member.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from clippost.clippings.decoding import decode
from clippost.clippings.formats import applebooks, applebooks_plist
from clippost.clippings.formats.applebooks import Annotation
from clippost.clippings.formats.archive import Member, is_zip, member_names, read_one, read_zip
from clippost.clippings.formats.base import Context, FormatError
from clippost.clippings.formats.kobo import is_kobo, read_kobo
from clippost.clippings.formats.playbooks import DOCUMENT, is_playbooks, parse_playbooks
from clippost.clippings.formats.sqlite_copy import is_sqlite_file, open_copy, tables
from clippost.clippings.models import ErrorKind, ParseResult, Problem, RawEntry, SourceFormat

TextReader = Callable[[bytes, Context], ParseResult]

_OTHER_DATABASE = (
    "This is a SQLite database, but not one we read: upload KoboReader.sqlite from a Kobo, "
    "or Apple Books' AEAnnotation database (zipped with its -wal file)."
)
_LIBRARY_ONLY = (
    "This is Apple Books' library, which holds titles but no highlights: zip it together "
    "with the AEAnnotation database (and its -wal file) and upload the zip."
)
_NOTHING_IN_ZIP = "This zip archive holds no file with highlights that we can read."


def parse_database(data: bytes, context: Context) -> ParseResult:
    """A Kobo or Apple Books database uploaded alone."""
    found = _database(data, None, context)
    if isinstance(found, ParseResult):
        return found
    if found[0] == "library":
        raise FormatError(_LIBRARY_ONLY, ErrorKind.NOT_HIGHLIGHTS)
    entries, problems = applebooks.entries_from(found[1], {})
    return ParseResult(SourceFormat.APPLE_BOOKS, entries, problems)


def parse_plist(data: bytes) -> ParseResult:
    """An iOS sync plist uploaded alone (its titles are in Books.plist, not here)."""
    document = applebooks_plist.load(data)
    found = applebooks_plist.annotations_of(document)
    if found is None:
        if applebooks_plist.books_of(document) is not None:
            raise FormatError(
                _LIBRARY_ONLY.replace("library", "Books.plist"), ErrorKind.NOT_HIGHLIGHTS
            )
        raise FormatError(
            "This property list holds no Apple Books highlights.", ErrorKind.NOT_HIGHLIGHTS
        )
    entries, problems = applebooks.entries_from(found, {})
    return ParseResult(SourceFormat.APPLE_BOOKS_PLIST, entries, problems)


def parse_zip(data: bytes, context: Context, read_text: TextReader) -> ParseResult:
    """Every member of the zip that holds highlights, read together (see the module)."""
    if DOCUMENT in member_names(data):
        return _docx(data, context)
    members = read_zip(data, context.limits)
    bundle = _Bundle(context, read_text)
    for member in members:
        bundle.add(member, members)
    return bundle.result()


def _docx(data: bytes, context: Context) -> ParseResult:
    xml = read_one(data, DOCUMENT, context.limits)
    if not is_playbooks(xml):
        raise FormatError(
            "This Word document is not a Play Books notes document.", ErrorKind.NOT_HIGHLIGHTS
        )
    entries, problems = parse_playbooks(xml)
    return ParseResult(SourceFormat.PLAY_BOOKS, entries, problems)


def _database(main: bytes, wal: bytes | None, context: Context) -> ParseResult | tuple[str, Any]:
    """A Kobo database read at once; Apple's annotations or library, to be joined."""
    with open_copy(main, wal, context.limits) as connection:
        found = tables(connection)
        if is_kobo(found):
            entries, problems = read_kobo(connection, found)
            return ParseResult(SourceFormat.KOBO, entries, problems)
        if applebooks.is_annotation_db(found):
            return "annotations", applebooks.annotations_from_db(connection)
        if applebooks.is_library_db(found):
            return "library", applebooks.books_from_db(connection)
    raise FormatError(_OTHER_DATABASE, ErrorKind.NOT_HIGHLIGHTS)


class _Bundle:
    """What the members of one zip add up to."""

    def __init__(self, context: Context, read_text: TextReader) -> None:
        self._context = context
        self._read_text = read_text
        self._results: list[tuple[str, ParseResult]] = []
        self._annotations: list[tuple[str, SourceFormat, list[Annotation]]] = []
        self._books: dict[str, tuple[str | None, str | None]] = {}
        self._errors: list[FormatError] = []

    def add(self, member: Member, members: list[Member]) -> None:
        try:
            self._add(member, members)
        except FormatError as exc:
            if exc.kind is ErrorKind.TOO_LARGE:
                raise
            self._errors.append(exc)

    def _add(self, member: Member, members: list[Member]) -> None:
        data = member.data
        if member.name.endswith(("-wal", "-shm", "-journal")):
            return  # read with its database
        if member.name.endswith(".old") and any(m.name == member.name[:-4] for m in members):
            return  # KOReader's backup of a sidecar that is there itself
        if is_sqlite_file(data):
            wal = next((m.data for m in members if m.name == f"{member.name}-wal"), None)
            found = _database(data, wal, self._context)
            self._database(member.name, found)
        elif applebooks_plist.looks_like_plist(data):
            self._plist(member.name, data)
        elif is_zip(data):
            self._results.append((member.name, _docx(data, self._context)))
        elif decode(data[:65_536]) is not None:
            result = self._read_text(data, self._context)
            if result.error is None:
                self._results.append((member.name, result))

    def _database(self, name: str, found: ParseResult | tuple[str, Any]) -> None:
        if isinstance(found, ParseResult):
            self._results.append((name, found))
        elif found[0] == "library":
            self._books.update(found[1])
        else:
            self._annotations.append((name, SourceFormat.APPLE_BOOKS, found[1]))

    def _plist(self, name: str, data: bytes) -> None:
        document = applebooks_plist.load(data)
        found = applebooks_plist.annotations_of(document)
        if found is not None:
            self._annotations.append((name, SourceFormat.APPLE_BOOKS_PLIST, found))
        elif (books := applebooks_plist.books_of(document)) is not None:
            self._books.update(books)

    def result(self) -> ParseResult:
        for name, fmt, found in self._annotations:
            entries, problems = applebooks.entries_from(found, self._books)
            self._results.append((name, ParseResult(fmt, entries, problems)))
        if not any(result.entries for _, result in self._results):
            if self._errors:
                raise self._errors[0]
            raise FormatError(_NOTHING_IN_ZIP, ErrorKind.NOT_HIGHLIGHTS)
        return _joined(self._results)


def _joined(results: list[tuple[str, ParseResult]]) -> ParseResult:
    """One result: entries numbered in one sequence, problems naming their member."""
    entries: list[RawEntry] = []
    problems: list[Problem] = []
    counts: dict[SourceFormat, int] = {}
    missing: tuple[str, ...] = ()
    for name, result in results:
        offset = len(entries)
        for entry in result.entries:
            entry.position += offset
            entries.append(entry)
        problems += [replace(p, position=p.position + offset, file=name) for p in result.problems]
        if result.format is not None:
            counts[result.format] = counts.get(result.format, 0) + len(result.entries)
        missing = missing or result.missing_columns
    fmt = max(counts, key=lambda f: counts[f]) if counts else None
    return ParseResult(fmt, entries, problems, missing_columns=missing)
