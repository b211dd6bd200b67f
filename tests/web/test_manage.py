"""The manage page: magic link, preferences, library, search, flags, upload, export, erase."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from clippost.addresses import address_hash
from clippost.links import Purpose
from clippost.models import Book, Highlight, OutboxMessage, Suppression


def _results(html: str) -> str:
    """The highlights list of the manage page (the next-email preview shows passages too)."""
    return html.split('id="results"', 1)[1].split('id="upload"', 1)[0]


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[0-9a-f]+"', "", html)


async def _highlight(web, text_part: str) -> Highlight:
    async with web.db.transaction() as session:
        query = select(Highlight).where(Highlight.text.contains(text_part))
        found = await session.scalar(query)
        assert found is not None, text_part
        return found


class TestManageLinkRequest:
    async def test_form_is_labelled(self, web):
        """The request page has a labelled email field."""
        page = await web.client.get("/manage")
        assert page.status_code == 200
        assert '<label for="email"' in page.text

    async def test_same_answer_for_known_and_unknown(self, web):
        """Known and unknown addresses get the same redirect and page."""
        await web.confirmed_reader("reader@example.org")
        answers = []
        for email in ("reader@example.org", "stranger@example.org"):
            response = await web.post_form("/manage", {"email": email}, csrf_from="/manage")
            page = await web.client.get(response.headers["location"])
            answers.append((response.status_code, page.status_code, _without_csrf(page.text)))
        assert answers[0] == answers[1]
        assert answers[0][0] == 303
        [sent] = await web.outbox("magic_link")
        assert sent.recipient == "reader@example.org"

    async def test_invalid_address(self, web):
        """An unusable address gets a 400 page."""
        response = await web.post_form("/manage", {"email": "nope"}, csrf_from="/manage")
        assert response.status_code == 400


class TestManagePage:
    async def test_shows_preferences_and_library(self, web):
        """The page shows the address, its preferences and its books with counts."""
        await web.confirmed_reader()
        page = await web.client.get(await web.manage_link())
        assert page.status_code == 200
        assert "reader@example.org" in page.text
        assert 'value="Europe/Paris"' in page.text
        assert "Meditations" in page.text
        assert "3 highlights in 2 books" in page.text
        assert page.headers["cache-control"] == "no-store"

    async def test_expired_link(self, web):
        """A manage link past its lifetime: 400 page that says to ask for a new one."""
        await web.confirmed_reader()
        subscriber_id = await web.subscriber_id("reader@example.org")
        old = datetime.now(UTC) - timedelta(days=1)
        link = web.link(Purpose.MANAGE, subscriber_id, now=old, extra="0")
        page = await web.client.get(link)
        assert page.status_code == 400
        assert "link" in page.text.lower()

    async def test_search(self, web):
        """Searching shows matching highlights only."""
        await web.confirmed_reader()
        link = await web.manage_link()
        page = await web.client.get(link, params={"q": "woods"})
        assert "live deliberately" in _results(page.text)
        assert "impediment" not in _results(page.text)

    async def test_search_by_book(self, web):
        """Choosing a book shows that book's highlights only."""
        await web.confirmed_reader()
        link = await web.manage_link()
        async with web.db.transaction() as session:
            walden = await session.scalar(select(Book).where(Book.title == "Walden"))
        page = await web.client.get(link, params={"book": str(walden.id)})
        assert "live deliberately" in _results(page.text)
        assert "impediment" not in _results(page.text)

    async def test_bad_book_filter(self, web):
        """A book filter that is not a number: 400 page."""
        await web.confirmed_reader()
        page = await web.client.get(await web.manage_link(), params={"book": "x"})
        assert page.status_code == 400


class TestManageActions:
    async def test_save_preferences(self, web):
        """Saving preferences stores them and says so."""
        await web.confirmed_reader()
        link = await web.manage_link()
        form = {**web.default_preferences(), "cadence": "daily", "hour": "21", "per_email": "9"}
        response = await web.post_form(f"{link}/preferences", form, csrf_from=link)
        assert response.status_code == 303
        page = await web.client.get(response.headers["location"])
        assert "Your preferences are saved." in page.text
        subscriber = await web.subscriber("reader@example.org")
        assert (subscriber.cadence, subscriber.hour, subscriber.per_email) == ("daily", 21, 9)

    async def test_pause(self, web):
        """A pause date (within the year a pause may last) is stored."""
        await web.confirmed_reader()
        link = await web.manage_link()
        until = (datetime.now(UTC).date() + timedelta(days=200)).isoformat()
        form = {**web.default_preferences(), "paused_until": until}
        await web.post_form(f"{link}/preferences", form, csrf_from=link)
        subscriber = await web.subscriber("reader@example.org")
        assert str(subscriber.paused_until) == until

    async def test_bad_preferences_change_nothing(self, web):
        """An invalid value gets a 400 page and the stored preferences stay."""
        await web.confirmed_reader()
        link = await web.manage_link()
        form = {**web.default_preferences(), "per_email": "99"}
        response = await web.post_form(f"{link}/preferences", form, csrf_from=link)
        assert response.status_code == 400
        assert (await web.subscriber("reader@example.org")).per_email == 3

    async def test_book_frequency(self, web):
        """A book's frequency is saved."""
        await web.confirmed_reader()
        link = await web.manage_link()
        async with web.db.transaction() as session:
            walden = await session.scalar(select(Book).where(Book.title == "Walden"))
        form = {f"frequency-{walden.id}": "never"}
        response = await web.post_form(f"{link}/books", form, csrf_from=link)
        assert response.status_code == 303
        async with web.db.transaction() as session:
            assert (await session.get(Book, walden.id)).frequency == "never"

    async def test_favourite_and_discard(self, web):
        """Favourite and discard buttons set the highlight's flags, and undo them."""
        await web.confirmed_reader()
        link = await web.manage_link()
        highlight = await _highlight(web, "impediment")
        path = f"{link}/highlights/{highlight.id}"
        for action, expected in (
            ("favourite", (True, False)),
            ("discard", (True, True)),
            ("unfavourite", (False, True)),
            ("restore", (False, False)),
        ):
            response = await web.post_form(path, {"action": action, "q": "imp"}, csrf_from=link)
            assert response.status_code == 303
            assert "q=imp" in response.headers["location"]
            found = await _highlight(web, "impediment")
            assert (found.favourite, found.discarded) == expected, action

    async def test_unknown_highlight_action(self, web):
        """An action that is not one of the buttons: 400."""
        await web.confirmed_reader()
        link = await web.manage_link()
        highlight = await _highlight(web, "impediment")
        path = f"{link}/highlights/{highlight.id}"
        response = await web.post_form(path, {"action": "delete"}, csrf_from=link)
        assert response.status_code == 400

    async def test_upload_more(self, web):
        """Uploading on the manage page adds new highlights at once, never duplicates."""
        await web.confirmed_reader()
        link = await web.manage_link()
        more = web.clippings_file(
            ("Dune", "Frank Herbert", ["Fear is the mind-killer."]),
            (
                "Walden",
                "Henry David Thoreau",
                ["I went to the woods because I wished to live deliberately."],
            ),
        )
        files = {"file": ("My Clippings.txt", more, "text/plain")}
        page = await web.post_form(f"{link}/upload", files=files, csrf_from=link)
        assert page.status_code == 200
        assert "1 new highlight" in page.text
        assert (await web.counts())["highlights"] == 4

    async def test_bad_upload_changes_nothing(self, web):
        """A binary file on the manage page: 4xx and nothing stored."""
        await web.confirmed_reader()
        link = await web.manage_link()
        before = await web.counts()
        files = {"file": ("x.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "image/png")}
        page = await web.post_form(f"{link}/upload", files=files, csrf_from=link)
        assert page.status_code == 415
        assert await web.counts() == before

    async def test_export_markdown(self, web):
        """Markdown export is a download with a section per book."""
        await web.confirmed_reader()
        link = await web.manage_link()
        response = await web.client.get(f"{link}/export/markdown")
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        assert "Meditations" in response.text
        assert "Waste no more time arguing." in response.text

    async def test_export_csv(self, web):
        """CSV export parses back with every highlight."""
        await web.confirmed_reader()
        link = await web.manage_link()
        response = await web.client.get(f"{link}/export/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert len(rows) == 4  # header + 3 highlights
        assert "attachment" in response.headers["content-disposition"]

    async def test_export_json(self, web):
        """JSON export parses and holds every highlight's text."""
        await web.confirmed_reader()
        link = await web.manage_link()
        response = await web.client.get(f"{link}/export/json")
        assert "Waste no more time arguing." in json.dumps(response.json())

    async def test_export_unknown_format(self, web):
        """An unknown export format: 400."""
        await web.confirmed_reader()
        link = await web.manage_link()
        assert (await web.client.get(f"{link}/export/pdf")).status_code == 400

    async def test_erase_needs_the_checkbox(self, web):
        """Without the confirmation box ticked, nothing is erased."""
        await web.confirmed_reader()
        link = await web.manage_link()
        before = await web.counts()
        response = await web.post_form(f"{link}/erase", {}, csrf_from=link)
        assert response.status_code == 400
        assert "tick the box" in response.text
        assert await web.counts() == before

    async def test_erase(self, web):
        """Erasing deletes the reader and their library at once, keeping no suppression."""
        await web.confirmed_reader()
        link = await web.manage_link()
        page = await web.post_form(f"{link}/erase", {"confirm": "yes"}, csrf_from=link)
        assert page.status_code == 200
        assert "Everything is erased" in page.text
        counts = await web.counts()
        assert (counts["subscribers"], counts["books"], counts["highlights"]) == (0, 0, 0)
        assert counts["suppressions"] == 0
        assert (await web.client.get(link)).status_code == 400

    async def test_erase_never_email_again(self, web):
        """With "never email me again", only the address's hash is kept, as a suppression."""
        await web.confirmed_reader()
        link = await web.manage_link()
        form = {"confirm": "yes", "never_email_again": "yes"}
        await web.post_form(f"{link}/erase", form, csrf_from=link)
        async with web.db.transaction() as session:
            suppressions = list((await session.scalars(select(Suppression))).all())
            outbox = list((await session.scalars(select(OutboxMessage))).all())
        assert [s.address_hash for s in suppressions] == [address_hash("reader@example.org")]
        assert all(m.state != "pending" for m in outbox)

    async def test_never_email_again_holds_against_a_new_sign_up(self, web):
        """After erasing with "never email me again", the same address signed up again (by
        anyone) gets the same page as any sign-up, and no email is sent or queued to it."""
        await web.confirmed_reader()
        link = await web.manage_link()
        form = {"confirm": "yes", "never_email_again": "yes"}
        await web.post_form(f"{link}/erase", form, csrf_from=link)
        queued = len(await web.outbox())
        again = await web.sign_up("Reader@Example.org")
        other = await web.sign_up("someone-else@example.org")
        assert again.status_code == other.status_code
        pending = [m for m in await web.outbox() if m.state == "pending"]
        assert [m.recipient for m in pending] == ["someone-else@example.org"]
        assert len(await web.outbox()) == queued + 1

    async def test_resubscribe(self, web):
        """An unsubscribed reader resubscribes from the manage page."""
        await web.confirmed_reader()
        subscriber_id = await web.subscriber_id("reader@example.org")
        await web.post_form(web.link(Purpose.UNSUBSCRIBE, subscriber_id))
        link = await web.manage_link()
        page = await web.client.get(link)
        assert "Resubscribe" in page.text
        response = await web.post_form(f"{link}/resubscribe", {}, csrf_from=link)
        assert response.status_code == 303
        assert (await web.subscriber("reader@example.org")).status == "confirmed"
