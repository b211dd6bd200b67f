"""Is a highlight a passage worth sending, or a fragment ("body", "Brainteaser", a bare URL)?

The measure is a word count, computed once at import and stored (`words`), so that the
threshold can be a setting without re-reading any text. Words are counted so that scripts
written without spaces are not all "one word":

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
# Quarters of a word, per character of the scripts that do not separate words by spaces.
_HAN, _KANA, _SOUTHEAST = 4, 2, 1
_QUARTERS_PER_WORD = 4


def passage_words(text: str) -> int:
    """How many words `text` holds, by the rules in the module docstring."""
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
