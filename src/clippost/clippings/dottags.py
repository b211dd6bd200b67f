"""Dot-tags: the convention of typing ".favorite", ".discard" or ".tagname" into a note.

Readwise popularised it and readers use it on every device: a note such as
".favorite .stoicism read again" favourites its highlight, tags it "stoicism", and leaves
"read again" as the note. A dot-tag is a whole word that starts with a dot and a letter;
"..." and "e.g." are not dot-tags, and a note of dot-tags alone leaves no note behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOT_TAG = re.compile(r"(?<!\S)\.([^\W\d_][\w-]*)(?=\s|$)")
_FAVOURITE = frozenset({"favorite", "favourite", "fav", "star"})
_DISCARD = frozenset({"discard", "discarded"})
FLAG_TAGS = _FAVOURITE | _DISCARD


@dataclass(frozen=True, slots=True)
class DotTags:
    """What a note's dot-tags say, and the note's text without them."""

    favourite: bool
    discarded: bool
    tags: tuple[str, ...]
    text: str


def read_dot_tags(note: str) -> DotTags:
    """The dot-tags of `note` (lower-cased, in order, without repeats) and its other text."""
    if "." not in note:
        return DotTags(False, False, (), note)
    names = [match.group(1).casefold() for match in _DOT_TAG.finditer(note)]
    if not names:
        return DotTags(False, False, (), note)
    lines = _DOT_TAG.sub(" ", note).splitlines()
    text = "\n".join(" ".join(line.split()) for line in lines).strip()
    tags = tuple(dict.fromkeys(name for name in names if name not in FLAG_TAGS))
    return DotTags(
        favourite=any(name in _FAVOURITE for name in names),
        discarded=any(name in _DISCARD for name in names),
        tags=tags,
        text=text,
    )


def is_flag_tag(tag: str) -> bool:
    """Whether a source's tag is a flag clippost keeps apart ("favorite", "discard")."""
    return tag.casefold() in FLAG_TAGS
