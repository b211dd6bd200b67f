"""The staging allowlist: listed addresses and domains go, everyone else is Suppressed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clippost.mail import Message, Sent, Suppressed
from clippost.transports.allowlist import NOT_ALLOWED, Allowlist, AllowlistTransport
from clippost.transports.maildir import MaildirTransport


class TestAllowlist:
    def test_addresses_and_domains(self) -> None:
        """Exact addresses, "@domain" and "domain" entries match, ignoring case."""
        allowlist = Allowlist(["Ann@X.org", "@example.org", "staging.test", " "])
        assert allowlist.allows("ann@x.org")
        assert allowlist.allows("anyone@EXAMPLE.org")
        assert allowlist.allows("qa@staging.test")
        assert not allowlist.allows("bob@x.org")
        assert not allowlist.allows("a@sub.example.org")
        assert not allowlist.allows("a@evil-example.org")


class TestAllowlistTransport:
    async def test_only_allowed_recipients_are_sent(
        self, tmp_path: Path, message_factory: Callable[..., Message]
    ) -> None:
        """Allowed messages reach the inner transport; the rest are Suppressed, in order."""
        inner = MaildirTransport(tmp_path, fsync=False)
        transport = AllowlistTransport(inner, Allowlist(["@example.org"]))
        messages = [
            message_factory(1, to="a@example.org"),
            message_factory(2, to="real.reader@gmail.com"),
            message_factory(3, to="b@example.org"),
        ]
        results = await transport.send_many(messages)
        assert isinstance(results[0], Sent)
        assert results[1] == Suppressed(NOT_ALLOWED)
        assert isinstance(results[2], Sent)
        assert len(list((tmp_path / "new").iterdir())) == 2
        assert transport.name == "maildir+allowlist"
