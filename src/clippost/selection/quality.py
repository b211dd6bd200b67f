"""Is a highlight a passage worth sending, or a fragment ("body", "Brainteaser", a bare URL)?

The measure is a word count, worked out when the planner lays a reader's library out
(`planner/rotation.py`: once per change of the library, never per digest), so it must be
cheap for every highlight. Words are counted so that scripts written without spaces are
not all "one word":

- a run of letters between spaces (Latin, Cyrillic, Greek, Hangul, Arabic...) is one word;
- each Han ideograph is a word (Chinese and Japanese kanji carry a word's meaning or close);
- each kana is half a word (a syllable: "プログラミング" is one word of seven kana);
- Thai, Lao, Khmer and Myanmar letters are a quarter of a word each (those scripts run words
  together, at roughly four letters a word);
- digits, punctuation and symbols are no words at all; URLs and e-mail addresses are removed
  before counting, so a link alone, or a link with a word beside it, is a fragment.
"""

from __future__ import annotations

import re

# "A few words": below this, a highlight is a fragment (unless the reader favourited it).
DEFAULT_MIN_WORDS = 4

_LINK = re.compile(
    r"(?:[a-z][a-z0-9+.-]*://|www\.)\S+"  # URLs, with or without a scheme
    r"|\S+@\S+\.\w+"  # e-mail addresses
    r"|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|de|fr|uk|jp|cn)(?:/\S*)?\b",  # bare domains
    re.IGNORECASE,
)
# What every branch of `_LINK` needs: "://", "www.", "@", or a dot before a letter (".com").
_MAYBE_LINK = re.compile(r"://|www\.|@|\.[a-z]", re.IGNORECASE)
# Quarters of a word, per character of the scripts that do not separate words by spaces.
_HAN, _KANA, _SOUTHEAST = 4, 2, 1
_QUARTERS_PER_WORD = 4


# A whitespace-separated ASCII token holding a letter: in ASCII text, exactly the tokens
# `_token_quarters` counts as one word (ASCII has no dense script).
_ASCII_WORD = re.compile(r"[^\s]*[A-Za-z][^\s]*")


def passage_words(text: str) -> int:
    """How many words `text` holds, by the rules in the module docstring.

    The planner counts every highlight of a library it lays out, so most text (ASCII) is
    counted by one regular expression; other text token by token, and an ASCII token among
    them without looking at its characters one by one."""
    # `_LINK` tries its bare-domain branch at every word: only text that could hold a link
    # (each branch needs one of these) pays for it.
    cleaned = _LINK.sub(" ", text) if _MAYBE_LINK.search(text) else text
    if cleaned.isascii():
        return len(_ASCII_WORD.findall(cleaned))
    quarters = 0
    for token in cleaned.split():
        if token.isascii():
            quarters += _QUARTERS_PER_WORD if _ASCII_WORD.search(token) else 0
        else:
            quarters += _token_quarters(token)
    return quarters // _QUARTERS_PER_WORD


def passage_words_by_character(text: str) -> int:
    """`passage_words` without its fast paths: the rule itself, which tests compare with."""
    quarters = 0
    for token in _LINK.sub(" ", text).split():
        quarters += _token_quarters(token)
    return quarters // _QUARTERS_PER_WORD


def is_fragment(words: int, *, min_words: int = DEFAULT_MIN_WORDS) -> bool:
    return words < min_words


def _token_quarters(token: str) -> int:
    dense = 0
    spaced_letters = False
    for char in token:
        weight = _dense_weight(ord(char))
        if weight:
            dense += weight
        elif char.isalpha():
            spaced_letters = True
    # A token mixing scripts ("iPhone用") counts its spaced part once and its dense part per char.
    return dense + (_QUARTERS_PER_WORD if spaced_letters else 0)


def _dense_weight(code: int) -> int:
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return _HAN
    if code == 0x3005:  # 々, the ideographic iteration mark, stands for the ideograph before it
        return _HAN
    if 0x20000 <= code <= 0x2FA1F:
        return _HAN
    if code == 0x30FB:  # ・, the katakana middle dot, is punctuation
        return 0
    if 0x3041 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9D:
        return _KANA
    if 0x0E01 <= code <= 0x0EFF or 0x1780 <= code <= 0x17FF or 0x1000 <= code <= 0x109F:
        return _SOUTHEAST
    return 0
