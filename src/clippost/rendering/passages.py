"""A passage as the email shows it: its language, told by its script, and a readable length.

`passage_lang` is what a screen reader and a font fallback need (`lang` on each passage):
the script of the text decides where it can (kana is Japanese, Hangul Korean, Han alone
Chinese), and the library's language decides among the languages that share a script
(a Latin passage in a German library is German; in a Japanese one, most likely English).
It reads at most the first few hundred characters: a passage's opening tells its script.

`trim_passage` keeps a long passage readable in an inbox: it ends the passage at the last
sentence end before the limit, or else at the last space, or else (CJK without sentence
ends, one huge word) at a character, never splitting a letter from its combining marks.
Both are pure and cheap; the renderer runs them for every passage it sends.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SAMPLE = 300
ELLIPSIS = "…"

_KANA = "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Each non-Latin script a reader's books are likely in, with the language it implies when
# the library's language is not one written in it.
_SCRIPTS: dict[str, tuple[str, frozenset[str]]] = {
    "cjk": (f"[{_KANA}{_HAN}]", frozenset({"ja", "zh"})),
    "hangul": ("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]", frozenset({"ko"})),
    "cyrillic": ("[\u0400-\u04ff]", frozenset({"ru", "uk", "bg", "sr", "be", "mk", "kk"})),
    "greek": ("[\u0370-\u03ff\u1f00-\u1fff]", frozenset({"el"})),
    "hebrew": ("[\u0590-\u05ff]", frozenset({"he", "yi"})),
    "arabic": ("[\u0600-\u06ff\u0750-\u077f]", frozenset({"ar", "fa", "ur"})),
    "thai": ("[\u0e00-\u0e7f]", frozenset({"th"})),
    "devanagari": ("[\u0900-\u097f]", frozenset({"hi", "mr", "ne"})),
}
_DEFAULT_LANG = {
    "cjk": "zh",
    "hangul": "ko",
    "cyrillic": "ru",
    "greek": "el",
    "hebrew": "he",
    "arabic": "ar",
    "thai": "th",
    "devanagari": "hi",
}
_NON_LATIN = re.compile("|".join(pattern for pattern, _ in _SCRIPTS.values()))
_SCRIPT_OF = [(name, re.compile(pattern)) for name, (pattern, _) in _SCRIPTS.items()]
_NON_LATIN_LANGS = frozenset().union(*(langs for _, langs in _SCRIPTS.values()))
_HAS_KANA = re.compile(f"[{_KANA}]")
_LATIN_LETTER = re.compile("[A-Za-z\u00c0-\u024f]")
_ASCII_NON_LETTERS = bytes(b for b in range(128) if not chr(b).isalpha())
CJK_LANGS = frozenset({"ja", "zh", "ko"})

_SERIF = "Georgia, 'Times New Roman', Times, serif"
# CJK serif faces by platform (macOS and iOS, Windows, Linux and Android); without them
# a CJK passage falls back to whatever the client has, in a Latin face's metrics.
_SERIF_BY_LANG = {
    "ja": (
        "'Hiragino Mincho ProN', 'Yu Mincho', YuMincho, 'Noto Serif CJK JP', 'Noto Serif JP', serif"
    ),
    "zh": "'Songti SC', STSong, SimSun, 'Noto Serif CJK SC', 'Noto Serif SC', serif",
    "ko": "AppleMyungjo, Batang, 'Noto Serif CJK KR', 'Noto Serif KR', serif",
}


# A sentence ends at . ! ? or … (with any closing quotes or brackets) before a space, or at
# a CJK full stop, exclamation or question mark (with closing brackets), which needs none.
_SENTENCE_END = re.compile(
    "[.!?\u2026][\"'\u201d\u2019\u00bb)\\]]*(?=\\s)|[\u3002\uff01\uff1f][\u300d\u300f\uff09\u3011\u3015\u3009\u300b\u201d\u2019]*"
)
_SPACE = re.compile(r"\s")
_DANGLING = ",;:\u2014\u2013-\u3001\uff0c"


def script_of(text: str) -> str | None:
    """ "latin", a name from the table above ("cjk", "cyrillic", ...), or None (no letters)."""
    sample = text[:_SAMPLE]
    # Counted with C string methods, not regexes: a regex walking a few hundred characters
    # of a non-Latin class costs ten times more, and this runs for every passage sent.
    ascii_part = sample.encode("ascii", "ignore")
    latin = len(ascii_part.translate(None, _ASCII_NON_LETTERS))
    if len(ascii_part) == len(sample):
        return "latin" if latin else None
    match = _NON_LATIN.search(sample)
    if match is None:
        return "latin" if latin or _LATIN_LETTER.search(sample) else None
    script = next(name for name, pattern in _SCRIPT_OF if pattern.match(match.group()))
    # A Latin text quoting one word of Greek or one character of Chinese is still Latin:
    # the script must hold most of the non-ASCII characters against the ASCII letters
    # (accented Latin letters are rare beside them). Han characters carry a word or more
    # each, so they count double.
    others = (len(sample) - len(ascii_part)) * (2 if script == "cjk" else 1)
    return script if others >= latin else "latin"


def passage_lang(text: str, hint: str) -> str:
    """The BCP 47 language of `text`, `hint` being the library's (e.g. "de", "pt-BR")."""
    script = script_of(text)
    return _lang_for(script, hint, text if script == "cjk" else "")


@lru_cache(maxsize=8192)
def short_text_lang(text: str, hint: str) -> str:
    """passage_lang for the short strings that recur in every digest (titles, notes)."""
    return passage_lang(text, hint)


def _lang_for(script: str | None, hint: str, cjk_text: str) -> str:
    language = hint.split("-", 1)[0].lower()
    if script is None:
        return hint
    if script == "latin":
        return hint if language not in _NON_LATIN_LANGS else "en"
    if script == "cjk":
        # Kana only occurs in Japanese; Han alone is Chinese unless the library is Japanese.
        if _HAS_KANA.search(cjk_text[:_SAMPLE]) or language == "ja":
            return "ja"
        return hint if language == "zh" else "zh"
    return hint if language in _SCRIPTS[script][1] else _DEFAULT_LANG[script]


def is_cjk(lang: str) -> bool:
    """Whether text in `lang` is set without italics (CJK fonts have none: browsers slant)."""
    return lang.split("-", 1)[0] in CJK_LANGS


def serif(lang: str) -> str:
    """The serif font stack for passages in `lang` (CJK faces for CJK text)."""
    return _SERIF_BY_LANG.get(lang.split("-", 1)[0], _SERIF)


def trim_passage(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to at most `limit` characters at the best boundary, and whether it was."""
    if len(text) <= limit:
        return text, False
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit + 1) if m.end() <= limit]
    if ends and ends[-1] >= limit // 2:
        return text[: ends[-1]].rstrip(), True
    room = limit - len(ELLIPSIS)
    spaces = [m.start() for m in _SPACE.finditer(text, limit // 2, room + 1)]
    cut = spaces[-1] if spaces else _character_boundary(text, room)
    return text[:cut].rstrip().rstrip(_DANGLING).rstrip() + ELLIPSIS, True


def _character_boundary(text: str, cut: int) -> int:
    """The largest index <= cut that does not split a letter from its combining marks."""
    while cut > 0 and unicodedata.combining(text[cut]):
        cut -= 1
    return cut
