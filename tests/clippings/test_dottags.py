"""Dot-tags in notes: ".favorite", ".discard", ".tag", several at once, the rest kept."""

from __future__ import annotations

import pytest

from clippost.clippings.dottags import read_dot_tags


class TestDotTags:
    def test_several_tags_and_the_rest_of_the_note(self) -> None:
        """Flags and tags are read in order; the other words stay, spacing tidied."""
        said = read_dot_tags(".favorite .stoicism  read this   again .Ethics")
        assert (said.favourite, said.discarded, said.tags, said.text) == (
            True,
            False,
            ("stoicism", "ethics"),
            "read this again",
        )

    def test_discard(self) -> None:
        """.discard discards; a note of dot-tags alone leaves no text."""
        said = read_dot_tags(".discard")
        assert (said.discarded, said.text) == (True, "")

    @pytest.mark.parametrize(
        "note", ["Wait... what?", "e.g. this", "version 2.0", "a .5 chance", "."]
    )
    def test_dots_that_are_not_tags(self, note: str) -> None:
        """Ellipses, abbreviations and numbers are not dot-tags: the note is untouched."""
        said = read_dot_tags(note)
        assert (said.tags, said.favourite, said.text) == ((), False, note)

    def test_line_breaks_are_kept(self) -> None:
        """A multi-line note keeps its lines once the tags are taken out."""
        assert read_dot_tags(".h1 first line\nsecond line").text == "first line\nsecond line"

    def test_repeats_count_once(self) -> None:
        """A tag written twice is one tag."""
        assert read_dot_tags(".a .b .a").tags == ("a", "b")
