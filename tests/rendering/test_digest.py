"""The digest: masthead, passages, trimming, footer, text part, bidi safety, payload versions."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clippost.links import Links
from clippost.outbox.claims import ClaimedMessage
from clippost.rendering.digest import HIGHLIGHT_KEYS, PAYLOAD_KEYS
from clippost.rendering.environment import RenderedEmail
from clippost.rendering.messages import MessageRenderer, render_payload
from clippost.rendering.mime import build_mime
from clippost.rendering.site import Site

ROOT = Path(__file__).resolve().parents[2]
SITE = Site(
    name="Clippost Reading Room",
    base_url="https://clippost.test",
    postal_address="Clippost Ltd\n12 Rue des Livres, 75005 Paris, France",
)
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
URL = re.compile(r"https?://\S+")
LONG = " ".join(f"Sentence number {n} is about reading slowly and well." for n in range(40))


def render(payload: dict[str, Any], site: Site = SITE, **kwargs: Any) -> RenderedEmail:
    return render_payload("digest", payload, site=site, **kwargs)


def flat(text: str) -> str:
    return " ".join(text.split())


class Page(HTMLParser):
    """The tags, their attributes and the text of an HTML email, with the element stack."""

    VOID = frozenset({"meta", "br", "img", "hr", "input", "link"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[tuple[str, list[tuple[str, dict[str, str | None]]]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.texts.append((data, list(self.stack)))

    def all(self, tag: str, cls: str | None = None) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and (cls is None or cls in (attrs.get("class") or "").split())
        ]

    def hrefs(self) -> set[str]:
        return {attrs["href"] or "" for attrs in self.all("a")}

    def text_of(self, tag: str, cls: str | None = None) -> list[str]:
        """The text inside each element `tag` (with class `cls`), in order."""
        found: dict[int, list[str]] = {}
        for data, stack in self.texts:
            for name, attrs in stack:
                if name == tag and (cls is None or cls in (attrs.get("class") or "").split()):
                    found.setdefault(id(attrs), []).append(data)
        return ["".join(parts) for parts in found.values()]


class TestMasthead:
    def test_site_name_and_date(self, v2: Any) -> None:
        """The masthead names the site (a link home) and dates the digest, in both parts."""
        rendered = render(v2())
        page = Page(rendered.html)
        assert "https://clippost.test" in page.hrefs()
        assert page.text_of("h1") == ["Monday, 23 November 2026"]
        assert rendered.text.startswith("CLIPPOST READING ROOM\nMonday, 23 November 2026\n")

    @pytest.mark.parametrize(
        ("timezone", "day"),
        [("UTC", "Monday, 23 November 2026"), ("Asia/Tokyo", "Tuesday, 24 November 2026")],
    )
    def test_date_is_on_the_readers_clock(self, timezone: str, day: str, v2: Any) -> None:
        """The date is the slot's date where the reader lives."""
        payload = v2(slot="2026-11-23T23:30:00+00:00", timezone=timezone)
        assert Page(render(payload).html).text_of("h1") == [day]

    def test_unknown_timezone_is_utc(self, v2: Any) -> None:
        """A timezone the tz database lost does not stop the email: it is dated in UTC."""
        payload = v2(slot="2026-11-23T23:30:00+00:00", timezone="Mars/Olympus")
        assert Page(render(payload).html).text_of("h1") == ["Monday, 23 November 2026"]


class TestPassages:
    def test_authors_in_natural_order(self, v2: Any, highlight: Any) -> None:
        """ "Attia MD, Peter" reads "Peter Attia"; several authors are joined with "and"."""
        items = [
            highlight(1, book_author="Attia MD, Peter", book_title="Outlive"),
            highlight(2, book_author="Levitt, Steven D.; Dubner, Stephen J."),
        ]
        rendered = render(v2(highlights=items))
        assert Page(rendered.html).text_of("bdi", "author") == [
            "Peter Attia",
            "Steven D. Levitt and Stephen J. Dubner",
        ]
        assert "Outlive · Peter Attia" in rendered.text

    def test_location_and_highlight_date(self, v2: Any) -> None:
        """Each passage says where it is and when it was highlighted."""
        rendered = render(v2())
        for body in (rendered.text, rendered.html):
            assert "location 101–105 · highlighted on 3 March 2021" in body
        assert "location 102–106 · highlighted on 14 July 2019" in rendered.text

    def test_lang_per_passage(self, v2: Any, highlight: Any) -> None:
        """Each passage carries the language of its script, the email its reader's."""
        items = [
            highlight(1),
            highlight(2, text="吾輩は猫である。名前はまだ無い。", book_title="吾輩は猫である"),
            highlight(3, text="Все счастливые семьи похожи друг на друга."),
        ]
        page = Page(render(v2(highlights=items)).html)
        assert page.all("html")[0]["lang"] == "en"
        assert [q["lang"] for q in page.all("blockquote")] == ["en", "ja", "ru"]
        assert all(q["dir"] == "auto" for q in page.all("blockquote"))

    def test_the_books_language_decides_among_latin_languages(
        self, v2: Any, highlight: Any
    ) -> None:
        """A passage's stored `lang` (its book's language) names a Latin-script passage;
        a value that is no language tag is ignored."""
        items = [highlight(1, lang="fr"), highlight(2, lang='x" onclick="alert(1)')]
        page = Page(render(v2(highlights=items)).html)
        assert [q["lang"] for q in page.all("blockquote")] == ["fr", "en"]

    def test_no_faux_italics_for_cjk(self, v2: Any, highlight: Any) -> None:
        """Latin titles are italic; CJK titles are upright and CJK passages get CJK faces."""
        items = [highlight(1), highlight(2, text="吾輩は猫である。", book_title="吾輩は猫である")]
        page = Page(render(v2(highlights=items)).html)
        latin, japanese = page.all("cite")
        assert "font-style:italic" in (latin["style"] or "")
        assert "font-style:normal" in (japanese["style"] or "")
        assert japanese["lang"] == "ja"
        assert "Mincho" in (page.all("blockquote")[1]["style"] or "")

    def test_favourite_and_never_again_links(self, v2: Any) -> None:
        """Each passage links to its favourite and never-again pages, in both parts."""
        rendered = render(v2())
        for link in ("favourite/F1", "discard/D1", "favourite/F2", "discard/D2"):
            assert f"https://clippost.test/{link}" in Page(rendered.html).hrefs()
            assert f"https://clippost.test/{link}" in rendered.text


class TestTrimming:
    def test_no_passage_over_the_limit(self, v2: Any, highlight: Any) -> None:
        """However long the passages, none shown is longer than the site's limit."""
        items = [
            highlight(n, text=LONG[: 300 * n], passage_url=f"https://p/{n}") for n in (1, 3, 9)
        ]
        site = Site(max_chars=400)
        rendered = render(v2(highlights=items), site=site)
        quotes = Page(rendered.html).text_of("blockquote")
        assert len(quotes) == 3
        assert all(len(quote) <= 400 for quote in quotes)
        quoted = [
            flat(q.replace("> ", " ")) for q in re.findall(r"(?m)(?:^>.*\n?)+", rendered.text)
        ]
        assert all(len(q) <= 400 for q in quoted)

    def test_trimmed_at_a_sentence_and_linked_to_the_whole(self, v2: Any, highlight: Any) -> None:
        """A trimmed passage ends at a sentence end and links to the whole passage."""
        item = highlight(1, text=LONG, passage_url="https://clippost.test/passage/P1")
        rendered = render(v2(highlights=[item]))
        page = Page(rendered.html)
        (quote,) = page.text_of("blockquote")
        assert quote.endswith("reading slowly and well.")
        assert LONG.startswith(quote)
        assert "https://clippost.test/passage/P1" in page.hrefs()
        assert "Read the whole passage" in rendered.html
        number = re.search(r"Read the whole passage \[(\d+)\]", flat(rendered.text))
        assert number is not None
        assert f"[{number[1]}] https://clippost.test/passage/P1" in rendered.text

    def test_limit_comes_from_the_site(self, v2: Any, highlight: Any) -> None:
        """CLIPPOST_DIGEST_MAX_CHARS, through the Site, sets where passages are cut."""
        item = highlight(1, text=LONG, passage_url="https://p/1")
        short = Page(render(v2(highlights=[item]), site=Site(max_chars=200)).html)
        assert len(short.text_of("blockquote")[0]) <= 200

    def test_short_passages_have_no_link_to_the_whole(self, v2: Any) -> None:
        """A passage shown whole offers no "read the whole passage"."""
        rendered = render(v2())
        assert "Read the whole passage" not in rendered.html
        assert "https://clippost.test/passage/P1" not in rendered.text

    def test_v1_trimmed_passage_links_to_the_library(self, v1: Any, highlight: Any) -> None:
        """A v1 row has no passage link: "read the whole passage" opens the manage page."""
        rendered = render(v1(highlights=[highlight(1, text=LONG)]))
        links = [
            a for a in Page(rendered.html).all("a") if a["href"] == "https://clippost.test/manage/M"
        ]
        assert len(links) == 2  # the passage's link and the footer's
        assert len(Page(rendered.html).text_of("blockquote")[0]) <= 700


class TestFooter:
    def test_postal_address_when_set(self, v2: Any) -> None:
        """The operator's postal address closes both parts, line breaks kept."""
        rendered = render(v2())
        assert "Clippost Ltd<br>\n12 Rue des Livres, 75005 Paris, France" in rendered.html
        assert rendered.text.rstrip().endswith(
            "Clippost Ltd\n12 Rue des Livres, 75005 Paris, France"
        )

    def test_no_postal_address_when_unset(self, v2: Any) -> None:
        """Without CLIPPOST_POSTAL_ADDRESS, no address line is printed."""
        rendered = render(v2(), site=Site())
        assert 'class="postal"' not in rendered.html
        assert rendered.text.rstrip().endswith("https://clippost.test/unsubscribe/U")

    def test_manage_and_unsubscribe_links(self, v2: Any) -> None:
        """The footer links to the manage page and to unsubscribe, in both parts."""
        rendered = render(v2())
        assert {"https://clippost.test/manage/M", "https://clippost.test/unsubscribe/U"} <= (
            Page(rendered.html).hrefs()
        )
        footer = rendered.text.split("\n-- \n")[1]
        assert "https://clippost.test/manage/M" in footer
        assert "https://clippost.test/unsubscribe/U" in footer

    @pytest.mark.parametrize(
        ("schedule", "words"),
        [
            (
                {"cadence": "weekly", "hour": 7, "weekday": 0},
                "every Monday at 07:00 (Europe/Paris)",
            ),
            ({"cadence": "daily", "hour": 18}, "every day at 18:00 (Europe/Paris)"),
            ({"cadence": "weekdays", "hour": 6}, "every weekday at 06:00 (Europe/Paris)"),
            (
                {"cadence": "monthly", "hour": 9, "day_of_month": 15},
                "on day 15 of every month at 09:00",
            ),
        ],
    )
    def test_why_this_email_comes(self, schedule: dict[str, Any], words: str, v2: Any) -> None:
        """The footer says why the email comes: the reader's schedule in words."""
        rendered = render(v2(schedule=schedule))
        assert f"You get this email {words}" in flat(rendered.text)
        assert f"You get this email {words}" in rendered.html

    def test_without_a_schedule_it_still_says_why(self, v1: Any) -> None:
        """A v1 payload has no schedule: the footer says the reader signed up."""
        rendered = render(v1())
        assert (
            "You get this email because you signed up to Clippost Reading Room with this address."
            in flat(rendered.text)
        )

    def test_round_status(self, v2: Any) -> None:
        """Where the reader is in the round is said once, after the passages."""
        rendered = render(v2())
        assert "You have now had 37 of your 412 highlights in this round." in flat(rendered.text)
        assert "You have now had 37 of your 412 highlights in this round." in rendered.html


class TestTextPart:
    def test_is_text_not_markup(self, v2: Any) -> None:
        """The text part has no tags and no entities."""
        text = render(v2()).text
        assert not re.search(r"<[a-z/!]", text)
        assert not re.search(r"&[a-z]+;|&#\d+;", text)

    def test_lines_are_wrapped(self, v2: Any, highlight: Any) -> None:
        """Every line fits 72 columns, except a URL alone on its line."""
        items = [highlight(1, text=LONG[:650], note=LONG[:200])]
        for line in render(v2(highlights=items)).text.splitlines():
            assert len(line) <= 72 or URL.fullmatch(line.split("] ", 1)[-1]), line

    def test_every_link_is_listed(self, v2: Any, highlight: Any) -> None:
        """Every link of the HTML part is written out in the text part, numbered once."""
        items = [
            highlight(1, text=LONG, passage_url="https://clippost.test/passage/P1"),
            highlight(2),
        ]
        rendered = render(v2(highlights=items))
        hrefs = Page(rendered.html).hrefs() - {"https://clippost.test"}
        assert hrefs <= set(URL.findall(rendered.text))
        numbers = re.findall(r"\[(\d+)\]", flat(rendered.text.split("\n-- \n")[0]))
        listed = re.findall(r"(?m)^\[(\d+)\] https://", rendered.text)
        assert sorted(set(numbers), key=int) == listed
        assert listed == [str(n) for n in range(1, len(listed) + 1)]

    def test_passages_are_quoted(self, v2: Any) -> None:
        """Passages are quoted with "> ", as mail readers show quotations."""
        assert "\n> The obstacle is the way, number 1.\n" in render(v2()).text


def direction_isolated(stack: list[tuple[str, dict[str, str | None]]]) -> bool:
    return any(tag == "bdi" or attrs.get("dir") == "auto" for tag, attrs in stack)


class TestBidi:
    OVERRIDE = "\u202eevil title\u202c and \u2067more"

    def hostile(self, v2: Any, highlight: Any) -> dict[str, Any]:
        item = highlight(
            1,
            text=f"A passage {self.OVERRIDE} that goes on.",
            book_title=self.OVERRIDE,
            book_author=f"Mallory, {self.OVERRIDE}",
            note=self.OVERRIDE,
        )
        return v2(highlights=[item])

    def test_controls_in_html_sit_in_isolating_elements(self, v2: Any, highlight: Any) -> None:
        """Every bidi control in the HTML part is inside a <bdi> or a dir="auto" element."""
        page = Page(render(self.hostile(v2, highlight)).html)
        holding = [(data, stack) for data, stack in page.texts if BIDI.search(data)]
        assert len(holding) >= 4  # passage, title, author, note
        for data, stack in holding:
            assert direction_isolated(stack), (data, [tag for tag, _ in stack])

    def test_controls_never_reach_the_title_preheader_or_subject(
        self, v2: Any, highlight: Any
    ) -> None:
        """Where nothing can isolate them (subject, <title>, preview line), they are dropped."""
        rendered = render(self.hostile(v2, highlight))
        head, body = rendered.html.split("<body", 1)
        preheader = body.split('mso-hide:all;">', 1)[1].split("</div>", 1)[0]
        assert not BIDI.search(rendered.subject)
        assert not BIDI.search(head)
        assert not BIDI.search(preheader)

    def test_controls_are_stripped_from_the_text_part(self, v2: Any, highlight: Any) -> None:
        """The text part has no bidi controls: the words stay, in their order."""
        text = render(self.hostile(v2, highlight)).text
        assert not BIDI.search(text)
        assert "evil title and more" in text


class TestVersions:
    def test_v1_payloads_still_render(self, v1: Any) -> None:
        """A row queued before the upgrade (v1) renders: English, dated by its due time."""
        due = datetime(2026, 11, 23, 6, tzinfo=UTC)
        rendered = render(v1(), due_at=due)
        assert Page(rendered.html).text_of("h1") == ["Monday, 23 November 2026"]
        assert rendered.subject == "Highlights from Meditations and 1 other book"
        assert "highlighted on" not in rendered.text

    def test_v1_without_a_date_has_no_date_line(self, v1: Any) -> None:
        """Rendered without a row (a preview of a v1 payload), the masthead has no date."""
        assert Page(render(v1()).html).text_of("h1") == []

    def test_v2_survives_json(self, v2: Any) -> None:
        """The payload is JSON: stored and read back, it renders the same email."""
        assert render(json.loads(json.dumps(v2()))) == render(v2())

    @given(
        junk=st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        key=st.sampled_from(sorted(PAYLOAD_KEYS)),
        item_key=st.sampled_from(sorted(HIGHLIGHT_KEYS - {"text"})),
    )
    def test_no_payload_value_stops_the_email(
        self, junk: Any, key: str, item_key: str, v2: Any
    ) -> None:
        """A value of any type in any key renders an email all the same, never an error."""
        payload = v2()
        payload["highlights"][0][item_key] = junk
        payload["schedule"][item_key] = junk
        payload[key] = junk
        rendered = render(payload)
        assert rendered.html.startswith("<!DOCTYPE html>")

    def test_docs_list_exactly_the_keys_the_renderer_reads(self) -> None:
        """docs/email.md's payload tables name exactly PAYLOAD_KEYS and HIGHLIGHT_KEYS."""
        doc = (ROOT / "docs" / "email.md").read_text(encoding="utf-8")
        section = doc.split("### Version 3", 1)[1].split("### Version 1", 1)[0]
        top, items = section.split("Each item of `highlights`", 1)
        assert set(re.findall(r"(?m)^\| `(\w+)` \|", top)) == PAYLOAD_KEYS
        assert set(re.findall(r"(?m)^\| `(\w+)` \|", items)) == HIGHLIGHT_KEYS


LINKS = Links(
    base_url="https://clippost.test",
    secret_key="digest-test-secret-0123456789-abcdefghijklmnop",
    confirm_ttl=timedelta(days=3),
    manage_ttl=timedelta(days=30),
    unsubscribe_mailbox="news@clippost.test",
)


class TestAsSent:
    def message(self, payload: dict[str, Any]) -> email.message.EmailMessage:
        renderer = MessageRenderer(
            links=LINKS, from_address="news@clippost.test", from_name="Clippost", site=SITE
        )
        now = datetime(2026, 11, 23, 6, tzinfo=UTC)
        row = ClaimedMessage(
            id=1,
            message_id="<d1@clippost.test>",
            kind="digest",
            requested=False,
            recipient="reader@example.org",
            recipient_hash="x",
            subscriber_id=42,
            payload=payload,
            attempts=1,
            created_at=now,
            due_at=now,
        )
        parsed = email.message_from_bytes(
            build_mime(renderer(row, now)), policy=email.policy.default
        )
        assert isinstance(parsed, email.message.EmailMessage)
        return parsed

    def test_both_parts_with_the_postal_address(self, v2: Any) -> None:
        """The sent digest has a text and an HTML part, each with the postal address."""
        message = self.message(v2(locale="de"))
        plain, html = (message.get_body((kind,)) for kind in ("plain", "html"))
        assert plain is not None
        assert html is not None
        assert "12 Rue des Livres" in plain.get_content()
        assert "12 Rue des Livres" in html.get_content()
        assert "Abmelden" in plain.get_content()

    def test_bulk_headers_stay_as_they_were(self, v2: Any) -> None:
        """List-Unsubscribe (https and mailto), its one-click POST and List-Id are set."""
        message = self.message(v2())
        assert message["List-Unsubscribe"].startswith(
            "<https://clippost.test/unsubscribe/U>, <mailto:"
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"] == "Clippost digest <digest.clippost.test>"
