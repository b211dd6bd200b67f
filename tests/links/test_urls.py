"""Links: the URLs clippost puts in pages and emails, each carrying a token for its purpose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

from clippost.errors import InvalidLink
from clippost.links import Links, Purpose
from clippost.links.urls import unsubscribe_mailto

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
LINKS = Links(
    base_url="https://clippost.example.org",
    secret_key="links-test-secret-0123456789-abcdefghijklmnop",
    confirm_ttl=timedelta(hours=72),
    manage_ttl=timedelta(minutes=60),
    old_secret_keys=("retired-links-secret-0123456789-abcdefghijklm",),
    unsubscribe_mailbox="news@clippost.example.org",
)


class TestLinks:
    def test_email_manage_links_outlive_site_manage_links(self) -> None:
        """A digest's manage link still works after a day, unlike a magic link, and ends
        after email_manage_ttl; both name the link generation that revokes them."""
        url = LINKS.email_manage_url(42, 3, now=NOW)
        token = url.removeprefix("https://clippost.example.org/manage/")
        magic = LINKS.token(Purpose.MANAGE, 42, now=NOW, extra="3")
        a_day_later = NOW + timedelta(days=1)
        assert LINKS.read(Purpose.MANAGE, token, now=a_day_later).extra == "3"
        with pytest.raises(InvalidLink):
            LINKS.read(Purpose.MANAGE, magic, now=a_day_later)
        with pytest.raises(InvalidLink):
            LINKS.read(Purpose.MANAGE, token, now=NOW + timedelta(days=30))

    @pytest.mark.parametrize(
        ("purpose", "path"),
        [
            (Purpose.CONFIRM, "confirm"),
            (Purpose.ADD_IMPORT, "add"),
            (Purpose.MANAGE, "manage"),
            (Purpose.UNSUBSCRIBE, "unsubscribe"),
            (Purpose.FAVOURITE, "favourite"),
            (Purpose.DISCARD, "discard"),
            (Purpose.PASSAGE, "passage"),
            (Purpose.RESUBSCRIBE, "resubscribe"),
        ],
    )
    def test_each_purpose_has_its_path_and_reads_back(self, purpose: Purpose, path: str) -> None:
        """A URL is base/path/token, and its token reads back for that purpose only."""
        url = LINKS.url(purpose, 42, now=NOW, extra="7")
        prefix = f"https://clippost.example.org/{path}/"
        assert url.startswith(prefix)
        data = LINKS.read(purpose, url.removeprefix(prefix), now=NOW)
        assert (data.subject, data.extra) == ("42", "7")

    def test_confirm_and_manage_links_expire_digest_links_do_not(self) -> None:
        """Confirm links last confirm_ttl, manage links manage_ttl; unsubscribe never ends."""
        confirm = LINKS.token(Purpose.CONFIRM, 1, now=NOW)
        manage = LINKS.token(Purpose.MANAGE, 1, now=NOW)
        unsubscribe = LINKS.token(Purpose.UNSUBSCRIBE, 1, now=NOW)
        with pytest.raises(InvalidLink):
            LINKS.read(Purpose.CONFIRM, confirm, now=NOW + timedelta(hours=72))
        with pytest.raises(InvalidLink):
            LINKS.read(Purpose.MANAGE, manage, now=NOW + timedelta(minutes=60))
        later = NOW + timedelta(days=3650)
        assert LINKS.read(Purpose.UNSUBSCRIBE, unsubscribe, now=later).subject == "1"

    def test_mailto_unsubscribe_carries_an_unsubscribe_token(self) -> None:
        """The mailto form goes to the unsubscribe mailbox with the token in the subject."""
        mailto = LINKS.mailto_unsubscribe(9, now=NOW)
        address, _, query = mailto.removeprefix("mailto:").partition("?subject=")
        assert address == "news@clippost.example.org"
        word, token = unquote(query).split(" ")
        assert word == "unsubscribe"
        assert LINKS.read(Purpose.UNSUBSCRIBE, token, now=NOW).subject == "9"

    def test_mailto_maker_writes_mailto_unsubscribe(self) -> None:
        """The batch form (one prepared signer) writes each reader's mailto link exactly as
        mailto_unsubscribe does at that moment."""
        mailto = LINKS.mailto_unsubscribe_maker(now=NOW)
        for subscriber_id in (1, 9, 42, 9_000_001):
            assert mailto(subscriber_id) == LINKS.mailto_unsubscribe(subscriber_id, now=NOW)

    def test_mailto_subject_is_quoted_when_it_must_be(self) -> None:
        """A token `quote` would change (none is made so today) is quoted, not pasted."""
        assert unsubscribe_mailto("a@b.org", "x/y z") == (
            "mailto:a@b.org?subject=unsubscribe%20x/y%20z"
        )
        assert unsubscribe_mailto("a@b.org", "A-z_0.9~") == (
            "mailto:a@b.org?subject=unsubscribe%20A-z_0.9~"
        )
