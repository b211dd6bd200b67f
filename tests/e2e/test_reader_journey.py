"""A reader's whole journey in a real browser (Debian's chromium, driven by Playwright),
against a real `clippost serve` process: SQLite, Maildir, in-process worker.

Screenshots of every page, at desktop and phone width, land in test-output/e2e/.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CLIPPOST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
FIXTURE = Path(__file__).parent / "fixtures" / "My Clippings.txt"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
READER = "reader@example.org"
# Every visible form field must have a label (what a screen reader announces).
UNLABELLED_FIELDS = """
[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter((field) => field.labels.length === 0).map((field) => field.name)
"""
URL_IN_TEXT = re.compile(r"https?://[^\s<>\"]+")


def _require_chromium() -> None:
    if shutil.which(CHROMIUM) is not None:
        return
    message = f"chromium not found at {CHROMIUM}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + "; CI requires it")
    pytest.skip(message + " (install Debian's chromium to run the browser test)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`python -m clippost serve` in a subprocess, on a free loopback port."""

    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.maildir = data_dir / "mail"
        env = {
            **os.environ,
            "CLIPPOST_DATA_DIR": str(data_dir),
            "CLIPPOST_BASE_URL": self.base_url,
            "CLIPPOST_WORKER_POLL_INTERVAL": "0.1",
            "CLIPPOST_MAIL_TRANSPORT": "maildir",
        }
        env.pop("CLIPPOST_DATABASE_URL", None)
        command = [sys.executable, "-m", "clippost", "serve", "--host", "127.0.0.1"]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port)],
            cwd=data_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.banner = self._read_banner()
        self._wait_until_healthy()

    def _read_banner(self) -> list[str]:
        assert self.process.stdout is not None
        lines = [self.process.stdout.readline().strip() for _ in range(2)]
        assert lines[0] == f"clippost: serving on {self.base_url}/", lines
        return lines

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("the server did not answer /healthz within 20 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def link(self, path_part: str, *, timeout: float = 15.0) -> str:
        """The link containing `path_part` in the newest email that has one (the worker in
        the server process writes mail to the Maildir within a second or so)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reversed(self._messages()):
                found = _link(message, path_part)
                if found:
                    return found
            time.sleep(0.1)
        raise AssertionError(f"no email with a {path_part} link arrived in {self.maildir}")

    def _messages(self) -> list[EmailMessage]:
        folder = self.maildir / "new"
        if not folder.is_dir():
            return []
        files = sorted(folder.iterdir(), key=lambda path: path.stat().st_mtime_ns)
        return [_parse(path.read_bytes()) for path in files]


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _link(message: EmailMessage, path_part: str) -> str | None:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, "every email has a plain-text part"
    for url in URL_IN_TEXT.findall(body.get_content()):
        if path_part in url:
            return str(url).rstrip(".,)")
    return None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    _require_chromium()
    running = Server(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def page(server: Server) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1280, "height": 800},
            timezone_id="Europe/Paris",
            accept_downloads=True,
        )
        context.set_default_timeout(10_000)
        yield context.new_page()
        context.close()
        browser.close()


class Shots:
    """Numbered screenshots of each page, at both widths."""

    def __init__(self, page: object) -> None:
        self.page = page
        self.count = 0

    def take(self, name: str) -> None:
        self.count += 1
        for label, (width, height) in SIZES.items():
            self.page.set_viewport_size({"width": width, "height": height})  # type: ignore[attr-defined]
            path = SCREENSHOTS / f"{self.count:02d}-{name}-{label}.png"
            self.page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
            overflow = self.page.evaluate(  # type: ignore[attr-defined]
                "document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{name} scrolls sideways at {label} width"
        self.page.set_viewport_size({"width": 1280, "height": 800})  # type: ignore[attr-defined]


class TestReaderJourney:
    def test_from_upload_to_unsubscribe(self, server: Server, page, tmp_path: Path):
        """Upload, confirm by email, preferences, favourite, export, unsubscribe: all work."""
        shots = Shots(page)
        assert server.banner[1] == f"clippost: mail is written to the Maildir {server.maildir}"

        # Landing: the browser fills the timezone; the reader fills the rest.
        page.goto(server.base_url + "/")
        assert page.input_value("#timezone") == "Europe/Paris"
        shots.take("landing")
        assert page.evaluate(UNLABELLED_FIELDS) == []
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        page.fill("#email", READER)
        page.set_input_files("#file", str(FIXTURE))
        page.select_option("#cadence", "weekly")
        page.select_option("#hour", "8")
        page.select_option("#per_email", "3")
        page.get_by_role("button", name="Send me a confirmation link").click()
        page.wait_for_url("**/check-inbox")
        assert page.get_by_role("heading", name="Check your inbox").is_visible()
        shots.take("check-inbox")

        # The confirmation email, from the Maildir, and its link: one button, then the summary.
        confirm_url = server.link("/confirm/")
        page.goto(confirm_url)
        shots.take("confirm")
        page.get_by_role("button", name="Confirm and import my highlights").click()
        page.get_by_role("heading", name="You are subscribed").wait_for()
        summary = page.inner_text("main")
        assert "4 highlights" in summary
        assert "3 books" in summary
        assert "at 08:00" in summary
        assert "Europe/Paris" in summary
        shots.take("confirmed")

        # A manage link by email.
        page.goto(server.base_url + "/manage")
        shots.take("manage-request")
        page.fill("#email", READER)
        page.get_by_role("button", name="Email me a link").click()
        page.wait_for_url("**/check-inbox?sent=manage")
        page.goto(server.link("/manage/"))
        page.get_by_role("heading", name="Your emails and library").wait_for()
        shots.take("manage")
        assert page.evaluate(UNLABELLED_FIELDS) == []

        # Preferences: daily at 21:00, five per email.
        page.select_option("#cadence", "daily")
        page.select_option("#hour", "21")
        page.select_option("#per_email", "5")
        page.get_by_role("button", name="Save preferences").click()
        page.get_by_text("Your preferences are saved.").wait_for()
        assert page.input_value("#cadence") == "daily"
        assert page.input_value("#hour") == "21"

        # Favourite the first highlight.
        page.get_by_role("button", name="Favourite").first.click()
        page.get_by_text("The highlight is updated.").wait_for()
        assert page.locator(".badge", has_text="Favourite").count() == 1
        shots.take("manage-after-changes")

        # Export Markdown: a download holding every book.
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Markdown (one section per book)").click()
        exported = tmp_path / "export.md"
        download_info.value.save_as(exported)
        markdown = exported.read_text()
        assert "Walden" in markdown
        assert "live deliberately" in markdown

        # Unsubscribe: a page with one button, then done.
        page.get_by_role("link", name="Unsubscribe from these emails").click()
        page.get_by_role("heading", name="Stop these emails?").wait_for()
        shots.take("unsubscribe")
        page.get_by_role("button", name="Unsubscribe").click()
        page.get_by_role("heading", name="You are unsubscribed").wait_for()
        shots.take("unsubscribed")

        # A bad link gets a clear page.
        page.goto(server.base_url + "/confirm/not-a-real-token")
        assert page.get_by_role("heading", name="That did not work").is_visible()
        shots.take("error")
