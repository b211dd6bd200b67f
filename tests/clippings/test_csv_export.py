"""Highlights CSV exports from other services."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from clippost.clippings import SourceFormat, parse
from clippost.clippings.csv_export import (
    EXPORT_MARK,
    neutralised,
    parse_highlights_csv,
    unneutralised,
)
from clippost.clippings.models import Kind, ProblemKind

FIXTURES = Path(__file__).parent / "fixtures" / "csv"


def _parse(name: str):  # type: ignore[no-untyped-def]
    return parse((FIXTURES / name).read_bytes())


class TestFullLayout:
    def test_all_columns_present(self) -> None:
        """The complete layout is accepted with nothing missing."""
        result = _parse("full.csv")
        assert (result.format, result.error, result.missing_columns) == (SourceFormat.CSV, None, ())

    def test_note_column_is_attached_to_its_highlight(self) -> None:
        """A row is one item: its Note is the note of the row's highlight."""
        items = [(e.kind, e.title, e.note) for e in _parse("full.csv").entries]
        assert items == [
            (Kind.HIGHLIGHT, "A Tale of Two Cities", None),
            (Kind.HIGHLIGHT, "Hard Times", "Sissy versus Gradgrind"),
            (Kind.HIGHLIGHT, "Some PDF", None),
        ]

    def test_note_without_highlight_is_a_standalone_note(self) -> None:
        """A row with a note and no highlight is a note, at the end of its location."""
        found = parse_highlights_csv("Highlight,Book Title,Note,Location\n,B,thought,12-14\n")
        (note,) = found.entries
        assert (note.kind, note.content, note.location_start, note.location_end) == (
            Kind.NOTE,
            "thought",
            14,
            14,
        )

    def test_location_range_colour_tags_and_time(self) -> None:
        """Location range, colour, comma-separated tags and timestamp are read."""
        first = _parse("full.csv").entries[0]
        assert (first.location_start, first.location_end) == (12, 14)
        assert (first.color, first.tags) == ("yellow", ("classics", "openings"))
        assert first.added_at == datetime(2021, 3, 4, 9, 15)

    def test_page_location_type(self) -> None:
        """Location Type "page" puts the value in page, roman numerals included."""
        last = _parse("full.csv").entries[-1]
        assert (last.page, last.location_start, last.author) == ("xiv", None, None)

    def test_zone_is_dropped_not_applied(self) -> None:
        """A timestamp with an offset keeps its wall-clock time, as devices write it."""
        assert _parse("full.csv").entries[-1].added_at == datetime(2021, 4, 1, 8, 0)

    def test_multiline_quoted_text(self) -> None:
        """A quoted highlight spanning lines keeps its line break."""
        assert "\n" in _parse("full.csv").entries[-1].content

    def test_rows_report_their_line(self) -> None:
        """Each entry records the line its row starts on."""
        assert [e.line for e in _parse("full.csv").entries] == [2, 3, 4]


class TestOtherLayouts:
    def test_any_case_any_order_semicolons_and_bom(self) -> None:
        """Headers match without case, in any order, with ; as separator and a BOM."""
        result = _parse("semicolon_bom.csv")
        assert result.error is None
        entry = result.entries[0]
        assert (entry.title, entry.content, entry.location_start) == (
            "Middlemarch",
            'She was a "modern" Theresa',
            77,
        )

    def test_absent_optional_columns_are_listed(self) -> None:
        """Optional columns that are absent are named in missing_columns."""
        assert _parse("semicolon_bom.csv").missing_columns == (
            "Book Author",
            "Amazon Book ID",
            "Note",
            "Color",
            "Tags",
            "Location Type",
            "Highlighted at",
        )

    def test_missing_required_column_is_an_error(self) -> None:
        """Without Book Title the file is refused with a sentence naming the column."""
        result = _parse("no_title.csv")
        assert result.entries == []
        assert result.error is not None
        assert '"Book Title"' in result.error


class TestRows:
    def test_row_without_title_is_a_problem(self) -> None:
        """A row with no book title is reported with its position and line."""
        found = parse_highlights_csv("Highlight,Book Title\nsome text,\nother,B\n")
        assert [(p.position, p.line, p.reason) for p in found.problems] == [
            (1, 2, "the row has no book title")
        ]
        assert [e.content for e in found.entries] == ["other"]

    def test_row_without_text_is_a_problem(self) -> None:
        """A row with neither highlight nor note is reported."""
        found = parse_highlights_csv("Highlight,Book Title,Note\n,B,\n")
        assert [p.reason for p in found.problems] == [
            "the row has neither highlight text nor a note"
        ]

    def test_blank_rows_are_skipped(self) -> None:
        """Empty lines between rows are neither entries nor problems."""
        found = parse_highlights_csv("Highlight,Book Title\n\nx,B\n,\n")
        assert (len(found.entries), found.problems) == (1, [])

    def test_bad_location_and_date_are_left_empty(self) -> None:
        """Unreadable location and timestamp become None rather than losing the row, and
        each is reported with the text that was not understood."""
        found = parse_highlights_csv(
            "Highlight,Book Title,Location,Highlighted at\nx,B,abc,yesterday\n"
        )
        entry = found.entries[0]
        assert (entry.location_start, entry.added_at) == (None, None)
        assert [(p.kind, p.line, p.text) for p in found.problems] == [
            (ProblemKind.DATE, 2, "yesterday"),
            (ProblemKind.LOCATION, 2, "abc"),
        ]

    def test_readwise_flags_come_from_tags(self) -> None:
        """Readwise's "favorite" and "discard" tags set the item's flags; tags are kept."""
        found = parse_highlights_csv(
            'Highlight,Book Title,Tags\na,B,"favorite, stoic"\nb,B,discard\nc,B,\n'
        )
        assert [(e.favourite, e.discarded, e.tags) for e in found.entries] == [
            (True, False, ("favorite", "stoic")),
            (False, True, ("discard",)),
            (False, False, ()),
        ]

    def test_no_tags_column_says_nothing_about_flags(self) -> None:
        """Without a Tags column the flags are unknown (None), not False."""
        (entry,) = parse_highlights_csv("Highlight,Book Title\na,B\n").entries
        assert (entry.favourite, entry.discarded) == (None, None)

    def test_empty_location_type_is_not_a_location(self) -> None:
        """Readwise writes "0" under an empty Location Type: no location, no problem."""
        found = parse_highlights_csv("Highlight,Book Title,Location Type,Location\nx,B,,0\n")
        assert (found.entries[0].location_start, found.problems) == (None, [])

    def test_other_location_types_are_not_locations(self) -> None:
        """An "order" location type is not taken for a Kindle location."""
        found = parse_highlights_csv("Highlight,Book Title,Location Type,Location\nx,B,order,3\n")
        assert found.entries[0].location_start is None

    def test_oversized_field_is_a_problem_not_a_crash(self) -> None:
        """A field beyond the csv module's limit stops reading with a problem."""
        found = parse_highlights_csv('Highlight,Book Title\n"' + "x" * 200_000 + '",B\n')
        assert found.entries == []
        assert len(found.problems) == 1


class TestNeutralisedCells:
    @given(st.text())
    def test_round_trip(self, cell: str) -> None:
        """Whatever a cell holds, reading back what the export wrote gives it again."""
        assert unneutralised(neutralised(cell)) == cell

    @given(st.text())
    def test_no_formula_is_written(self, cell: str) -> None:
        """A written cell never starts with what a spreadsheet evaluates."""
        assert not neutralised(cell).startswith(("=", "+", "-", "@", "\t", "\r"))

    def test_apostrophes_are_ours_only_in_our_export(self) -> None:
        """A Readwise file's own leading apostrophe is kept; in an export, one is taken off."""
        theirs = parse_highlights_csv("Highlight,Book Title\n'=kept,B\n")
        ours = parse_highlights_csv(f"Highlight,Book Title,{EXPORT_MARK}\n'=kept,B,\n")
        assert [e.content for e in theirs.entries] == ["'=kept"]
        assert [e.content for e in ours.entries] == ["=kept"]
