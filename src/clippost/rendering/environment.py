"""The Jinja2 environment for emails, and `render_email`: one kind in, subject + text + HTML out.

Each kind is a pair of templates, `email/<kind>.txt` and `email/<kind>.html`. The subject is
the `subject` block of the text template (so it is never HTML-escaped), rendered first and
handed to both bodies as `email_subject`; it is flattened to one line whatever the data holds,
which is what keeps a book title such as "x\\r\\nBcc: y" out of the headers. HTML templates
autoescape everything; the text ones do not (they are plain text, and escaping would show
"&amp;" to the reader). Each template states the context it needs in a comment at its top.

The environment and its compiled templates are built once per process: a digest is rendered
for every message the sender sends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape

EMAIL_KINDS = frozenset({"confirm", "already_subscribed_import", "magic_link", "digest", "welcome"})

# Every character that some mail software treats as a line break, and other controls.
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(kind: str, context: Mapping[str, Any]) -> RenderedEmail:
    """Render one email of `kind` (one of EMAIL_KINDS) with `context`."""
    text_template, html_template = _templates(kind)
    full = dict(context)
    subject = one_line("".join(text_template.blocks["subject"](text_template.new_context(full))))
    full["email_subject"] = subject
    return RenderedEmail(
        subject=subject, text=text_template.render(full), html=html_template.render(full)
    )


@cache
def _templates(kind: str) -> tuple[Template, Template]:
    if kind not in EMAIL_KINDS:
        raise ValueError(f"unknown email kind {kind!r}; known: {sorted(EMAIL_KINDS)}")
    env = email_environment()
    return env.get_template(f"email/{kind}.txt"), env.get_template(f"email/{kind}.html")


@cache
def email_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("clippost.rendering", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates ship with the package and never change while running.
        auto_reload=False,
    )
    env.filters.update(
        one_line=one_line,
        duration=duration,
        plural=plural,
        location=location,
        quote_lines=quote_lines,
        when=when,
        when_short=when_short,
    )
    return env


def one_line(value: object) -> str:
    """`value` as a single line: every line break or control character becomes a space."""
    text = str(value)
    # str.isprintable() is False for every control, line break and Unicode space but the
    # ASCII one: a printable text needs at most its runs of spaces folded. This is the case
    # of nearly every title, in a fraction of the time of the two regexes.
    if text.isprintable() and "  " not in text:
        return text.strip()
    return _SPACES.sub(" ", _LINE_BREAKS.sub(" ", text)).strip()


def duration(value: timedelta | float) -> str:
    """A link lifetime in words: "30 minutes", "1 hour", "2 days" (timedelta or seconds)."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    minutes = max(1, round(seconds / 60))
    if minutes % (24 * 60) == 0:
        return plural(minutes // (24 * 60), "day")
    if minutes % 60 == 0:
        return plural(minutes // 60, "hour")
    return plural(minutes, "minute")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """ "1 highlight", "3 highlights" (with thousands separators)."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


def location(item: Any) -> str:
    """Where a highlight is in its book: "page 12, location 345-350" (empty if unknown)."""
    parts = []
    page = getattr(item, "page", None) if not isinstance(item, Mapping) else item.get("page")
    start, end = _location_range(item)
    if page:
        parts.append(f"page {page}")
    if start is not None:
        parts.append(f"location {start}" if end in (None, start) else f"location {start}-{end}")
    return ", ".join(parts)


def _location_range(item: Any) -> tuple[int | None, int | None]:
    if isinstance(item, Mapping):
        return item.get("location_start"), item.get("location_end")
    return getattr(item, "location_start", None), getattr(item, "location_end", None)


def when(moment: datetime | str, timezone: str | None = None) -> str:
    """ "Monday 23 November 2026 at 07:00 (Europe/Paris)", on the reader's clock.

    `moment` is an aware datetime or its ISO 8601 text (outbox payloads are JSON);
    `timezone`, an IANA name, says whose clock; without it, the moment's own offset is used.
    """
    shown = _on_clock(moment, timezone)
    zone = getattr(shown.tzinfo, "key", None) or shown.tzname() or "UTC"
    return f"{when_short(shown)} {shown:%Y} at {shown:%H:%M} ({zone})"


def when_short(moment: datetime | str, timezone: str | None = None) -> str:
    """ "Monday 23 November": English names whatever the process locale."""
    shown = _on_clock(moment, timezone)
    return f"{_DAYS[shown.weekday()]} {shown.day} {_MONTHS[shown.month - 1]}"


def _on_clock(moment: datetime | str, timezone: str | None) -> datetime:
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if parsed.tzinfo is None:
        raise ValueError("email times must be aware datetimes (or ISO text with an offset)")
    return parsed.astimezone(ZoneInfo(timezone)) if timezone else parsed


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def quote_lines(value: str) -> str:
    """Plain-text quoting: every line prefixed with "> ", as mail readers expect."""
    return "\n".join(f"> {line}".rstrip() for line in str(value).splitlines() or [""])
