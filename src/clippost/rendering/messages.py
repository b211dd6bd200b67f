"""The renderer: a stored message (an outbox row) becomes a Message, the whole of it:
subject and bodies from the templates, and the headers by kind, List-* included.

The payload stored with the row holds everything about its reader, fixed when the mail was
queued, so rendering needs no database and a retry renders the same email; what belongs to
the operator (site name, postal address, passage length) comes from the `Site` this renderer
was built with (rendering.payloads turns a payload into its templates' context). Jinja
compiles each template once per process and each language's catalogue is loaded once
(rendering.environment caches them); a digest's templates are run once per shape of
message (rendering.stencils), so what is left per digest is preparing its values, one join
per part, and a few header strings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from clippost import verp
from clippost.links import Links, Purpose
from clippost.mail import Message
from clippost.rendering.environment import RenderedEmail, render_email
from clippost.rendering.payloads import email_context
from clippost.rendering.site import DEFAULT_SITE, Site

# Kinds sent because of a schedule, not because the reader just did something: they carry
# the bulk-mail headers (RFC 2369 / RFC 8058 unsubscribe, List-Id, Precedence).
BULK_KINDS = frozenset({"digest"})


class StoredMessage(Protocol):
    """What the renderer reads of a queued message (`outbox.claims.ClaimedMessage` has it)."""

    @property
    def id(self) -> int: ...
    @property
    def message_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def subscriber_id(self) -> int | None: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def due_at(self) -> datetime: ...


class MessageRenderer:
    """Callable `(row, now) -> Message`, built once per process (`Runtime.renderer`)."""

    def __init__(
        self,
        *,
        links: Links,
        from_address: str,
        from_name: str,
        site: Site | None = None,
        verp: bool = False,
    ) -> None:
        self.links = links
        self.from_address = from_address
        self.from_name = from_name
        # VERP (CLIPPOST_VERP): each message's own envelope sender, on the From domain.
        self._verp_domain = from_address.rpartition("@")[2] if verp else ""
        self.site = site or Site(name=from_name, base_url=links.base_url)
        host = urlsplit(links.base_url).hostname or "localhost"
        self._list_id = f"{from_name} digest <digest.{host}>"
        # Every message is machine-made (RFC 3834): autoresponders must not answer it.
        self._common = {
            "Auto-Submitted": "auto-generated",
            "X-Auto-Response-Suppress": "OOF, AutoReply",
        }
        # The mailto unsubscribe links of the moment last rendered at: a batch is rendered
        # at one `now`, and a prepared signer costs a tenth of a fresh HMAC per message.
        self._mailto_at: datetime | None = None
        self._mailto_of: Callable[[int], str] = str

    def __call__(self, row: StoredMessage, now: datetime) -> Message:
        rendered = render_payload(row.kind, row.payload, site=self.site, due_at=row.due_at)
        return Message(
            message_id=row.message_id,
            from_address=self.from_address,
            from_name=self.from_name,
            to=row.recipient,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            date=now,
            headers=self._headers(row, now),
            return_path=self._return_path(row.id),
        )

    def _return_path(self, outbox_id: int) -> str:
        if not self._verp_domain:
            return ""
        return verp.return_path(outbox_id, domain=self._verp_domain, key=self.links.secret_key)

    def _headers(self, row: StoredMessage, now: datetime) -> dict[str, str]:
        if row.kind not in BULK_KINDS or row.subscriber_id is None:
            return self._common
        url = row.payload.get("unsubscribe_url") or self.links.url(
            Purpose.UNSUBSCRIBE, row.subscriber_id, now=now
        )
        mailto = self._mailto(row.subscriber_id, now)
        return {
            **self._common,
            "List-Unsubscribe": f"<{url}>, <{mailto}>",
            # RFC 8058: a POST to the https URL unsubscribes, no confirmation page.
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": self._list_id,
            "Precedence": "bulk",
        }

    def _mailto(self, subscriber_id: int, now: datetime) -> str:
        """`Links.mailto_unsubscribe(subscriber_id, now=now)`, from its maker for `now`."""
        if now != self._mailto_at:
            self._mailto_of = self.links.mailto_unsubscribe_maker(now=now)
            self._mailto_at = now
        return self._mailto_of(subscriber_id)


def render_payload(
    kind: str,
    payload: dict[str, Any],
    *,
    site: Site = DEFAULT_SITE,
    due_at: datetime | None = None,
) -> RenderedEmail:
    """Subject, text and HTML of an email of `kind` from its stored payload; `due_at`
    dates a digest whose payload (v1) does not carry its slot."""
    return render_email(kind, email_context(kind, payload, site=site, due_at=due_at))
