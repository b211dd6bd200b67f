"""Properties over generated input: parse never raises, renderers round-trip, merge is stable."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clippost.clippings import (
    INTERNAL_ERROR,
    Kind,
    Library,
    ParseResult,
    RawEntry,
    _parse,
    merge,
    parse,
)
from clippost.clippings.output import render_kindle_txt, write_entries_csv

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Merging is checked on fewer, richer examples: each one builds three books of entries.
MERGE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- any bytes -----------------------------------------------------------------------------

FRAGMENTS = [
    "==========\n",
    "==========\r\n",
    "\ufeff",
    "Title (Author)\n",
    "Title (A (B) C\n",
    "- Your Highlight on page 3 | Location 45-46 | Added on Monday, July 31, 2017 11:11:20 PM\n",
    "- Your Note on Location 9 | Added on Friday, 1 September 2021 22:50:00\n",
    "- Highlight Loc. 5444-45  | Added on Thursday, September 16, 2010, 08:22 PM\n",
    "- Ihre Markierung bei Position 12-13 | Hinzugefügt am Montag, 5. Juni 2014 19:34:00\n",
    "- 您在位置 #12-13的标注 | 添加于 2014年6月5日星期四 下午7:34:00\n",
    "<You have reached the clipping limit for this item>\n",
    "\n",
    "\r",
    "Location 99999999999999999999999999\n",
    '<div class="bookTitle">T</div>',
    '<div class="noteHeading">Note - Location 3</div><div class="noteText">x',
    "Highlight,Book Title,Note,Location\n",
    '"a,b",T,"n\n",7\n',
    "x,\n",
    # The other readers' formats, so that their detectors and parsers meet broken input.
    "-- sidecar\nreturn {",
    '["annotations"] = {',
    '[1] = { ["drawer"] = "lighten", ["text"] = "x\\\ny", ["pageno"] = 3 },',
    '["bookmarks"] = { [1] = { ["notes"] = "n", ["highlighted"] = true } },',
    "}",
    '{"version": "json/1.0.0", "entries": [{"text": "t", "time": 99999999999999}]}',
    "5\nindent:true\ntrim:false\n#\n",
    "Reading Notes\u00a0|\u00a0<<T>>A\n",
    "2023-04-03 00:41\u00a0\u00a0|\u00a0\u00a0Page No.: 6\n",
    "-------------------\n",
    "【Note】",
    "Time：2022-03-07 01:11\n",
    "- Your highlight on page 40 | Added on Monday, February 16, 2026 10:15:20 PM\n",
    "- Ihre Markierung | Hinzugefügt am Freitag, 26. April 13 um 00:49:32 Uhr GMT+01:00\n",
    "- Añadido el lunes 1 de octubre de 2012 17H36' GMT+01:59\n",
    '<?xml version="1.0"?><plist><dict><key>Bookmark-Container-1</key>',
]
structured = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=20), max_size=30).map(
    lambda parts: "".join(parts)
)


class TestParseNeverRaises:
    @FAST
    @given(st.binary(max_size=2000))
    def test_any_bytes(self, data: bytes) -> None:
        """Any bytes give a ParseResult, never an exception nor the internal-fault message."""
        result = parse(data)
        assert isinstance(result, ParseResult)
        assert result.error != INTERNAL_ERROR
        assert result.error is None or result.entries == []

    @FAST
    @given(
        st.sampled_from([b"PK\x03\x04", b"PK\x05\x06", b"SQLite format 3\x00", b"bplist00"]),
        st.binary(max_size=600),
    )
    def test_binary_starts(self, magic: bytes, rest: bytes) -> None:
        """Bytes that start like a zip, a database or a plist are refused with a sentence."""
        result = parse(magic + rest)
        assert result.error != INTERNAL_ERROR
        assert result.error is None or result.entries == []

    @FAST
    @given(structured, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    def test_near_miss_text(self, text: str, encoding: str) -> None:
        """Fragments of every format, mixed and broken, in any encoding, never crash parse."""
        result = parse(text.encode(encoding, "replace"))
        assert result.error != INTERNAL_ERROR


# --- render then parse ---------------------------------------------------------------------

LETTERS = "abcdefghijklmnopqrstuvwxyzABCXYZéüßжя漢字"
word = st.text(LETTERS, min_size=1, max_size=8)
words = st.lists(word, min_size=1, max_size=6).map(" ".join)
# From 2007: an earlier date is a device's reset clock, reported and left out.
moments = st.datetimes(min_value=datetime(2007, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)
pages = st.integers(1, 2000).map(str) | st.sampled_from(["i", "iv", "xiv", "xlii"])


def _lines(draw: st.DrawFn) -> str:
    return "\n".join(draw(st.lists(words, min_size=1, max_size=3)))


@st.composite
def kindle_entries(draw: st.DrawFn) -> RawEntry:
    kind = draw(st.sampled_from([Kind.HIGHLIGHT, Kind.NOTE, Kind.BOOKMARK, Kind.CLIP]))
    page = draw(st.none() | pages)
    # A device always writes a location, a page, or both.
    start = draw(st.integers(1, 99_999) if page is None else st.none() | st.integers(1, 99_999))
    span = 0 if kind in (Kind.NOTE, Kind.BOOKMARK) else draw(st.integers(0, 5))
    return RawEntry(
        kind=kind,
        title=draw(words),
        author=draw(st.none() | words | st.tuples(word, word).map(", ".join)),
        page=page,
        location_start=start,
        location_end=None if start is None else start + span,
        added_at=draw(moments),
        content="" if kind is Kind.BOOKMARK else _lines(draw),
        position=0,
        line=0,
    )


CSV_TEXT = (
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")) | st.sampled_from(',"\n;'),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)


@st.composite
def csv_entries(draw: st.DrawFn) -> RawEntry:
    kind = draw(st.sampled_from([Kind.HIGHLIGHT, Kind.NOTE]))
    on_page = draw(st.booleans())
    start = None if on_page else draw(st.integers(1, 99_999))
    span = draw(st.integers(0, 5)) if kind is Kind.HIGHLIGHT and start is not None else 0
    is_highlight = kind is Kind.HIGHLIGHT
    return RawEntry(
        kind=kind,
        title=draw(CSV_TEXT.map(lambda t: " ".join(t.split())).filter(bool)),
        author=draw(st.none() | words),
        page=draw(pages) if on_page else None,
        location_start=start,
        location_end=None if start is None else start + span,
        added_at=draw(st.none() | moments),
        content=draw(CSV_TEXT),
        position=0,
        line=0,
        color=draw(st.none() | st.sampled_from(["yellow", "blue"])) if is_highlight else None,
        tags=tuple(draw(st.lists(word, max_size=3))) if is_highlight else (),
        note=draw(st.none() | CSV_TEXT) if is_highlight else None,
    )


def _fields(entry: RawEntry) -> tuple[object, ...]:
    return (
        entry.kind,
        entry.title,
        entry.author,
        entry.page,
        entry.location_start,
        entry.location_end,
        entry.added_at,
        entry.content,
        entry.color,
        entry.tags,
        entry.note,
    )


class TestRoundTrips:
    @FAST
    @given(st.lists(kindle_entries(), min_size=1, max_size=8), st.sampled_from(["\n", "\r\n"]))
    def test_kindle_text(self, entries: list[RawEntry], newline: str) -> None:
        """Entries rendered as a US Kindle file parse back to the same entries."""
        result = parse(b"\xef\xbb\xbf" + render_kindle_txt(entries, newline=newline).encode())
        assert result.problems == []
        assert [_fields(e) for e in result.entries] == [_fields(e) for e in entries]

    @FAST
    @given(
        st.lists(kindle_entries(), min_size=1, max_size=12),
        st.integers(1, 400),
        st.sampled_from(["\n", "\r\n"]),
        st.lists(st.sampled_from(["", "\ufeff", "==========x\n", "junk line\n"]), max_size=4),
    )
    def test_pieces_read_like_the_whole(
        self, entries: list[RawEntry], piece: int, newline: str, noise: list[str]
    ) -> None:
        """A file read in pieces gives the same entries, positions, lines and problems."""
        text = render_kindle_txt(entries, newline=newline)
        blocks = text.split("==========" + newline)
        for i, extra in enumerate(noise):
            blocks[i % len(blocks)] = extra + blocks[i % len(blocks)]
        data = b"\xef\xbb\xbf" + ("==========" + newline).join(blocks).encode()
        whole = _parse(data, progress=None, piece_size=len(data) + 1)
        pieces = _parse(data, progress=None, piece_size=piece)
        assert pieces == whole

    @FAST
    @given(st.lists(csv_entries(), min_size=1, max_size=8))
    def test_csv(self, entries: list[RawEntry]) -> None:
        """Highlights and notes rendered as CSV parse back to the same entries."""
        out = io.StringIO()
        write_entries_csv(entries, out)
        result = parse(out.getvalue().encode())
        assert (result.error, result.problems) == (None, [])
        assert [_fields(e) for e in result.entries] == [_fields(e) for e in entries]


# --- merge ---------------------------------------------------------------------------------

T0 = datetime(2020, 1, 1)
VOCABULARY = ["alpha", "beta", "gamma", "delta"]


@st.composite
def book_entries(draw: st.DrawFn, title: str) -> list[RawEntry]:
    """Entries of one book: small vocabulary and nearby locations, so edits and notes meet."""
    found = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from([Kind.HIGHLIGHT] * 4 + [Kind.NOTE, Kind.BOOKMARK, Kind.CLIP]))
        page_only = draw(st.integers(0, 5)) == 0
        start = None if page_only else draw(st.integers(1, 30))
        span = 0 if kind is not Kind.HIGHLIGHT else draw(st.integers(0, 3))
        text = " ".join(draw(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=4)))
        found.append(
            RawEntry(
                kind=kind,
                title=title,
                author=draw(st.sampled_from(["Doe, Jane", "Jane Doe"])),
                page=draw(st.sampled_from(["1", "2", "xi"])) if page_only else None,
                location_start=start,
                location_end=None if start is None else start + span,
                added_at=None,
                content="" if kind is Kind.BOOKMARK else text,
                position=0,
                line=0,
            )
        )
    return found


def _timed(entries: list[RawEntry]) -> list[RawEntry]:
    """Distinct times in list order (a device never writes two edits in the same second)."""
    return [_at(e, T0 + timedelta(minutes=i), i + 1) for i, e in enumerate(entries)]


def _at(entry: RawEntry, moment: datetime | None, position: int) -> RawEntry:
    return replace(entry, added_at=moment if moment else entry.added_at, position=position)


def _renumbered(entries: list[RawEntry]) -> list[RawEntry]:
    return [_at(e, None, i + 1) for i, e in enumerate(entries)]


def _library_entries(library: Library) -> list[RawEntry]:
    """The merged library written back as raw entries."""
    found: list[RawEntry] = []

    def add(
        kind: Kind,
        title: str,
        author: str | None,
        *,
        page: str | None,
        start: int | None,
        end: int | None,
        added: datetime | None,
        text: str,
    ) -> None:
        position = len(found) + 1
        found.append(RawEntry(kind, title, author, page, start, end, added, text, position, 0))

    for book in library.books:
        title, author = book.title, book.author
        for h in book.highlights:
            add(Kind.HIGHLIGHT, title, author, page=h.page, start=h.location_start,
                end=h.location_end, added=h.added_at, text=h.text)  # fmt: skip
            for n in h.notes:
                add(Kind.NOTE, title, author, page=n.page, start=n.location, end=n.location,
                    added=n.added_at, text=n.text)  # fmt: skip
        for n in book.loose_notes:
            add(Kind.NOTE, title, author, page=n.page, start=n.location, end=n.location,
                added=n.added_at, text=n.text)  # fmt: skip
        for b in book.bookmarks:
            add(Kind.BOOKMARK, title, author, page=b.page, start=b.location, end=b.location,
                added=b.added_at, text="")  # fmt: skip
    return found


def _by_identity(library: Library) -> dict[str, object]:
    return {book.identity: book for book in library.books}


libraries = st.tuples(book_entries("Emma"), book_entries("Persuasion"), book_entries("Sanditon"))


class TestMergeProperties:
    @MERGE
    @given(libraries)
    def test_idempotent(self, books: tuple[list[RawEntry], ...]) -> None:
        """Merging a merged library's entries gives the same library."""
        library = merge(_timed([e for book in books for e in book]))
        assert merge(_library_entries(library)) == library

    @MERGE
    @given(libraries, st.randoms(use_true_random=False))
    def test_exact_repeats_later_in_the_file(
        self, books: tuple[list[RawEntry], ...], rnd: random.Random
    ) -> None:
        """Exact repeats written anywhere after their original change nothing at all."""
        entries = _timed([e for book in books for e in book])
        repeated = list(entries)
        for original in rnd.sample(entries, k=len(entries) // 2):
            after = repeated.index(original) + 1
            repeated.insert(rnd.randrange(after, len(repeated) + 1), original)
        assert merge(_renumbered(repeated)) == merge(entries)

    @MERGE
    @given(libraries, st.randoms(use_true_random=False))
    def test_exact_repeats_anywhere(
        self, books: tuple[list[RawEntry], ...], rnd: random.Random
    ) -> None:
        """Exact repeats anywhere give the same books (listed in order of first appearance)."""
        entries = _timed([e for book in books for e in book])
        repeated = list(entries)
        for original in rnd.sample(entries, k=len(entries) // 2):
            repeated.insert(rnd.randrange(len(repeated) + 1), original)
        assert _by_identity(merge(_renumbered(repeated))) == _by_identity(merge(entries))

    @MERGE
    @given(libraries, st.randoms(use_true_random=False))
    def test_interleaving_books(
        self, books: tuple[list[RawEntry], ...], rnd: random.Random
    ) -> None:
        """Interleaving entries of different books differently gives the same books."""
        timed = _timed([e for book in books for e in book])
        queues = [
            [e for e in timed if e.title == title] for title in ("Emma", "Persuasion", "Sanditon")
        ]
        mixed: list[RawEntry] = []
        while any(queues):
            queue = rnd.choice([q for q in queues if q])
            mixed.append(queue.pop(0))
        assert _by_identity(merge(_renumbered(mixed))) == _by_identity(merge(timed))
