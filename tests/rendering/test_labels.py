"""Titles and authors as emails carry them: one line, cut short, never a link."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from clippost.rendering.labels import LABEL_CHARS, label, unlinked

# What mail clients' linkifiers look for: a scheme, "www.", a host name with a TLD, an
# address. Looser than any of them (it also takes "Node.js"), so passing it is enough.
_LINKIFIABLE = re.compile(r"[a-z][a-z0-9+.-]*:/|www\.|\S\.\S|[\u3002\uff0e\uff61][a-z0-9]", re.I)
_HOSTILE = st.lists(
    st.sampled_from(
        [
            "http://evil.example/login",
            "https:///x.example",
            "www.evil.example",
            "evil.example",
            "me@evil.example",
            "例え\u3002jp",
            "xn--e1awd7f\uff0ecom",
            " ",
            "Title",
            "\n",
        ]
    ),
    max_size=30,
).map("".join)


class TestLabel:
    @given(st.one_of(st.text(), _HOSTILE))
    def test_nothing_linkifiable_is_left(self, text):
        """Whatever a title holds, its label has no scheme, host name or address."""
        assert _LINKIFIABLE.search(label(text)) is None

    @given(st.one_of(st.text(), _HOSTILE))
    def test_one_short_line(self, text):
        """A label is one line of at most LABEL_CHARS characters."""
        shown = label(text)
        assert len(shown) <= LABEL_CHARS
        assert "\n" not in shown

    def test_a_long_title_ends_with_an_ellipsis(self):
        """A title past the limit is cut, and says so."""
        shown = label("word " * 100)
        assert len(shown) <= LABEL_CHARS
        assert shown.endswith("\u2026")

    def test_ordinary_titles_read_the_same(self):
        """Titles with no dot or scheme are untouched; dotted ones only change their dots."""
        assert label("The Name of the Rose") == "The Name of the Rose"
        assert label("Node.js in Action") == "Node\u2024js in Action"
        assert label("Vol. 2: The End.") == "Vol. 2: The End."

    def test_schemes_lose_their_slashes(self):
        """http:// keeps its look, not its slashes."""
        assert unlinked("see http://a.b") == "see http:\u2215\u2215a\u2024b"
