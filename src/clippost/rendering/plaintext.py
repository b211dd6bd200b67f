"""The plain-text part, made to be read: lines wrapped for a terminal, no bidi tricks.

`wrap` breaks lines at spaces in scripts that use them and between characters in CJK text
(which has none), counting a wide character as two columns, and never starts a line with a
closing bracket or a CJK comma or full stop (the line before keeps it, one column over).
The stdlib's textwrap knows neither rule and costs ten times more: this runs for every
passage of every digest, so it works with slices and `str.rfind`, not a loop per word.

`plain` removes the explicit bidi controls (embeddings, overrides, isolates, and the
left-to-right and right-to-left marks) from a value a reader supplied: in plain text
nothing can isolate them, and an unclosed right-to-left override in a title would reverse
the rest of its line.
"""

from __future__ import annotations

import re

WIDTH = 72

_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Every character that some mail software treats as a line break, and other controls.
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_SPACES = re.compile(r"\s+")
# Wide (two-column) characters: Hangul Jamo, CJK punctuation to Yi, Hangul syllables,
# compatibility ideographs, CJK compatibility forms, fullwidth forms, the supplementary
# ideographs.
_WIDE = (
    "\u1100-\u115f\u2e80-\u303e\u3040-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f"
    "\uff00-\uff60\uffe0-\uffe6\U00020000-\U0003fffd"
)
# Characters a line must not start with (kinsoku): closing brackets and CJK punctuation.
_NO_START = frozenset(
    "\u3001\u3002\uff0c\uff0e\uff01\uff1f\uff09\u300d\u300f\u3011\u3015\u3009\u300b"
    "\u301f\u30fc\u2019\u201d)]}!?.,;:"
)
_IS_WIDE = re.compile(f"[{_WIDE}]")


def one_line(value: object) -> str:
    """`value` as a single line: every line break or control character becomes a space."""
    text = str(value)
    # str.isprintable() is False for every control, line break and Unicode space but the
    # ASCII one: a printable text needs at most its runs of spaces folded. This is the case
    # of nearly every title, in a fraction of the time of the two regexes.
    if text.isprintable() and "  " not in text:
        return text.strip()
    return _SPACES.sub(" ", _LINE_BREAKS.sub(" ", text)).strip()


def plain(value: object) -> str:
    """`value` as text without explicit bidi controls (fast when it has none)."""
    text = str(value)
    # Every bidi control is outside ASCII: an ASCII text (a flag the string has, no scan)
    # has none, where isprintable walks it a character at a time.
    if text.isascii() or text.isprintable():
        return text
    return _BIDI_CONTROLS.sub("", text)


def wrap(text: str, width: int = WIDTH, prefix: str = "") -> str:
    """`text` with each line broken to fit `width` columns, `prefix` before every line."""
    room = width - len(prefix)
    if len(text) <= room and "\n" not in text and (text.isascii() or not _IS_WIDE.search(text)):
        return prefix + text if text else prefix.rstrip()  # one short line: most of them
    return "\n".join(
        prefix + line if line else prefix.rstrip()
        for paragraph in text.splitlines() or [""]
        for line in _wrap_line(paragraph.rstrip(), room)
    )


def _wrap_line(line: str, width: int) -> list[str]:
    # str.isascii() reads a flag the string already has: no scan for wide characters in
    # the common case of an ASCII passage, where the regex walked it twice.
    wide = not line.isascii() and _IS_WIDE.search(line) is not None
    if len(line) <= width // 2 or (len(line) <= width and not wide):
        return [line]
    if wide:
        return _wrap_wide(line, width // 2)
    lines: list[str] = []
    while len(line) > width:
        cut = line.rfind(" ", 0, width + 1)
        if cut <= 0:  # one word longer than the line: it gets a line of its own
            cut = line.find(" ", width)
            if cut < 0:
                break
        lines.append(line[:cut].rstrip())
        line = line[cut:].lstrip()
    lines.append(line)
    return lines


def _wrap_wide(line: str, chars: int) -> list[str]:
    """A line with CJK in it, cut every `chars` characters (each counted as wide: a line of
    mixed scripts comes out a little short, never long), moving the cut past characters a
    line must not start with and back before a run of ASCII it would split."""
    lines: list[str] = []
    start = 0
    while len(line) - start > chars:
        cut = start + chars
        while cut < len(line) and line[cut] in _NO_START:
            cut += 1
        back = cut
        while back > start + 1 and _inside_word(line, back):
            back -= 1
        cut = back if back > start + 1 else cut
        lines.append(line[start:cut].rstrip())
        start = cut
        while start < len(line) and line[start] == " ":
            start += 1
    lines.append(line[start:])
    return lines


def _inside_word(line: str, at: int) -> bool:
    """Whether a cut before line[at] splits a run of ASCII (a Latin word, "07:00", a URL)."""
    return at < len(line) and _ascii_mark(line[at]) and _ascii_mark(line[at - 1])


def _ascii_mark(char: str) -> bool:
    return char.isascii() and not char.isspace()
