"""Rendering stays byte-identical: fixed stored rows, every language, against stored emails.

Each case is an outbox row as a worker claims it; the renderer and `build_mime` turn it into
the bytes sent (headers, both parts, their transfer encodings). The files in `golden/` were
written by the renderer before it was made faster (before the per-locale caches of static
parts), so any change in what a reader receives, even one byte, fails here. Regenerate them
only for an intended change of the emails, and read the diff:

    .venv/bin/python tests/rendering/test_golden.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clippost.links import Links
from clippost.links.urls import highlight_urls
from clippost.outbox.claims import ClaimedMessage
from clippost.rendering.i18n import CATALOGUES
from clippost.rendering.messages import MessageRenderer
from clippost.rendering.mime import build_mime
from clippost.rendering.site import Site

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 11, 23, 6, 0, 3, tzinfo=UTC)
LINKS = Links(
    base_url="https://clippost.test",
    secret_key="golden-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123",
    confirm_ttl=timedelta(days=3),
    manage_ttl=timedelta(days=30),
    unsubscribe_mailbox="unsubscribe@clippost.test",
)
SITE = Site(
    name="Clippost Reading Room",
    base_url="https://clippost.test",
    postal_address="Clippost Ltd\n12 Rue des Livres, 75005 Paris, France",
)
# An operator's name with markup in it: a static part cached per site must still escape it.
ODD_SITE = Site(name='Books & "Co" <Reading>', base_url=None, postal_address=None, max_chars=300)
RENDERERS = {
    "site": MessageRenderer(
        links=LINKS, from_address="digest@clippost.test", from_name="Clippost", site=SITE
    ),
    "default": MessageRenderer(links=LINKS, from_address="digest@clippost.test", from_name="cp"),
    "odd": MessageRenderer(
        links=LINKS,
        from_address="digest@clippost.test",
        from_name="Bücher & Co",
        site=ODD_SITE,
        verp=True,
    ),
}
LONG = " ".join(f"Sentence number {n} is about reading slowly, and well." for n in range(30))
# A passage in each language's script, as a reader of that language would have.
SCRIPT_TEXT = {
    "ja": "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。" * 2,
    "zh_Hans": "学而时习之，不亦说乎？有朋自远方来，不亦乐乎？人不知而不愠，不亦君子乎？",
    "ru": "Все счастливые семьи похожи друг на друга, каждая несчастливая семья несчастлива "
    "по-своему.",
    "de": "Über die Brücke ging sie, ohne zu zögern; dahinter lag das Dorf.",
    "fr": "Longtemps, je me suis couché de bonne heure. Parfois, à peine ma bougie éteinte…",
}
SCHEDULES = [
    {"cadence": "weekly", "hour": 7, "weekday": 0, "timezone": "Europe/Paris"},
    {"cadence": "daily", "hour": 21, "timezone": "Asia/Tokyo"},
    {"cadence": "weekdays", "hour": 0},
    {"cadence": "monthly", "hour": 9, "day_of_month": 17, "timezone": "America/New_York"},
    {"cadence": "weekly", "hour": 18, "weekday": 3},
]


def v2_digest(locale: str, n: int) -> dict[str, Any]:
    """Three passages that reach every branch of the digest: trimmed with its link, a note,
    a favourite with a page, markup and a bidi override in a title, another script."""
    return {
        "v": 2,
        "locale": locale.replace("_", "-"),
        "timezone": ("Europe/Paris", "Asia/Tokyo", "America/New_York", "Nowhere/Else")[n % 4],
        "slot": f"2026-11-{20 + n % 9:02d}T06:00:00+00:00",
        "schedule": SCHEDULES[n % len(SCHEDULES)],
        "round_status": {"position": 37 + n, "total": (1, 412, 12345)[n % 3]},
        "manage_url": f"https://clippost.test/manage/M{n}",
        "unsubscribe_url": f"https://clippost.test/unsubscribe/U{n}",
        "highlights": [
            {
                "text": LONG,
                "book_title": "Meditations",
                "book_author": "Aurelius, Marcus",
                "note": "Read again in spring & summer <really>",
                "page": None,
                "location_start": 101,
                "location_end": 105,
                "highlighted_on": "2021-03-03",
                "favourite": False,
                "favourite_url": "https://clippost.test/favourite/F1",
                "discard_url": "https://clippost.test/discard/D1",
                "passage_url": "https://clippost.test/passage/P1?a=1&b=2",
            },
            {
                "text": 'He said "walk" & <went>\non, alone.',
                "book_title": "Walden <or> \u202eLife in the Woods",
                "book_author": "Thoreau, Henry David; Emerson, Ralph Waldo",
                "note": None,
                "page": "12",
                "location_start": 300,
                "location_end": None,
                "highlighted_on": "2019-07-14T21:05:00",
                "favourite": True,
                "favourite_url": "https://clippost.test/favourite/F2",
                "discard_url": "https://clippost.test/discard/D2",
                "passage_url": "https://clippost.test/passage/P2",
                "lang": "en-GB",
            },
            {
                "text": SCRIPT_TEXT.get(locale, "A plain passage in the reader's own tongue."),
                "book_title": "吾輩は猫である" if locale == "ja" else f"Book in {locale}",
                "book_author": "夏目 漱石" if locale == "ja" else "Attia MD, Peter",
                "note": "line one\nline two",
                "page": None,
                "location_start": None,
                "location_end": None,
                "highlighted_on": None,
                "favourite": False,
                "favourite_url": "https://clippost.test/favourite/F3",
                "discard_url": "https://clippost.test/discard/D3",
                "passage_url": "https://clippost.test/passage/P3",
            },
        ],
    }


def v1_digest() -> dict[str, Any]:
    """What the planner stored before version 2: no locale, slot, dates or passage links."""
    payload = v2_digest("en", 0)
    for key in ("v", "locale", "timezone", "slot", "schedule"):
        del payload[key]
    for item in payload["highlights"]:
        for key in ("highlighted_on", "passage_url", "lang"):
            item.pop(key, None)
    payload["round_status"] = None
    return payload


def one_book(count: int) -> dict[str, Any]:
    payload = v2_digest("fr", 5)
    payload["highlights"] = [
        {**item, "book_title": "Du côté de chez Swann", "book_author": "Proust, Marcel"}
        for item in payload["highlights"][:count]
    ]
    return payload


def book(title: str, author: str | None, count: int) -> dict[str, Any]:
    return {"title": title, "author": author, "highlight_count": count}


BOOKS = [
    book("Meditations", "Aurelius, Marcus", 3),
    book("Walden <Woods>", "Henry David Thoreau", 1),
    book("吾輩は猫である", None, 1234),
    *(book(f"Volume {n}", "Anon", n) for n in range(4)),
]


def confirm(locale: str) -> dict[str, Any]:
    return {
        "locale": locale,
        "confirm_url": "https://clippost.test/confirm/TOKEN?x=1&y=2",
        "expires_in": 48 * 3600.0,
        "highlight_count": 1234,
        "book_count": 9,
        "books": BOOKS,
    }


def added(locale: str) -> dict[str, Any]:
    context = confirm(locale)
    del context["confirm_url"]
    context.update(add_url="https://clippost.test/add/TOKEN", expires_in=5400)
    return context


def magic(locale: str) -> dict[str, Any]:
    return {"locale": locale, "manage_url": "https://clippost.test/manage/M", "expires_in": 1800}


def welcome(locale: str) -> dict[str, Any]:
    return {
        "locale": locale,
        "highlight_count": 1,
        "book_count": 1,
        "schedule": SCHEDULES[0] if locale != "en" else None,
        "schedule_text": "every Monday at 07:00 (Europe/Paris)",
        "per_email": 5,
        "first_digest_at": "2026-11-23T06:00:00+00:00",
        "timezone": "Europe/Paris",
        "manage_url": "https://clippost.test/manage/M",
        "unsubscribe_url": "https://clippost.test/unsubscribe/U",
    }


def _cases() -> dict[str, tuple[str, str, Callable[[], dict[str, Any]]]]:
    """name -> (renderer, kind, payload factory)."""
    cases: dict[str, tuple[str, str, Callable[[], dict[str, Any]]]] = {}
    for n, code in enumerate(CATALOGUES):
        cases[f"digest-v2-{code}"] = ("site", "digest", lambda c=code, k=n: v2_digest(c, k))
    cases["digest-v1"] = ("default", "digest", v1_digest)
    cases["digest-odd-site-zh-TW"] = ("odd", "digest", lambda: v2_digest("zh-TW", 7))
    cases["digest-one-book-one-passage"] = ("site", "digest", lambda: one_book(1))
    cases["digest-one-book-three-passages"] = ("odd", "digest", lambda: one_book(3))
    cases["digest-empty"] = ("site", "digest", lambda: {**v2_digest("de", 2), "highlights": []})
    for code in ("en", "de"):
        for kind, factory in (
            ("confirm", confirm),
            ("already_subscribed_import", added),
            ("magic_link", magic),
            ("welcome", welcome),
        ):
            renderer = "odd" if code == "de" else "site"
            cases[f"{kind}-{code}"] = (renderer, kind, lambda f=factory, c=code: f(c))
    return cases


CASES = _cases()


def render_case(name: str, renderer: MessageRenderer | None = None) -> bytes:
    """The case's fixed row rendered to MIME, by its own renderer unless one is given."""
    named, kind, payload = CASES[name]
    return render_row(name, kind, payload(), renderer or RENDERERS[named])


def render_row(name: str, kind: str, payload: dict[str, Any], renderer: MessageRenderer) -> bytes:
    return build_mime(renderer(claimed(name, kind, payload), NOW))


def claimed(name: str, kind: str, payload: dict[str, Any]) -> ClaimedMessage:
    """The outbox row of a case, as a worker claims it."""
    return ClaimedMessage(
        id=4242,
        message_id=f"<{name}@clippost.test>",
        kind=kind,
        requested=kind != "digest",
        recipient="reader@example.net",
        recipient_hash="x",
        subscriber_id=77,
        payload=payload,
        attempts=1,
        created_at=NOW,
        due_at=NOW,
    )


_URL_KEYS = ("favourite_url", "discard_url", "passage_url")


def v3_digest(locale: str, n: int) -> dict[str, Any]:
    """The v2 case as the planner now stores it: one HIGHLIGHT token per passage."""
    payload = {**v2_digest(locale, n), "v": 3}
    payload["highlights"] = [
        {**{k: v for k, v in item.items() if k not in _URL_KEYS}, "link": f"tok{k}.SIG-{k}_"}
        for k, item in enumerate(payload["highlights"], 1)
    ]
    return payload


class TestVersion3:
    @pytest.mark.parametrize("code", sorted(CATALOGUES))
    def test_a_token_renders_as_the_three_urls_made_from_it(self, code: str) -> None:
        """A v3 passage's links are the site's base URL, the route and its token: the email
        is byte for byte the v2 one that stored those three URLs, in every language."""
        v3 = v3_digest(code, 3)
        v2 = {**v3, "v": 2, "highlights": [dict(item) for item in v3["highlights"]]}
        for item in v2["highlights"]:
            urls = highlight_urls("https://clippost.test", item.pop("link"))
            item.update(zip(_URL_KEYS, urls, strict=True))
        renderer = RENDERERS["site"]
        assert render_row("v3", "digest", v3, renderer) == render_row("v3", "digest", v2, renderer)

    def test_the_links_are_in_both_parts(self) -> None:
        """Each passage's favourite and never-again links, and the trimmed one's whole
        passage, are in the HTML and the text part (the favourite's is offered only where
        the passage is not one already)."""
        message = RENDERERS["site"](claimed("v3", "digest", v3_digest("en", 0)), NOW)
        expected = [
            "https://clippost.test/passage/tok1.SIG-1_",
            "https://clippost.test/favourite/tok1.SIG-1_",
            *(f"https://clippost.test/discard/tok{k}.SIG-{k}_" for k in (1, 2, 3)),
            "https://clippost.test/favourite/tok3.SIG-3_",
        ]
        for url in expected:
            assert url in message.html, url
            assert url in message.text, url
        assert "favourite/tok2" not in message.html + message.text  # already a favourite

    def test_stored_urls_win_over_a_token(self) -> None:
        """A row carrying both (written by hand) keeps the URLs it stored."""
        v2 = v2_digest("en", 0)
        both = {**v2, "highlights": [{**i, "link": "other.token"} for i in v2["highlights"]]}
        renderer = RENDERERS["site"]
        assert render_row("x", "digest", both, renderer) == render_row("x", "digest", v2, renderer)


class TestGolden:
    @pytest.mark.parametrize("name", sorted(CASES))
    def test_email_is_byte_identical_to_the_stored_one(self, name: str) -> None:
        """Each fixed row renders to exactly the bytes the renderer produced before."""
        expected = (GOLDEN / f"{name}.eml").read_bytes()
        assert render_case(name) == expected

    @pytest.mark.parametrize("name", ["digest-v2-de", "digest-v2-ja", "confirm-de"])
    def test_second_render_is_identical_to_the_first(self, name: str) -> None:
        """Caches filled by a first render change nothing in the next one."""
        assert render_case(name) == render_case(name)

    def test_every_stored_email_has_a_case(self) -> None:
        """No golden file is left over from a case that no longer exists (nor one missing)."""
        assert sorted(path.stem for path in GOLDEN.glob("*.eml")) == sorted(CASES)


class TestOperatorWords:
    def test_the_stencils_marks_in_the_operators_name_are_dropped(self) -> None:
        """U+E000/U+E001 mark the reader's values in a stencil: in the operator's name or
        address they are dropped, and every email still renders (rather than failing all)."""
        marked = Site(
            name="Reading\ue000Room\ue001",
            base_url="https://clippost.test",
            postal_address="12 Rue\ue000 des Livres",
        )
        assert (marked.name, marked.postal_address) == ("ReadingRoom", "12 Rue des Livres")
        renderer = MessageRenderer(
            links=LINKS, from_address="digest@clippost.test", from_name="cp", site=marked
        )
        assert b"ReadingRoom" in render_case("digest-v2-de", renderer)


if __name__ == "__main__":
    GOLDEN.mkdir(exist_ok=True)
    for stale in GOLDEN.glob("*.eml"):
        stale.unlink()
    for case in CASES:
        (GOLDEN / f"{case}.eml").write_bytes(render_case(case))
    print(f"wrote {len(CASES)} emails to {GOLDEN}", file=sys.stderr)
