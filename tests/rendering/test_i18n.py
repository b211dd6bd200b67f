"""The emails' words in ten languages: complete catalogues, their own words, their own dates."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from clippost.rendering import i18n
from clippost.rendering.environment import EMAIL_KINDS, email_environment, render_email
from clippost.rendering.payloads import email_context

RENDERING = Path(i18n.__file__).parent
LOCALES = RENDERING / "locales"
TRANSLATED = sorted(code for code in i18n.CATALOGUES if code != i18n.DEFAULT)
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# The ten device languages the importer reads, as the importer names them.
DEVICE_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "ja", "zh", "ru")


@cache
def extracted() -> dict[str | tuple[str, str], list[str]]:
    """Every message the templates and rendering.words hold, with where it is."""
    with (LOCALES / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str | tuple[str, str], list[str]] = {}
    for path, line, message, *_ in extract_from_dir(
        str(RENDERING / "templates"), method_map, options_map
    ):
        found.setdefault(message, []).append(f"{path}:{line}")
    for line, message, *_ in extract_from_file("python", str(RENDERING / "words.py")):
        found.setdefault(message, []).append(f"words.py:{line}")
    return found


def catalogue(code: str) -> Catalog:
    with i18n.po_path(code).open("rb") as source:
        return read_po(source)


def entries(code: str) -> Iterator[Message]:
    return (message for message in catalogue(code) if message.id)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


class TestCatalogues:
    def test_there_is_one_for_each_device_language(self) -> None:
        """Every device language the importer reads has a catalogue (English is the source)."""
        assert {i18n.catalogue_code(lang) for lang in DEVICE_LANGUAGES} == set(i18n.CATALOGUES)
        for code in TRANSLATED:
            assert i18n.po_path(code).is_file(), code

    @pytest.mark.parametrize("code", TRANSLATED)
    def test_every_message_is_translated(self, code: str) -> None:
        """Each catalogue has every message of the templates, none fuzzy, none empty."""
        messages = {message.id: message for message in entries(code)}
        missing = sorted(str(key) for key in extracted() if key not in messages)
        assert missing == [], f"{code} lacks {missing}"
        for message in messages.values():
            assert not message.fuzzy, (code, message.id)
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(forms), (code, message.id)

    @pytest.mark.parametrize("code", TRANSLATED)
    def test_no_message_is_left_over(self, code: str) -> None:
        """A catalogue holds no message the templates no longer use."""
        stale = sorted(
            str(message.id) for message in entries(code) if message.id not in extracted()
        )
        assert stale == []

    @pytest.mark.parametrize("code", TRANSLATED)
    def test_placeholders_match_the_english(self, code: str) -> None:
        """Every translation uses exactly the placeholders of its English message."""
        for message in entries(code):
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            forms = message.string if isinstance(message.string, tuple) else (message.string,)
            expected = placeholders(ids[-1])
            assert placeholders(ids[0]) == expected, message.id
            for form in forms:
                assert placeholders(form) == expected, (code, message.id, form)
                form % dict.fromkeys(expected, "x")  # a valid format string

    @pytest.mark.parametrize("code", TRANSLATED)
    def test_plural_forms_are_complete(self, code: str) -> None:
        """A plural message has exactly as many forms as the language's plural rule."""
        book = catalogue(code)
        for message in entries(code):
            if isinstance(message.id, tuple):
                assert len(message.string) == book.num_plurals, (code, message.id)

    def test_the_template_file_is_current(self) -> None:
        """email.pot holds exactly the messages the templates hold (docs/email.md)."""
        with (LOCALES / "email.pot").open("rb") as source:
            template = {message.id for message in read_po(source) if message.id}
        assert template == set(extracted())


class TestLoading:
    def test_catalogues_are_loaded_once(self) -> None:
        """Translations, Babel locales and environments are built once per process."""
        assert i18n.translations("de") is i18n.translations("de")
        assert i18n.email_locale("de").babel is i18n.email_locale("de-DE").babel
        assert email_environment("ja") is email_environment("ja")

    def test_fuzzy_and_missing_messages_fall_back_to_english(self) -> None:
        """A fuzzy entry is never used, and a missing one reads in English."""
        book = Catalog(locale="de")
        book.add("Unsubscribe", "Abmelden")
        book.add("Favourite", "Favorit", flags=("fuzzy",))
        source = io.BytesIO()
        write_po(source, book)
        source.seek(0)
        compiled = i18n.compile_catalogue(source)
        assert compiled.gettext("Unsubscribe") == "Abmelden"
        assert compiled.gettext("Favourite") == "Favourite"
        assert compiled.gettext("Read the whole passage") == "Read the whole passage"

    @pytest.mark.parametrize(
        ("value", "code"),
        [
            ("de", "de"),
            ("de-AT", "de"),
            ("pt", "pt_BR"),
            ("pt-BR", "pt_BR"),
            ("pt_PT", "pt_BR"),
            ("zh", "zh_Hans"),
            ("zh-Hans-CN", "zh_Hans"),
            ("zh_CN", "zh_Hans"),
            ("zh-TW", "en"),
            ("JA", "ja"),
            ("ko", "en"),
            ("", "en"),
            (None, "en"),
            ("../../etc", "en"),
        ],
    )
    def test_locale_values_map_onto_catalogues(self, value: str | None, code: str) -> None:
        """Device codes, BCP 47 tags and POSIX names find their catalogue; others English."""
        assert i18n.catalogue_code(value) == code


def digest(locale: str, v2: Any) -> Any:
    return render_email("digest", email_context("digest", v2(locale=locale)))


class TestEachLanguage:
    @pytest.mark.parametrize("code", sorted(i18n.CATALOGUES))
    def test_digest_in_its_own_words(self, code: str, v2: Any) -> None:
        """A digest's fixed words come from the reader's catalogue, in both parts."""
        words = i18n.translations(code)
        email = digest(code, v2)
        for message in ("Never send this one again", "Unsubscribe", "Favourite"):
            assert words.gettext(message) in email.text
        assert words.gettext("Never send this one again") in email.html
        assert f'<html lang="{i18n.CATALOGUES[code][1]}"' in email.html

    @pytest.mark.parametrize("code", sorted(i18n.CATALOGUES))
    def test_dates_in_the_readers_language(self, code: str, v2: Any) -> None:
        """The masthead date and "highlighted on" dates are the locale's own formats."""
        babel_locale = i18n.CATALOGUES[code][0]
        email = digest(code, v2)
        masthead = format_date(date(2026, 11, 23), "full", locale=babel_locale)
        highlighted = format_date(date(2021, 3, 3), "long", locale=babel_locale)
        for body in (email.text, email.html):
            assert masthead in body
            assert highlighted in body

    @pytest.mark.parametrize(
        ("code", "phrase"),
        [
            ("en", "highlighted on 3 March 2021"),
            ("de", "markiert am 3. März 2021"),
            ("fr", "surligné le 3 mars 2021"),
            ("ja", "2021年3月3日にハイライト"),
            ("ru", "выделено 3 марта 2021\u202fг."),
            ("zh_Hans", "标注于 2021年3月3日"),
        ],
    )
    def test_highlighted_on_reads_naturally(self, code: str, phrase: str, v2: Any) -> None:
        """ "highlighted on 3 March 2021" is a natural phrase in each language."""
        assert phrase in digest(code, v2).text

    @pytest.mark.parametrize(
        ("count", "form"), [(1, "1 цитата"), (3, "3 цитаты"), (5, "5 цитат"), (21, "21 цитата")]
    )
    def test_russian_plurals(self, count: int, form: str) -> None:
        """Russian gets its three plural forms right."""
        context = {
            "confirm_url": "https://c",
            "expires_in": 3600,
            "highlight_count": count,
            "book_count": 1,
            "books": [],
            "locale": "ru",
        }
        assert form in render_email("confirm", context).subject

    @pytest.mark.parametrize("kind", sorted(EMAIL_KINDS))
    @pytest.mark.parametrize("code", TRANSLATED)
    def test_every_kind_in_every_language(self, kind: str, code: str, v2: Any) -> None:
        """Each kind renders in each language, its subject in that language, not English."""
        context = dict(_CONTEXTS[kind](v2), locale=code)
        english = render_email(kind, email_context(kind, dict(context, locale="en")))
        email = render_email(kind, email_context(kind, context))
        assert email.subject != english.subject
        assert email.text != english.text
        assert f'lang="{i18n.CATALOGUES[code][1]}"' in email.html


_CONTEXTS: dict[str, Any] = {
    "confirm": lambda v2: {
        "confirm_url": "https://c",
        "expires_in": 86400 * 3,
        "highlight_count": 12,
        "book_count": 2,
        "books": [{"title": "Walden", "author": "Thoreau, Henry David", "highlight_count": 12}],
    },
    "already_subscribed_import": lambda v2: {
        "add_url": "https://a",
        "expires_in": 86400 * 3,
        "highlight_count": 3,
        "book_count": 1,
        "books": [{"title": "Walden", "author": None, "highlight_count": 3}],
    },
    "magic_link": lambda v2: {"manage_url": "https://m", "expires_in": 1800},
    "digest": lambda v2: v2(),
    "welcome": lambda v2: {
        "highlight_count": 40,
        "book_count": 3,
        "schedule": {"cadence": "daily", "hour": 7, "timezone": "Europe/Paris"},
        "per_email": 5,
        "first_digest_at": "2026-11-23T06:00:00+00:00",
        "timezone": "Europe/Paris",
        "manage_url": "https://m",
        "unsubscribe_url": "https://u",
    },
}
