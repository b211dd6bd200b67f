"""Bytes to text: the encodings Kindle devices, apps and export services really write.

Devices write UTF-8, usually with a BOM; some tools re-save files as UTF-16 or Windows-1252.
Anything that is not text (an image, an e-book, a zip) decodes to None so the caller can say
"this is not a highlights file" instead of showing mojibake.
"""

from __future__ import annotations

import codecs
import re

_SAMPLE = 1 << 20  # the junk check reads the first MiB: enough to tell text from binary
# C0 controls other than tab, LF, VT, FF, CR: text files hardly ever contain them.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13)) + b"\x7f"
_MAX_CONTROL_RATIO = 0.01
_SEPARATOR_LINE = b"\n=========="
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


def decode(data: bytes) -> str | None:
    """The text in `data`, U+FEFF removed and every line ending made LF; None if not text.

    Kindle files carry a U+FEFF before many titles and CRLF line ends. Removing them here,
    on the bytes, means the format readers never copy the whole text to tidy it: a copy of
    a 150 MB text is 150 to 600 MB, which would break the memory budget (4x the input).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _text_or_none(data.decode("utf-16", "replace"))
        return None if text is None else _tidy_text(text)
    return decode_piece(data, marked=data.startswith(codecs.BOM_UTF8), first=True)


def decode_piece(data: bytes, *, marked: bool, first: bool) -> str | None:
    """`decode` for one piece of a UTF-8 (`marked`: with a BOM) or Windows-1252 file.

    Only the `first` piece decides whether the file is text at all; the others are decoded
    whatever they hold, so one odd stretch cannot lose the rest of a file.
    """
    if first and not marked and _looks_binary(data):
        return None
    data = _tidy_bytes(data)
    if marked:
        text = data.decode("utf-8", "replace")
        return _text_or_none(text) if first else text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Not UTF-8 but plausible text: Windows-1252 is what Western tools re-save as.
        return data.decode("cp1252", "replace")


def piece_ends(data: bytes, size: int) -> list[int]:
    """Offsets that cut `data` into pieces of at least `size` bytes, each just after a
    Kindle separator line, so that every piece holds whole entries.

    UTF-16 and files without separators stay in one piece.
    """
    ends: list[int] = []
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return [len(data)]
    search = size
    while search < len(data):
        found = data.find(_SEPARATOR_LINE, search)
        eol = data.find(b"\n", found + len(_SEPARATOR_LINE)) if found >= 0 else -1
        if eol < 0:
            break
        if data[found + len(_SEPARATOR_LINE) : eol].strip():
            search = found + 1  # "==========" followed by text is not a separator
            continue
        ends.append(eol + 1)
        search = eol + 1 + size
    if not ends or ends[-1] != len(data):
        ends.append(len(data))
    return ends


def _tidy_bytes(data: bytes) -> bytes:
    # Safe on UTF-8 and Windows-1252: these byte sequences only ever mean U+FEFF, CR, LF.
    # Looking for the BOM's first byte alone is a memchr, ten times faster than for all
    # three; without it (a file re-saved without BOMs) that is the whole search.
    if b"\xef" in data and codecs.BOM_UTF8 in data:
        data = data.replace(codecs.BOM_UTF8, b"")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            data = data.replace(b"\r", b"\n")
    return data


def _tidy_text(text: str) -> str:
    text = text.replace("\ufeff", "")
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _looks_binary(data: bytes) -> bool:
    if b"\x00" in data:
        return True
    sample = data[:_SAMPLE]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > _MAX_CONTROL_RATIO * max(len(sample), 1)


def _text_or_none(text: str) -> str | None:
    """Decoded text, unless it is full of NULs and controls (binary behind a BOM-like start)."""
    sample = text[:_SAMPLE]
    controls = len(_CONTROL_CHARS.findall(sample))
    return None if controls > _MAX_CONTROL_RATIO * max(len(sample), 1) else text
