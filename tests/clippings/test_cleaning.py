"""Controls out of imported text: what no database or email should hold."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from clippost.clippings import parse
from clippost.clippings.cleaning import clean_text

_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


class TestCleanText:
    @given(st.text())
    def test_no_control_survives(self, text):
        """Whatever the text, no control (but newline and tab) and no surrogate is left."""
        assert _FORBIDDEN.search(clean_text(text)) is None

    @given(st.text())
    def test_everything_else_is_kept_in_order(self, text):
        """Only those characters go: the rest is the text as it was."""
        assert clean_text(text) == "".join(c for c in text if not _FORBIDDEN.match(c))

    def test_newlines_tabs_and_bidi_stay(self):
        """Newline, tab and the bidi controls of right-to-left titles are text."""
        text = "a\nb\tc \u202eרשימה\u202c \u200f"
        assert clean_text(text) == text

    def test_nul_bell_escape_and_c1(self):
        """NUL, BEL, ESC, DEL and a C1 control are removed."""
        assert clean_text("a\x00b\x07c\x1bd\x7fe\x85f") == "abcdef"


class TestParseCleans:
    def test_a_utf16_file_with_nul_in_every_field(self):
        """A UTF-16 Kindle file (where NUL passes the binary check) parses without them."""
        entry = (
            "Ti\x00tle (Au\x00thor)\n- Your Highlight on page 3 | Location 10-12 | Added on "
            "Monday, 2 January 2023 10:00:00\n\nPass\x00age\x1b text"
            + " and more" * 40
            + "\n==========\n"
        )
        result = parse(entry.encode("utf-16"))
        [found] = result.entries
        assert (found.title, found.author, found.content) == (
            "Title",
            "Author",
            "Passage text" + " and more" * 40,
        )
