"""Merging raw entries into a library: edits, repeats, notes, bookmarks, order, speed."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timedelta

from clippost.clippings import Kind, Library, RawEntry, book_identity, highlight_identity, merge

T0 = datetime(2021, 9, 1, 22, 0)


def entry(
    *,
    kind: Kind = Kind.HIGHLIGHT,
    content: str = "text",
    title: str = "Book",
    author: str | None = "Author",
    start: int | None = 10,
    end: int | None = None,
    page: str | None = None,
    minute: int = 0,
    position: int = 1,
    clipping_limit: bool = False,
) -> RawEntry:
    return RawEntry(
        kind=kind,
        title=title,
        author=author,
        page=page,
        location_start=start,
        location_end=end if end is not None else start,
        added_at=T0 + timedelta(minutes=minute),
        content=content,
        position=position,
        line=position * 5,
        clipping_limit=clipping_limit,
    )


def numbered(*entries: RawEntry) -> list[RawEntry]:
    """The entries with positions in file order."""
    from dataclasses import replace

    return [replace(e, position=i + 1) for i, e in enumerate(entries)]


def texts(library: Library) -> list[list[str]]:
    return [[h.text for h in b.highlights] for b in library.books]


class TestEdits:
    def test_extended_highlight_collapses_into_newest(self) -> None:
        """An edit that extends a highlight (overlapping, containing it) replaces it."""
        library = merge(
            numbered(
                entry(content="Call me Ishmael.", start=10, end=11, minute=0),
                entry(content="Call me Ishmael. Some years ago", start=10, end=12, minute=5),
            )
        )
        assert texts(library) == [["Call me Ishmael. Some years ago"]]
        assert library.books[0].highlights[0].location_end == 12

    def test_shortened_highlight_collapses_into_newest(self) -> None:
        """An edit that shortens a highlight keeps the newer, shorter text."""
        library = merge(
            numbered(
                entry(content="one two three four", start=5, end=7, minute=0),
                entry(content="two three", start=6, end=6, minute=1),
            )
        )
        assert texts(library) == [["two three"]]

    def test_chain_of_edits_collapses_to_the_last(self) -> None:
        """Several successive edits leave only the latest."""
        library = merge(
            numbered(
                entry(content="a b", start=1, end=1, minute=0),
                entry(content="a b c", start=1, end=2, minute=1),
                entry(content="a b c d", start=1, end=3, minute=2),
            )
        )
        assert texts(library) == [["a b c d"]]

    def test_same_minute_edit_prefers_later_in_file(self) -> None:
        """With equal timestamps the later entry in the file wins."""
        library = merge(numbered(entry(content="x y z", minute=3), entry(content="x y", minute=3)))
        assert texts(library) == [["x y"]]

    def test_overlap_without_containment_keeps_both(self) -> None:
        """Overlapping ranges with unrelated texts are two highlights."""
        library = merge(
            numbered(
                entry(content="first passage", start=10, end=12),
                entry(content="second passage", start=12, end=14, minute=1),
            )
        )
        assert texts(library) == [["first passage", "second passage"]]

    def test_containment_without_overlap_keeps_both(self) -> None:
        """The same words highlighted in distant places are not an edit."""
        library = merge(
            numbered(
                entry(content="the sea", start=10),
                entry(content="the sea was calm", start=900, minute=1),
            )
        )
        assert len(library.books[0].highlights) == 2

    def test_page_only_edits_collapse_on_the_same_page(self) -> None:
        """PDF entries with a page and no location collapse when on the same page."""
        library = merge(
            numbered(
                entry(content="pdf words", start=None, page="7"),
                entry(content="pdf words extended", start=None, page="7", minute=1),
                entry(content="other words", start=None, page="8", minute=2),
            )
        )
        assert texts(library) == [["pdf words extended", "other words"]]


class TestRepeats:
    def test_exact_repeats_collapse(self) -> None:
        """The same entry written twice is one highlight."""
        library = merge(numbered(entry(content="same"), entry(content="same")))
        assert texts(library) == [["same"]]

    def test_repeats_differing_in_case_and_spacing_collapse(self) -> None:
        """Repeats that differ only in case, spacing or a final full stop are one highlight."""
        library = merge(
            numbered(entry(content="Hello  World."), entry(content="hello world", minute=1))
        )
        assert texts(library) == [["hello world"]]

    def test_empty_highlights_are_dropped(self) -> None:
        """A highlight with no text is not kept."""
        assert merge(numbered(entry(content="  \n"))).books[0].highlights == ()

    def test_clipping_limit_placeholders_are_counted_not_kept(self) -> None:
        """Clipping-limit placeholders are left out and counted."""
        library = merge(
            numbered(
                entry(
                    content="<You have reached the clipping limit for this item>",
                    clipping_limit=True,
                ),
                entry(content="real", minute=1),
            )
        )
        assert (texts(library), library.clipping_limit_entries) == ([["real"]], 1)


class TestNotes:
    def test_note_at_highlight_end_attaches(self) -> None:
        """A note at the last location of a highlight attaches to it."""
        library = merge(
            numbered(
                entry(content="passage", start=245, end=246),
                entry(kind=Kind.NOTE, content="my thought", start=246, minute=1),
            )
        )
        highlight = library.books[0].highlights[0]
        assert [n.text for n in highlight.notes] == ["my thought"]
        assert library.books[0].loose_notes == ()

    def test_note_inside_range_attaches(self) -> None:
        """A note inside a highlight's range attaches to it."""
        library = merge(
            numbered(
                entry(content="long passage", start=100, end=110),
                entry(kind=Kind.NOTE, content="n", start=104),
            )
        )
        assert len(library.books[0].highlights[0].notes) == 1

    def test_note_written_before_its_highlight_in_the_file(self) -> None:
        """Kindle sometimes writes the note first; it still attaches."""
        library = merge(
            numbered(
                entry(kind=Kind.NOTE, content="n", start=207),
                entry(content="passage", start=206, end=207),
            )
        )
        assert len(library.books[0].highlights[0].notes) == 1

    def test_prefers_highlight_ending_at_the_note(self) -> None:
        """Of two containing highlights, the one ending at the note wins."""
        library = merge(
            numbered(
                entry(content="wide", start=100, end=120),
                entry(content="narrow", start=110, end=115, minute=1),
                entry(kind=Kind.NOTE, content="n", start=115, minute=2),
            )
        )
        by_text = {h.text: len(h.notes) for h in library.books[0].highlights}
        assert by_text == {"wide": 0, "narrow": 1}

    def test_prefers_shortest_containing_range(self) -> None:
        """When no highlight ends at the note, the shortest containing range wins."""
        library = merge(
            numbered(
                entry(content="wide", start=100, end=120),
                entry(content="narrow", start=110, end=116, minute=1),
                entry(kind=Kind.NOTE, content="n", start=113, minute=2),
            )
        )
        by_text = {h.text: len(h.notes) for h in library.books[0].highlights}
        assert by_text == {"wide": 0, "narrow": 1}

    def test_note_on_nothing_is_loose(self) -> None:
        """A note outside every highlight is kept as a loose note."""
        library = merge(
            numbered(entry(content="p", start=10), entry(kind=Kind.NOTE, content="n", start=500))
        )
        assert [n.text for n in library.books[0].loose_notes] == ["n"]

    def test_pdf_note_attaches_to_highlight_on_its_page(self) -> None:
        """A page-only note attaches to the latest earlier highlight on its page."""
        library = merge(
            numbered(
                entry(content="first", start=None, page="9", minute=0),
                entry(content="second", start=None, page="9", minute=5),
                entry(kind=Kind.NOTE, content="n", start=None, page="9", minute=6),
            )
        )
        by_text = {h.text: len(h.notes) for h in library.books[0].highlights}
        assert by_text == {"first": 0, "second": 1}

    def test_repeated_note_attaches_once(self) -> None:
        """A note written twice is attached once."""
        library = merge(
            numbered(
                entry(content="p", start=10),
                entry(kind=Kind.NOTE, content="n", start=10),
                entry(kind=Kind.NOTE, content="n", start=10),
            )
        )
        assert len(library.books[0].highlights[0].notes) == 1

    def test_note_follows_an_edited_highlight(self) -> None:
        """A note on an edited highlight ends up on the surviving version."""
        library = merge(
            numbered(
                entry(content="a b", start=1, end=2),
                entry(kind=Kind.NOTE, content="n", start=2, minute=1),
                entry(content="a b c", start=1, end=3, minute=2),
            )
        )
        assert [(h.text, len(h.notes)) for h in library.books[0].highlights] == [("a b c", 1)]


class TestBooksAndOrder:
    def test_books_by_identity_not_spelling(self) -> None:
        """ "Austen, Jane" and "Jane Austen" with the same title are one book."""
        library = merge(
            numbered(
                entry(title="Emma", author="Austen, Jane", content="a"),
                entry(title="\ufeffEmma", author="Jane Austen", content="b", start=20),
            )
        )
        assert len(library.books) == 1
        assert library.books[0].identity == book_identity("Emma", "Jane Austen")

    def test_several_authors_in_any_order(self) -> None:
        """Authors separated by ";" match in any order."""
        assert book_identity("Good Omens", "Pratchett, Terry; Gaiman, Neil") == book_identity(
            "good omens", "Neil Gaiman; Terry Pratchett"
        )

    def test_books_in_order_of_first_appearance(self) -> None:
        """Books come in the order they first appear."""
        library = merge(
            numbered(
                entry(title="B", content="1"),
                entry(title="A", content="2"),
                entry(title="B", content="3", start=99),
            )
        )
        assert [b.title for b in library.books] == ["B", "A"]

    def test_highlights_in_location_order(self) -> None:
        """Highlights are ordered by location, whatever the file order."""
        library = merge(
            numbered(entry(content="late", start=300), entry(content="early", start=3, minute=1))
        )
        assert texts(library) == [["early", "late"]]

    def test_roman_pages_before_numbered_pages(self) -> None:
        """Front matter (roman pages) sorts before numbered pages."""
        library = merge(
            numbered(
                entry(content="body", start=None, page="2"),
                entry(content="preface", start=None, page="xiv", minute=1),
            )
        )
        assert texts(library) == [["preface", "body"]]

    def test_bookmarks_apart_and_deduplicated(self) -> None:
        """Bookmarks are kept apart from highlights, repeats removed."""
        library = merge(
            numbered(
                entry(kind=Kind.BOOKMARK, content="", start=50),
                entry(kind=Kind.BOOKMARK, content="", start=50),
                entry(kind=Kind.BOOKMARK, content="", start=20, minute=1),
            )
        )
        book = library.books[0]
        assert (book.highlights, [b.location for b in book.bookmarks]) == ((), [20, 50])

    def test_identity_is_book_plus_normalised_text(self) -> None:
        """A highlight's identity is that of its book and normalised text."""
        library = merge(numbered(entry(title="Emma", author=None, content="Some  Text.")))
        expected = highlight_identity(book_identity("Emma", None), "some text")
        assert library.books[0].highlights[0].identity == expected


class TestSpeed:
    def test_merges_many_entries_near_linearly(self) -> None:
        """60,000 entries, many of them repeats and edits, merge in well under the time a
        pairwise comparison would take (it would need 1.8 billion comparisons)."""
        entries = []
        for i in range(60_000):
            loc = (i * 7) % 20_000
            entries.append(
                entry(
                    content=f"passage {loc} words", start=loc, end=loc + 1, position=i + 1, minute=i
                )
            )
        started = time.process_time()
        library = merge(entries)
        assert time.process_time() - started < 5
        assert library.highlight_count == 20_000


class TestSourceNotesAndFlags:
    """Notes a source attaches itself, favourite and discard flags, dot-tags, language."""

    def test_attached_note_becomes_the_highlights_note(self) -> None:
        """A note carried on the entry (Kobo, KOReader, Readwise) is attached as is."""
        item = replace(entry(content="Fear is the mind-killer.", start=None), note="a motto")
        (book,) = merge([item]).books
        assert [n.text for n in book.highlights[0].notes] == ["a motto"]

    def test_flags_survive_repeats_and_edits(self) -> None:
        """A favourite on an older copy, a discard on an edited one: both reach the survivor."""
        old = replace(entry(content="Call me Ishmael.", end=11, minute=0), favourite=True)
        repeat = entry(content="Call me Ishmael.", end=11, minute=1, position=2)
        edit = replace(
            entry(content="Call me Ishmael. Some years ago", end=12, minute=5, position=3),
            discarded=True,
        )
        (highlight,) = merge([old, repeat, edit]).books[0].highlights
        assert (highlight.text, highlight.favourite, highlight.discarded) == (
            "Call me Ishmael. Some years ago",
            True,
            True,
        )

    def test_dot_tags_on_a_kindle_note(self) -> None:
        """A Kindle note ".favorite .whale" on its highlight favourites and tags it."""
        library = merge(
            numbered(
                entry(content="Call me Ishmael.", start=10, end=11),
                entry(kind=Kind.NOTE, content=".favorite .whale read aloud", start=11, minute=1),
            )
        )
        (highlight,) = library.books[0].highlights
        assert (highlight.favourite, highlight.discarded, highlight.tags) == (
            True,
            False,
            ("whale",),
        )
        assert [n.text for n in highlight.notes] == ["read aloud"]

    def test_discard_tag_alone_leaves_no_note(self) -> None:
        """A note that is only ".discard" discards its highlight and is not kept as a note."""
        item = replace(entry(content="Boring passage."), note=".discard")
        (highlight,) = merge([item]).books[0].highlights
        assert (highlight.discarded, highlight.notes) == (True, ())

    def test_flag_tags_from_the_source_are_flags_not_tags(self) -> None:
        """Readwise's "favorite" tag is the favourite flag; other tags stay tags."""
        item = replace(entry(), tags=("favorite", "stoic"), favourite=True)
        (highlight,) = merge([item]).books[0].highlights
        assert (highlight.favourite, highlight.tags) == (True, ("stoic",))

    def test_library_language_is_the_most_common(self) -> None:
        """The library's language is the device language most entries were written in."""
        entries = numbered(
            replace(entry(content="a"), language="de"),
            replace(entry(content="b", start=20), language="de"),
            replace(entry(content="c", start=30), language="en"),
        )
        assert merge(entries).language == "de"
        assert merge(numbered(entry())).language is None
