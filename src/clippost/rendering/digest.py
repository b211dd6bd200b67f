"""A stored digest payload, v1 or v2, as the digest templates read it.

The planner stores raw values (the contract: docs/email.md, "The digest payload"); what the
reader sees is computed here, at send time, from those values and the operator's `Site`:
authors in natural order, each passage's language, passages trimmed to `Site.max_chars`,
dates as dates, the numbered links of the text part. Computing it here rather than in the
planner means a v1 row queued before an upgrade gets the same treatment as a v2 one, and a
better author rule applies to rows already queued. It is pure and costs a few microseconds
a passage; authors and titles, which recur, are cached.

Nothing in a payload can make rendering fail: a value of the wrong type or an unknown
timezone is treated as absent (a digest is better sent plain than not sent at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from clippost.rendering.authors import natural_authors
from clippost.rendering.i18n import email_locale
from clippost.rendering.passages import is_cjk, passage_lang, short_text_lang, trim_passage
from clippost.rendering.site import Site

PAYLOAD_VERSION = 2
CADENCES = frozenset({"daily", "weekdays", "weekly", "monthly"})


@dataclass(frozen=True, slots=True)
class Passage:
    """One highlight as shown: every field already in the form the templates print."""

    text: str  # trimmed to the site's limit
    trimmed: bool
    whole_url: str | None  # where "read the whole passage" goes (when trimmed)
    lang: str  # BCP 47, from the text's script and the library's language
    title: str
    title_lang: str
    upright_title: bool  # CJK titles are never slanted (their fonts have no italics)
    authors: tuple[str, ...]
    note: str | None
    note_lang: str
    page: str | None
    location_start: int | None
    location_end: int | None
    highlighted_on: date | None
    favourite: bool
    favourite_url: str
    discard_url: str
    refs: tuple[int | None, int | None, int]  # text-part link numbers: whole, favourite, discard


@dataclass(frozen=True, slots=True)
class ScheduleView:
    cadence: str  # daily, weekdays, weekly or monthly
    time: str  # "07:00"
    weekday: int  # 0 = Monday
    day_of_month: int
    timezone: str


def digest_context(
    payload: Mapping[str, Any], site: Site, *, due_at: datetime | None = None
) -> dict[str, Any]:
    """The template context of a digest from its stored payload (any version)."""
    locale = email_locale(_text(payload.get("locale")))
    zone = _zone(_text(payload.get("timezone")))
    slot = _moment(payload.get("slot")) or due_at
    items = [item for item in payload.get("highlights") or () if _field(item, "text")]
    manage_url = str(payload.get("manage_url") or "")
    links: list[str] = []
    passages = [_passage(item, site, locale.tag, manage_url, links) for item in items]
    return {
        "v": payload.get("v", 1),
        "locale": locale.code,
        "site": site,
        "date": slot.astimezone(zone).date() if slot else None,
        "passages": passages,
        "titles": _titles(passages),
        "round_status": _round(payload.get("round_status")),
        "schedule": schedule_view(payload.get("schedule"), _text(payload.get("timezone"))),
        "manage_url": manage_url,
        "unsubscribe_url": str(payload.get("unsubscribe_url") or ""),
        "links": list(enumerate(links, 1)),
    }


def _passage(item: Any, site: Site, hint: str, manage_url: str, links: list[str]) -> Passage:
    raw = str(_field(item, "text"))
    text, trimmed = trim_passage(raw, site.max_chars)
    lang = passage_lang(text, _text(_field(item, "lang")) or hint)
    title = str(_field(item, "book_title") or "")
    title_lang = short_text_lang(title, lang) if title else lang
    note = _text(_field(item, "note"))
    # A v1 row has no link to the whole passage: the manage page lists the library.
    whole_url = (_text(_field(item, "passage_url")) or manage_url) if trimmed else None
    favourite = bool(_field(item, "favourite"))
    favourite_url = str(_field(item, "favourite_url") or "")
    discard_url = str(_field(item, "discard_url") or "")
    refs = (
        _ref(links, whole_url) if whole_url else None,
        None if favourite else _ref(links, favourite_url),
        _ref(links, discard_url),
    )
    return Passage(
        text=text,
        trimmed=trimmed,
        whole_url=whole_url,
        lang=lang,
        title=title,
        title_lang=title_lang,
        upright_title=is_cjk(title_lang),
        authors=natural_authors(_text(_field(item, "book_author"))),
        note=note,
        note_lang=short_text_lang(note, hint) if note else hint,
        page=_text(_field(item, "page")),
        location_start=_int(_field(item, "location_start")),
        location_end=_int(_field(item, "location_end")),
        highlighted_on=_day(_field(item, "highlighted_on")),
        favourite=favourite,
        favourite_url=favourite_url,
        discard_url=discard_url,
        refs=refs,
    )


def _field(item: Any, key: str) -> Any:
    """A value of a payload item: JSON mappings, or objects such as HighlightView."""
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)


def _ref(links: list[str], url: str) -> int:
    links.append(url)
    return len(links)


def _titles(passages: list[Passage]) -> list[str]:
    """The distinct book titles, in the order the passages come."""
    return list(dict.fromkeys(passage.title for passage in passages))


def _round(value: Any) -> tuple[int, int]:
    """(position, total) of the reader's round; (0, 0) when unknown."""
    if value is None:
        return 0, 0
    return _int(_field(value, "position")) or 0, _int(_field(value, "total")) or 0


def schedule_view(value: Any, timezone: Any = None) -> ScheduleView | None:
    """A stored schedule ({"cadence", "hour", "weekday", "day_of_month", "timezone"}) as
    the footer words need it; None for none, or one that does not make sense."""
    if not isinstance(value, Mapping) or value.get("cadence") not in CADENCES:
        return None
    hour = _int(value.get("hour"))
    if hour is None or not 0 <= hour <= 23:
        return None
    return ScheduleView(
        cadence=str(value["cadence"]),
        time=f"{hour:02d}:{_int(value.get('minute')) or 0:02d}",
        weekday=(_int(value.get("weekday")) or 0) % 7,
        day_of_month=_int(value.get("day_of_month")) or 1,
        timezone=_text(value.get("timezone")) or _text(timezone) or "UTC",
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


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
