"""The email's own words in the reader's language: locales, gettext catalogues, Babel formats.

A payload names its language (`locale`) in whatever form upstream had it: a Kindle device
language ("de", "pt"), a browser tag ("pt-BR", "zh-Hans-CN") or a POSIX name ("zh_CN").
`email_locale` maps it onto one of the ten catalogues the importer's device languages need,
English for anything else, and caches the answer: a sender renders thousands of emails a
second in a handful of languages, so nothing here is parsed twice in a process.

Catalogues are the `.po` files in `locales/<code>/LC_MESSAGES/email.po`, read when a
language is first used (a few milliseconds each) and compiled in memory, so a fresh clone
needs no build step. Fuzzy entries are left out (Babel's `write_mo` skips them) and a
message missing from a catalogue falls back to its English msgid (gettext's own rule).
Dates and numbers come from Babel's CLDR data for the locale, cached per value: the same
masthead date and the same few "highlighted on" dates recur across a whole batch.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from io import BytesIO
from typing import IO

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

DOMAIN = "email"
DEFAULT = "en"

# Catalogue code -> (Babel locale, BCP 47 tag for the HTML `lang` attribute). English dates
# follow British usage ("3 March 2021"): day-month order reads unambiguously everywhere.
CATALOGUES: dict[str, tuple[str, str]] = {
    "en": ("en_GB", "en"),
    "de": ("de_DE", "de"),
    "fr": ("fr_FR", "fr"),
    "es": ("es_ES", "es"),
    "it": ("it_IT", "it"),
    "pt_BR": ("pt_BR", "pt-BR"),
    "nl": ("nl_NL", "nl"),
    "ja": ("ja_JP", "ja"),
    "zh_Hans": ("zh_Hans_CN", "zh-Hans"),
    "ru": ("ru_RU", "ru"),
}
# What a payload may say -> catalogue code, for the forms that are not a code themselves.
# European Portuguese readers get the Brazilian catalogue (closer than English); Chinese
# without a script is taken as simplified, the script of the Kindle's Chinese device menus.
_ALIASES = {
    "pt": "pt_BR",
    "pt_pt": "pt_BR",
    "zh": "zh_Hans",
    "zh_cn": "zh_Hans",
    "zh_sg": "zh_Hans",
    "zh_hans_cn": "zh_Hans",
    "zh_hans_sg": "zh_Hans",
}
_TRADITIONAL = frozenset({"zh_tw", "zh_hk", "zh_mo", "zh_hant", "zh_hant_tw", "zh_hant_hk"})


@dataclass(frozen=True, slots=True)
class EmailLocale:
    """One catalogue's language: its code, HTML tag, Babel locale and translations."""

    code: str
    tag: str
    babel: Locale
    translations: gettext.NullTranslations


@lru_cache(maxsize=256)
def catalogue_code(value: str | None) -> str:
    """The catalogue for a payload's `locale` value; English when there is none for it."""
    if not value:
        return DEFAULT
    key = value.strip().replace("-", "_").lower()
    if key in _TRADITIONAL:
        return DEFAULT  # no traditional-script catalogue: English rather than simplified
    if key in _ALIASES:
        return _ALIASES[key]
    for code in CATALOGUES:
        if key == code.lower() or key.split("_", 1)[0] == code.lower():
            return code
    return DEFAULT


def email_locale(value: str | None) -> EmailLocale:
    """The EmailLocale for a payload's `locale` value (cached: built once per catalogue)."""
    return _locale(catalogue_code(value))


@cache
def _locale(code: str) -> EmailLocale:
    babel_name, tag = CATALOGUES[code]
    return EmailLocale(
        code=code, tag=tag, babel=Locale.parse(babel_name), translations=translations(code)
    )


@cache
def translations(code: str) -> gettext.NullTranslations:
    """The compiled catalogue for `code` (English: the msgids themselves)."""
    if code == DEFAULT:
        return gettext.NullTranslations()
    with po_path(code).open("rb") as source:
        return compile_catalogue(source)


def compile_catalogue(source: IO[bytes]) -> gettext.GNUTranslations:
    """A .po file's translations, compiled in memory (what `pybabel compile` would write)."""
    catalog = read_po(source, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: they fall back to English
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def po_path(code: str) -> Traversable:
    """Where the catalogue for `code` ships, inside the package."""
    return files("clippost.rendering").joinpath("locales", code, "LC_MESSAGES", f"{DOMAIN}.po")


# Formats, cached per value and locale ---------------------------------------------------


@lru_cache(maxsize=4096)
def long_date(day: date, code: str) -> str:
    """ "3 March 2021", "3. März 2021", "2021年3月3日"."""
    return format_date(day, "long", locale=_locale(code).babel)


@lru_cache(maxsize=1024)
def full_date(day: date, code: str) -> str:
    """ "Monday, 23 November 2026", "Montag, 23. November 2026", "2026年11月23日月曜日"."""
    return format_date(day, "full", locale=_locale(code).babel)


@lru_cache(maxsize=1024)
def day_and_month(day: date, code: str) -> str:
    """ "Monday 23 November", "Montag, 23. November", "11月23日月曜日"."""
    return format_skeleton("MMMMEEEEd", day, locale=_locale(code).babel)


def clock_time(moment: datetime) -> str:
    """ "07:00": 24-hour time reads the same in every catalogue's language."""
    return f"{moment.hour:02d}:{moment.minute:02d}"


@lru_cache(maxsize=4096)
def number(value: int, code: str) -> str:
    """ "1,234", "1.234", "1 234" as the locale groups digits."""
    return format_decimal(value, locale=_locale(code).babel)


@lru_cache(maxsize=4096)
def name_list(names: tuple[str, ...], code: str) -> str:
    """ "A, B and C", "A, B und C", "A、B、C"."""
    return format_list(list(names), locale=_locale(code).babel) if names else ""
