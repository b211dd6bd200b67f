"""Hostile input, on SQLite and PostgreSQL: every value is range-checked at the edge (a 4xx
with a sentence, never a 5xx), uploaded text reaches neither the database nor an email raw,
and leaving removes every trace (issue 9, data hygiene)."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, select, text, update

from clippost import delivery_events
from clippost.addresses import address_hash
from clippost.bounces.mailbox import MaildirSource
from clippost.cli.bounces import read_mailbox
from clippost.db.base import MAX_ROW_ID, row_id
from clippost.db.dialect import normalise_database_url
from clippost.db.engine import Database
from clippost.errors import BadInput
from clippost.links import Purpose
from clippost.models import (
    Book,
    DeliveryEvent,
    Highlight,
    OutboxMessage,
    PendingImport,
    RateLimitWindow,
    Subscriber,
    Suppression,
)
from clippost.planner.service import plan_due
from clippost.planner.slots import next_slot
from clippost.subscriptions import pending
from clippost.subscriptions.preferences import MAX_PAUSE, Preferences

BEYOND_64_BITS = str(2**70)
BEYOND_32_BITS = str(2**40)


def _sentence(html: str) -> str:
    """The error page's message (its first paragraph in <main>)."""
    found = re.search(r"<main[^>]*>.*?<p[^>]*>(.*?)</p>", html, re.S)
    assert found, html[:500]
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


async def _highlight_ids(web) -> list[int]:
    async with web.db.transaction() as session:
        return list((await session.scalars(select(Highlight.id).order_by(Highlight.id))).all())


class TestPauseDates:
    async def test_a_pause_past_a_year_is_refused_at_sign_up(self, web):
        """A pause until 9999-12-31 at sign-up is refused with a sentence; nothing stored."""
        before = await web.counts()
        response = await web.sign_up("far@example.org", paused_until="9999-12-31")
        assert response.status_code == 400
        assert "at most a year" in response.text
        assert await web.counts() == before

    async def test_a_pause_within_a_year_is_taken(self, web):
        """A pause 300 days ahead is a fine sign-up."""
        until = (datetime.now(UTC).date() + timedelta(days=300)).isoformat()
        response = await web.sign_up("near@example.org", paused_until=until)
        assert response.status_code == 303

    async def test_a_pause_past_a_year_is_refused_on_the_manage_page(self, web):
        """Saving preferences with a pause beyond a year answers in place, changing nothing."""
        await web.confirmed_reader()
        manage = await web.manage_link()
        form = {**web.default_preferences(), "paused_until": "9999-12-31", "locale": ""}
        response = await web.post_form(f"{manage}/preferences", form, csrf_from=manage)
        assert response.status_code == 400
        assert "at most a year" in response.text
        subscriber = await web.subscriber("reader@example.org")
        assert subscriber is not None
        assert subscriber.paused_until is None

    async def test_confirm_never_fails_on_a_stored_far_pause(self, web):
        """A pending sign-up stored before the limit, pausing until 9999-12-31, confirms with
        the pause cut to a year."""
        await web.sign_up("old@example.org")
        far = await _far_payload(web)
        async with web.db.transaction() as session:
            await session.execute(
                update(Subscriber)
                .where(Subscriber.email == "old@example.org")
                .values(paused_until=date(9999, 12, 31))
            )
            await session.execute(update(PendingImport).values(payload=far))
        link = await web.last_link("confirm", "confirm_url")
        response = await web.post_form(link, csrf_from=link)
        assert response.status_code == 200, response.text
        subscriber = await web.subscriber("old@example.org")
        assert subscriber is not None
        assert subscriber.paused_until is not None
        assert subscriber.paused_until <= datetime.now(UTC).date() + timedelta(days=367)
        assert subscriber.next_slot_at is not None


async def _far_payload(web) -> bytes:
    """The pending import's payload, with its preferences pausing until 9999-12-31 (as a
    sign-up before the limit stored them)."""
    async with web.db.transaction() as session:
        stored = await session.scalar(select(PendingImport.payload))
    content = pending.decode(stored)
    assert content.library is not None
    assert content.preferences is not None
    far = replace(content.preferences, paused_until=date(9999, 12, 31))
    return pending.encode(pending.encode_library(content.library), far)


class TestIdsOutOfRange:
    @pytest.mark.parametrize("value", [BEYOND_64_BITS, BEYOND_32_BITS, "-1", "0"])
    async def test_a_highlight_id_beyond_any_row(self, web, value):
        """Flagging a highlight id no row can have is a 404 with a sentence."""
        await web.confirmed_reader()
        manage = await web.manage_link()
        response = await web.post_form(
            f"{manage}/highlights/{value}", {"action": "favourite"}, csrf_from=manage
        )
        assert response.status_code == 404
        assert "highlight" in _sentence(response.text).lower()

    @pytest.mark.parametrize("value", [BEYOND_64_BITS, BEYOND_32_BITS])
    async def test_a_book_id_beyond_any_row(self, web, value):
        """A book filter or a book's frequency field beyond any row changes nothing, never 5xx."""
        await web.confirmed_reader()
        manage = await web.manage_link()
        page = await web.client.get(f"{manage}?book={value}")
        assert page.status_code == 400
        assert "Choose a book" in _sentence(page.text)
        acted = await web.client.get(f"{manage}?h={value}")
        assert acted.status_code == 200  # a notice about no highlight: nothing to mark
        form = {f"frequency-{value}": "more"}
        saved = await web.post_form(f"{manage}/books", form, csrf_from=manage)
        assert saved.status_code == 404
        assert "not in your library" in _sentence(saved.text)

    async def test_a_highlight_id_that_is_not_a_number(self, web):
        """A highlight id of letters is a 404 with a sentence, not a validation dump."""
        await web.confirmed_reader()
        manage = await web.manage_link()
        response = await web.post_form(
            f"{manage}/highlights/abc", {"action": "favourite"}, csrf_from=manage
        )
        assert response.status_code in (404, 422)
        assert "{" not in _sentence(response.text)

    async def test_signed_links_naming_huge_ids(self, web):
        """A validly signed link naming an id beyond any row is a clear 4xx everywhere."""
        huge = 2**70
        paths = [
            web.link(Purpose.FAVOURITE, huge),
            web.link(Purpose.DISCARD, huge),
            web.link(Purpose.PASSAGE, huge),
            web.link(Purpose.MANAGE, huge, extra="0"),
            web.link(Purpose.RESUBSCRIBE, huge),
            web.link(Purpose.CONFIRM, huge, extra=str(huge)),
            web.link(Purpose.ADD_IMPORT, huge, extra=str(huge)),
        ]
        for path in paths:
            page = await web.client.get(path)
            assert 400 <= page.status_code < 500 or page.status_code == 200, path
        for path in paths[:2] + paths[5:]:
            response = await web.post_form(path, csrf_from="/")
            assert 400 <= response.status_code < 500, (path, response.status_code)
        unsubscribe = web.link(Purpose.UNSUBSCRIBE, huge)
        response = await web.client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code < 500


class TestControlCharacters:
    @pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
    async def test_nul_and_controls_never_reach_the_database(self, web, encoding):
        """An upload whose title, author and passage hold NUL and other controls confirms
        (on PostgreSQL too), stored without them; newlines and tabs stay. (A BOM or UTF-16
        is how a NUL gets past the binary-file check; a few in a long file pass it too.)"""
        upload = web.clippings_file(
            ("Bad\x00Title\x07", "Au\x00thor\x1b", ["line one\nline\ttwo\x00\x0b\x7f\x85 end"]),
            ("Plain", "Writer", [f"An ordinary passage, number {n}." for n in range(40)]),
        )
        await web.confirmed_reader("nul@example.org", upload.decode().encode(encoding))
        async with web.db.transaction() as session:
            book = await session.scalar(select(Book).where(Book.title != "Plain"))
            assert book is not None
            highlight = await session.scalar(select(Highlight).where(Highlight.book_id == book.id))
        assert book is not None
        assert highlight is not None
        assert book.title == "BadTitle"
        assert book.author == "Author"
        assert highlight.text == "line one\nline\ttwo end"

    async def test_nul_in_a_csv_upload(self, web):
        """A highlights CSV with NUL in its cells confirms, stored without them."""
        rows = "".join(f"Passage {n} of a plain book,Plain,Writer\r\n" for n in range(40))
        upload = (
            "\ufeffHighlight,Book Title,Book Author\r\nA\x00B passage,T\x00itle,Wr\x00iter\r\n"
            + rows
        )
        await web.confirmed_reader("csv@example.org", upload.encode())
        async with web.db.transaction() as session:
            book = await session.scalar(select(Book).where(Book.title != "Plain"))
            assert book is not None
            highlight = await session.scalar(select(Highlight).where(Highlight.book_id == book.id))
        assert (book.title, book.author, highlight.text) == ("Title", "Writer", "AB passage")


BIDI = "\u202e\u2066\u200f"  # an override, an isolate and a mark, none of them closed


class _BidiChecker(HTMLParser):
    """Every text holding a bidi control must sit inside <bdi> or an element with `dir`;
    <title> and <option> (which can hold no element) must hold none."""

    _VOID = frozenset({"br", "input", "meta", "link", "img", "hr", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.raw: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and any(c in value for c in BIDI) and name not in ("value",):
                self.raw.append(f"<{tag} {name}>")
        if tag not in self._VOID:
            isolated = tag == "bdi" or any(name == "dir" for name, _ in attrs)
            self.stack.append((tag, isolated))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if not any(c in data for c in BIDI):
            return
        tags = [tag for tag, _ in self.stack]
        if "title" in tags or "option" in tags or not any(iso for _, iso in self.stack):
            self.raw.append(f"{'/'.join(tags[-3:])}: {data.strip()[:40]!r}")


def _raw_bidi(html: str) -> list[str]:
    checker = _BidiChecker()
    checker.feed(html)
    return checker.raw


class TestBidiControls:
    async def test_pages_isolate_every_uploaded_text(self, web):
        """Titles, authors, passages and notes holding unclosed bidi controls sit in <bdi>
        or dir="auto" on every page that shows them; <title> and <option> get none."""
        upload = web.clippings_file(
            (
                f"Title {BIDI}one",
                f"Author {BIDI}",
                # Long enough to be sent (fragments are skipped), so the previews show it.
                [f"Passage {BIDI} text about the sea and the long way home.", "Plain one."],
            ),
        )
        await web.sign_up("bidi@example.org", upload)
        confirm = await web.last_link("confirm", "confirm_url")
        confirmed = await web.post_form(confirm, csrf_from=confirm)
        manage = await web.manage_link("bidi@example.org")
        ids = await _highlight_ids(web)
        pages = {
            "confirmed": confirmed.text,
            "manage": (await web.client.get(manage)).text,
            "search": (await web.client.get(f"{manage}?q=Passage")).text,
            "passage": (await web.client.get(web.link(Purpose.PASSAGE, ids[0]))).text,
            "favourite": (await web.client.get(web.link(Purpose.FAVOURITE, ids[0]))).text,
        }
        for name, html in pages.items():
            assert BIDI[0] in html, name  # the text is shown, not dropped
            assert _raw_bidi(html) == [], name

    async def test_emails_isolate_or_strip_them(self, web):
        """The confirmation email's HTML isolates them; its text part and subject hold none."""
        upload = web.clippings_file((f"Title {BIDI}one", f"Author {BIDI}", ["A passage."]))
        await web.sign_up("bidi@example.org", upload)
        [message] = await web.outbox("confirm")
        rendered = web.app.state.runtime.renderer(message, datetime.now(UTC))
        assert _raw_bidi(rendered.html) == []
        assert not any(c in rendered.text + rendered.subject for c in BIDI)


class TestEdgeChecksProperties:
    @given(st.text(max_size=30))
    def test_row_id_takes_only_what_a_row_can_have(self, text):
        """Any text is an id in 1..2**31-1 written in ASCII digits, or None."""
        value = row_id(text)
        digits = text.isascii() and text.isdigit()
        if value is None:
            assert not digits or not 0 < int(text) <= MAX_ROW_ID
        else:
            assert 0 < value <= MAX_ROW_ID
            assert str(value) == text.lstrip("0")

    @given(st.dates())
    def test_a_pause_is_a_year_at_most(self, until):
        """Any pause date is taken when within MAX_PAUSE of today, refused with a sentence
        otherwise; cutting it always gives one within the limit that plans a slot."""
        today = date(2026, 6, 1)
        preferences = Preferences.from_form({"paused_until": until.isoformat()})
        if until <= today + MAX_PAUSE:
            preferences.check_pause(today)
        else:
            with pytest.raises(BadInput, match="at most a year"):
                preferences.check_pause(today)
        cut = preferences.within_pause_limit(today)
        assert cut.paused_until is not None
        assert cut.paused_until <= today + MAX_PAUSE
        now = datetime(2026, 6, 1, 12, tzinfo=UTC)
        assert next_slot(preferences.schedule(), now) > now  # never an overflow


PHISH = " Log in at http://evil-phish.example/login or www.evil-phish.example now."


class TestEmailsCarryNoUploadText:
    async def _rendered(self, web, kind: str):
        [message] = await web.outbox(kind)
        return web.app.state.runtime.renderer(message, datetime.now(UTC))

    def _assert_no_relay(self, rendered, *, shown_books: int) -> None:
        for part in (rendered.text, rendered.html, rendered.subject):
            assert "evil-phish.example" not in part
            assert "://evil" not in part
            assert "www.evil" not in part
            # Each label is 120 characters at most: PHISH names the host twice in 74.
            assert part.count("evil-phish") <= 4 * shown_books
        assert len(rendered.text) < 4000
        assert len(rendered.html) < 20000

    async def test_the_confirmation_names_three_short_unlinked_titles(self, web):
        """A sign-up whose ten titles each hold 10,000 characters and 77 phishing URLs gets
        a confirmation naming three books, cut short, with no link in them."""
        books = [
            (
                f"Book {n}{PHISH * 77}"[:10_000],
                f"Author{PHISH * 3}",
                [f"Passage {n}.{i}" for i in range(10 - n)],  # the first books listed first
            )
            for n in range(10)
        ]
        await web.sign_up("victim@example.org", web.clippings_file(*books))
        rendered = await self._rendered(web, "confirm")
        self._assert_no_relay(rendered, shown_books=3 * 2)  # a title and an author each
        assert "and 7 more books" in rendered.text
        assert "Book 0" in rendered.text  # the books are named, just not linked
        assert "Book 3" not in rendered.text

    async def test_the_add_email_to_a_confirmed_reader_too(self, web):
        """The same upload sent for a confirmed address: its email is as short."""
        await web.confirmed_reader("owner@example.org")
        books = [(f"Book {n}{PHISH * 77}", "Someone", [f"Passage {n}."]) for n in range(5)]
        await web.sign_up("owner@example.org", web.clippings_file(*books))
        rendered = await self._rendered(web, "already_subscribed_import")
        self._assert_no_relay(rendered, shown_books=3)
        assert "and 2 more books" in rendered.text

    async def test_a_digest_shows_titles_cut_and_unlinked(self, web):
        """A confirmed reader's digest carries the same labels, never the raw title."""
        title = f"Book{PHISH * 77}"
        await web.confirmed_reader(
            "reader@example.org",
            web.clippings_file((title, "A", ["A passage long enough to be sent."])),
        )
        reader = await web.subscriber("reader@example.org")
        runtime = web.app.state.runtime
        await plan_due(runtime.db, runtime.context(reader.next_slot_at + timedelta(minutes=1)))
        rendered = await self._rendered(web, "digest")
        self._assert_no_relay(rendered, shown_books=2)  # the passage's byline, the subject


SECRET_PASSAGE = "Zanzibar-quokka-7731 is a passage only this reader ever highlighted."


class TestEraseLeavesNoTrace:
    async def _reader_with_traces(self, web) -> str:
        """A confirmed reader with a second upload pending, a magic link queued, a bounce
        report and a rate-limit window: every trace an address leaves."""
        await web.confirmed_reader(
            "gone@example.org", web.clippings_file(("Secret", "Me", [SECRET_PASSAGE]))
        )
        await web.sign_up("gone@example.org", web.clippings_file(("More", "Me", ["Another."])))
        manage = await web.manage_link("gone@example.org")
        async with web.db.transaction() as session:
            await delivery_events.record(
                session,
                delivery_events.NewEvent(
                    "mailbox", "evt-1", "soft_bounce", None, address_hash("gone@example.org"),
                    "gone@example.org: mailbox full", datetime.now(UTC),
                ),
                received_at=datetime.now(UTC),
            )  # fmt: skip
        return manage

    async def _traces(self, web) -> dict[str, object]:
        hashed = address_hash("gone@example.org")
        async with web.db.transaction() as session:
            windows = await session.scalars(
                select(RateLimitWindow.key).where(RateLimitWindow.key.contains(hashed))
            )
            rows = (await session.scalars(select(OutboxMessage))).all()
            events = await session.scalars(
                select(DeliveryEvent.id).where(
                    (DeliveryEvent.recipient_hash == hashed) | DeliveryEvent.detail.is_not(None)
                )
            )
            suppressed = await session.scalars(
                select(Suppression.reason).where(Suppression.address_hash == hashed)
            )
            return {
                "windows": list(windows),
                "named_mail": [r.id for r in rows if r.recipient or r.payload or r.subscriber_id],
                "pending_mail": [r.id for r in rows if r.state == "pending"],
                "events": list(events),
                "suppressions": list(suppressed),
            }

    @pytest.mark.parametrize("never_again", [False, True])
    async def test_erase_removes_every_trace(self, web, never_again):
        """After erase: no reader, book, highlight or pending import; queued mail cancelled
        and every row unnamed; bounce reports unnamed; no rate-limit window for the address;
        a suppression only when the reader asked never to be emailed again."""
        manage = await self._reader_with_traces(web)
        before = await self._traces(web)
        assert before["windows"]
        assert before["pending_mail"]
        assert before["events"]
        form = {"confirm": "yes", **({"never_email_again": "yes"} if never_again else {})}
        page = await web.post_form(f"{manage}/erase", form, csrf_from=manage)
        assert page.status_code == 200
        counts = await web.counts()
        assert (counts["subscribers"], counts["books"], counts["highlights"]) == (0, 0, 0)
        assert counts["pending_imports"] == 0
        after = await self._traces(web)
        assert after == {
            "windows": [],
            "named_mail": [],
            "pending_mail": [],
            "events": [],
            "suppressions": ["erased"] if never_again else [],
        }


class TestSecureDelete:
    async def test_the_sqlite_engine_sets_secure_delete(self, sqlite_url):
        """The engine turns secure_delete on for every connection, whatever SQLite's
        compiled-in default (on in Debian's build, off in others: a first listener turns
        it off here, so only the engine's own pragma can turn it back on)."""
        db = Database(normalise_database_url(sqlite_url))

        def off(dbapi_connection, _record) -> None:
            dbapi_connection.cursor().execute("PRAGMA secure_delete=OFF")

        event.listen(db.engine.sync_engine, "connect", off, insert=True)
        try:
            async with db.transaction() as session:
                assert await session.scalar(text("PRAGMA secure_delete")) == 1
        finally:
            await db.dispose()

    async def test_erased_text_is_not_left_in_the_file(self, sqlite_web, sqlite_url):
        """After erase and a checkpoint, the erased passage's bytes are in neither the
        database file nor its write-ahead log."""
        web = sqlite_web
        await web.confirmed_reader(
            "gone@example.org", web.clippings_file(("Secret", "Me", [SECRET_PASSAGE]))
        )
        manage = await web.manage_link("gone@example.org")
        path = Path(sqlite_url.removeprefix("sqlite:///"))
        _checkpoint(path)
        assert SECRET_PASSAGE.encode() in path.read_bytes()  # stored, before
        await web.post_form(f"{manage}/erase", {"confirm": "yes"}, csrf_from=manage)
        _checkpoint(path)
        wal = path.with_name(path.name + "-wal")
        stored = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert b"Zanzibar-quokka-7731" not in stored


def _checkpoint(path: Path) -> None:
    """Copy the write-ahead log into the database file (a connection of its own)."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


OWNERS = ("Owner's Book", "Owner", ["The owner's own passage."])
STRANGERS = ("Stranger's Book", "Stranger", ["A stranger's passage."])


class TestPendingSignUpNeverReplaced:
    async def _titles(self, web) -> set[str]:
        async with web.db.transaction() as session:
            return set((await session.scalars(select(Book.title))).all())

    async def _two_sign_ups(self, web) -> tuple[str, str]:
        first = await web.sign_up("owner@example.org", web.clippings_file(OWNERS))
        second = await web.sign_up(
            "owner@example.org", web.clippings_file(STRANGERS), cadence="monthly", hour="3"
        )
        assert (first.status_code, first.headers["location"]) == (
            second.status_code,
            second.headers["location"],
        )  # the same answer: nothing says an upload was already waiting
        links = [m.payload["confirm_url"] for m in await web.outbox("confirm")]
        assert len(links) == 2
        return tuple(link.removeprefix(web.settings.base_url) for link in links)  # type: ignore[return-value]

    async def test_a_strangers_sign_up_keeps_the_owners(self, web):
        """A second sign-up for a pending address changes neither its schedule nor its
        upload; the owner's link confirms the owner's upload and preferences only."""
        owners, _ = await self._two_sign_ups(web)
        subscriber = await web.subscriber("owner@example.org")
        assert (subscriber.cadence, subscriber.hour) == ("weekly", 7)
        response = await web.post_form(owners, csrf_from=owners)
        assert response.status_code == 200
        assert await self._titles(web) == {"Owner's Book"}
        subscriber = await web.subscriber("owner@example.org")
        assert (subscriber.status, subscriber.cadence, subscriber.hour) == (
            "confirmed",
            "weekly",
            7,
        )

    async def test_each_link_confirms_its_own_upload(self, web):
        """The second link confirms the second upload, in either order, both still valid."""
        owners, strangers = await self._two_sign_ups(web)
        assert (await web.post_form(strangers, csrf_from=strangers)).status_code == 200
        assert await self._titles(web) == {"Stranger's Book"}
        assert (await web.post_form(owners, csrf_from=owners)).status_code == 200
        assert await self._titles(web) == {"Owner's Book", "Stranger's Book"}

    async def test_uploads_waiting_are_bounded(self, web):
        """Past five uploads waiting for their links, a sign-up stores and sends nothing
        more, and answers the same."""
        for n in range(5):
            await web.sign_up("owner@example.org", web.clippings_file((f"B{n}", "A", ["x."])))
        before = await web.counts()
        response = await web.sign_up("owner@example.org", web.clippings_file(STRANGERS))
        assert (response.status_code, response.headers["location"]) == (303, "/check-inbox")
        assert await web.counts() == before


class TestStoredPayloadCap:
    async def test_a_sign_up_past_the_pending_cap_is_refused(self, web_app, web_settings):
        """An upload whose parsed form is over CLIPPOST_MAX_PENDING_MB is refused with 413
        and a sentence beside the file field; nothing is stored or sent."""
        tight = web_settings.model_copy(update={"max_pending_mb": 0.001})  # about 1 kB
        big = [
            f"Passage {n}: {'words that do not compress well ' * 3}{n * 7919}" for n in range(80)
        ]
        async with web_app(tight) as web:
            before = await web.counts()
            response = await web.sign_up("big@example.org", web.clippings_file(("B", "A", big)))
            assert response.status_code == 413
            assert "Upload it in parts" in response.text
            assert await web.counts() == before
            small = await web.sign_up("small@example.org")
            assert small.status_code == 303


class TestSignOutRevokesEveryLink:
    async def _links(self, web) -> dict[str, str]:
        """One link of every kind the reader holds before signing out: the magic link, the
        long-lived manage link of emails, its export, and a digest's feedback links."""
        await web.confirmed_reader()
        manage = await web.manage_link()
        reader = await web.subscriber("reader@example.org")
        runtime = web.app.state.runtime
        await plan_due(runtime.db, runtime.context(reader.next_slot_at + timedelta(minutes=1)))
        [digest] = await web.outbox("digest")
        first = digest.payload["highlights"][0]
        base = web.settings.base_url
        highlight = (await _highlight_ids(web))[0]
        return {
            "manage": manage,
            "email manage": digest.payload["manage_url"].removeprefix(base),
            "export": f"{manage}/export/json",
            "favourite": f"/favourite/{first['link']}",
            "discard": f"/discard/{first['link']}",
            "digest passage": f"/passage/{first['link']}",
            "passage": web.link(Purpose.PASSAGE, highlight, extra="0"),
            "unsubscribe": digest.payload["unsubscribe_url"].removeprefix(base),
        }

    async def test_every_link_issued_before_is_refused_after(self, web):
        """After "sign out all my links", manage, export, favourite, discard and passage
        links issued before are refused with a sentence; unsubscribing still works."""
        links = await self._links(web)
        for name, path in links.items():
            assert (await web.client.get(path)).status_code == 200, name
        signed_out = await web.post_form(f"{links['manage']}/sign-out", csrf_from=links["manage"])
        assert signed_out.status_code == 200
        for name in (
            *("manage", "email manage", "export"),
            *("favourite", "discard", "digest passage", "passage"),
        ):
            page = await web.client.get(links[name])
            assert page.status_code == 400, name
            assert "no longer works" in _sentence(page.text), name
        for name in ("favourite", "discard"):
            response = await web.post_form(links[name], csrf_from="/")
            assert response.status_code == 400, name
        async with web.db.transaction() as session:
            flagged = await session.scalar(
                select(Highlight.id).where(Highlight.favourite | Highlight.discarded)
            )
        assert flagged is None
        # RFC 8058 and the law: a reader can always stop the emails.
        response = await web.client.post(
            links["unsubscribe"], data={"List-Unsubscribe": "One-Click"}
        )
        assert response.status_code == 200
        assert (await web.subscriber("reader@example.org")).status == "unsubscribed"

    async def test_links_issued_after_work(self, web):
        """A new manage link, and the next digest's feedback links, work after signing out."""
        links = await self._links(web)
        await web.post_form(f"{links['manage']}/sign-out", csrf_from=links["manage"])
        fresh = await web.manage_link()
        assert (await web.client.get(fresh)).status_code == 200
        reader = await web.subscriber("reader@example.org")
        ids = await _highlight_ids(web)
        favourite = web.link(Purpose.FAVOURITE, ids[0], extra=str(reader.link_generation))
        assert (await web.client.get(favourite)).status_code == 200


class TestJsonExportHoldsEverything:
    async def test_the_export_names_everything_kept_about_the_reader(self, web):
        """The JSON export holds the address, status, schedule, language, the history of
        sent digests (dates and highlight ids), uploads waiting and the verdicts."""
        await web.confirmed_reader()
        manage = await web.manage_link()
        reader = await web.subscriber("reader@example.org")
        runtime = web.app.state.runtime
        await plan_due(runtime.db, runtime.context(reader.next_slot_at + timedelta(minutes=1)))
        sent_at = datetime.now(UTC).replace(microsecond=0)
        async with web.db.transaction() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.kind == "digest")
                .values(state="sent", finished_at=sent_at)
            )
        [digest] = await web.outbox("digest")
        sent_ids = [item["id"] for item in digest.payload["highlights"]]
        token = digest.payload["highlights"][0]["link"]
        await web.post_form(f"/favourite/{token}", csrf_from="/")
        await web.sign_up("reader@example.org", web.clippings_file(("Waiting", "W", ["New."])))
        document = (await web.client.get(f"{manage}/export/json")).json()
        assert document["version"] == 2
        person = document["reader"]
        assert (person["email"], person["status"]) == ("reader@example.org", "confirmed")
        assert person["schedule"]["cadence"] == "weekly"
        assert person["schedule"]["timezone"] == "Europe/Paris"
        assert "locale" in person
        assert person["suppressed"] is None
        [sent] = document["history"]
        assert sent["highlight_ids"] == sent_ids
        assert sent["sent_at"] == sent_at.isoformat()
        waiting = [u for u in document["pending_uploads"] if u["applied_at"] is None]
        assert [book["title"] for book in waiting[0]["books"]] == ["Waiting"]
        favourites = [h for b in document["books"] for h in b["highlights"] if h["favourite"]]
        assert len(favourites) == 1


class TestMailtoUnsubscribe:
    async def test_the_advertised_mailto_unsubscribes(self, web, tmp_path):
        """The List-Unsubscribe mailto: of a real digest, sent as a mail client sends it (to
        its address, with its subject) and read from the bounce mailbox by `clippost
        bounces`, unsubscribes the reader and suppresses the address."""
        await web.confirmed_reader()
        reader = await web.subscriber("reader@example.org")
        runtime = web.app.state.runtime
        await plan_due(runtime.db, runtime.context(reader.next_slot_at + timedelta(minutes=1)))
        [digest] = await web.outbox("digest")
        message = runtime.renderer(digest, datetime.now(UTC))
        [mailto] = re.findall(r"<(mailto:[^>]+)>", message.headers["List-Unsubscribe"])
        to, _, query = mailto.removeprefix("mailto:").partition("?")
        assert to == web.settings.mail_from  # the address the bounce mailbox reads
        subject = parse_qs(query)["subject"][0]
        maildir = tmp_path / "Maildir"
        for folder in ("cur", "new", "tmp"):
            (maildir / folder).mkdir(parents=True)
        (maildir / "new" / "1.M1P1.test").write_bytes(
            f"From: reader@example.org\r\nTo: {to}\r\nSubject: {subject}\r\n"
            "Message-ID: <from-a-mail-client@example.org>\r\n\r\nSent from my phone\r\n".encode()
        )
        summary = await read_mailbox(runtime, MaildirSource(maildir))
        assert summary.unsubscribed == 1
        assert (await web.subscriber("reader@example.org")).status == "unsubscribed"
        async with web.db.transaction() as session:
            reason = await session.scalar(
                select(Suppression.reason).where(
                    Suppression.address_hash == address_hash("reader@example.org")
                )
            )
        assert reason == "unsubscribed"
