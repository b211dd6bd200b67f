"""What `clippost parse` prints: summary, jsonl, markdown, csv, and the Kindle text writer."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime

from clippost.clippings import Kind, Problem, ProblemKind, RawEntry, SourceFormat, merge, parse
from clippost.clippings.csv_export import COLUMNS
from clippost.clippings.output import (
    render_kindle_txt,
    write_entries_csv,
    write_entries_jsonl,
    write_highlights_csv,
    write_highlights_jsonl,
    write_markdown,
    write_problems_jsonl,
    write_summary,
)

T = datetime(2017, 7, 31, 23, 11, 20)


def entry(
    *,
    kind: Kind = Kind.HIGHLIGHT,
    content: str = "Happy families are all alike.",
    title: str = "Anna Karenina",
    author: str | None = "Tolstoy, Leo",
    page: str | None = "3",
    start: int | None = 145,
    end: int | None = 146,
    added_at: datetime | None = T,
    position: int = 1,
) -> RawEntry:
    return RawEntry(
        kind=kind,
        title=title,
        author=author,
        page=page,
        location_start=start,
        location_end=end,
        added_at=added_at,
        content=content,
        position=position,
        line=1,
    )


SAMPLE = [
    entry(),
    entry(kind=Kind.NOTE, content="Opening line.", start=146, end=146, position=2),
    entry(kind=Kind.BOOKMARK, content="", start=200, end=200, position=3),
    entry(
        title="Emma",
        author=None,
        content="Handsome, clever,\nand rich.",
        page=None,
        start=5,
        end=5,
        position=4,
    ),
]


def _render(write, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    write(*args, out, **kwargs)
    return out.getvalue()


class TestKindleText:
    def test_us_metadata_line(self) -> None:
        """Entries are written with the US English metadata line and 12-hour time."""
        text = render_kindle_txt([SAMPLE[0]])
        assert text.splitlines()[:2] == [
            "Anna Karenina (Tolstoy, Leo)",
            "- Your Highlight on page 3 | Location 145-146 | Added on Monday, July 31, 2017"
            " 11:11:20 PM",
        ]
        assert text.endswith("Happy families are all alike.\n==========\n")

    def test_round_trip_through_the_parser(self) -> None:
        """Rendered entries parse back to the same entries."""
        result = parse(render_kindle_txt(SAMPLE).encode())
        assert result.format is SourceFormat.KINDLE_TXT
        assert [
            (
                e.kind,
                e.title,
                e.author,
                e.page,
                e.location_start,
                e.location_end,
                e.added_at,
                e.content,
            )
            for e in result.entries
        ] == [
            (
                e.kind,
                e.title,
                e.author,
                e.page,
                e.location_start,
                e.location_end,
                e.added_at,
                e.content,
            )
            for e in SAMPLE
        ]

    def test_crlf_newlines(self) -> None:
        """The device's CRLF line ends can be asked for."""
        assert "\r\n==========\r\n" in render_kindle_txt(SAMPLE[:1], newline="\r\n")


class TestJsonlFlags:
    def test_flags_appear_where_the_source_says_so(self) -> None:
        """An item from a source with flags carries favourite and discarded, and its note."""
        flagged = replace(SAMPLE[0], note="so true", favourite=True, discarded=False)
        record = json.loads(_render(write_entries_jsonl, [flagged]))
        assert (record["note"], record["favourite"], record["discarded"]) == (
            "so true",
            True,
            False,
        )

    def test_problems_are_lines_of_their_own(self) -> None:
        """A problem is printed as {"problem": {...}}, with its kind, line and text."""
        problem = Problem(3, 9, "the date was not understood", ProblemKind.DATE, "someday")
        record = json.loads(_render(write_problems_jsonl, [problem]))
        assert record == {
            "problem": {
                "kind": "date",
                "entry": 3,
                "line": 9,
                "file": None,
                "text": "someday",
                "reason": "the date was not understood",
            }
        }


class TestJsonl:
    def test_raw_entries_have_exactly_the_documented_keys(self) -> None:
        """Each raw-entry object has exactly the nine documented keys when the source has
        no favourite or discard flags."""
        lines = _render(write_entries_jsonl, SAMPLE).splitlines()
        first = json.loads(lines[0])
        assert first == {
            "kind": "highlight",
            "title": "Anna Karenina",
            "author": "Tolstoy, Leo",
            "content": "Happy families are all alike.",
            "note": None,
            "page": "3",
            "location_start": 145,
            "location_end": 146,
            "added_at": "2017-07-31T23:11:20",
        }
        assert [json.loads(line)["kind"] for line in lines] == [
            "highlight",
            "note",
            "bookmark",
            "highlight",
        ]

    def test_null_date(self) -> None:
        """An entry without a date has added_at null."""
        line = _render(write_entries_jsonl, [entry(added_at=None)])
        assert json.loads(line)["added_at"] is None

    def test_merged_highlights_carry_notes_and_identity(self) -> None:
        """Merged highlights carry their book, notes and identity."""
        lines = _render(write_highlights_jsonl, merge(SAMPLE)).splitlines()
        first = json.loads(lines[0])
        assert (first["title"], first["text"], len(first["identity"])) == (
            "Anna Karenina",
            "Happy families are all alike.",
            32,
        )
        assert [n["text"] for n in first["notes"]] == ["Opening line."]
        assert len(lines) == 2


class TestMarkdown:
    def test_sections_blockquotes_and_notes(self) -> None:
        """One section per book, highlights quoted with location, notes under them."""
        text = _render(write_markdown, merge(SAMPLE))
        assert "## Anna Karenina\n\n*Tolstoy, Leo*\n\n> Happy families are all alike.\n" in text
        assert "— page 3, location 145-146\n" in text
        assert "**Note:** Opening line." in text
        assert "## Emma\n\n> Handsome, clever,\n> and rich.\n" in text

    def test_loose_notes_are_listed(self) -> None:
        """Notes on no highlight are listed under the book."""
        library = merge([entry(kind=Kind.NOTE, content="a stray thought", start=900, end=900)])
        assert "### Notes\n\n- a stray thought (page 3, location 900)\n" in _render(
            write_markdown, library
        )


class TestCsv:
    def test_header_is_the_importer_layout(self) -> None:
        """The CSV header is exactly the importer's columns."""
        rows = list(csv.reader(io.StringIO(_render(write_entries_csv, SAMPLE))))
        assert tuple(rows[0]) == COLUMNS

    def test_raw_entries_round_trip(self) -> None:
        """Highlights and notes written as CSV parse back the same (bookmarks have no row)."""
        kept = [e for e in SAMPLE if e.kind is not Kind.BOOKMARK]
        plain = [
            entry(
                page=None,
                start=e.location_start,
                end=e.location_end,
                kind=e.kind,
                content=e.content,
                title=e.title,
                author=e.author,
            )
            for e in kept
        ]
        result = parse(_render(write_entries_csv, plain).encode())
        assert [
            (e.kind, e.title, e.author, e.location_start, e.location_end, e.added_at, e.content)
            for e in result.entries
        ] == [
            (e.kind, e.title, e.author, e.location_start, e.location_end, e.added_at, e.content)
            for e in plain
        ]

    def test_merged_highlights_round_trip(self) -> None:
        """The merged CSV, parsed and merged again, gives the same highlights and notes."""
        library = merge(SAMPLE)
        again = merge(parse(_render(write_highlights_csv, library).encode()).entries)
        assert [
            [(h.identity, h.text, [n.text for n in h.notes]) for h in b.highlights]
            for b in again.books
        ] == [
            [(h.identity, h.text, [n.text for n in h.notes]) for h in b.highlights]
            for b in library.books
        ]


class TestSummary:
    def test_books_and_counts(self) -> None:
        """The summary names the format, books and their counts."""
        result = parse(render_kindle_txt(SAMPLE).encode())
        text = _render(write_summary, result, merge(result.entries), all_entries=False)
        assert text.startswith(
            "Format: Kindle My Clippings.txt\n2 books, 2 highlights, 1 note attached\n"
        )
        assert "Anna Karenina — Tolstoy, Leo\n  1 highlight, 1 note, 1 bookmark\n" in text

    def test_all_entries_counts_raw_kinds(self) -> None:
        """With all entries, raw counts by kind are shown."""
        result = parse(render_kindle_txt(SAMPLE).encode())
        text = _render(write_summary, result, merge(result.entries), all_entries=True)
        assert "Entries: 4 (2 highlights, 1 note, 1 bookmark, 0 clips)\n" in text
