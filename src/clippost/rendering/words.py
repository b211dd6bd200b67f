"""The digest's recurring phrases in the reader's language, translated in Python.

A digest prints the same few phrases for every passage ("page 12 · location 345-350",
"highlighted on 3 March 2021", "Favourite"); as `{% trans %}` blocks or template macros they
cost a Jinja call each, which made rendering five times slower. Here they are plain gettext
lookups, and the ones that recur across a batch (labels, dates, schedules) are cached, so
the templates only print strings (the digest's templates are stencils, rendering.stencils:
they print the message's values as they are). The sentences with a value of the message
in them (subject, round, footer) are formatted as Jinja's newstyle gettext would have:
`translation % values` for the text part, `Markup(translation) % values` for the HTML one
(the values escaped, the translation not). The messages are extracted from this module like those of
the templates (locales/babel.cfg) and live in the same catalogues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from typing import Protocol

from markupsafe import Markup

from clippost.rendering import i18n
from clippost.rendering.plaintext import one_line, plain, wrap


class _Schedule(Protocol):
    @property
    def cadence(self) -> str: ...
    @property
    def time(self) -> str: ...
    @property
    def weekday(self) -> int: ...
    @property
    def day_of_month(self) -> int: ...
    @property
    def timezone(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Labels:
    """The digest's fixed words in one language."""

    favourite: str
    is_favourite: str
    never_again: str
    read_whole: str
    your_note: str


@cache
def labels(code: str) -> Labels:
    _ = i18n.translations(code).gettext
    return Labels(
        favourite=_("Favourite"),
        is_favourite=_("One of your favourites"),
        never_again=_("Never send this one again"),
        read_whole=_("Read the whole passage"),
        your_note=_("Your note"),
    )


def note_line(code: str, note: str) -> str:
    """ "Your note: ..." as the text part writes it (French puts a space before the colon)."""
    return _note_words(code) % {"note": note}


@cache
def _note_words(code: str) -> str:
    """The translation `note_line` formats, looked up once per language."""
    _ = i18n.translations(code).gettext
    return _("Your note: %(note)s")


def location(code: str, page: str | None, start: int | None, end: int | None) -> str:
    """ "page 12 · location 345–350" in the reader's language; empty when neither is known."""
    page_words, one, span = _location_words(code)
    parts = []
    if page:
        parts.append(page_words % {"page": page})
    if start is not None:
        if end is None or end == start:
            parts.append(one % {"start": start})
        else:
            parts.append(span % {"start": start, "end": end})
    return " · ".join(parts)


@cache
def _location_words(code: str) -> tuple[str, str, str]:
    """The translations `location` formats, looked up once per language (a lookup costs
    more than the formatting, and every passage of every digest has a location)."""
    _ = i18n.translations(code).gettext
    return _("page %(page)s"), _("location %(start)s"), _("location %(start)s–%(end)s")


@lru_cache(maxsize=4096)
def highlighted_on(code: str, day: date) -> str:
    """ "highlighted on 3 March 2021", "markiert am 3. März 2021"."""
    _ = i18n.translations(code).gettext
    return _("highlighted on %(date)s") % {"date": i18n.long_date(day, code)}


@lru_cache(maxsize=1024)
def schedule(code: str, value: _Schedule) -> str:
    """ "every Monday at 07:00 (Europe/Paris)" in the reader's language."""
    return f"{_when(code, value)} ({value.timezone})"


def _when(code: str, value: _Schedule) -> str:
    _ = i18n.translations(code).gettext
    time = {"time": value.time}
    if value.cadence == "daily":
        return _("every day at %(time)s") % time
    if value.cadence == "weekdays":
        return _("every weekday at %(time)s") % time
    if value.cadence == "monthly":
        return _("on day %(day)s of every month at %(time)s") % {
            **time,
            "day": value.day_of_month,
        }
    # Seven messages, not one with a weekday name in it: the words around the name agree
    # with it (Russian "каждый понедельник" but "каждую среду").
    weekly = (
        _("every Monday at %(time)s"),
        _("every Tuesday at %(time)s"),
        _("every Wednesday at %(time)s"),
        _("every Thursday at %(time)s"),
        _("every Friday at %(time)s"),
        _("every Saturday at %(time)s"),
        _("every Sunday at %(time)s"),
    )
    return weekly[value.weekday % 7] % time


def digest_subject(code: str, titles: list[str], count: int, site_name: str) -> str:
    """ "3 highlights from Walden", "Highlights from Walden and 2 other books"."""
    if not titles:
        return one_line(plain(site_name))
    ngettext = i18n.translations(code).ngettext
    title = _truncate(plain(titles[0]), 60)
    if len(titles) == 1:
        subject = ngettext(
            "%(num)s highlight from %(title)s", "%(num)s highlights from %(title)s", count
        )
        values = {"count": count, "num": i18n.number(count, code), "title": title}
    else:
        others = len(titles) - 1
        subject = ngettext(
            "Highlights from %(title)s and %(num)s other book",
            "Highlights from %(title)s and %(num)s other books",
            others,
        )
        values = {"count": others, "num": i18n.number(others, code), "title": title}
    return one_line(subject % values)


def _truncate(text: str, length: int) -> str:
    """Jinja's `truncate(length, killwords=True)` with its default leeway of 5 characters,
    which is what the subject's template used."""
    return text if len(text) <= length + 5 else text[: length - 3] + "..."


@lru_cache(maxsize=4096)
def round_status(code: str, position: int, total: int) -> tuple[str, Markup]:
    """ "You have now had 37 of your 412 highlights in this round.": the text part's,
    wrapped, and the HTML part's; both empty for an unknown round (total 0)."""
    if not total:
        return "", Markup("")
    sentence = i18n.translations(code).ngettext(
        "You have now had %(position)s of your %(num)s highlight in this round.",
        "You have now had %(position)s of your %(num)s highlights in this round.",
        total,
    )
    values = {"num": i18n.number(total, code), "position": i18n.number(position, code)}
    # The translation is ours (shipped catalogues, as Jinja's gettext trusts it); the values
    # are escaped by Markup's %.
    return wrap(sentence % values), Markup(sentence) % values  # noqa: S704


@lru_cache(maxsize=1024)
def reason(code: str, schedule: str | None, site_name: str) -> tuple[str, Markup]:
    """The footer's "You get this email every Monday at 07:00 (...) because you signed up
    to clippost with this address.": the text part's, wrapped, and the HTML part's (the
    translation trusted, as Jinja's gettext trusts it; the values escaped)."""
    _ = i18n.translations(code).gettext
    if schedule:
        sentence = _(
            "You get this email %(when)s because you signed up to %(site)s with this address."
        )
        text = sentence % {"when": schedule, "site": plain(site_name)}
        html = Markup(sentence) % {"when": schedule, "site": site_name}  # noqa: S704
    else:
        sentence = _("You get this email because you signed up to %(site)s with this address.")
        text = sentence % {"site": plain(site_name)}
        html = Markup(sentence) % {"site": site_name}  # noqa: S704
    return wrap(text), html
