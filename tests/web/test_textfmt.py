"""The small pure helpers behind the pages: clocks by language, marked search terms."""

from __future__ import annotations

from datetime import UTC, datetime

from clippost.web.textmarks import mark_terms
from clippost.web.timefmt import clock, local_datetime, uses_12_hour


class TestClock:
    def test_languages_on_a_12_hour_clock(self):
        """US English (and bare English), Korean, Hindi read 12-hour; the first language counts."""
        for header in ("en-US,en;q=0.9", "en", "ko-KR", "hi", "en-us"):
            assert uses_12_hour(header), header

    def test_languages_on_a_24_hour_clock(self):
        """British English, the other email languages, and no header read 24-hour."""
        for header in (
            "en-GB,en;q=0.9",
            "de-DE",
            "fr",
            "ja",
            "zh-CN",
            "pt-BR",
            "ru",
            "",
            None,
            "*",
        ):
            assert not uses_12_hour(header), header

    def test_spelling(self):
        """Midnight is 12:00 AM, noon 12:00 PM; the 24-hour clock pads the hour."""
        assert [clock(h, twelve=True) for h in (0, 7, 12, 13)] == [
            "12:00 AM",
            "7:00 AM",
            "12:00 PM",
            "1:00 PM",
        ]
        assert clock(7) == "07:00"

    def test_a_date_and_time_in_the_readers_zone(self):
        """UTC 06:00 in Paris in November is 07:00, or 7:00 AM."""
        moment = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
        assert local_datetime(moment, "Europe/Paris") == "Monday 23 November 2026 at 07:00"
        assert local_datetime(moment, "Europe/Paris", True).endswith("at 7:00 AM")


class TestMarkTerms:
    def test_every_match_in_any_case(self):
        """Each occurrence is marked and keeps its own case."""
        assert str(mark_terms("Sea and sea", "SEA")) == "<mark>Sea</mark> and <mark>sea</mark>"

    def test_everything_is_escaped(self):
        """Text and match are escaped: markup in either stays text."""
        marked = str(mark_terms("a <b>bold</b> & co", "<b>"))
        assert marked == "a <mark>&lt;b&gt;</mark>bold&lt;/b&gt; &amp; co"

    def test_no_query_and_no_text(self):
        """Without a query the text is only escaped; without text, nothing."""
        assert str(mark_terms("<i>", "  ")) == "&lt;i&gt;"
        assert str(mark_terms(None, "x")) == ""

    def test_regex_characters_are_literal(self):
        """A query such as "a.c" or "(" matches itself only."""
        assert str(mark_terms("abc a.c (x)", "a.c")) == "abc <mark>a.c</mark> (x)"
        assert str(mark_terms("(x)", "(")) == "<mark>(</mark>x)"
