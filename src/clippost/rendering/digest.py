"""A stored digest payload, v1, v2 or v3, as the digest templates read it.

The planner stores raw values (the contract: docs/email.md, "The digest payload", whose
tables list exactly PAYLOAD_KEYS and HIGHLIGHT_KEYS, by test); what the reader sees is
computed here, at send time, from those values and the operator's `Site`:
authors in natural order, each passage's language, passages trimmed to `Site.max_chars`,
dates as dates, the links of a v3 passage from its HIGHLIGHT token and the site's base URL,
the numbered links of the text part. Computing it here rather than in the planner means a
v1 row queued before an upgrade gets the same treatment as a later one, and a better
author rule applies to rows already queued. It is pure and costs a few microseconds
a passage; authors and titles, which recur, are cached.

Nothing in a payload can make rendering fail: a value of the wrong type or an unknown
timezone is treated as absent (a digest is better sent plain than not sent at all).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache, partial
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from markupsafe import Markup

from clippost.links.urls import highlight_urls
from clippost.rendering import words
from clippost.rendering.authors import natural_authors
from clippost.rendering.html import lines
from clippost.rendering.i18n import email_locale, full_date, name_list
from clippost.rendering.labels import label
from clippost.rendering.passages import (
    is_cjk,
    passage_lang,
    serif,
    short_text_lang,
    trim_passage,
)
from clippost.rendering.plaintext import one_line, plain, wrap
from clippost.rendering.site import Site

PAYLOAD_VERSION = 3
_LANG_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,3}")
PAYLOAD_KEYS = frozenset(
    {"v", "locale", "timezone", "slot", "schedule", "highlights", "round_status"}
    | {"manage_url", "unsubscribe_url"}
    | {"per_email"}  # not shown: the sender's claim-time re-check reads it
)
HIGHLIGHT_KEYS = frozenset(
    {"text", "book_title", "book_author", "note", "page", "location_start", "location_end"}
    | {"highlighted_on", "favourite", "link", "lang", "id"}
    | {"favourite_url", "discard_url", "passage_url"}  # v1 and v2: the links, whole
)
CADENCES = frozenset({"daily", "weekdays", "weekly", "monthly"})


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs three times more
class Passage:
    """One highlight as shown: every field already in the form the templates print."""

    text: str  # trimmed to the site's limit
    text_html: Markup  # the same, escaped, each line break a <br>
    trimmed: bool
    whole_url: str | None  # where "read the whole passage" goes (when trimmed)
    lang: str  # BCP 47, from the text's script and the library's language
    serif: str  # the font stack for that language (CJK faces for CJK text)
    title: str  # on one line
    title_lang: str
    upright_title: bool  # CJK titles are never slanted (their fonts have no italics)
    authors: str  # in natural order, joined the locale's way ("A, B and C"); may be ""
    note: str | None
    note_html: Markup | None
    note_lang: str
    note_serif: str
    details: str  # "page 12 · location 345–350 · highlighted on 3 March 2021"; may be ""
    favourite: bool
    favourite_url: str
    discard_url: str
    # The passage as the text part shows it, wrapped, bidi controls removed, its links as
    # numbers in `links`: the quoted text, "Title · Author", the details, the note, and
    # "Read the whole passage [1] · Favourite [2] · Never send this one again [3]". Built
    # here, not in the template: one string to print costs a fifth of five filtered lines.
    text_block: str


class ScheduleView(NamedTuple):
    """A schedule as its words need it; a tuple, cheap to build and to use as a cache key."""

    cadence: str  # daily, weekdays, weekly or monthly
    time: str  # "07:00"
    weekday: int  # 0 = Monday
    day_of_month: int
    timezone: str


def digest_context(
    payload: Mapping[str, Any], site: Site, *, due_at: datetime | None = None
) -> dict[str, Any]:
    """The template context of a digest from its stored payload (any version).

    Every value the digest's templates print is here as the string they print (the
    templates are stencils: rendering.stencils), in the text part's form and, where it
    differs, the HTML part's (`*_html`, escaped)."""
    locale = email_locale(_text(payload.get("locale")))
    code = locale.code
    zone = _zone(_text(payload.get("timezone")))
    slot = _moment(payload.get("slot")) or due_at
    stored = payload.get("highlights")
    items = [item for item in stored if _field(item, "text")] if type(stored) is list else []
    manage_url = str(payload.get("manage_url") or "")
    links: list[str] = []
    shown = _Shown(code, locale.tag, site.max_chars, manage_url, site.base_url or "", links)
    passages = [shown.passage(item) for item in items]
    schedule = schedule_view(payload.get("schedule"), _text(payload.get("timezone")))
    titles = list(dict.fromkeys(passage.title for passage in passages))
    subject = words.digest_subject(code, titles, len(passages), site.name)
    round_text, round_html = words.round_status(code, *_round(payload.get("round_status")))
    reason_text, reason_html = words.reason(
        code, words.schedule(code, schedule) if schedule else None, site.name
    )
    return {
        "locale": code,
        "site": site,
        "labels": words.labels(code),
        "subject": subject,
        "email_title": plain(subject),
        "preheader": _preheader(passages[0].text) if passages else "",
        "date_text": full_date(slot.astimezone(zone).date(), code) if slot else "",
        "passages": passages,
        "passage_texts": [passage.text_block for passage in passages],
        "round_text": round_text,
        "round_html": round_html,
        "reason_text": reason_text,
        "reason_html": reason_html,
        "manage_url": manage_url,
        "unsubscribe_url": str(payload.get("unsubscribe_url") or ""),
        "links": links,
    }


def _preheader(text: str) -> str:
    """The inbox's preview line: the first passage on one line, cut near 110 characters
    at a space (Jinja's `truncate(110)`, its leeway of 5 included, as the template had it)."""
    line = one_line(plain(text))
    if len(line) <= 115:
        return line
    return line[:107].rsplit(" ", 1)[0] + "..."


@dataclass(slots=True)
class _Shown:
    """Builds the Passages of one digest, numbering the text part's links as it goes."""

    code: str
    hint: str  # the library's language, BCP 47
    max_chars: int
    manage_url: str
    base_url: str  # the site's, which a v3 passage's links start with
    links: list[str]

    def passage(self, item: Any) -> Passage:
        get = item.get if type(item) is dict else partial(_field, item)
        text, trimmed = trim_passage(str(get("text")), self.max_chars)
        lang = passage_lang(text, _lang_tag(get("lang")) or self.hint)
        book = _book(_text(get("book_title")), _text(get("book_author")), lang, self.code)
        note = _text(get("note"))
        note_lang = short_text_lang(note, self.hint) if note else self.hint
        # v3: one token, three links; v1 and v2 stored the URLs (a v1 row has no link to the
        # whole passage: the manage page lists the library).
        token = _text(get("link"))
        made = highlight_urls(self.base_url, token) if token else ("", "", None)
        whole_url = (_text(get("passage_url")) or made[2] or self.manage_url) if trimmed else None
        favourite = bool(get("favourite"))
        favourite_url = str(get("favourite_url") or made[0])
        discard_url = str(get("discard_url") or made[1])
        details = self._details(get)
        links = (whole_url, favourite, favourite_url, discard_url)
        # Positional, in the field order: keywords cost a fifth of the call, 5 times a digest.
        return Passage(
            text,
            lines(text),
            trimmed,
            whole_url,
            lang,
            serif(lang),
            book.title,
            book.lang,
            book.upright,
            book.authors,
            note,
            lines(note) if note else None,
            note_lang,
            serif(note_lang),
            details,
            favourite,
            favourite_url,
            discard_url,
            self._text_block(text, book, note, details, links),
        )

    def _text_block(
        self,
        text: str,
        book: _Book,
        note: str | None,
        details: str,
        links: tuple[str | None, bool, str, str],
    ) -> str:
        lines = [wrap(plain(text), prefix="> "), "", book.text_source]
        if details:
            lines.append(wrap(details))
        if note:
            lines.append(wrap(plain(words.note_line(self.code, one_line(note)))))
        lines.append(self._actions(*links))
        return "\n".join(lines)

    def _details(self, get: Callable[[str], Any]) -> str:
        where = words.location(
            self.code, _text(get("page")), _int(get("location_start")), _int(get("location_end"))
        )
        day = _day(get("highlighted_on"))
        when = words.highlighted_on(self.code, day) if day else ""
        return plain(f"{where} · {when}" if where and when else where or when)

    def _actions(
        self, whole_url: str | None, favourite: bool, favourite_url: str, discard_url: str
    ) -> str:
        """The text part's action line, wrapped; each link gets the next number in `links`."""
        whole = self._ref(whole_url) if whole_url else 0
        favourite_ref = 0 if favourite else self._ref(favourite_url)
        return _action_line(self.code, whole, favourite_ref, self._ref(discard_url))

    def _ref(self, url: str) -> int:
        self.links.append(url)
        return len(self.links)


@lru_cache(maxsize=4096)
def _action_line(code: str, whole: int, favourite: int, discard: int) -> str:
    """ "Read the whole passage [1] · Favourite [2] · Never send this one again [3]",
    wrapped; 0 for no link (no whole passage; a favourite already). Cached: the numbers
    run over the same few dozen combinations in every digest."""
    labels = words.labels(code)
    actions = [f"{labels.read_whole} [{whole}]"] if whole else []
    actions.append(f"{labels.favourite} [{favourite}]" if favourite else labels.is_favourite)
    actions.append(f"{labels.never_again} [{discard}]")
    return wrap(" · ".join(actions))


@dataclass(frozen=True, slots=True)
class _Book:
    title: str
    lang: str
    upright: bool
    authors: str
    text_source: str  # "Title · Authors" as the text part prints it, wrapped


@lru_cache(maxsize=4096)
def _book(title: str | None, author: str | None, lang: str, code: str) -> _Book:
    """A book as every digest shows it; cached, since a reader's books recur in every one."""
    shown = label(title or "")  # cut short and unlinked, as in every email
    title_lang = short_text_lang(shown, lang) if shown else lang
    authors = label(name_list(natural_authors(author), code))
    return _Book(
        title=shown,
        lang=title_lang,
        upright=is_cjk(title_lang),
        authors=authors,
        text_source=wrap(plain(f"{shown} · {authors}" if authors else shown)),
    )


def _field(item: Any, key: str) -> Any:
    """A value of a payload item: JSON mappings, or objects such as HighlightView."""
    # `type(...) is dict` first: payloads come from JSON, and an ABC isinstance check costs
    # as much as the lookup itself, a dozen times a passage.
    if type(item) is dict or isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def _round(value: Any) -> tuple[int, int]:
    """(position, total) of the reader's round; (0, 0) when unknown."""
    if value is None:
        return 0, 0
    return _int(_field(value, "position")) or 0, _int(_field(value, "total")) or 0


def schedule_view(value: Any, timezone: Any = None) -> ScheduleView | None:
    """A stored schedule ({"cadence", "hour", "weekday", "day_of_month", "timezone"}) as
    the footer words need it; None for none, or one that does not make sense."""
    if not isinstance(value, Mapping) or _text(value.get("cadence")) not in CADENCES:
        return None
    hour = _int(value.get("hour"))
    if hour is None or not 0 <= hour <= 23:
        return None
    return ScheduleView(
        str(value["cadence"]),
        f"{hour:02d}:00",
        (_int(value.get("weekday")) or 0) % 7,
        _int(value.get("day_of_month")) or 1,
        _text(value.get("timezone")) or _text(timezone) or "UTC",
    )


def _lang_tag(value: Any) -> str | None:
    """A BCP 47 language tag from the payload, or None: it lands in a `lang` attribute."""
    return value if type(value) is str and _LANG_TAG.fullmatch(value) else None


def _text(value: Any) -> str | None:
    return value if value and type(value) is str else None


def _int(value: Any) -> int | None:
    return value if type(value) is int else None  # not bool, a subclass of int


@lru_cache(maxsize=512)
def _zone(name: str | None) -> tzinfo:
    """The reader's timezone; UTC for none or one the tz database does not know."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return UTC


def _moment(value: Any) -> datetime | None:
    """An aware datetime from a datetime or ISO 8601 text; naive values are UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _day(value: Any) -> date | None:
    """The date a highlight was made, as the device wrote it (a date or a naive datetime)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None
