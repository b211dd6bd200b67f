"""An uploaded file to a merged library, or the one error a reader understands.

Synchronous and pure: the web layer runs it in one of its parse processes
(`web/upload_parsers.py`; a thread of the web process when `CLIPPOST_PARSE_PROCESSES` is 0),
since parsing 20 MB takes a moment, and nothing is stored until it returns a library.
Checks run cheapest first, so an oversized upload is refused before a byte of it is parsed.
"""

from __future__ import annotations

from clippost import clippings
from clippost.clippings.decoding import decode
from clippost.clippings.models import Kind, Library, RawEntry
from clippost.errors import BadInput, PayloadTooLarge, UnsupportedFile

_SNIFF_BYTES = 64 * 1024  # enough to tell text from a picture, an e-book or an archive
_BYTES_PER_MB = 1024 * 1024


def parse_upload(data: bytes, *, max_bytes: int) -> Library:
    """The merged library in `data`; raises a ClippostError saying what is wrong otherwise."""
    _check_size(data, max_bytes)
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xfe\xff"):
        raise BadInput(
            "The file is empty. On a Kindle, My Clippings.txt is in the documents folder; "
            "please choose that file and try again."
        )
    if decode(data[:_SNIFF_BYTES]) is None:
        raise UnsupportedFile(
            "This is not a text file (it may be a picture, an e-book or an archive). Please "
            "upload My Clippings.txt from your Kindle, the Kindle app's notebook export (HTML) "
            "or a highlights CSV."
        )
    result = clippings.parse(data)
    if result.error is not None:
        raise UnsupportedFile(result.error)
    library = clippings.merge(result.entries)
    if library.highlight_count == 0:
        raise BadInput(_no_highlights(result.entries))
    return library


def _check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        limit = f"{max_bytes / _BYTES_PER_MB:.1f}".removesuffix(".0")
        raise PayloadTooLarge(
            f"The file is larger than the {limit} MB limit. If it is your My Clippings.txt, "
            "upload it in parts: highlights already in your library are never added twice."
        )


def _no_highlights(entries: list[RawEntry]) -> str:
    bookmarks = sum(1 for entry in entries if entry.kind is Kind.BOOKMARK)
    limited = sum(1 for entry in entries if entry.clipping_limit)
    if limited:
        return (
            f"We found {limited} entries cut off by the publisher's clipping limit but no "
            "highlight text to send you. Highlights from other books will work."
        )
    if bookmarks:
        noun = "bookmark" if bookmarks == 1 else "bookmarks"
        return (
            f"We found {bookmarks} {noun} but no highlights in this file. Highlight a passage "
            "on your Kindle (press and drag over the text), then upload the file again."
        )
    return (
        "We found no highlights in this file. Highlight a passage on your Kindle, then "
        "upload My Clippings.txt again."
    )
