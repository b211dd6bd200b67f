"""Which format a text is in, from its content alone (uploads arrive with any file name)."""

from __future__ import annotations

from clippost.clippings.csv_export import looks_like_highlights_csv
from clippost.clippings.kindle_html import looks_like_kindle_html
from clippost.clippings.kindle_txt import looks_like_kindle_txt
from clippost.clippings.models import SourceFormat


def detect(text: str) -> SourceFormat | None:
    """The format of `text`, or None when it is none of the formats clippost reads.

    HTML is tried first (its markup is unmistakable), then the Kindle text file, then CSV
    last: a Kindle title line such as "Highlight, a novel (Author)" also splits on commas.
    """
    if looks_like_kindle_html(text):
        return SourceFormat.KINDLE_HTML
    if looks_like_kindle_txt(text):
        return SourceFormat.KINDLE_TXT
    if looks_like_highlights_csv(text):
        return SourceFormat.CSV
    return None
