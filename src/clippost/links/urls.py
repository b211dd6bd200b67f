"""Every URL clippost puts in a page or an email: signed, purpose-scoped tokens
(invariant 7).

Confirm, add-import and manage links expire; unsubscribe, favourite, discard and passage
links in digests do not (a reader may act on an old email), but they only ever do that one
thing (a digest's three links for a passage share one HIGHLIGHT token, good for those
three actions on that one highlight: `highlight_urls`). A manage link asked for on the
site lives `manage_ttl` (an hour); the one a digest or the subscribed page carries lives
`email_manage_ttl` (30 days), so a reader who opens the morning's email at lunch still
gets in. Both name the reader's link generation, so erasing or "sign out my links" revokes
every one of them at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from clippost.config import Settings
from clippost.links.tokens import (
    Purpose,
    TokenData,
    TokenSigner,
    make_token,
    read_token,
)


@dataclass(frozen=True, slots=True)
class Links:
    base_url: str
    secret_key: str
    confirm_ttl: timedelta
    manage_ttl: timedelta
    email_manage_ttl: timedelta = timedelta(days=30)
    old_secret_keys: tuple[str, ...] = ()
    unsubscribe_mailbox: str = ""

    @classmethod
    def from_settings(cls, settings: Settings, secret_key: str) -> Links:
        return cls(
            base_url=settings.base_url,
            secret_key=secret_key,
            confirm_ttl=timedelta(hours=settings.confirm_link_hours),
            manage_ttl=timedelta(minutes=settings.manage_link_minutes),
            email_manage_ttl=timedelta(days=settings.email_manage_link_days),
            old_secret_keys=tuple(k.get_secret_value() for k in settings.old_secret_keys),
            unsubscribe_mailbox=settings.mail_from,
        )

    def token_maker(
        self, purpose: Purpose, *, now: datetime, ttl: timedelta | None = None
    ) -> Callable[..., str]:
        """`token(purpose, subject, now=now, ttl=ttl, extra=extra)` for many subjects,
        signed with a prepared key (`tokens.TokenSigner`): the same tokens, for a batch."""
        sign = TokenSigner(self.secret_key, purpose, now=now, ttl=ttl or self._ttl(purpose)).token

        def token(subject: int, extra: str = "") -> str:
            return sign(str(subject), extra)

        return token

    def url_maker(
        self, purpose: Purpose, *, now: datetime, ttl: timedelta | None = None
    ) -> Callable[..., str]:
        """`url(purpose, subject, now=now, ttl=ttl, extra=extra)` for many subjects, signed
        with a prepared key: the same URLs, for a batch of digests."""
        token = self.token_maker(purpose, now=now, ttl=ttl)
        prefix = f"{self.base_url}/{_PATHS[purpose]}/"

        def url(subject: int, extra: str = "") -> str:
            return prefix + token(subject, extra)

        return url

    def _ttl(self, purpose: Purpose) -> timedelta | None:
        return {
            Purpose.CONFIRM: self.confirm_ttl,
            Purpose.ADD_IMPORT: self.confirm_ttl,
            Purpose.MANAGE: self.manage_ttl,
        }.get(purpose)

    def token(
        self,
        purpose: Purpose,
        subject: int,
        *,
        now: datetime,
        extra: str = "",
        ttl: timedelta | None = None,
    ) -> str:
        """A token for `purpose`; `ttl` overrides the purpose's own lifetime."""
        lifetime = ttl or self._ttl(purpose)
        return make_token(
            self.secret_key, purpose, str(subject), now=now, ttl=lifetime, extra=extra
        )

    def read(self, purpose: Purpose, token: str, *, now: datetime) -> TokenData:
        """The token's data; raises InvalidLink for forged, altered, expired or mis-scoped."""
        return read_token(
            self.secret_key, purpose, token, now=now, old_secrets=self.old_secret_keys
        )

    def read_highlight_link(self, purpose: Purpose, token: str, *, now: datetime) -> TokenData:
        """The data of a favourite, never-again or whole-passage link: a token of that
        purpose (what digests carried up to version 2 of their payload, and the passage
        page's buttons) or a HIGHLIGHT token (a digest's one token per passage since)."""
        return read_token(
            self.secret_key,
            (purpose, Purpose.HIGHLIGHT),
            token,
            now=now,
            old_secrets=self.old_secret_keys,
        )

    def url(
        self,
        purpose: Purpose,
        subject: int,
        *,
        now: datetime,
        extra: str = "",
        ttl: timedelta | None = None,
    ) -> str:
        token = self.token(purpose, subject, now=now, extra=extra, ttl=ttl)
        return f"{self.base_url}/{_PATHS[purpose]}/{token}"

    def email_manage_url(self, subscriber_id: int, generation: int, *, now: datetime) -> str:
        """The manage link a digest or the subscribed page carries: `email_manage_ttl`."""
        return self.url(
            Purpose.MANAGE,
            subscriber_id,
            now=now,
            extra=str(generation),
            ttl=self.email_manage_ttl,
        )

    def mailto_unsubscribe(self, subscriber_id: int, *, now: datetime) -> str:
        token = self.token(Purpose.UNSUBSCRIBE, subscriber_id, now=now)
        return unsubscribe_mailto(self.unsubscribe_mailbox, token)

    def mailto_unsubscribe_maker(self, *, now: datetime) -> Callable[[int], str]:
        """`mailto_unsubscribe(subscriber_id, now=now)` for many readers, signed with a
        prepared key (a tenth of a fresh HMAC each): the same links, for a batch."""
        signer = TokenSigner(
            self.secret_key, Purpose.UNSUBSCRIBE, now=now, ttl=self._ttl(Purpose.UNSUBSCRIBE)
        )
        mailbox = self.unsubscribe_mailbox

        def mailto(subscriber_id: int) -> str:
            return unsubscribe_mailto(mailbox, signer.token(str(subscriber_id), ""))

        return mailto


def highlight_urls(base_url: str, token: str) -> tuple[str, str, str]:
    """The favourite, never-again and whole-passage URLs of a passage's HIGHLIGHT token:
    the three links share it, and each route reads it for its own action only."""
    return (
        f"{base_url}/{_PATHS[Purpose.FAVOURITE]}/{token}",
        f"{base_url}/{_PATHS[Purpose.DISCARD]}/{token}",
        f"{base_url}/{_PATHS[Purpose.PASSAGE]}/{token}",
    )


def unsubscribe_mailto(mailbox: str, token: str) -> str:
    """The `mailto:` unsubscribe link (RFC 8058's other half) carrying `token` in its
    subject. A token is base64url and dots, which `quote` leaves as they are: checked in C
    rather than quoted character by character (every digest's header carries one)."""
    words = _SUBJECT + token if not token.translate(_UNQUOTED) else quote("unsubscribe " + token)
    return f"mailto:{mailbox}?subject={words}"


_SUBJECT = "unsubscribe%20"
# What `quote` never changes: ASCII letters, digits and "_.-~"; translate() deletes them.
_UNQUOTED = str.maketrans(
    dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
)


# URL path of each purpose; the web routes mount exactly these.
_PATHS = {
    Purpose.CONFIRM: "confirm",
    Purpose.ADD_IMPORT: "add",
    Purpose.MANAGE: "manage",
    Purpose.UNSUBSCRIBE: "unsubscribe",
    Purpose.FAVOURITE: "favourite",
    Purpose.DISCARD: "discard",
    Purpose.PASSAGE: "passage",
    Purpose.RESUBSCRIBE: "resubscribe",
}
