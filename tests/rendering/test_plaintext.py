"""The text part's helpers: wrapping for a terminal, bidi controls removed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.rendering.plaintext import plain, wrap


def columns(line: str) -> int:
    return sum(2 if "\u3000" <= ch <= "\u9fff" else 1 for ch in line)


class TestWrap:
    def test_short_lines_are_left_alone(self) -> None:
        """A line that fits is returned as it is, with the prefix."""
        assert wrap("Hello there", prefix="> ") == "> Hello there"

    def test_breaks_at_spaces_within_the_width(self) -> None:
        """Long Latin text breaks at spaces into lines of at most 72 columns."""
        text = "The obstacle is the way, said the emperor, and so it was in Rome. " * 6
        lines = wrap(text, prefix="> ").splitlines()
        assert len(lines) > 3
        assert all(len(line) <= 72 and line.startswith("> ") for line in lines)
        assert " ".join(line[2:] for line in lines) == text.strip()

    def test_paragraphs_and_blank_lines_are_kept(self) -> None:
        """Line breaks in the text stay; blank lines keep a bare quote mark."""
        assert wrap("One.\n\nTwo.", prefix="> ") == "> One.\n>\n> Two."

    def test_a_long_word_gets_its_own_line(self) -> None:
        """A word longer than the line (a URL) is not broken."""
        url = "https://example.org/" + "x" * 100
        assert wrap(f"See {url} now") == f"See\n{url}\nnow"

    def test_cjk_is_broken_between_characters_at_double_width(self) -> None:
        """CJK text breaks between characters, a wide character counting two columns."""
        text = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。" * 4
        lines = wrap(text).splitlines()
        assert len(lines) > 2
        assert all(columns(line) <= 74 for line in lines)
        assert "".join(lines) == text

    def test_no_line_starts_with_a_closing_mark(self) -> None:
        """A CJK full stop or closing bracket never starts a line (kinsoku)."""
        text = "あ" * 35 + "。」" + "い" * 40
        assert all(not line.startswith(("。", "」")) for line in wrap(text).splitlines())

    def test_ascii_runs_in_cjk_are_not_split(self) -> None:
        """A time or a Latin word inside CJK text stays on one line."""
        text = "clippostにこのアドレスでご登録いただいたため、毎週水曜日の07:00にお送りします。"
        assert any("07:00" in line for line in wrap(text).splitlines())

    @given(
        text=st.lists(
            st.sampled_from(["word", " ", "longerword", "吾", "。", "\n", "x" * 80]), max_size=80
        ).map("".join)
    )
    def test_wrapping_loses_no_text(self, text: str) -> None:
        """Wrapping only turns spaces into line breaks: no character is lost or added."""
        assert "".join(wrap(text).split()) == "".join(text.split())


class TestPlain:
    @pytest.mark.parametrize(
        "control",
        ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"],
    )
    def test_bidi_controls_are_removed(self, control: str) -> None:
        """Embedding, override and isolate controls are dropped from plain text."""
        assert plain(f"Evil{control}txet") == "Eviltxet"

    def test_other_text_is_left_alone(self) -> None:
        """Text without controls, right-to-left letters included, is unchanged."""
        assert plain("שלום and hello\n") == "שלום and hello\n"
