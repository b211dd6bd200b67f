"""The manage page, built for a GET and for every form on it that comes back refused.

One place reads what the page shows (the reader from the token, the library, one page of
highlights, the next digest), so a refused form is the very page the reader left, with its
list where it was, the message beside the field and the typed values in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from clippost.db.base import row_id
from clippost.errors import BadInput
from clippost.library.overview import BOOK_PAGE
from clippost.library.service import (
    BookView,
    HighlightFilter,
    LibraryView,
    Show,
    find_highlights,
    library_overview,
)
from clippost.links import Purpose
from clippost.subscriptions.manage import SubscriberView, subscriber_from_manage_token
from clippost.web import deps, forms, limits, reader_cookie
from clippost.web.choices import form_choices
from clippost.web.previews import next_digest

EXPORT_FORMATS = ("markdown", "csv", "json")
PAGE_SIZE = 50
_MAX_QUERY = 200
# Where each notice appears (the section changed) and what it says.
NOTICES = {
    "preferences": ("preferences", "Your preferences are saved."),
    "books": ("books", "How often each book comes up is saved."),
    "books-unchanged": ("books", "Nothing to save: every book already had that setting."),
    "highlight": ("results", "The highlight is updated."),
    "resubscribed": ("status", "Welcome back: your emails start again on your schedule."),
}
LABELS = {
    "cadence": "Send me an email",
    "hour": "Time of day",
    "weekday": "Day of the week",
    "day_of_month": "Day of the month",
    "timezone": "Your timezone",
    "per_email": "Highlights per email",
    "paused_until": "Pause until",
    "age_bias": "Which passages first",
    "on_this_day": "On this day",
    "locale": "Language of your emails",
    "file": "Highlights file",
    "confirm": "Confirmation",
}


@dataclass(frozen=True, slots=True)
class Listing:
    """Which highlights the list shows: the search form's fields and the page."""

    q: str = ""
    book_id: int | None = None
    show: Show = Show.ALL
    offset: int = 0
    books: int = 0  # where the books table starts (BOOK_PAGE at a time)

    @classmethod
    def parse(cls, q: str, book: str, show: str, offset: str, books: str = "") -> Listing:
        return cls(q[:_MAX_QUERY], _book_id(book), _show(show), _offset(offset), _offset(books))

    def params(self, **changes: object) -> dict[str, str]:
        """The listing as query parameters (defaults left out), with `changes` applied."""
        values: dict[str, object] = {
            "q": self.q,
            "book": self.book_id or "",
            "show": "" if self.show is Show.ALL else self.show.value,
            "offset": self.offset or "",
            "books": self.books or "",
            **changes,
        }
        return {k: str(v) for k, v in values.items() if v not in ("", None, 0)}

    def url(self, token: str, anchor: str = "results", **changes: object) -> str:
        query = urlencode(self.params(**changes))
        return f"/manage/{token}{'?' + query if query else ''}#{anchor}"


@dataclass(frozen=True, slots=True)
class BookPage:
    """The books the page lists: BOOK_PAGE of them, so that a page of a library of
    thousands of books costs what a page of a hundred does."""

    books: Sequence[BookView]  # the books table
    choices: Sequence[BookView]  # the search form's book filter: these, and the one chosen
    offset: int
    total: int
    previous_url: str | None
    next_url: str | None

    @classmethod
    def of(cls, library: LibraryView, listing: Listing, token: str) -> BookPage:
        """The page of `library` it read (`library_overview` with the listing's start)."""
        offset, total = library.books_offset, library.book_count
        chosen = [library.chosen] if library.chosen is not None else []
        before, after = offset - BOOK_PAGE, offset + BOOK_PAGE
        return cls(
            books=library.books,
            choices=[*chosen, *library.books],
            offset=offset,
            total=total,
            previous_url=listing.url(token, "books", books=before) if offset else None,
            next_url=listing.url(token, "books", books=after) if after < total else None,
        )


@dataclass(slots=True)
class Refused:
    """A form on the page that came back: which section, and its state."""

    section: str
    state: forms.FormState = field(default_factory=forms.FormState)


async def manage_page(
    request: Request,
    token: str,
    listing: Listing,
    *,
    done: str = "",
    acted_on: int | None = None,
    refused: Refused | None = None,
) -> Response:
    ctx = deps.context(request)
    wanted = HighlightFilter(listing.q, listing.book_id, listing.show)
    async with deps.read(request) as session:
        subscriber = await subscriber_from_manage_token(session, ctx, token)
        library = await library_overview(
            session, subscriber.id, offset=listing.books, chosen=listing.book_id
        )
        page = await find_highlights(
            session, subscriber.id, wanted, offset=listing.offset, limit=PAGE_SIZE
        )
    preview = None
    if subscriber.status == "confirmed":
        preview = await next_digest(
            deps.runtime(request), subscriber.id, ctx.now, library_size=library.highlight_count
        )
    values = {
        "token": token,
        "subscriber": subscriber,
        "library": library,
        "book_page": BookPage.of(library, listing, token),
        "page": page,
        "listing": listing,
        "preview": preview,
        "paused_until": _paused_until(subscriber, ctx.now),
        "notice": _notice(done, acted_on, {h.id for h in page.highlights}),
        "refused": refused or Refused(""),
        "prefs": _preference_values(subscriber, refused),
        "labels": LABELS,
        "choices": form_choices(),
        "export_formats": EXPORT_FORMATS,
        "max_mb": deps.settings(request).max_upload_mb,
        "unsubscribe_path": _unsubscribe_path(request, subscriber.id),
    }
    status = refused.state.status if refused and refused.state else 200
    response = deps.render(request, "manage.html", values, status=status)
    # The reader's own link opened here: this browser is theirs (web/reader_cookie.py).
    reader_cookie.remember(request, response, subscriber.id)
    return limits.retry_after(response, refused.state.retry_after if refused else None)


def _notice(done: str, acted_on: int | None, shown: set[int]) -> dict[str, object] | None:
    """The notice for `done`, by the highlight acted on when it is still in the list (a
    filter may have let it go: then at the top of the list)."""
    found = NOTICES.get(done)
    if found is None:
        return None
    section, message = found
    return {
        "section": section,
        "message": message,
        "highlight": acted_on if acted_on in shown else None,
    }


def _preference_values(subscriber: SubscriberView, refused: Refused | None) -> dict[str, str]:
    stored = {**forms.stored_values(subscriber.preferences), "locale": subscriber.locale or ""}
    if refused is None or refused.section != "preferences":
        return stored
    return {**stored, **refused.state.typed}


def _paused_until(subscriber: SubscriberView, now: datetime) -> date | None:
    """The pause's last day while it still stands in the reader's own timezone."""
    until = subscriber.preferences.paused_until
    today = now.astimezone(ZoneInfo(subscriber.preferences.timezone)).date()
    return until if until is not None and until >= today else None


def _unsubscribe_path(request: Request, subscriber_id: int) -> str:
    token = deps.links(request).token(Purpose.UNSUBSCRIBE, subscriber_id, now=datetime.now(UTC))
    return f"/unsubscribe/{token}"


def resubscribe_token(request: Request, subscriber_id: int) -> str:
    """The unsubscribed page's way back: signed, short-lived, one purpose."""
    return deps.links(request).token(
        Purpose.RESUBSCRIBE, subscriber_id, now=datetime.now(UTC), ttl=timedelta(days=1)
    )


def _book_id(raw: str) -> int | None:
    if not raw:
        return None
    book_id = row_id(raw)
    if book_id is None:
        raise BadInput("Choose a book from the list.")
    return book_id


def _show(raw: str) -> Show:
    try:
        return Show(raw or "all")
    except ValueError:
        raise BadInput("Choose which highlights to show from the list.") from None


def _offset(raw: str) -> int:
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise BadInput("That page of your highlights does not exist.")
    return int(raw)
