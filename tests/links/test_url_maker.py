"""`Links.url_maker` (the planner's batch signer) writes exactly the URLs `Links.url` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from clippost.links import Links, Purpose

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
