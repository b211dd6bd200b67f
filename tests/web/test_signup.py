"""Landing page and sign-up, on SQLite and PostgreSQL: what is stored, what is emailed, and
the page that is the same for every address (invariant 8)."""

from __future__ import annotations

import os
import re
import signal

import httpx
import pytest

from clippost.links import Purpose
from clippost.models import SubscriberStatus
from clippost.web.upload_parsers import SMALL_UPLOAD_BYTES


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[0-9a-f]+"', 'name="csrf_token" value=""', html)


class TestLanding:
    async def test_explains_where_the_file_is(self, web):
        """The landing page tells where My Clippings.txt lives and how the app exports."""
        page = await web.client.get("/")
        assert page.status_code == 200
        assert "My Clippings.txt" in page.text
        assert "documents" in page.text
        assert "Export Notebook" in page.text

    async def test_form_has_labelled_fields(self, web):
        """Every sign-up field has a label pointing at it."""
        page = (await web.client.get("/")).text
        for field in (
            "email",
            "file",
            "cadence",
            "hour",
            "weekday",
            "day_of_month",
            "timezone",
            "per_email",
        ):
            assert f'<label for="{field}"' in page, field
            assert f'id="{field}"' in page, field

    async def test_timezone_defaults_to_utc_and_is_editable(self, web):
        """Without JavaScript the timezone is UTC, in a text field the reader can change."""
        page = (await web.client.get("/")).text
        field = re.search(r"<input id=\"timezone\"[^>]*>", page)
        assert field is not None
        assert 'value="UTC"' in field.group(0)
        assert "readonly" not in field.group(0)
        assert '<script src="/static/timezone.js" defer></script>' in page

    async def test_static_files_are_served(self, web):
        """The stylesheet and the timezone script are served from /static."""
        css = await web.client.get("/static/style.css")
        script = await web.client.get("/static/timezone.js")
        assert css.status_code == 200
        assert script.status_code == 200
        assert "Intl.DateTimeFormat" in script.text


class TestSignUp:
    async def test_new_address_gets_a_confirmation_email(self, web):
        """A sign-up stores a pending reader and queues a confirmation email, then redirects."""
        response = await web.sign_up("new@example.org")
        assert response.status_code == 303
        assert response.headers["location"] == "/check-inbox"
        subscriber = await web.subscriber("new@example.org")
        assert subscriber is not None
        assert subscriber.status == SubscriberStatus.PENDING
        [email] = await web.outbox("confirm")
        assert email.recipient == "new@example.org"
        assert email.payload["highlight_count"] == 3
        assert email.payload["book_count"] == 2

    async def test_nothing_is_imported_before_confirmation(self, web):
        """Until the link is followed, the library holds nothing."""
        await web.sign_up("new@example.org")
        counts = await web.counts()
        assert counts["books"] == 0
        assert counts["highlights"] == 0
        assert counts["pending_imports"] == 1

    async def test_check_inbox_page(self, web):
        """The page after sign-up asks the reader to open the email."""
        page = await web.client.get("/check-inbox")
        assert page.status_code == 200
        assert "Check your inbox" in page.text

    async def test_same_answer_for_every_kind_of_address(self, web):
        """New, pending, confirmed and unsubscribed addresses get the same status and page."""
        await web.sign_up("pending@example.org")
        await web.confirmed_reader("confirmed@example.org")
        await web.confirmed_reader("gone@example.org")
        gone = await web.subscriber_id("gone@example.org")
        await web.post_form(web.link(Purpose.UNSUBSCRIBE, gone))
        answers = []
        for email in (
            "new@example.org",
            "pending@example.org",
            "confirmed@example.org",
            "gone@example.org",
        ):
            response = await web.sign_up(email)
            page = await web.client.get(response.headers["location"])
            answers.append(
                (
                    response.status_code,
                    response.headers["location"],
                    page.status_code,
                    _without_csrf(page.text),
                )
            )
        assert all(answer == answers[0] for answer in answers)

    async def test_confirmed_address_gets_an_add_link_not_a_change(self, web):
        """A confirmed reader's library only changes through the link emailed to them."""
        await web.confirmed_reader("reader@example.org")
        before = await web.counts()
        more = web.clippings_file(("Dune", "Frank Herbert", ["Fear is the mind-killer."]))
        await web.sign_up("reader@example.org", more)
        after = await web.counts()
        assert after["highlights"] == before["highlights"]
        [offer] = await web.outbox("already_subscribed_import")
        assert offer.payload["highlight_count"] == 1
        assert offer.payload["book_count"] == 1

    async def test_invalid_address_is_refused_and_nothing_stored(self, web):
        """An unusable address gets a 400 page saying so; nothing is stored or queued."""
        before = await web.counts()
        response = await web.sign_up("not an address")
        assert response.status_code == 400
        assert "email address" in response.text
        assert await web.counts() == before

    async def test_invalid_preferences_are_refused(self, web):
        """An hour out of range gets a 400 page naming the field."""
        before = await web.counts()
        response = await web.sign_up("a@example.org", hour="25")
        assert response.status_code == 400
        assert "hour" in response.text.lower()
        assert await web.counts() == before

    async def test_unknown_timezone_is_refused(self, web):
        """A timezone that does not exist gets a 400 page."""
        response = await web.sign_up("a@example.org", timezone="Mars/Olympus_Mons")
        assert response.status_code == 400
        assert await web.outbox() == []

    async def test_missing_file_is_refused(self, web):
        """A form without a file says which file to choose."""
        before = await web.counts()
        response = await web.post_form(
            "/signup", {"email": "a@example.org", **web.default_preferences()}
        )
        assert response.status_code == 400
        assert "My Clippings.txt" in response.text
        assert await web.counts() == before


class TestBadUploads:
    async def _refused(self, web, content: bytes, status: int) -> httpx.Response:
        before = await web.counts()
        response = await web.sign_up("a@example.org", content)
        assert response.status_code == status, response.text
        assert 'id="file-error"' in response.text  # the message is beside the file field
        assert 'value="a@example.org"' in response.text  # and what was typed is kept
        assert await web.counts() == before
        return response

    async def test_empty_file(self, web):
        """An empty file: 400, says it is empty, nothing stored."""
        response = await self._refused(web, b"", 400)
        assert "empty" in response.text

    async def test_binary_file(self, web):
        """A picture: 415, says it is not text, nothing stored."""
        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20
        response = await self._refused(web, png, 415)
        assert "not a text file" in response.text

    async def test_text_that_is_not_highlights(self, web):
        """A text file without highlights: 4xx, nothing stored."""
        before = await web.counts()
        response = await web.sign_up(
            "a@example.org", b"Dear diary,\nnothing happened today.\n" * 20
        )
        assert 400 <= response.status_code < 500
        assert await web.counts() == before

    async def test_oversized_by_content_length(self, web_app, web_settings):
        """An upload declared larger than the limit is refused (413) before it is read."""
        small = web_settings.model_copy(update={"max_upload_mb": 0.01})
        async with web_app(small) as web:
            before = await web.counts()
            response = await web.sign_up("a@example.org", b"x" * 200_000)
            assert response.status_code == 413
            assert "too large" in response.text
            assert await web.counts() == before

    async def test_oversized_while_streaming(self, web_app, web_settings):
        """A chunked upload without Content-Length is cut off once past the limit (413)."""
        small = web_settings.model_copy(update={"max_upload_mb": 0.01})
        async with web_app(small) as web:
            token = await web.csrf()
            sent = 0

            async def body():
                nonlocal sent
                yield (
                    b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                    + token.encode()
                    + b"\r\n"
                )
                yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n'
                for _ in range(1000):
                    sent += 8192
                    yield b"y" * 8192

            response = await web.client.post(
                "/signup",
                content=body(),
                headers={"content-type": "multipart/form-data; boundary=b"},
            )
            assert response.status_code == 413
            assert sent < 1000 * 8192
            assert await web.counts() == dict.fromkeys(await web.counts(), 0)


class TestRateLimits:
    async def test_sign_ups_per_client_are_limited(self, web_app, web_settings):
        """Past the sign-ups allowed per client address per hour: 429, nothing more queued."""
        limited = web_settings.model_copy(update={"signups_per_client_per_hour": 2})
        async with web_app(limited) as web:
            assert (await web.sign_up("one@example.org")).status_code == 303
            assert (await web.sign_up("two@example.org")).status_code == 303
            response = await web.sign_up("three@example.org")
            assert response.status_code == 429
            assert len(await web.outbox()) == 2

    async def test_forwarded_for_is_ignored_unless_trusted(self, web_app, web_settings):
        """X-Forwarded-For cannot dodge the limit unless the operator trusts a proxy."""
        limited = web_settings.model_copy(update={"signups_per_client_per_hour": 1})
        async with web_app(limited) as web:
            await web.sign_up("one@example.org")
            response = await web.sign_up(
                "two@example.org", headers={"x-forwarded-for": "198.51.100.9"}
            )
            assert response.status_code == 429

    async def test_forwarded_for_is_used_when_trusted(self, web_app, web_settings):
        """Behind a trusted proxy, each forwarded client has its own limit."""
        limited = web_settings.model_copy(
            update={"signups_per_client_per_hour": 1, "trust_forwarded_for": True}
        )
        async with web_app(limited) as web:
            first = await web.sign_up(
                "one@example.org", headers={"x-forwarded-for": "198.51.100.1"}
            )
            second = await web.sign_up(
                "two@example.org", headers={"x-forwarded-for": "198.51.100.2"}
            )
            assert (first.status_code, second.status_code) == (303, 303)


# Highlights per book in an upload too big for the small uploads' lane.
_PER_BOOK = SMALL_UPLOAD_BYTES // 200 + 1


def _past_the_small_lane(web) -> bytes:
    """An upload too big for the small uploads' lane: 2 books of `_PER_BOOK` highlights."""
    text = "A passage long enough to be kept as one, with a few words more"
    books = (("One", "A"), ("Two", "B"))
    return web.clippings_file(
        *((title, author, [f"{text} ({n})." for n in range(_PER_BOOK)]) for title, author in books)
    )


class TestUploadParsing:
    """Where sign-up parses uploads: worker processes by default, a thread without them,
    small uploads in a thread lane of their own."""

    async def test_uploads_are_parsed_in_worker_processes(self, web):
        """By default an upload is parsed by a worker process, not by the web process."""
        response = await web.sign_up("new@example.org", _past_the_small_lane(web))
        assert response.status_code == 303
        parsers = web.app.state.parsers
        assert parsers.uses_processes
        assert parsers.process_ids
        assert os.getpid() not in parsers.process_ids
        [email] = await web.outbox("confirm")
        counts = (email.payload["highlight_count"], email.payload["book_count"])
        assert counts == (2 * _PER_BOOK, 2)

    async def test_a_small_upload_starts_no_process(self, web):
        """A small upload is parsed in the web process's small lane: no process starts."""
        assert (await web.sign_up("new@example.org")).status_code == 303
        assert web.app.state.parsers.process_ids == []
        [email] = await web.outbox("confirm")
        assert (email.payload["highlight_count"], email.payload["book_count"]) == (3, 2)

    async def test_without_processes_a_thread_parses(self, web_app, web_settings):
        """With parse_processes=0 sign-up works the same, parsed in a thread."""
        threaded = web_settings.model_copy(update={"parse_processes": 0})
        async with web_app(threaded) as web:
            assert not web.app.state.parsers.uses_processes
            assert (await web.sign_up("new@example.org")).status_code == 303
            [email] = await web.outbox("confirm")
            assert (email.payload["highlight_count"], email.payload["book_count"]) == (3, 2)
            link = await web.last_link("confirm", "confirm_url")
            page = await web.post_form(link, csrf_from=link)
            assert "3 highlights" in page.text

    async def test_refusal_from_a_process_is_the_same_page(self, web_app, web_settings):
        """A file refused in a worker process gets the page a thread would give."""
        pages = []
        for processes in (2, 0):
            chosen = web_settings.model_copy(update={"parse_processes": processes})
            async with web_app(chosen) as web:
                empty = b"\xef\xbb\xbf" + b"\r\n" * SMALL_UPLOAD_BYTES  # past the small lane
                response = await web.sign_up("a@example.org", empty)
                pages.append((response.status_code, _without_csrf(response.text)))
                assert await web.counts() == dict.fromkeys(await web.counts(), 0)
        assert pages[0] == pages[1]
        assert pages[0][0] == 400

    async def test_a_killed_worker_does_not_fail_sign_ups(self, web):
        """A worker process killed by the system: the next sign-ups still succeed."""
        upload = _past_the_small_lane(web)
        await web.sign_up("first@example.org", upload)
        parsers = web.app.state.parsers
        killed = parsers.process_ids
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        for email in ("second@example.org", "third@example.org"):
            assert (await web.sign_up(email, upload)).status_code == 303
        assert len(await web.outbox("confirm")) == 3
        # The broken pool was replaced (it had worked), and the new one parsed the third.
        assert parsers.process_ids
        assert set(parsers.process_ids).isdisjoint(killed)

    async def test_closing_the_app_stops_its_processes(self, web_app, web_settings):
        """When the app shuts down, its parsing processes are gone."""
        async with web_app(web_settings) as web:
            await web.sign_up("new@example.org", _past_the_small_lane(web))
            parsers = web.app.state.parsers
            started = parsers.process_ids
            assert started
        assert not parsers.uses_processes
        for pid in started:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
