"""The digest as a reader sees it: Debian's chromium (driven by Playwright, never a browser
of its own) renders the HTML part at 600 and 390 px, light and dark, in English, German and
Japanese, and saves test-output/e2e/digest-<lang>-<width>-<scheme>.png.

Chromium honours `prefers-color-scheme`, as Apple Mail does; what it shows is what WebKit
and Blink-based clients show. Outlook's Word renderer cannot run here: its part of the
layout (the fixed-width table in conditional comments) is checked as markup elsewhere.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clippost.rendering.messages import render_payload
from clippost.rendering.site import Site

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = os.environ.get("CLIPPOST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
SITE = Site(
    name="clippost",
    base_url="https://clippost.example.org",
    postal_address="Clippost Ltd, 12 rue des Livres, 75005 Paris, France",
)
WIDTHS = (600, 390)
SCHEMES = ("light", "dark")

PASSAGES = {
    "en": [
        (
            "We do not remember days, we remember moments. The richness of life lies in "
            "memories we have forgotten. " * 9,
            "This Must Be the Place",
            "O'Farrell, Maggie",
        ),
        ("It is not down on any map; true places never are.", "Moby-Dick", "Melville, Herman"),
        ("What we achieve inwardly will change outer reality.", "Outlive", "Attia MD, Peter"),
    ],
    "de": [
        (
            "Der Mensch ist frei geboren, und überall liegt er in Ketten. Einer hält sich für "
            "den Herrn der anderen und bleibt doch mehr Sklave als sie. " * 6,
            "Der Gesellschaftsvertrag",
            "Rousseau, Jean-Jacques",
        ),
        ("Man sieht nur mit dem Herzen gut.", "Der kleine Prinz", "Saint-Exupéry, Antoine de"),
        ("Alles Gescheite ist schon gedacht worden.", "Maximen und Reflexionen", "Goethe"),
    ],
    "ja": [
        (
            "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗い"
            "じめじめした所でニャーニャー泣いていた事だけは記憶している。" * 8,
            "吾輩は猫である",
            "夏目 漱石",
        ),
        ("国境の長いトンネルを抜けると雪国であった。", "雪国", "川端 康成"),
        ("It is not down on any map; true places never are.", "Moby-Dick", "Melville, Herman"),
    ],
}


def payload(locale: str, v2: Any, highlight: Any) -> dict[str, Any]:
    items = [
        highlight(
            n,
            text=text,
            book_title=title,
            book_author=author,
            highlighted_on=f"2021-03-0{n}",
            passage_url=f"https://clippost.example.org/passage/{n}",
            note="Read this again in spring." if n == 1 else None,
            favourite=n == 3,
            page="12" if n == 2 else None,
        )
        for n, (text, title, author) in enumerate(PASSAGES[locale], 1)
    ]
    return v2(locale=locale, highlights=items)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if shutil.which(CHROMIUM) is None:
        message = f"chromium not found at {CHROMIUM}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI requires it")
        pytest.skip(message + " (install Debian's chromium to run the browser tests)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def open_email(browser: Any, html: str, *, width: int, scheme: str) -> Any:
    """A page showing `html` offline: any request it tried would fail the test."""
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    requests: list[str] = []
    context.route("**/*", lambda route: (requests.append(route.request.url), route.abort()))
    page = context.new_page()
    page.set_content(html, wait_until="load")
    page.requests = requests
    return page


LUMINANCE = """(selector) => {
  const [r, g, b] = getComputedStyle(document.querySelector(selector)).backgroundColor
    .match(/\\d+/g).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}"""


class TestScreenshots:
    @pytest.mark.parametrize("scheme", SCHEMES)
    @pytest.mark.parametrize("width", WIDTHS)
    @pytest.mark.parametrize("locale", sorted(PASSAGES))
    def test_digest(
        self, browser: Any, locale: str, width: int, scheme: str, v2: Any, highlight: Any
    ) -> None:
        """The digest fits the width without scrolling sideways, in the scheme asked for,
        loading nothing, and is saved as a screenshot."""
        html = render_payload("digest", payload(locale, v2, highlight), site=SITE).html
        page = open_email(browser, html, width=width, scheme=scheme)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(SCREENSHOTS / f"digest-{locale}-{width}-{scheme}.png"), full_page=True
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.evaluate("document.querySelector('table.card').offsetWidth") == min(width, 600)
        card = page.evaluate(LUMINANCE, "table.card")
        assert card < 0.2 if scheme == "dark" else card > 0.9
        assert page.requests == []
        page.context.close()


COLOURS = """() => {
  const rgb = (el, prop) => getComputedStyle(el)[prop].match(/\\d+/g).slice(0, 3).map(Number);
  const card = rgb(document.querySelector('table.card'), 'backgroundColor');
  const pick = (selector) => [...document.querySelectorAll(selector)].map((el) => rgb(el, 'color'));
  return {card, text: [...pick('blockquote'), ...pick('.muted'), ...pick('a.link')]};
}"""


def contrast(one: list[int], two: list[int]) -> float:
    """The WCAG contrast ratio of two sRGB colours."""

    def luminance(rgb: list[int]) -> float:
        linear = [(c / 255) / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


class TestRendering:
    @pytest.mark.parametrize("scheme", SCHEMES)
    def test_text_keeps_its_contrast(
        self, browser: Any, scheme: str, v2: Any, highlight: Any
    ) -> None:
        """Passages, muted text and links keep 4.5:1 against the card, light and dark."""
        html = render_payload("digest", payload("en", v2, highlight), site=SITE).html
        page = open_email(browser, html, width=600, scheme=scheme)
        colours = page.evaluate(COLOURS)
        assert len(colours["text"]) > 10
        assert min(contrast(colour, colours["card"]) for colour in colours["text"]) >= 4.5
        page.context.close()

    def test_cjk_titles_are_upright(self, browser: Any, v2: Any, highlight: Any) -> None:
        """The browser sets a Japanese title upright and a Latin one in italics."""
        page = open_email(
            browser,
            render_payload("digest", payload("ja", v2, highlight), site=SITE).html,
            width=600,
            scheme="light",
        )
        styles = page.evaluate(
            "[...document.querySelectorAll('cite')].map((c) => getComputedStyle(c).fontStyle)"
        )
        assert styles == ["normal", "normal", "italic"]
        page.context.close()

    def test_a_right_to_left_override_cannot_flip_the_line(
        self, browser: Any, v2: Any, highlight: Any
    ) -> None:
        """An unclosed RLO in a title stays inside it: the author still follows the title."""
        item = highlight(1, book_title="\u202eThe Title", book_author="Ann Author")
        html = render_payload("digest", v2(highlights=[item]), site=SITE).html
        page = open_email(browser, html, width=600, scheme="light")
        title = page.evaluate("document.querySelector('cite').getBoundingClientRect().left")
        author = page.evaluate("document.querySelector('bdi.author').getBoundingClientRect().left")
        assert author > title
        page.context.close()
