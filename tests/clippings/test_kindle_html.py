"""The Kindle app's notebook export (HTML)."""

from __future__ import annotations

from pathlib import Path

from clippost.clippings import SourceFormat, parse
from clippost.clippings.kindle_html import looks_like_kindle_html, parse_kindle_html
from clippost.clippings.models import Kind

FIXTURES = Path(__file__).parent / "fixtures" / "html"


def _read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


class TestModernNotebook:
    def test_entries_in_document_order(self) -> None:
        """Each noteHeading gives one entry, kinds read from the heading; a note on the
        highlight just before it is that highlight's note, not an entry."""
        entries, problems = parse_kindle_html(_read("notebook_modern.html"))
        assert problems == []
        assert [e.kind for e in entries] == [
            Kind.HIGHLIGHT,
            Kind.HIGHLIGHT,
            Kind.HIGHLIGHT,
            Kind.BOOKMARK,
        ]
        assert [e.position for e in entries] == [1, 2, 3, 4]
        assert [e.note for e in entries] == [None, "The title, explained.", None, None]

    def test_title_and_author(self) -> None:
        """Title and author come from bookTitle and authors, whitespace trimmed."""
        first = parse_kindle_html(_read("notebook_modern.html"))[0][0]
        assert first.title == "The Left Hand of Darkness (Hainish Cycle Book 4)"
        assert first.author == "Le Guin, Ursula K."

    def test_page_and_location(self) -> None:
        """ "Page 4 · Location 150-152" gives page and both ends of the range."""
        second = parse_kindle_html(_read("notebook_modern.html"))[0][1]
        assert (second.page, second.location_start, second.location_end) == ("4", 150, 152)

    def test_location_without_page(self) -> None:
        """A heading with a location only has no page."""
        third = parse_kindle_html(_read("notebook_modern.html"))[0][2]
        assert (third.page, third.location_start, third.location_end) == (None, 410, 410)

    def test_colours_are_kept(self) -> None:
        """The highlight colour from the span's class is kept."""
        entries = parse_kindle_html(_read("notebook_modern.html"))[0]
        assert [e.color for e in entries[:2]] == ["yellow", "blue"]

    def test_text_unescaped_and_squeezed(self) -> None:
        """Entities are decoded and HTML line wrapping collapsed to spaces."""
        second = parse_kindle_html(_read("notebook_modern.html"))[0][1]
        assert (
            second.content
            == "Light is the left hand of darkness & darkness the right hand of light."
        )

    def test_line_break_tags_become_newlines(self) -> None:
        """A <br/> inside the text is a line break."""
        third = parse_kindle_html(_read("notebook_modern.html"))[0][2]
        assert third.content.split("\n") == [
            "It is good to have an end to journey toward;",
            "but it is the journey that matters, in the end.",
        ]

    def test_no_dates(self) -> None:
        """The export carries no dates."""
        assert all(e.added_at is None for e in parse_kindle_html(_read("notebook_modern.html"))[0])

    def test_bookmark_has_no_text(self) -> None:
        """A bookmark heading without noteText gives empty content."""
        assert parse_kindle_html(_read("notebook_modern.html"))[0][3].content == ""


class TestOldNotebook:
    def test_misclosed_note_text_is_read(self) -> None:
        """noteText closed by </h3> (older exports) still gives the text of each heading."""
        entries, problems = parse_kindle_html(_read("notebook_old.html"))
        assert problems == []
        assert [e.kind for e in entries] == [Kind.HIGHLIGHT]
        assert entries[0].content.startswith("Jemand musste Josef K.")
        assert entries[0].note == "Der berühmte erste Satz."

    def test_german_heading_words(self) -> None:
        """ "Markierung (Orange) - Position 12" gives location 12 and the colour."""
        (first,) = parse_kindle_html(_read("notebook_old.html"))[0]
        assert (first.location_start, first.color) == (12, "orange")

    def test_german_page_and_location(self) -> None:
        """ "Notiz - Seite 3 · Position 14" gives a note on page 3 at location 14."""
        heading = '<div class="noteHeading">Notiz - Seite 3 · Position 14</div>'
        html = f'<div class="bookTitle">B</div>{heading}<div class="noteText">n</div>'
        (note,) = parse_kindle_html(html)[0]
        assert (note.kind, note.page, note.location_start) == (Kind.NOTE, "3", 14)

    def test_title_from_h1_wrapped_divs(self) -> None:
        """Title and author are found inside other markup."""
        first = parse_kindle_html(_read("notebook_old.html"))[0][0]
        assert (first.title, first.author) == ("Der Prozess", "Franz Kafka")


class TestLocalisedHeadings:
    """Headings in the languages the app writes are read with the device grammar's words."""

    def _heading(self, heading: str) -> tuple[Kind, str | None, int | None]:
        html = f'<div class="bookTitle">B</div><div class="noteHeading">{heading}</div>'
        (entry,) = parse_kindle_html(html + '<div class="noteText">t</div>')[0]
        return entry.kind, entry.page, entry.location_start

    def test_german_highlight_without_space_before_colour(self) -> None:
        """ "Markierung(gelb) - Position 12" is a highlight at location 12."""
        assert self._heading("Markierung(gelb) - Position 12") == (Kind.HIGHLIGHT, None, 12)

    def test_chinese_note(self) -> None:
        """ "备注 - 位置 130" is a note at location 130."""
        assert self._heading("备注 - 位置 130") == (Kind.NOTE, None, 130)

    def test_section_before_page(self) -> None:
        """ "Highlight(yellow) - Chapter 3 > Page 6 · Location 114" reads page and location."""
        heading = "Highlight(yellow) - Chapter 3 &gt; Page 6 · Location 114"
        assert self._heading(heading) == (Kind.HIGHLIGHT, "6", 114)

    def test_grouped_thousands(self) -> None:
        """ "Location 1,234" is location 1234, not 1."""
        assert self._heading("Highlight (yellow) - Location 1,234") == (Kind.HIGHLIGHT, None, 1234)

    def test_russian_position(self) -> None:
        """ "Выделение (желтый) - Страница 12 · Позиция 130" gives page and location."""
        heading = "Выделение (желтый) - Страница 12 · Позиция 130"
        assert self._heading(heading) == (Kind.HIGHLIGHT, "12", 130)

    def test_french_bookmark(self) -> None:
        """ "Signet - Emplacement 77" is a bookmark."""
        assert self._heading("Signet - Emplacement 77") == (Kind.BOOKMARK, None, 77)


class TestNotes:
    """A note joins the highlight before it only when it lies within that highlight."""

    def _entries(self, first: str, second: str, text: str = "a short passage") -> list:  # type: ignore[type-arg]
        html = (
            '<div class="bookTitle">B</div>'
            f'<div class="noteHeading">{first}</div><div class="noteText">{text}</div>'
            f'<div class="noteHeading">{second}</div><div class="noteText">the note</div>'
        )
        return parse_kindle_html(html)[0]

    def test_note_just_after_the_start_is_attached(self) -> None:
        """A note two locations after a short highlight's start is its note."""
        (entry,) = self._entries("Highlight - Location 100", "Note - Location 102")
        assert (entry.kind, entry.note) == (Kind.HIGHLIGHT, "the note")

    def test_distant_note_stays_standalone(self) -> None:
        """A note far beyond the highlight's likely end is a note of its own."""
        entries = self._entries("Highlight - Location 100", "Note - Location 160")
        assert [(e.kind, e.note) for e in entries] == [(Kind.HIGHLIGHT, None), (Kind.NOTE, None)]

    def test_long_highlight_reaches_further(self) -> None:
        """A 600-character highlight spans about 20 locations: a note at +20 is on it."""
        (entry,) = self._entries("Highlight - Location 100", "Note - Location 120", "x" * 600)
        assert entry.note == "the note"

    def test_note_before_its_highlight_is_standalone(self) -> None:
        """A note at a location before the highlight's start is not attached to it."""
        entries = self._entries("Highlight - Location 100", "Note - Location 99")
        assert [e.kind for e in entries] == [Kind.HIGHLIGHT, Kind.NOTE]

    def test_page_only_notes(self) -> None:
        """Without locations, a note on the same page as the highlight is its note."""
        (entry,) = self._entries("Highlight - Page 7", "Note - Page 7")
        assert entry.note == "the note"


class TestRobustness:
    def test_heading_before_any_title_is_a_problem(self) -> None:
        """An entry with no book title before it is reported, not invented."""
        html = '<div class="noteHeading">Highlight - Location 3</div><div class="noteText">x</div>'
        entries, problems = parse_kindle_html(html)
        assert entries == []
        assert [(p.position, p.reason) for p in problems] == [(1, "no book title before it")]

    def test_heading_in_unknown_language_uses_last_number(self) -> None:
        """A heading without a known location word still yields its last number."""
        html = (
            '<div class="bookTitle">B</div><div class="noteHeading">Zvýraznění - 77</div>'
            '<div class="noteText">t</div>'
        )
        entry = parse_kindle_html(html)[0][0]
        assert (entry.kind, entry.location_start) == (Kind.HIGHLIGHT, 77)

    def test_huge_numbers_do_not_crash(self) -> None:
        """A location with thousands of digits is read, not raised on."""
        html = (
            '<div class="bookTitle">B</div>'
            f'<div class="noteHeading">Note - Location {"9" * 5000}</div>'
        )
        assert len(parse_kindle_html(html)[0]) == 1

    def test_detection_needs_markup(self) -> None:
        """Text mentioning the class names without being markup is not a notebook."""
        assert not looks_like_kindle_html("noteHeading bookTitle noteText")

    def test_parse_reports_the_format(self) -> None:
        """parse() on the export says it is the notebook format."""
        result = parse((FIXTURES / "notebook_modern.html").read_bytes())
        assert (result.format, result.error, len(result.entries)) == (
            SourceFormat.KINDLE_HTML,
            None,
            4,
        )
