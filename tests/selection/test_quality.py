"""Which highlights rotate: word counts that know CJK, fragments, the in_rotation flag."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.selection import DEFAULT_MIN_WORDS, in_rotation, passage_words
from clippost.selection.quality import is_fragment, passage_words_by_character


class TestPassageWords:
    @pytest.mark.parametrize(
        ("text", "words"),
        [
            ("body", 1),
            ("Brainteaser", 1),
            ("The map is not the territory.", 6),
            ("  spaced   out\tand\nnewlined ", 4),
            ("Über die Brücke gehen wir", 5),
            ("Война и мир", 3),
        ],
    )
    def test_counts_words_between_spaces(self, text: str, words: int) -> None:
        """Runs of letters between spaces are words, in any alphabet."""
        assert passage_words(text) == words

    @pytest.mark.parametrize(
        "text",
        [
            "https://example.com/a/long/path?query=1",
            "www.example.org",
            "example.com",
            "someone@example.com",
            "see https://example.com",
        ],
    )
    def test_links_and_addresses_are_no_words(self, text: str) -> None:
        """A URL, a bare domain or an e-mail address counts nothing; a word beside it is one."""
        assert passage_words(text) <= 1

    def test_digits_and_punctuation_are_no_words(self) -> None:
        """Page numbers, ISBNs and dashes are not words."""
        assert passage_words("978-3-16-148410-0 — 12, 13 …") == 0

    def test_each_han_ideograph_is_a_word(self) -> None:
        """Chinese runs without spaces: five ideographs read as five words."""
        assert passage_words("学而时习之") == 5
        assert passage_words("你好") == 2

    def test_kana_count_half(self) -> None:
        """A katakana word of seven kana is not seven words; a Japanese sentence is enough."""
        assert passage_words("プログラミング") == 3
        assert passage_words("吾輩は猫である。名前はまだ無い。") >= DEFAULT_MIN_WORDS

    def test_thai_counts_a_word_per_four_letters(self) -> None:
        """Thai runs words together: sixteen letters read as four words."""
        assert passage_words("ก" * 16) == 4

    def test_mixed_token_counts_both_parts(self) -> None:
        """A token mixing scripts counts its Latin run once and each ideograph once."""
        assert passage_words("iPhone用") == 2


class TestFragments:
    def test_under_the_threshold_is_a_fragment(self) -> None:
        """Fewer words than min_words is a fragment; min_words or more is a passage."""
        assert is_fragment(3, min_words=4)
        assert not is_fragment(4, min_words=4)

    def test_default_is_a_few_words(self) -> None:
        """The default threshold drops single words and pairs, keeps short sentences."""
        assert is_fragment(passage_words("Brainteaser"))
        assert not is_fragment(passage_words("Less is more, said he."))


class TestInRotation:
    def test_a_passage_of_a_normal_book_rotates(self) -> None:
        """Not discarded, a book not "never", enough words: in rotation."""
        assert in_rotation(discarded=False, weight=1.0, favourite=False, words=10)

    def test_discarded_never_rotates(self) -> None:
        """Discarded is out, favourite or not."""
        assert not in_rotation(discarded=True, weight=1.0, favourite=True, words=10)

    def test_never_book_never_rotates(self) -> None:
        """A book set to "never" (weight 0) keeps all its highlights out, favourites too."""
        assert not in_rotation(discarded=False, weight=0.0, favourite=True, words=10)

    def test_fragment_rotates_only_as_a_favourite(self) -> None:
        """A fragment is out unless the reader favourited it."""
        assert not in_rotation(discarded=False, weight=1.0, favourite=False, words=1)
        assert in_rotation(discarded=False, weight=1.0, favourite=True, words=1)

    def test_threshold_is_a_parameter(self) -> None:
        """The operator's threshold decides: 3 words pass at 3, fail at 4."""
        assert in_rotation(discarded=False, weight=1.0, favourite=False, words=3, min_words=3)
        assert not in_rotation(discarded=False, weight=1.0, favourite=False, words=3, min_words=4)


class TestFastCount:
    @given(
        st.text(
            alphabet=st.one_of(
                st.sampled_from(" \t\n.,;:-'\"!?()/@0123456789abcXYZ"),
                st.characters(),
            ),
            max_size=200,
        )
    )
    def test_the_fast_paths_count_what_the_rule_counts(self, text: str) -> None:
        """ASCII text through one regular expression, and ASCII tokens in other text, count
        exactly what the character-by-character rule counts."""
        assert passage_words(text) == passage_words_by_character(text)

    def test_a_mixed_text_takes_the_token_path(self) -> None:
        """ASCII words beside Han and kana: each part counted by its own rule."""
        text = "The iPhone用 and 学而 プログラミング, see www.example.com now"
        # The 4, iPhone用 8, and 4, 学而 8, プログラミング 14, see 4, now 4 quarters: 11 words.
        assert passage_words(text) == passage_words_by_character(text) == 11

    @given(
        st.lists(
            st.sampled_from(
                [
                    "see",
                    "example.com",
                    "WWW.x",
                    "a@b.io",
                    "http://x.y/z",
                    "e.g.",
                    "U.S.",
                    ".",
                    "Mr.",
                    "end.",
                    "x.COM/path",
                    "mailto:x@y.de",
                    "café",
                    "学",
                    "1.5",
                    "a-b.org",
                ]
            ),
            max_size=12,
        ).map(" ".join)
    )
    def test_links_are_taken_out_whichever_path_counts(self, text: str) -> None:
        """Text with and without links, in every spelling the link rule knows: the quick
        check that skips the link rule never changes the count."""
        assert passage_words(text) == passage_words_by_character(text)
