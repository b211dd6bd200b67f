"""The planner's batch signers (`Links.token_maker`, `Links.url_maker`, `TokenSigner`) write
exactly the tokens `make_token` and the URLs `Links.url` write; a digest's HIGHLIGHT token
opens its passage's three links and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.errors import InvalidLink
from clippost.links import Links, Purpose
from clippost.links.tokens import TokenSigner, make_token
from clippost.links.urls import highlight_urls

LINKS = Links(
    base_url="https://clippost.example.org",
    secret_key="a-secret-key-long-enough-0123456789",
    confirm_ttl=timedelta(hours=72),
    manage_ttl=timedelta(hours=1),
)
NOW = datetime(2026, 11, 23, 6, 0, 17, tzinfo=UTC)


class TestUrlMaker:
    # Every purpose a URL is made for (READER is a cookie's purpose: it has no URL; a
    # HIGHLIGHT token is in three, `highlight_urls`).
    @given(
        subject=st.integers(1, 2**63),
        purpose=st.sampled_from(
            [p for p in Purpose if p not in (Purpose.READER, Purpose.HIGHLIGHT)]
        ),
    )
    def test_the_same_url_as_url(self, subject: int, purpose: Purpose) -> None:
        """For every purpose and subject, the prepared signer's URL is `url`'s, byte for byte."""
        assert LINKS.url_maker(purpose, now=NOW)(subject) == LINKS.url(purpose, subject, now=NOW)

    def test_its_urls_read_back(self) -> None:
        """A URL it makes reads back for its purpose and subject."""
        url = LINKS.url_maker(Purpose.FAVOURITE, now=NOW)(42)
        data = LINKS.read(Purpose.FAVOURITE, url.rsplit("/", 1)[1], now=NOW)
        assert data.subject == "42"


class TestTokenMaker:
    @given(
        subject=st.integers(1, 2**63),
        extra=st.text(max_size=12),
        purpose=st.sampled_from([p for p in Purpose if p is not Purpose.READER]),
    )
    def test_the_same_token_as_token(self, subject: int, extra: str, purpose: Purpose) -> None:
        """For every purpose, subject and extra, the prepared signer's token is `token`'s."""
        made = LINKS.token_maker(purpose, now=NOW)(subject, extra)
        assert made == LINKS.token(purpose, subject, now=NOW, extra=extra)


class TestHighlightLinks:
    TOKEN = LINKS.token(Purpose.HIGHLIGHT, 42, now=NOW, extra="3")

    @pytest.mark.parametrize("purpose", [Purpose.FAVOURITE, Purpose.DISCARD, Purpose.PASSAGE])
    def test_a_highlight_token_opens_each_of_its_three_links(self, purpose: Purpose) -> None:
        """The favourite, never-again and whole-passage links read the one token (years on:
        it never expires), as they read a token of their own purpose."""
        later = NOW + timedelta(days=3650)
        data = LINKS.read_highlight_link(purpose, self.TOKEN, now=later)
        assert (data.subject, data.extra) == ("42", "3")
        own = LINKS.token(purpose, 42, now=NOW, extra="3")
        assert LINKS.read_highlight_link(purpose, own, now=later).subject == "42"

    @pytest.mark.parametrize(
        "purpose", [p for p in Purpose if p not in (Purpose.HIGHLIGHT, Purpose.READER)]
    )
    def test_it_opens_no_other_link(self, purpose: Purpose) -> None:
        """Read for any other purpose (unsubscribe, manage, confirm...), it is not valid."""
        with pytest.raises(InvalidLink):
            LINKS.read(purpose, self.TOKEN, now=NOW)

    def test_a_favourite_token_is_not_a_discard_one(self) -> None:
        """A token of one action's own purpose still opens that action only."""
        favourite = LINKS.token(Purpose.FAVOURITE, 42, now=NOW)
        with pytest.raises(InvalidLink):
            LINKS.read_highlight_link(Purpose.DISCARD, favourite, now=NOW)

    def test_its_urls(self) -> None:
        """The three URLs are the site's, the route's path and the token."""
        assert highlight_urls("https://x.test", "T.S") == (
            "https://x.test/favourite/T.S",
            "https://x.test/discard/T.S",
            "https://x.test/passage/T.S",
        )


class TestTokenSigner:
    @given(
        subject=st.text(min_size=1, max_size=20).filter(lambda s: "|" not in s),
        extra=st.text(max_size=20),
        ttl=st.none() | st.integers(1, 10**8).map(lambda s: timedelta(seconds=s)),
        secret=st.binary(min_size=1, max_size=100) | st.text(min_size=1, max_size=80),
        purpose=st.sampled_from(list(Purpose)),
    )
    def test_tokens_are_make_tokens(
        self, subject: str, extra: str, ttl: timedelta | None, secret: str | bytes, purpose: Purpose
    ) -> None:
        """For any subject, extra, lifetime, secret (longer than a hash block too) and
        purpose, the token is `make_token`'s."""
        signer = TokenSigner(secret, purpose, now=NOW, ttl=ttl)
        expected = make_token(secret, purpose, subject, now=NOW, ttl=ttl, extra=extra)
        assert signer.token(subject, extra) == expected

    def test_refuses_a_subject_with_the_separator(self) -> None:
        """A subject holding the separator is refused, as `make_token` refuses it."""
        with pytest.raises(ValueError, match="subject"):
            TokenSigner("key", Purpose.MANAGE, now=NOW, ttl=None).token("4|2")
