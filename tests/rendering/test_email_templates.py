"""Email templates: every kind renders, user data stays data (HTML and headers), text reads well.

The digest's own features (masthead, trimming, languages, v1 and v2 payloads) are in
test_digest.py; the languages of every kind in test_i18n.py.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import UndefinedError

from clippost.planner.slots import Cadence, Schedule
from clippost.rendering.environment import (
    EMAIL_KINDS,
    RenderedEmail,
    duration_parts,
    email_environment,
    on_clock,
    one_line,
    render_email,
)
from clippost.rendering.labels import label
from clippost.rendering.payloads import email_context
from clippost.selection import RoundStatus

from .conftest import make_highlight

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE_BREAK = '"><img src=x onerror=alert(1)>'
HEADER_BREAK = "Meditations\r\nBcc: victim@example.org"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text outside tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def flat(text: str) -> str:
    """A body with its line wrapping undone, to look for phrases in it."""
    return " ".join(text.split())


def parse(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser


def book(
    title: str = "Meditations", author: str | None = "Marcus Aurelius", count: int = 3
) -> dict[str, Any]:
    return {"title": title, "author": author, "highlight_count": count}


def confirm_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "confirm_url": "https://clippost.test/confirm/TOKEN",
        "expires_in": 48 * 3600.0,  # seconds: outbox payloads are JSON
        "highlight_count": 120,
        "book_count": 3,
        "books": [book(), book("Walden", "Henry David Thoreau", 100), book("Notes", None, 17)],
    }
    context.update(overrides)
    return context


def import_context(**overrides: Any) -> dict[str, Any]:
    context = confirm_context(add_url="https://clippost.test/add/TOKEN")
    del context["confirm_url"]
    context.update(overrides)
    return context


def digest_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "highlights": [make_highlight(1), make_highlight(2, book_title="Walden", book_author=None)],
        "round_status": {"position": 37, "total": 412},
        "manage_url": "https://clippost.test/manage/M",
        "unsubscribe_url": "https://clippost.test/unsubscribe/U",
    }
    context.update(overrides)
    return context


def welcome_context() -> dict[str, Any]:
    return {
        "highlight_count": 412,
        "book_count": 9,
        "schedule_text": Schedule(
            cadence=Cadence.WEEKLY, hour=7, timezone="Europe/Paris", weekday=0
        ).describe(),
        "per_email": 5,
        "first_digest_at": "2026-11-23T06:00:00+00:00",  # the slot, in UTC
        "timezone": "Europe/Paris",
        "manage_url": "https://clippost.test/manage/M",
        "unsubscribe_url": "https://clippost.test/unsubscribe/U",
    }


CONTEXTS = {
    "confirm": confirm_context,
    "already_subscribed_import": import_context,
    "magic_link": lambda: {
        "manage_url": "https://clippost.test/manage/M",
        "expires_in": 1800,
    },
    "digest": digest_context,
    "welcome": welcome_context,
}


class TestEveryKind:
    @pytest.mark.parametrize("kind", sorted(EMAIL_KINDS))
    def test_renders_subject_text_and_html(self, kind: str) -> None:
        """Each kind gives a one-line subject, a text body and a complete HTML document."""
        email = render_email(kind, CONTEXTS[kind]())
        assert isinstance(email, RenderedEmail)
        assert email.subject
        assert "\n" not in email.subject
        assert "\r" not in email.subject
        assert email.text.strip()
        assert "<" not in email.text.replace("<script>", "")
        assert email.html.startswith("<!DOCTYPE html>")
        assert email.html.rstrip().endswith("</html>")

    @pytest.mark.parametrize("kind", sorted(EMAIL_KINDS))
    def test_html_is_a_600px_table_column_that_holds_in_outlook(self, kind: str) -> None:
        """Layout tables capped at 600 px, a fixed 600 px table for Outlook alone, a viewport."""
        html = render_email(kind, CONTEXTS[kind]()).html
        tags = parse(html).tags
        tables = [attrs for name, attrs in tags if name == "table"]
        metas = {attrs.get("name"): attrs.get("content") for name, attrs in tags if name == "meta"}
        assert tables
        assert all(attrs.get("role") == "presentation" for attrs in tables)
        assert any("max-width:600px" in (attrs.get("style") or "") for attrs in tables)
        assert '<!--[if mso]><table role="presentation" align="center" width="600"' in html
        assert metas["viewport"] == "width=device-width, initial-scale=1"

    @pytest.mark.parametrize("kind", sorted(EMAIL_KINDS))
    def test_dark_mode_and_no_remote_images(self, kind: str) -> None:
        """Both colour schemes are declared, dark colours come from the media query, and
        nothing is loaded from elsewhere."""
        html = render_email(kind, CONTEXTS[kind]()).html
        tags = parse(html).tags
        metas = {attrs.get("name"): attrs.get("content") for name, attrs in tags if name == "meta"}
        assert metas["color-scheme"] == "light dark"
        assert "@media (prefers-color-scheme: dark)" in html
        assert "color-scheme: light dark" in html
        assert not any(name in {"img", "link", "script", "iframe"} for name, _ in tags)
        assert "url(" not in html

    @pytest.mark.parametrize("kind", sorted(EMAIL_KINDS))
    def test_every_template_documents_its_context(self, kind: str) -> None:
        """Each template opens with a Jinja comment listing its context."""
        loader = email_environment().loader
        assert loader is not None
        for extension in ("txt", "html"):
            source = loader.get_source(email_environment(), f"email/{kind}.{extension}")[0]
            assert source.startswith("{#")
            assert "Context" in source.split("#}")[0]

    @pytest.mark.parametrize("kind", sorted(EMAIL_KINDS))
    def test_context_survives_json(self, kind: str) -> None:
        """The documented contexts are JSON: an outbox row's payload renders the same email."""
        context = CONTEXTS[kind]()
        assert render_email(kind, json.loads(json.dumps(context))) == render_email(kind, context)

    def test_python_objects_work_too(self) -> None:
        """A timedelta lifetime, a RoundStatus and an aware datetime are accepted as well."""
        magic = render_email("magic_link", {"manage_url": "u", "expires_in": timedelta(hours=1)})
        assert "1 hour" in flat(magic.text)
        digest = render_email("digest", digest_context(round_status=RoundStatus(3, 9)))
        assert "3 of your 9 highlights" in flat(digest.text)
        context = welcome_context()
        context["first_digest_at"] = datetime(2026, 11, 23, 6, tzinfo=UTC)
        assert "Monday, 23 November 2026 at 07:00 (Europe/Paris)" in flat(
            render_email("welcome", context).text
        )

    def test_missing_variable_is_an_error(self) -> None:
        """A context without a documented variable fails loudly instead of rendering blank."""
        context = confirm_context()
        del context["confirm_url"]
        with pytest.raises(UndefinedError):
            render_email("confirm", context)

    def test_unknown_kind(self) -> None:
        """An unknown kind is a programming error naming the known ones."""
        with pytest.raises(ValueError, match="unknown email kind"):
            render_email("../../etc/passwd", {})

    def test_environment_built_once(self) -> None:
        """The environment (and its template cache) is shared by every render."""
        assert email_environment() is email_environment()
        assert email_environment().autoescape is not False


class TestConfirm:
    def test_states_what_will_be_imported(self) -> None:
        """The confirmation says how many highlights and books, and lists the books."""
        email = render_email("confirm", confirm_context())
        for body in (email.text, " ".join(parse(email.html).text)):
            assert "120 highlights from 3 books" in body
            assert "Walden" in body
            assert "Henry David Thoreau" in body
        assert "120 highlights from 3 books" in email.subject

    def test_link_and_expiry(self) -> None:
        """The link appears in both bodies (as an href in HTML) with its lifetime."""
        email = render_email("confirm", confirm_context())
        hrefs = [a.get("href") for name, a in parse(email.html).tags if name == "a"]
        assert "https://clippost.test/confirm/TOKEN" in hrefs
        assert "https://clippost.test/confirm/TOKEN" in flat(email.text)
        assert "2 days" in flat(email.text)
        assert "2 days" in email.html

    @pytest.mark.parametrize("given_books", [8, 5])
    def test_long_book_lists_are_cut(self, given_books: int) -> None:
        """Beyond three books (upload text to an unconfirmed address: few, and short) the
        email counts the rest, whatever the caller sent."""
        books = [book(f"Book {i}") for i in range(given_books)]
        email = render_email("confirm", confirm_context(books=books, book_count=8))
        assert "Book 2" in flat(email.text)
        assert "Book 3" not in flat(email.text)
        assert "Book 3" not in email.html
        assert "and 5 more books" in flat(email.text)
        assert "and 5 more books" in email.html

    def test_short_book_lists_have_no_more_line(self) -> None:
        """When every book is listed, there is no "more books" line."""
        email = render_email("confirm", confirm_context())
        assert "more book" not in flat(email.text)
        assert "more book" not in email.html


class TestAlreadySubscribedImport:
    def test_asks_to_add_new_highlights(self) -> None:
        """The subject asks "Add 120 new highlights from 3 books?" and the body has the link."""
        email = render_email("already_subscribed_import", import_context())
        assert email.subject == "Add 120 new highlights from 3 books?"
        assert "https://clippost.test/add/TOKEN" in flat(email.text)
        assert "https://clippost.test/add/TOKEN" in email.html

    def test_nothing_new_has_no_link(self) -> None:
        """An upload with nothing new says so and offers no link."""
        email = render_email(
            "already_subscribed_import", import_context(highlight_count=0, book_count=0, books=[])
        )
        assert "nothing new" in email.subject
        assert "/add/" not in flat(email.text)
        assert "/add/" not in email.html


class TestMagicLink:
    def test_link_and_expiry(self) -> None:
        """The sign-in email carries the manage link and says when it expires."""
        email = render_email("magic_link", CONTEXTS["magic_link"]())
        assert "https://clippost.test/manage/M" in flat(email.text)
        assert "30 minutes" in flat(email.text)
        assert "30 minutes" in email.html


class TestDigest:
    def test_highlight_source_and_links(self) -> None:
        """Each highlight shows its text, book, author, location and its own two links."""
        email = render_email("digest", digest_context())
        for body in (email.text, email.html):
            assert "The obstacle is the way, number 1." in body
            assert "Meditations" in body
            assert "Marcus Aurelius" in body
            assert "location 101–105" in body
            for link in ("favourite/F1", "discard/D1", "favourite/F2", "discard/D2"):
                assert link in body
        quotes = [name for name, _ in parse(email.html).tags if name == "blockquote"]
        assert len(quotes) == 2
        assert "> The obstacle is the way, number 1." in flat(email.text)

    def test_subject_is_in_the_html_title_and_context_left_alone(self) -> None:
        """The subject reaches the HTML <title>; the caller's context is not changed."""
        context = digest_context()
        before = dict(context)
        email = render_email("digest", context)
        assert f"<title>{email.subject}</title>" in email.html
        assert context == before

    def test_footer_has_manage_and_unsubscribe(self) -> None:
        """The footer links to the manage page and to unsubscribe, in both bodies."""
        email = render_email("digest", digest_context())
        hrefs = {a.get("href") for name, a in parse(email.html).tags if name == "a"}
        assert {"https://clippost.test/manage/M", "https://clippost.test/unsubscribe/U"} <= hrefs
        footer = email.text.split("\n-- \n")[1]
        assert "https://clippost.test/unsubscribe/U" in footer
        assert "https://clippost.test/manage/M" in footer

    def test_round_status(self) -> None:
        """The digest says where the reader is in the round."""
        email = render_email("digest", digest_context())
        assert "37 of your 412 highlights in this round" in flat(email.text)
        assert "37 of your 412 highlights in this round" in email.html

    def test_note_shown_only_when_present(self) -> None:
        """A highlight's note is shown; a highlight without one shows no note line."""
        with_note = digest_context(highlights=[make_highlight(1, note="Read again in spring")])
        assert "Your note: Read again in spring" in flat(render_email("digest", with_note).text)
        assert "Your note" not in flat(render_email("digest", digest_context()).text)

    def test_page_only_location(self) -> None:
        """A PDF highlight with only a page shows "page xii"."""
        item = make_highlight(1, page="xii", location_start=None, location_end=None)
        assert "page xii" in flat(render_email("digest", digest_context(highlights=[item])).text)

    def test_optional_fields_may_be_absent(self) -> None:
        """Items need only text, title and links; author, note, location are optional."""
        item = {
            "text": "Bare",
            "book_title": "T",
            "favourite_url": "https://f",
            "discard_url": "https://d",
        }
        email = render_email("digest", digest_context(highlights=[item]))
        assert "Bare" in flat(email.text)

    def test_favourite_shown_as_such(self) -> None:
        """A highlight already favourited says so instead of offering the favourite link."""
        email = render_email(
            "digest", digest_context(highlights=[make_highlight(1, favourite=True)])
        )
        assert "One of your favourites" in flat(email.text)
        assert "favourite/F1" not in flat(email.text)

    def test_subject_of_one_book_counts_its_highlights(self) -> None:
        """From one book, the subject says how many highlights and from which book."""
        items = [make_highlight(1), make_highlight(2)]
        email = render_email("digest", digest_context(highlights=items))
        assert email.subject == "2 highlights from Meditations"

    def test_subject_names_books(self) -> None:
        """The subject names the first book and how many others."""
        email = render_email("digest", digest_context())
        assert email.subject == "Highlights from Meditations and 1 other book"

    def test_subject_shortens_long_titles(self) -> None:
        """A very long title is cut so the subject stays readable."""
        item = make_highlight(1, book_title="Long " * 100)
        assert len(render_email("digest", digest_context(highlights=[item])).subject) < 100

    def test_plain_text_is_not_escaped(self) -> None:
        """Ampersands and angle brackets read as themselves in the text body."""
        item = make_highlight(1, text="Q&A <ideas>", book_title="Pride & Prejudice")
        email = render_email("digest", digest_context(highlights=[item]))
        assert "> Q&A <ideas>" in flat(email.text)
        assert "Pride & Prejudice" in flat(email.text)
        assert "Q&amp;A &lt;ideas&gt;" in email.html


class TestWelcome:
    def test_first_digest_in_reader_time(self) -> None:
        """The welcome says the schedule and when the first email arrives, on the reader's clock."""
        email = render_email("welcome", welcome_context())
        assert "every Monday at 07:00 (Europe/Paris)" in flat(email.text)
        assert "Monday, 23 November 2026 at 07:00 (Europe/Paris)" in flat(email.text)
        assert email.subject.endswith("Monday 23 November")

    def test_schedule_in_the_readers_words(self) -> None:
        """With the stored schedule, the welcome says it in the reader's language."""
        context = welcome_context()
        del context["schedule_text"]
        context.update(
            locale="de",
            schedule={"cadence": "weekly", "hour": 7, "weekday": 2, "timezone": "Europe/Paris"},
        )
        email = render_email("welcome", email_context("welcome", context))
        assert "jeden Mittwoch um 07:00 (Europe/Paris)" in flat(email.text)
        assert "am Montag, 23. November 2026 um 07:00 (Europe/Paris)" in flat(email.text)


class TestInjection:
    @pytest.mark.parametrize("title", [SCRIPT, ATTRIBUTE_BREAK])
    def test_markup_in_user_data_is_inert_in_html(self, title: str) -> None:
        """Markup in titles, authors, texts and notes is escaped text, never tags."""
        item = make_highlight(1, book_title=title, book_author=title, text=title, note=title)
        emails = [
            render_email("digest", digest_context(highlights=[item])),
            render_email("confirm", confirm_context(books=[book(title, title)])),
            render_email("already_subscribed_import", import_context(books=[book(title, title)])),
        ]
        for email in emails:
            parsed = parse(email.html)
            assert not any(name in {"script", "img"} for name, _ in parsed.tags)
            assert not any("onerror" in attrs for _, attrs in parsed.tags)
            assert title in "".join(parsed.text)

    @pytest.mark.parametrize(
        "title", [HEADER_BREAK, "A\nB", "A\rB", "A\u2028B", "A\x85B", "A\x0bB\x00C"]
    )
    def test_line_breaks_never_reach_the_subject(self, title: str) -> None:
        """A title with CR, LF or any line separator gives a one-line subject."""
        email = render_email(
            "digest", digest_context(highlights=[make_highlight(1, book_title=title)])
        )
        assert email.subject == one_line(email.subject)
        assert not any(ch in email.subject for ch in "\r\n\u2028\x85\x0b\x00")
        if title == HEADER_BREAK:
            # and the address in it is no link (rendering/labels.py)
            assert email.subject == "1 highlight from Meditations Bcc: victim@example\u2024org"

    @given(title=st.text(max_size=80), author=st.text(max_size=40))
    def test_any_title_round_trips_as_text(self, title: str, author: str) -> None:
        """For any title, the subject is one line and the HTML shows the title as plain text."""
        item = make_highlight(1, book_title=title, book_author=author)
        email = render_email("digest", digest_context(highlights=[item]))
        assert "\n" not in email.subject
        assert "\r" not in email.subject
        parsed = parse(email.html)
        assert {name for name, _ in parsed.tags} <= {
            "html", "head", "meta", "title", "style", "body", "div", "table", "tr", "td",
            "h1", "p", "blockquote", "cite", "bdi", "span", "br", "a",
        }  # fmt: skip
        assert label(title) in "".join(parsed.text)


class TestFilters:
    @pytest.mark.parametrize(
        ("value", "parts"),
        [
            (timedelta(minutes=30), ("minutes", 30)),
            (timedelta(hours=1), ("hours", 1)),
            (timedelta(hours=48), ("days", 2)),
            (timedelta(minutes=90), ("minutes", 90)),
            (timedelta(seconds=5), ("minutes", 1)),
            (259200.0, ("days", 3)),
            (900, ("minutes", 15)),
        ],
    )
    def test_duration_in_its_largest_whole_unit(
        self, value: timedelta, parts: tuple[str, int]
    ) -> None:
        """Link lifetimes are counted in the largest unit that divides them."""
        assert duration_parts(value) == parts

    @pytest.mark.parametrize(
        ("seconds", "words"), [(1800, "30 minutes"), (3600, "1 hour"), (2 * 86400, "2 days")]
    )
    def test_duration_reads_naturally(self, seconds: int, words: str) -> None:
        """The lifetime is said in words, singular or plural as the count needs."""
        email = render_email("magic_link", {"manage_url": "u", "expires_in": seconds})
        assert f"It works for {words}:" in email.text.replace("\n", " ")

    def test_one_line_collapses_whitespace(self) -> None:
        """one_line turns any run of breaks and spaces into one space and trims."""
        assert one_line("  a\r\n\t b \u2028 c ") == "a b c"

    @given(
        value=st.text(max_size=60)
        | st.lists(
            st.sampled_from(["a", " ", "  ", "\t", "\r\n", "\xa0", "\u2028", "\x85", "\u3000"])
        ).map("".join)
    )
    def test_one_line_fast_path_agrees_with_the_regexes(self, value: str) -> None:
        """For any text, one_line gives what the two regexes alone give."""
        slow = re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]+", " ", value))
        assert one_line(value) == slow.strip()

    def test_times_are_shown_on_the_readers_clock(self) -> None:
        """An instant is shown on the reader's clock, or on its own offset without a zone."""
        assert on_clock("2026-11-23T06:00:00+00:00", "Europe/Paris").hour == 7
        paris = datetime(2026, 7, 1, 9, tzinfo=ZoneInfo("Europe/Paris"))
        assert on_clock(paris) is paris

    def test_naive_times_are_refused(self) -> None:
        """A naive time would be shown as if local: it is refused."""
        with pytest.raises(ValueError, match="aware"):
            on_clock("2026-11-23T06:00:00")
