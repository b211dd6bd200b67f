"""Hostile readers meet limits before work (issue 9, cost and limits), on SQLite and PostgreSQL.

Refused requests are refused before their body is read or parsed; limits are keyed so that
sub-addresses and IPv6 addresses buy no extra allowance; strangers cannot starve an owner
of their magic links; refusals cost next to nothing to send; library pages are bounded;
libraries and imports have limits; sign-up does the same work whatever the address's state.
The parse queue and the chunked merges are in tests/web/test_bounded_work.py, the EXPLAIN
checks of every page query in tests/library/test_query_plans.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from ipaddress import IPv6Address
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

from clippost.addresses import client_network, mailbox_key
from clippost.errors import RateLimited
from clippost.web.limits import PageLoads, Refusals

CSRF_INPUT = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _limited(web_settings: Any, **changes: Any) -> Any:
    return web_settings.model_copy(update={"parse_processes": 0, **changes})


@asynccontextmanager
async def _browser(web: Any, client: str = "198.51.100.4") -> AsyncIterator[Any]:
    """Another browser (its own cookies) on the same app, from `client`."""
    transport = httpx.ASGITransport(app=web.app, client=(client, 5555))
    async with httpx.AsyncClient(transport=transport, base_url=web.settings.base_url) as other:
        yield other


async def _post(client: httpx.AsyncClient, path: str, data: dict[str, str], **kw: Any) -> Any:
    page = await client.get(kw.pop("csrf_from", "/"))
    token = CSRF_INPUT.search(page.text)
    assert token, page.text[:200]
    return await client.post(path, data={"csrf_token": token.group(1), **data}, **kw)


class TestLimitsBeforeWork:
    async def test_an_over_limit_client_is_refused_before_its_body_is_read(
        self, web_app, web_settings
    ):
        """Past the client's limit the answer is 429 after reading almost none of a big
        body, and nothing is stored."""
        async with web_app(_limited(web_settings, signups_per_client_per_hour=1)) as web:
            assert (await web.sign_up("one@example.org")).status_code == 303
            token = await web.csrf()
            sent = 0

            async def body() -> AsyncIterator[bytes]:
                nonlocal sent
                yield (
                    b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                    + token.encode()
                    + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; '
                    b'filename="a"\r\n\r\n'
                )
                for _ in range(1500):  # 12 MB
                    sent += 8192
                    yield b"y" * 8192

            before = await web.counts()
            response = await web.client.post(
                "/signup",
                content=body(),
                headers={"content-type": "multipart/form-data; boundary=b"},
            )
            assert response.status_code == 429
            assert "Too many requests" in response.text
            assert response.headers["connection"] == "close"  # the rest is never received
            assert sent <= 8192
            assert await web.counts() == before
            # A refusal costs next to nothing to send: no form page, a link back to it.
            assert len(response.content) < 1000
            assert 'href="/"' in response.text
            assert 'name="csrf_token"' not in response.text

    async def test_a_manage_page_upload_refused_unread_is_not_the_manage_page(
        self, web_app, web_settings
    ):
        """A reader's upload past the client's limit is refused before its body is read
        with a few hundred bytes and a link back, not with a render of their whole page."""
        async with web_app(_limited(web_settings, signups_per_client_per_hour=1)) as web:
            await web.confirmed_reader(content=web.many_books(3, 1))
            link = await web.manage_link()
            files = {"file": ("My Clippings.txt", web.many_books(1, 1), "text/plain")}
            assert (
                await web.post_form(f"{link}/upload", files=files, csrf_from=link)
            ).status_code == 200
            refused = await web.post_form(f"{link}/upload", files=files, csrf_from=link)
            assert refused.status_code == 429
            assert "Too many requests" in refused.text
            assert len(refused.content) < 1000
            assert f'href="{link}"' in refused.text
            assert refused.headers["connection"] == "close"
            assert 0 < int(refused.headers["retry-after"]) <= 3600

    async def test_a_refused_client_is_refused_again_without_a_database_write(
        self, web_app, web_settings
    ):
        """Once refused, a client is refused until its window ends without a write (it
        would roll back anyway): a flood of refusals never takes the write lock from the
        other clients' requests, and still says when to come back."""
        async with web_app(_limited(web_settings, signups_per_client_per_hour=1)) as web:
            assert (await web.sign_up("one@example.org")).status_code == 303
            assert (await web.sign_up("two@example.org")).status_code == 429
            with _statements(web.db) as seen:
                again = await web.sign_up("three@example.org")
            assert again.status_code == 429
            assert "Too many requests" in again.text
            assert 0 < int(again.headers["retry-after"]) <= 3600
            writes = [s for s in seen if s.split(None, 1)[0].upper() in {"INSERT", "UPDATE"}]
            assert writes == []
            async with _browser(web, "192.0.2.9") as other:  # another network: counted
                response = await _post(other, "/signup", {"email": "x@example.org"})
                assert response.status_code != 429

    async def test_an_over_limit_address_is_refused_before_its_upload_is_parsed(
        self, web_app, web_settings
    ):
        """Past the address's limit a picture is refused as rate limited (429), not as a
        picture (415): it was never parsed."""
        async with web_app(_limited(web_settings, emails_per_address_per_hour=1)) as web:
            assert (await web.sign_up("ann@example.org")).status_code == 303
            refused = await web.sign_up("ann@example.org", PNG, "photo.png")
            assert refused.status_code == 429
            assert "already sent several emails" in refused.text

    async def test_a_refused_upload_gives_its_count_back(self, web_app, web_settings):
        """A reader who picks the wrong file twice can still sign up with the right one."""
        async with web_app(_limited(web_settings, emails_per_address_per_hour=1)) as web:
            for _ in range(2):
                assert (await web.sign_up("ann@example.org", PNG, "photo.png")).status_code == 415
            assert (await web.sign_up("ann@example.org")).status_code == 303
            assert len(await web.outbox("confirm")) == 1

    @pytest.mark.parametrize(
        "second", ["ann+2@example.org", "Ann+news@Example.org", "ANN@example.org"]
    )
    async def test_sub_addresses_share_the_mailbox_allowance(self, web_app, web_settings, second):
        """`ann+1@`, `ann+2@` and `ANN@` are one mailbox: one allowance between them."""
        async with web_app(_limited(web_settings, emails_per_address_per_hour=1)) as web:
            assert (await web.sign_up("ann+1@example.org")).status_code == 303
            assert (await web.sign_up(second)).status_code == 429
            assert (await web.sign_up("bob@example.org")).status_code == 303

    async def test_an_ipv6_client_is_counted_by_its_64(self, web_app, web_settings):
        """Every address of one IPv6 /64 shares an allowance; the next /64 has its own."""
        settings = _limited(web_settings, signups_per_client_per_hour=1, trust_forwarded_for=True)
        async with web_app(settings) as web:

            async def from_(client: str, email: str) -> int:
                headers = {"x-forwarded-for": client}
                return (await web.sign_up(email, headers=headers)).status_code

            assert await from_("2001:db8:1:2::1", "a@example.org") == 303
            assert await from_("2001:db8:1:2:ffff:ffff:ffff:fffe", "b@example.org") == 429
            assert await from_("2001:db8:1:3::1", "c@example.org") == 303


class TestOwnerNotStarved:
    async def test_strangers_cannot_use_up_the_owners_magic_links(self, web_app, web_settings):
        """Strangers exhaust an address's allowance; its owner, in the browser where they
        opened their own link, still gets a magic link, and strangers still do not."""
        async with web_app(_limited(web_settings, emails_per_address_per_hour=2)) as web:
            await web.confirmed_reader()
            async with _browser(web) as stranger:
                for expected in (303, 429, 429):
                    response = await _post(
                        stranger, "/manage", {"email": "reader@example.org"}, csrf_from="/manage"
                    )
                    assert response.status_code == expected
                before = len(await web.outbox("magic_link"))
                # The owner's browser opened its confirmation: it holds the reader cookie.
                mine = await web.post_form(
                    "/manage", {"email": "reader@example.org"}, csrf_from="/manage"
                )
                assert mine.status_code == 303
                assert len(await web.outbox("magic_link")) == before + 1
                again = await _post(
                    stranger, "/manage", {"email": "reader@example.org"}, csrf_from="/manage"
                )
                assert again.status_code == 429

    async def test_a_forged_reader_cookie_is_a_stranger(self, web_app, web_settings):
        """A cookie that is not the site's own signature counts as a stranger's request."""
        # Two: the sign-up (from a browser that had no cookie yet) used one.
        async with web_app(_limited(web_settings, emails_per_address_per_hour=2)) as web:
            await web.confirmed_reader()
            async with _browser(web) as stranger:
                stranger.cookies.set("clippost_reader", "MTIzNDU.forged")
                first = await _post(
                    stranger, "/manage", {"email": "reader@example.org"}, csrf_from="/manage"
                )
                second = await _post(
                    stranger, "/manage", {"email": "reader@example.org"}, csrf_from="/manage"
                )
            assert (first.status_code, second.status_code) == (303, 429)


class TestPageLoads:
    async def test_reloading_a_library_page_without_end_is_refused(self, web_app, web_settings):
        """Past its burst, a client's manage-page reloads get 429 with Retry-After (a cheap
        page, not the library); another network still gets the page."""
        async with web_app(_limited(web_settings, page_loads_per_client_per_minute=40)) as web:
            await web.confirmed_reader()
            link = await web.manage_link()
            statuses = [(await web.client.get(link)).status_code for _ in range(12)]
            assert statuses[:10] == [200] * 10
            refused = await web.client.get(link)
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1
            assert "loaded too often" in refused.text
            async with _browser(web, "198.51.100.200") as other:
                assert (await other.get(link)).status_code == 200

    def test_the_bucket_refills_at_its_rate(self) -> None:
        """40 a minute: ten at once, then one every second and a half."""
        loads = PageLoads(40)
        for _ in range(10):
            loads.take("192.0.2.1", now=100.0)
        with pytest.raises(RateLimited):
            loads.take("192.0.2.1", now=100.0)
        loads.take("192.0.2.1", now=101.6)
        with pytest.raises(RateLimited):
            loads.take("192.0.2.1", now=101.7)
        loads.take("2001:db8::1", now=101.7)


class TestRefusals:
    def test_a_refusal_holds_until_its_window_ends(self):
        """A key is refused until the moment remembered, and not from then on."""
        refusals, now = Refusals(), datetime(2026, 1, 1, tzinfo=UTC)
        refusals.remember("signup-client:203.0.113.0", now + timedelta(minutes=30))
        assert refusals.until("signup-client:203.0.113.0", now=now) == now + timedelta(minutes=30)
        assert refusals.until("signup-client:198.51.100.0", now=now) is None
        assert refusals.until("signup-client:203.0.113.0", now=now + timedelta(minutes=30)) is None

    def test_the_oldest_are_forgotten_past_the_bound(self):
        """However many networks are refused, memory holds a bounded number of them."""
        refusals, now = Refusals(), datetime(2026, 1, 1, tzinfo=UTC)
        for n in range(10_001):
            refusals.remember(f"k{n}", now + timedelta(hours=1))
        assert refusals.until("k0", now=now) is None
        assert refusals.until("k10000", now=now) is not None


class TestBoundedPages:
    async def test_the_manage_page_lists_a_hundred_books_at_a_time(self, web):
        """A library of 250 one-highlight books: each page of the books table (and of the
        book filter) holds at most 100 books, with links to the others."""
        await web.confirmed_reader(content=web.many_books(250, 1))
        link = await web.manage_link()
        first = await web.client.get(link)
        assert first.status_code == 200
        assert first.text.count('name="frequency-') == 100
        assert "Books 1–100 of 250" in first.text
        last = await web.client.get(f"{link}?books=200")
        assert last.text.count('name="frequency-') == 50
        assert 'rel="next">Next books' not in last.text
        beyond = await web.client.get(f"{link}?books=900")
        assert "Books 201–250 of 250" in beyond.text
        assert (await web.client.get(f"{link}?books=-1")).status_code == 400


class TestLibraryLimits:
    async def test_an_import_past_its_limit_is_refused(self, web_app, web_settings):
        """An upload over the per-import highlight limit: 413 with a sentence, nothing stored."""
        async with web_app(_limited(web_settings, max_highlights_per_import=2)) as web:
            before = await web.counts()
            response = await web.sign_up("ann@example.org")
            assert response.status_code == 413
            assert "one upload may hold up to 2 highlights" in response.text
            assert await web.counts() == before

    async def test_an_import_with_too_many_books_is_refused(self, web_app, web_settings):
        """An upload over the per-import book limit: 413, nothing stored."""
        async with web_app(_limited(web_settings, max_books_per_import=1)) as web:
            response = await web.sign_up("ann@example.org")
            assert response.status_code == 413
            assert (await web.counts())["pending_imports"] == 0

    async def test_a_library_past_its_limit_takes_no_more(self, web_app, web_settings):
        """A manage-page upload that would take the library past its limit is refused (413)
        and adds nothing; the same file again, adding nothing new, is accepted."""
        async with web_app(_limited(web_settings, max_highlights_per_reader=3)) as web:
            await web.confirmed_reader()
            link = await web.manage_link()
            more = web.clippings_file(("Dune", "Frank Herbert", ["Fear is the mind-killer."]))
            files = {"file": ("My Clippings.txt", more, "text/plain")}
            refused = await web.post_form(f"{link}/upload", files=files, csrf_from=link)
            assert refused.status_code == 413
            assert "up to 3 highlights" in refused.text
            assert (await web.counts())["highlights"] == 3
            again = {"file": ("My Clippings.txt", web.sample, "text/plain")}
            accepted = await web.post_form(f"{link}/upload", files=again, csrf_from=link)
            assert accepted.status_code == 200

    async def test_a_confirmation_past_the_library_limit_is_refused(self, web_app, web_settings):
        """An add-highlights link whose import would overflow the library: 413, nothing
        added, the import still waiting."""
        async with web_app(_limited(web_settings, max_books_per_reader=2)) as web:
            await web.confirmed_reader()
            more = web.clippings_file(("Dune", "Frank Herbert", ["Fear is the mind-killer."]))
            assert (await web.sign_up("reader@example.org", more)).status_code == 303
            link = await web.last_link("already_subscribed_import", "add_url")
            response = await web.post_form(link, csrf_from=link)
            assert response.status_code == 413
            assert (await web.counts())["books"] == 2


class TestConstantWork:
    async def test_sign_up_runs_the_same_statements_in_every_state(self, web):
        """New, pending and confirmed addresses: the same statements touch the library, so
        the time a sign-up takes does not tell which the address is."""
        await web.confirmed_reader("confirmed@example.org")
        await web.sign_up("pending@example.org")
        upload = web.many_books(3, 400)
        seen = {}
        for email in ("new@example.org", "pending@example.org", "confirmed@example.org"):
            with _statements(web.db) as statements:
                assert (await web.sign_up(email, upload)).status_code == 303
            seen[email] = sum(1 for s in statements if "highlights" in s)
        assert len(set(seen.values())) == 1, seen
        assert next(iter(seen.values())) >= 2  # the lookups of 1,200 identities, in chunks


@contextmanager
def _statements(db: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engines = db.engines
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


class TestKeys:
    @given(
        local=st.from_regex(r"[a-z0-9]{1,12}", fullmatch=True),
        tag=st.from_regex(r"[a-z0-9+._-]{0,12}", fullmatch=True),
        upper=st.booleans(),
    )
    def test_a_sub_address_is_its_mailbox(self, local: str, tag: str, upper: bool) -> None:
        """Any tag after `+`, in any case, counts as the mailbox itself."""
        address = f"{local}+{tag}@Example.ORG"
        assert mailbox_key(address.upper() if upper else address) == f"{local}@example.org"

    @given(st.integers(0, 2**128 - 1), st.integers(0, 2**64 - 1))
    def test_an_ipv6_client_is_its_64(self, address: int, host: int) -> None:
        """Two addresses share a key exactly when they share their first 64 bits."""
        other = (address >> 64 << 64) | host
        one, two = str(IPv6Address(address)), str(IPv6Address(other))
        if IPv6Address(address).ipv4_mapped is None:
            assert client_network(one) == client_network(two)
        moved = address ^ (1 << 64)
        if IPv6Address(moved).ipv4_mapped is None and IPv6Address(address).ipv4_mapped is None:
            assert client_network(str(IPv6Address(moved))) != client_network(one)

    @pytest.mark.parametrize(
        ("client", "key"),
        [
            ("203.0.113.9", "203.0.113.9"),
            ("::ffff:203.0.113.9", "203.0.113.9"),
            ("2001:DB8::1", "2001:db8::/64"),
            ("fe80::1%eth0", "fe80::/64"),
            ("unknown", "unknown"),
        ],
    )
    def test_client_keys(self, client: str, key: str) -> None:
        """IPv4 as it is, IPv4-mapped as IPv4, IPv6 by /64, anything else as given."""
        assert client_network(client) == key
