"""Passages: their language from their script, and their trimming at a boundary."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.rendering.passages import ELLIPSIS, is_cjk, passage_lang, script_of, trim_passage

SENTENCE_ENDS = (".", "!", "?", "…", "。", "！", "？")
CLOSERS = "\"'”’»)]」』）】〕〉》"


class TestPassageLang:
    @pytest.mark.parametrize(
        ("text", "hint", "lang"),
        [
            ("吾輩は猫である。名前はまだ無い。", "en", "ja"),
            ("学而时习之，不亦说乎？", "en", "zh"),
            ("学而时习之，不亦说乎？", "ja", "ja"),
            ("学而时习之，不亦说乎？", "zh-Hans", "zh-Hans"),
            ("채식주의자", "en", "ko"),
            ("Все счастливые семьи похожи друг на друга.", "en", "ru"),
            ("Все счастливые семьи похожи друг на друга.", "uk", "uk"),
            ("ἐν ἀρχῇ ἦν ὁ λόγος", "de", "el"),
            ("בראשית ברא אלהים", "en", "he"),
            ("الكتاب خير جليس", "en", "ar"),
        ],
    )
    def test_the_script_decides(self, text: str, hint: str, lang: str) -> None:
        """A non-Latin script names its language; the library's decides within a script."""
        assert passage_lang(text, hint) == lang

    @pytest.mark.parametrize("hint", ["de", "fr", "pt-BR", "en"])
    def test_latin_text_is_in_the_librarys_language(self, hint: str) -> None:
        """A Latin-script passage takes the library's language when it is written in Latin."""
        assert (
            passage_lang("Der Mensch ist frei geboren, und überall liegt er in Ketten.", hint)
            == hint
        )

    @pytest.mark.parametrize("hint", ["ja", "zh-Hans", "ru"])
    def test_latin_text_in_a_non_latin_library_is_english(self, hint: str) -> None:
        """In a Japanese, Chinese or Russian library, a Latin passage is most likely English."""
        assert passage_lang("It is not down on any map; true places never are.", hint) == "en"

    def test_a_quoted_word_does_not_change_the_language(self) -> None:
        """A Latin text quoting one Chinese character or Greek word is still Latin."""
        assert script_of("The character 道 means the way, said the teacher.") == "latin"
        assert script_of("Socrates called it λόγος, the account we give of things.") == "latin"

    @pytest.mark.parametrize("text", ["", "1984", "— … —"])
    def test_no_letters_keeps_the_librarys_language(self, text: str) -> None:
        """Digits and punctuation say nothing: the library's language stands."""
        assert passage_lang(text, "de") == "de"

    @pytest.mark.parametrize(("lang", "cjk"), [("ja", True), ("zh-Hans", True), ("ko", True)])
    def test_cjk_languages(self, lang: str, cjk: bool) -> None:
        """Japanese, Chinese and Korean are set upright."""
        assert is_cjk(lang) is cjk
        assert not is_cjk("de")


def ends_at_a_boundary(trimmed: str) -> bool:
    """Whether a trimmed passage ends with a sentence end or with the ellipsis."""
    return trimmed.endswith(ELLIPSIS) or trimmed.rstrip(CLOSERS).endswith(SENTENCE_ENDS)


class TestTrimPassage:
    def test_short_passages_are_left_whole(self) -> None:
        """A passage within the limit is returned as it is."""
        assert trim_passage("Short.", 700) == ("Short.", False)
        assert trim_passage("x" * 700, 700) == ("x" * 700, False)

    def test_cut_at_the_last_sentence_end(self) -> None:
        """A long passage ends at its last sentence end before the limit."""
        text = "One sentence here. " * 50
        trimmed, cut = trim_passage(text, 700)
        assert cut
        assert len(trimmed) <= 700
        assert trimmed.endswith("here.")
        assert len(trimmed) > 600

    def test_closing_quotes_stay_with_their_sentence(self) -> None:
        """A sentence's closing quote mark is kept with it."""
        text = "“Go on,” she said. “Stay where you are.” " * 30
        trimmed, _ = trim_passage(text, 500)
        assert trimmed.endswith("are.”")

    def test_cut_at_a_word_without_sentence_ends(self) -> None:
        """Without a sentence end in reach, the cut is at a space, marked with an ellipsis."""
        text = "word " * 300
        trimmed, cut = trim_passage(text, 700)
        assert cut
        assert len(trimmed) <= 700
        assert trimmed.endswith("word" + ELLIPSIS)

    def test_cjk_sentence_ends(self) -> None:
        """Japanese and Chinese full stops end sentences without a following space."""
        text = "吾輩は猫である。名前はまだ無い。「どこで生れたか」とんと見当がつかぬ。" * 40
        trimmed, cut = trim_passage(text, 700)
        assert cut
        assert len(trimmed) <= 700
        assert trimmed.endswith(("。", "」"))

    def test_cjk_without_sentence_ends_is_cut_at_a_character(self) -> None:
        """CJK text with no sentence end or space is cut at a character, never mid-letter."""
        text = "あ" * 500 + "e\u0301" * 400
        trimmed, _ = trim_passage(text, 700)
        assert len(trimmed) <= 700
        assert trimmed.endswith(ELLIPSIS)
        kept = len(trimmed) - len(ELLIPSIS)
        assert text.startswith(trimmed[:kept])
        assert not unicodedata.combining(text[kept])  # the mark stayed with its letter

    @given(
        text=st.lists(
            st.sampled_from(
                ["word", " ", "a.", ". ", "。", "é", "e\u0301", "«x»", "\n", "—", "吾"]
            ),
            min_size=1,
            max_size=400,
        ).map("".join),
        limit=st.integers(min_value=100, max_value=900),
    )
    def test_never_over_the_limit_and_always_at_a_boundary(self, text: str, limit: int) -> None:
        """For any passage, the result fits the limit, and a cut one ends at a boundary."""
        trimmed, cut = trim_passage(text, limit)
        assert len(trimmed) <= limit
        assert cut == (len(text) > limit)
        if cut:
            assert ends_at_a_boundary(trimmed)
            assert text.startswith(trimmed.removesuffix(ELLIPSIS).rstrip(",;:—–-、，").rstrip())
