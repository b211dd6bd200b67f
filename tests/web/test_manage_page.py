"""The manage page as issue 11 asks for it: pages with counts, filters, marked search terms,
one form for every book, notices where the change was made, inline errors that keep what
was typed, the paused state, the next digest, the language, signing out every link."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from clippost import clippings
from clippost.links import Purpose
from clippost.models import Book, Highlight, Subscriber
from clippost.planner.service import plan_due
from clippost.web import previews
from clippost.web.manage_page import Listing
from factories import record_sends

MANY = [f"Passage number {n:03d} about the sea." for n in range(120)]


def _results(html: str) -> str:
    return html.split('id="results"', 1)[1].split('id="upload"', 1)[0]


def _section(html: str, name: str) -> str:
    return html.split(f'id="{name}"', 1)[1].split("</section>", 1)[0]


def _passages(html: str) -> list[str]:
    return re.findall(r"Passage number (\d{3})", _results(html))


async def _big_library(web) -> str:
    """A reader with 120 highlights in Moby-Dick and 3 in Walden; their manage link."""
    content = web.clippings_file(
        ("Moby-Dick", "Herman Melville", MANY),
        ("Walden", "Henry David Thoreau", ["Simplify, simplify.", "Sea <b>and</b> woods.", "x"]),
    )
    await web.confirmed_reader(content=content)
    return await web.manage_link()


async def _book_ids(web) -> dict[str, int]:
    async with web.db.transaction() as session:
        return {row.title: row.id for row in await session.execute(select(Book.id, Book.title))}


async def _set_flags(web, texts: list[str], **values: object) -> None:
    async with web.db.transaction() as session:
        await session.execute(update(Highlight).where(Highlight.text.in_(texts)).values(**values))


async def _record_sends(web, texts: list[str], times: int) -> None:
    async with web.db.transaction() as session:
        ids = list(await session.scalars(select(Highlight.id).where(Highlight.text.in_(texts))))
        await record_sends(session, ids, times)


class TestPagination:
    async def test_first_page_says_how_many_in_all(self, web):
        """The list shows 50 highlights and says "1–50 of 123"."""
        link = await _big_library(web)
        page = (await web.client.get(link)).text
        assert "1–50 of 123" in _results(page)
        assert len(_passages(page)) == 50
        assert "Next 50" in _results(page)

    async def test_later_pages_and_the_last_one(self, web):
        """offset=50 shows 51–100; the last page shows the rest and no Next link."""
        link = await _big_library(web)
        second = (await web.client.get(link, params={"offset": "50"})).text
        assert "51–100 of 123" in _results(second)
        assert _passages(second)[0] == "050"
        last = (await web.client.get(link, params={"offset": "100"})).text
        assert "101–123 of 123" in _results(last)
        assert "Next" not in _results(last)
        assert "Previous 50" in _results(last)

    async def test_a_page_past_the_end_shows_the_last_one(self, web):
        """An offset beyond the list (an old bookmark) shows the last page, not nothing."""
        link = await _big_library(web)
        page = (await web.client.get(link, params={"offset": "5000"})).text
        assert "101–123 of 123" in _results(page)

    async def test_bad_offset_is_a_clear_400(self, web):
        """An offset that is not a number: a 400 page."""
        link = await _big_library(web)
        assert (await web.client.get(link, params={"offset": "-3"})).status_code == 400


class TestFilters:
    async def test_favourites(self, web):
        """show=favourites lists only favourites, with their count."""
        link = await _big_library(web)
        await _set_flags(web, [MANY[3], MANY[7]], favourite=True)
        page = (await web.client.get(link, params={"show": "favourites"})).text
        assert _passages(page) == ["003", "007"]
        assert "2 highlights" in _results(page)

    async def test_discarded_offers_restore_not_favourite(self, web):
        """show=discarded lists discards; each offers Restore and no Favourite button."""
        link = await _big_library(web)
        await _set_flags(web, [MANY[5]], discarded=True)
        page = (await web.client.get(link, params={"show": "discarded"})).text
        results = _results(page)
        assert _passages(page) == ["005"]
        assert 'value="restore"' in results
        assert 'value="favourite"' not in results

    async def test_never_sent(self, web):
        """show=never_sent leaves out what was sent; "Sent 0 times" is never written."""
        link = await _big_library(web)
        await _record_sends(web, MANY[:118], 2)
        page = (await web.client.get(link, params={"show": "never_sent"})).text
        assert _passages(page) == ["118", "119"]
        assert "Not sent yet." in _results(page)
        assert "Sent 0 times" not in page
        everything = (await web.client.get(link)).text
        assert "Sent 2 times." in _results(everything)

    async def test_per_book_with_search(self, web):
        """A book and a search narrow together; the count says how many match."""
        link = await _big_library(web)
        walden = (await _book_ids(web))["Walden"]
        page = await web.client.get(link, params={"book": str(walden), "q": "sea"})
        results = _results(page.text)
        assert _passages(page.text) == []
        assert "1 highlight matching" in results

    async def test_unknown_filter_is_a_clear_400(self, web):
        """A show value that is not in the list: a 400 page."""
        link = await _big_library(web)
        assert (await web.client.get(link, params={"show": "secret"})).status_code == 400


class TestMarkedTerms:
    @pytest.fixture
    def web(self, sqlite_web):
        """A page's behaviour, not the database's: SQLite alone."""
        return sqlite_web

    async def test_search_terms_are_marked_and_the_rest_escaped(self, web):
        """Each match is in a <mark>, any case; a passage's own markup stays text."""
        link = await _big_library(web)
        results = _results((await web.client.get(link, params={"q": "SEA"})).text)
        assert "about the <mark>sea</mark>." in results
        results = _results((await web.client.get(link, params={"q": "Woods"})).text)
        assert "Sea &lt;b&gt;and&lt;/b&gt; <mark>woods</mark>." in results

    async def test_a_query_with_markup_is_escaped(self, web):
        """A search for "<b>" marks the text "<b>" and injects nothing."""
        link = await _big_library(web)
        results = _results((await web.client.get(link, params={"q": "<b>"})).text)
        assert "<mark>&lt;b&gt;</mark>and" in results
        assert "<b>" not in results


class TestBookForm:
    async def test_every_book_is_saved_by_one_press(self, web):
        """Two books changed in the one form are both saved, and the notice is by the books."""
        link = await _big_library(web)
        ids = await _book_ids(web)
        form = {f"frequency-{ids['Moby-Dick']}": "less", f"frequency-{ids['Walden']}": "more"}
        response = await web.post_form(f"{link}/books", form, csrf_from=link)
        assert response.status_code == 303
        assert response.headers["location"].endswith("#books")
        async with web.db.transaction() as session:
            stored = dict((await session.execute(select(Book.title, Book.frequency))).all())
        assert stored == {"Moby-Dick": "less", "Walden": "more"}
        page = (await web.client.get(response.headers["location"])).text
        assert 'role="status"' in _section(page, "books")
        assert "How often each book comes up is saved." in _section(page, "books")

    async def test_a_library_of_many_books_fits_the_form(self, web):
        """Forty books (more fields than a small form takes) are all saved by one press."""
        books = [(f"Book {n:02d}", "Author", [f"Line {n}."]) for n in range(40)]
        await web.confirmed_reader(content=web.clippings_file(*books))
        link = await web.manage_link()
        form = {f"frequency-{book_id}": "more" for book_id in (await _book_ids(web)).values()}
        response = await web.post_form(f"{link}/books", form, csrf_from=link)
        assert response.status_code == 303
        async with web.db.transaction() as session:
            assert set((await session.scalars(select(Book.frequency))).all()) == {"more"}

    async def test_one_bad_value_saves_no_book(self, web):
        """A value outside the list: 400, and the other book's change is not saved either."""
        link = await _big_library(web)
        ids = await _book_ids(web)
        form = {f"frequency-{ids['Moby-Dick']}": "less", f"frequency-{ids['Walden']}": "always"}
        response = await web.post_form(f"{link}/books", form, csrf_from=link)
        assert response.status_code == 400
        async with web.db.transaction() as session:
            assert set((await session.scalars(select(Book.frequency))).all()) == {"normal"}

    async def test_another_readers_book_is_refused(self, web):
        """A book id from another library: 404, nothing changed."""
        link = await _big_library(web)
        response = await web.post_form(
            f"{link}/books", {"frequency-999999": "never"}, csrf_from=link
        )
        assert response.status_code == 404


class TestNotices:
    @pytest.fixture
    def web(self, sqlite_web):
        """A page's behaviour, not the database's: SQLite alone."""
        return sqlite_web

    async def test_highlight_notice_is_by_the_highlight(self, web):
        """After a favourite, the page returns to that highlight, whose item holds the notice."""
        link = await _big_library(web)
        async with web.db.transaction() as session:
            target = await session.scalar(select(Highlight.id).where(Highlight.text == MANY[60]))
        form = {"action": "favourite", "offset": "50"}
        response = await web.post_form(f"{link}/highlights/{target}", form, csrf_from=link)
        location = response.headers["location"]
        assert location.endswith(f"#highlight-{target}")
        assert "offset=50" in location
        page = (await web.client.get(location)).text
        item = page.split(f'id="highlight-{target}"', 1)[1].split("</li>", 1)[0]
        assert 'role="status"' in item
        assert "The highlight is updated." in item

    async def test_preferences_notice_is_in_the_preferences(self, web):
        """Saving preferences shows the notice inside the preferences section."""
        link = await _big_library(web)
        form = {**web.default_preferences(), "locale": ""}
        response = await web.post_form(f"{link}/preferences", form, csrf_from=link)
        page = (await web.client.get(response.headers["location"])).text
        assert "Your preferences are saved." in _section(page, "preferences")


class TestInlineErrors:
    @pytest.fixture
    def web(self, sqlite_web):
        """A page's behaviour, not the database's: SQLite alone."""
        return sqlite_web

    async def test_bad_preferences_come_back_with_what_was_typed(self, web):
        """A bad timezone and hour: 400, the manage page again, each message by its field,
        the typed values (not the stored ones) in the fields, nothing saved."""
        link = await _big_library(web)
        form = {
            **web.default_preferences(),
            "timezone": "Europe/Pariss",
            "hour": "31",
            "per_email": "9",
            "cadence": "daily",
            "locale": "de",
        }
        page = await web.post_form(f"{link}/preferences", form, csrf_from=link)
        assert page.status_code == 400
        section = _section(page.text, "preferences")
        assert 'id="timezone-error"' in section
        assert 'id="hour-error"' in section
        assert 'value="Europe/Pariss"' in section
        assert '<option value="9" selected>' in section
        assert '<option value="daily" selected>' in section
        assert '<option value="de" selected>' in section
        assert "Error 4" not in page.text
        stored = await web.subscriber("reader@example.org")
        assert (stored.timezone, stored.per_email, stored.locale) == ("Europe/Paris", 3, None)

    async def test_erase_without_the_box_says_so_beside_it(self, web):
        """Erasing without the box ticked: 400, the message in the erase section."""
        link = await _big_library(web)
        page = await web.post_form(f"{link}/erase", {"never_email_again": "yes"}, csrf_from=link)
        assert page.status_code == 400
        section = _section(page.text, "erase")
        assert "tick the box" in section
        assert (
            'id="never_email_again" name="never_email_again" type="checkbox" value="yes"' in section
        )
        assert "checked" in section

    async def test_a_bad_upload_is_refused_beside_the_file_field(self, web):
        """A picture uploaded on the manage page: 415, the message in the upload section."""
        link = await _big_library(web)
        files = {"file": ("x.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png")}
        page = await web.post_form(f"{link}/upload", files=files, csrf_from=link)
        assert page.status_code == 415
        assert 'id="file-error"' in _section(page.text, "upload")

    async def test_sign_up_errors_stay_on_the_form(self, web):
        """A bad address and timezone on sign-up: 400, the landing page with both messages,
        the typed address kept, and no word about manage links."""
        response = await web.sign_up("not an address", timezone="Mars/Base")
        assert response.status_code == 400
        assert 'id="email-error"' in response.text
        assert 'id="timezone-error"' in response.text
        assert 'value="not an address"' in response.text
        assert 'value="Mars/Base"' in response.text
        assert "Ask for a new link" not in response.text
        assert await web.outbox() == []

    async def test_a_rate_limit_is_said_on_the_form(self, web_app, web_settings):
        """Past the hourly limit, sign-up answers 429 on the same form, values kept."""
        limited = web_settings.model_copy(update={"emails_per_address_per_hour": 1})
        async with web_app(limited) as web:
            assert (await web.sign_up("a@example.org")).status_code == 303
            again = await web.sign_up("a@example.org", timezone="Europe/Rome")
            assert again.status_code == 429
            assert 'class="error-summary"' in again.text
            assert 'value="Europe/Rome"' in again.text
            assert 'value="a@example.org"' in again.text

    async def test_manage_request_error_keeps_the_address(self, web):
        """A bad address on the manage-link form: 400, the message beside it, the text kept."""
        page = await web.post_form("/manage", {"email": "me@@x"}, csrf_from="/manage")
        assert page.status_code == 400
        assert 'id="email-error"' in page.text
        assert 'value="me@@x"' in page.text


class TestState:
    @pytest.fixture
    def web(self, sqlite_web):
        """A page's behaviour, not the database's: SQLite alone."""
        return sqlite_web

    async def test_the_pause_is_named(self, web):
        """A reader paused until a future day reads "Paused until <day>"."""
        link = await _big_library(web)
        until = datetime.now(UTC).date() + timedelta(days=300)
        form = {**web.default_preferences(), "paused_until": until.isoformat()}
        await web.post_form(f"{link}/preferences", form, csrf_from=link)
        status = _section((await web.client.get(link)).text, "status")
        assert "Paused" in status
        assert f"{until.day} {until:%B} {until.year}" in status

    async def test_the_next_digest_is_previewed(self, web):
        """The page shows the passages of the next digest, as the planner chooses them."""
        link = await _big_library(web)
        section = _section((await web.client.get(link)).text, "next")
        assert section.count('class="highlight"') == 3  # the reader's per_email

    async def test_reloads_while_a_preview_runs_share_it(self, web, monkeypatch):
        """Reloads of one reader's page while their preview is laid out wait for that one
        (one preview, every page shows it); a reload after it has ended lays out anew."""
        link = await _big_library(web)
        made: list[int] = []
        real = previews._payload

        async def counted(*args: object) -> object:
            made.append(1)
            await asyncio.sleep(0.3)  # long enough for the other reloads to arrive
            return await real(*args)

        monkeypatch.setattr(previews, "_payload", counted)
        pages = await asyncio.gather(*(web.client.get(link) for _ in range(4)))
        assert len(made) == 1
        for page in pages:
            assert _section(page.text, "next").count('class="highlight"') == 3
        await web.client.get(link)
        assert len(made) == 2
        assert previews._IN_FLIGHT == {}

    async def test_the_language_is_saved(self, web):
        """Choosing German stores the locale; "from my library" stores none."""
        link = await _big_library(web)
        form = {**web.default_preferences(), "locale": "de"}
        await web.post_form(f"{link}/preferences", form, csrf_from=link)
        assert (await web.subscriber("reader@example.org")).locale == "de"
        await web.post_form(f"{link}/preferences", {**form, "locale": ""}, csrf_from=link)
        assert (await web.subscriber("reader@example.org")).locale is None

    async def test_an_unknown_language_is_refused(self, web):
        """A locale not in the list: 400 with the message by the language field."""
        link = await _big_library(web)
        form = {**web.default_preferences(), "locale": "xx"}
        page = await web.post_form(f"{link}/preferences", form, csrf_from=link)
        assert page.status_code == 400
        assert 'id="locale-error"' in page.text

    async def test_times_follow_the_browsers_clock(self, web):
        """US English reads a 12-hour clock; British English and German a 24-hour one."""
        link = await _big_library(web)
        us = (await web.client.get(link, headers={"accept-language": "en-US,en;q=0.8"})).text
        gb = (await web.client.get(link, headers={"accept-language": "en-GB"})).text
        assert '<option value="7" selected>7:00 AM</option>' in us
        assert '<option value="13" >1:00 PM</option>' in us
        assert '<option value="7" selected>07:00</option>' in gb


class TestSignOut:
    async def test_every_manage_link_stops_working(self, web):
        """Signing out kills the link in use and a 30-day link from an email alike."""
        link = await _big_library(web)
        subscriber_id = await web.subscriber_id("reader@example.org")
        long_lived = web.app.state.runtime.links.email_manage_url(
            subscriber_id, 0, now=datetime.now(UTC) - timedelta(days=5)
        )
        long_path = long_lived.removeprefix(web.settings.base_url)
        assert (await web.client.get(long_path)).status_code == 200
        page = await web.post_form(f"{link}/sign-out", csrf_from=link)
        assert page.status_code == 200
        assert 'action="/manage"' in page.text  # the way to a new link, right there
        for dead in (link, long_path):
            gone = await web.client.get(dead)
            assert gone.status_code == 400
            assert 'action="/manage"' in gone.text
        async with web.db.transaction() as session:
            assert await session.scalar(select(Subscriber.link_generation)) == 1

    async def test_an_expired_link_offers_a_new_one_right_there(self, web):
        """A manage link past its hour: the error page holds the form for a new link."""
        await web.confirmed_reader()
        subscriber_id = await web.subscriber_id("reader@example.org")
        old = web.link(
            Purpose.MANAGE, subscriber_id, now=datetime.now(UTC) - timedelta(days=1), extra="0"
        )
        page = await web.client.get(old)
        assert page.status_code == 400
        assert "expired" in page.text
        assert 'action="/manage"' in page.text
        assert "home page" not in page.text.split("<main", 1)[1].split("</main>", 1)[0]


class TestExportsKeepVerdicts:
    @pytest.fixture
    def web(self, sqlite_web):
        """A page's behaviour, not the database's: SQLite alone."""
        return sqlite_web

    async def test_csv_tags_and_markdown_marks(self, web):
        """A favourite and a discard are tagged `favorite` and `discard` in the CSV's Tags
        column (as highlight services write it) and in the Markdown."""
        link = await _big_library(web)
        await _set_flags(web, [MANY[0]], favourite=True)
        await _set_flags(web, [MANY[1]], discarded=True)
        await _set_flags(web, [MANY[2]], favourite=True, discarded=True)
        rows = list(
            csv.DictReader(
                io.StringIO((await web.client.get(f"{link}/export/csv")).text.lstrip("\ufeff"))
            )
        )
        tags = {row["Highlight"]: row["Tags"] for row in rows}
        assert (tags[MANY[0]], tags[MANY[1]], tags[MANY[2]], tags[MANY[3]]) == (
            "favorite",
            "discard",
            "favorite, discard",
            "",
        )
        markdown = (await web.client.get(f"{link}/export/markdown")).text
        first = markdown.split(MANY[0], 1)[1].split(MANY[1], 1)[0]
        assert "**Tags:** favorite" in first
        assert markdown.count("**Tags:**") == 3

    async def test_the_csv_imports_back_with_its_tags(self, web):
        """The import engine reads the exported CSV whole, verdicts included: the verdict
        tags come back as the highlight's favourite and discard flags."""
        link = await _big_library(web)
        await _set_flags(web, [MANY[0]], favourite=True)
        await _set_flags(web, [MANY[1]], discarded=True)
        exported = (await web.client.get(f"{link}/export/csv")).content
        library = clippings.merge(clippings.parse(exported).entries)
        assert library.highlight_count == 123
        every = [h for book in library.books for h in book.highlights]
        assert [h.text for h in every if h.favourite] == [MANY[0]]
        assert [h.text for h in every if h.discarded] == [MANY[1]]
        assert not [h for h in every if h.tags]

    async def test_export_erase_and_import_again_gives_the_same_library(self, web):
        """A reader who leaves with their CSV and comes back with it finds every highlight
        and every verdict as they were (the export is the way out and the way back in)."""
        link = await _big_library(web)
        await _set_flags(web, [MANY[0], MANY[5]], favourite=True)
        await _set_flags(web, [MANY[1]], discarded=True)
        before = await _library_state(web)
        exported = (await web.client.get(f"{link}/export/csv")).content
        erased = await web.post_form(f"{link}/erase", {"confirm": "yes"}, csrf_from=link)
        assert erased.status_code == 200
        assert (await web.counts())["highlights"] == 0
        await web.confirmed_reader(content=exported)
        assert await _library_state(web) == before


async def _library_state(web) -> list[tuple[str, str, str | None, bool, bool]]:
    """Every highlight as (book, text, note, favourite, discarded), in a stable order."""
    async with web.db.transaction() as session:
        rows = await session.execute(
            select(Book.title, Highlight.text, Highlight.note, Highlight.favourite)
            .add_columns(Highlight.discarded)
            .join(Book, Book.id == Highlight.book_id)
            .order_by(Book.title, Highlight.text)
        )
        return [tuple(row) for row in rows]


class TestHonestPreview:
    async def test_the_preview_is_the_digest_that_is_sent(self, web):
        """The passages the manage page previews are the ones the planner then queues."""
        link = await _big_library(web)
        page = (await web.client.get(link)).text
        previewed = re.findall(
            r'<blockquote><p dir="auto">(.*?)</p></blockquote>', _section(page, "next")
        )
        reader = await web.subscriber("reader@example.org")
        runtime = web.app.state.runtime
        await plan_due(runtime.db, runtime.context(reader.next_slot_at + timedelta(minutes=1)))
        [digest] = await web.outbox("digest")
        sent = [html.escape(h["text"], quote=False) for h in digest.payload["highlights"]]
        assert previewed == sent
        assert len(sent) == 3


class TestListing:
    def test_links_keep_the_listing_and_leave_out_defaults(self):
        """A page link keeps the search (even the word "all") and drops default values."""
        listing = Listing.parse("all", "", "favourites", "50")
        assert listing.params() == {"q": "all", "show": "favourites", "offset": "50"}
        assert Listing().params(done="books") == {"done": "books"}
        assert Listing.parse("sea", "7", "", "").url("T", offset=50) == (
            "/manage/T?q=sea&book=7&offset=50#results"
        )
