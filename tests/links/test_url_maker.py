"""The planner's batch signers (`Links.url_maker`, `Links.urls_maker`, `TokenSigner`) write
exactly the URLs `Links.url` and the tokens `make_token` write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.links import Links, Purpose
from clippost.links.tokens import TokenSigner, make_token

LINKS = Links(
    base_url="https://clippost.example.org",
    secret_key="a-secret-key-long-enough-0123456789",
    confirm_ttl=timedelta(hours=72),
    manage_ttl=timedelta(hours=1),
)
NOW = datetime(2026, 11, 23, 6, 0, 17, tzinfo=UTC)


class TestUrlMaker:
    # Every purpose a URL is made for (READER is a cookie's purpose: it has no URL).
    @given(
        subject=st.integers(1, 2**63),
        purpose=st.sampled_from([p for p in Purpose if p is not Purpose.READER]),
    )
    def test_the_same_url_as_url(self, subject: int, purpose: Purpose) -> None:
        """For every purpose and subject, the prepared signer's URL is `url`'s, byte for byte."""
        assert LINKS.url_maker(purpose, now=NOW)(subject) == LINKS.url(purpose, subject, now=NOW)

    def test_its_urls_read_back(self) -> None:
        """A URL it makes reads back for its purpose and subject."""
        url = LINKS.url_maker(Purpose.FAVOURITE, now=NOW)(42)
        data = LINKS.read(Purpose.FAVOURITE, url.rsplit("/", 1)[1], now=NOW)
        assert data.subject == "42"


NEVER_EXPIRE = [Purpose.FAVOURITE, Purpose.DISCARD, Purpose.PASSAGE, Purpose.UNSUBSCRIBE]


class TestUrlsMaker:
    @given(
        subject=st.integers(1, 2**63),
        extra=st.text(max_size=12),
        purposes=st.lists(st.sampled_from(NEVER_EXPIRE), min_size=1, max_size=4),
    )
    def test_the_same_urls_as_url(self, subject: int, extra: str, purposes: list[Purpose]) -> None:
        """Each URL of the shared-payload signer is `url`'s for its purpose, byte for byte."""
        urls = LINKS.urls_maker(purposes, now=NOW)(subject, extra)
        assert urls == [LINKS.url(p, subject, now=NOW, extra=extra) for p in purposes]

    def test_refuses_links_that_expire(self) -> None:
        """A purpose whose links expire cannot share a never-expiring payload."""
        with pytest.raises(ValueError, match="never expire"):
            LINKS.urls_maker([Purpose.FAVOURITE, Purpose.MANAGE], now=NOW)


class TestTokenSigner:
    @given(
        subject=st.text(min_size=1, max_size=20).filter(lambda s: "|" not in s),
        extra=st.text(max_size=20),
        ttl=st.none() | st.integers(1, 10**8).map(lambda s: timedelta(seconds=s)),
        secret=st.binary(min_size=1, max_size=100) | st.text(min_size=1, max_size=80),
    )
    def test_tokens_are_make_tokens(
        self, subject: str, extra: str, ttl: timedelta | None, secret: str | bytes
    ) -> None:
        """For any subject, extra, lifetime and secret (longer than a hash block too), each
        token is `make_token`'s for its purpose."""
        purposes = [Purpose.MANAGE, Purpose.FAVOURITE]
        signer = TokenSigner(secret, purposes, now=NOW, ttl=ttl)
        expected = [make_token(secret, p, subject, now=NOW, ttl=ttl, extra=extra) for p in purposes]
        assert signer.tokens(subject, extra) == expected
        assert signer.token(subject, extra) == expected[0]

    def test_refuses_a_subject_with_the_separator(self) -> None:
        """A subject holding the separator is refused, as `make_token` refuses it."""
        with pytest.raises(ValueError, match="subject"):
            TokenSigner("key", Purpose.MANAGE, now=NOW, ttl=None).token("4|2")
