"""A reader's whole journey in a real browser (Debian's chromium, driven by Playwright),
against a real `clippost serve` process: SQLite, Maildir, in-process worker; a digest sent
by `clippost send-due` into the same Maildir, opened and clicked through.

Screenshots of every page, at desktop and phone width, light and dark, land in
test-output/e2e/; axe-core (installed by `make test` from package.json) checks each page
for serious or critical accessibility violations. One server, one browser: kept lean.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from clippost.links import Links, Purpose

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
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "e2e"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
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
        self.data_dir = data_dir
        self.maildir = data_dir / "mail"
        self.env = env = {
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
        # The rest of the output (a line per request, per email) is drained as it comes, so
        # the pipe never fills and blocks the server; the test reads it at the end.
        self.output: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        self._wait_until_healthy()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))

    def links(self) -> Links:
        """The server's own links (its generated key), to mint what a test needs."""
        key = (self.data_dir / "secret_key").read_text().strip()
        day = timedelta(days=1)
        return Links(self.base_url, key, confirm_ttl=day, manage_ttl=day)

    def send_due(self, at: datetime) -> str:
        """`clippost send-due --at` against the server's database and Maildir."""
        done = subprocess.run(
            [sys.executable, "-m", "clippost", "send-due", "--at", at.isoformat()],
            cwd=self.data_dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "alembic" not in done.stderr
        return done.stdout

    def next_slot(self) -> datetime:
        """The confirmed reader's next slot as the server stored it (UTC)."""
        with sqlite3.connect(self.data_dir / "clippost.db") as connection:
            (stored,) = connection.execute(
                "SELECT next_slot_at FROM subscribers WHERE status = 'confirmed'"
            ).fetchone()
        assert stored, "the confirmed reader has no next slot"
        return datetime.fromisoformat(stored).replace(tzinfo=UTC)

    def digest(self) -> EmailMessage:
        digests = [m for m in self._messages() if _link(m, "/favourite/")]
        assert digests, "no digest in the Maildir"
        return digests[-1]

    def _read_banner(self) -> list[str]:
        assert self.process.stdout is not None
        lines = [self.process.stdout.readline().strip() for _ in range(3)]
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
            locale="en-GB",
            accept_downloads=True,
        )
        context.set_default_timeout(10_000)
        yield context.new_page()
        context.close()
        browser.close()


def _axe_source() -> str | None:
    if AXE.is_file():
        return AXE.read_text(encoding="utf-8")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{AXE} is missing; CI requires it (make test runs npm ci)")
    return None


class Shots:
    """Numbered screenshots of each page at both widths in light and dark, each page also
    checked by axe-core (when installed) and for sideways scrolling."""

    def __init__(self, page: object) -> None:
        self.page = page
        self.count = 0
        self.axe = _axe_source()

    def take(self, name: str) -> None:
        self.count += 1
        self._accessible(name)
        for scheme in ("light", "dark"):
            self.page.emulate_media(color_scheme=scheme)  # type: ignore[attr-defined]
            for label, (width, height) in SIZES.items():
                self.page.set_viewport_size({"width": width, "height": height})  # type: ignore[attr-defined]
                path = SCREENSHOTS / f"{self.count:02d}-{name}-{label}-{scheme}.png"
                self.page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
                overflow = self.page.evaluate(  # type: ignore[attr-defined]
                    "document.documentElement.scrollWidth - window.innerWidth"
                )
                assert overflow <= 0, f"{name} scrolls sideways at {label} width"
        self.page.emulate_media(color_scheme="light")  # type: ignore[attr-defined]
        self.page.set_viewport_size({"width": 1280, "height": 800})  # type: ignore[attr-defined]

    def _accessible(self, name: str) -> None:
        """No serious or critical axe-core violation, in light and in dark."""
        assert self.page.evaluate(UNLABELLED_FIELDS) == [], name  # type: ignore[attr-defined]
        if self.axe is None:
            return
        # Evaluated through DevTools, so the page's strict CSP (script-src 'self') holds.
        self.page.evaluate(self.axe + "\nundefined")  # type: ignore[attr-defined]
        for scheme in ("light", "dark"):
            self.page.emulate_media(color_scheme=scheme)  # type: ignore[attr-defined]
            found = self.page.evaluate(AXE_RUN)  # type: ignore[attr-defined]
            assert found == [], f"{name} ({scheme}): {found}"


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""


# A file dropped on the upload field, as a browser delivers it (DataTransfer, drop event).
DROP_FILE = """(text) => {
  const files = new DataTransfer();
  files.items.add(new File([text], "My Clippings.txt", {type: "text/plain"}));
  const zone = document.querySelector("#upload [data-dropzone]");
  const init = {dataTransfer: files, bubbles: true, cancelable: true};
  zone.dispatchEvent(new DragEvent("dragover", init));
  zone.dispatchEvent(new DragEvent("drop", init));
}"""


def _token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


class TestReaderJourney:
    def test_from_upload_to_unsubscribe(self, server: Server, page, tmp_path: Path):
        """Sign up (an error first), confirm from the local inbox, manage, a digest's
        favourite, never-again, undo and whole passage, an old manage link, export,
        unsubscribe and resubscribe, sign out: every page at two widths, light and dark."""
        shots = Shots(page)
        assert server.banner[1] == f"clippost: mail is written to the Maildir {server.maildir}"
        assert server.banner[2] == f"clippost: read it at {server.base_url}/dev/inbox"
        self._sign_up(server, page, shots)
        self._confirm_from_the_local_inbox(server, page, shots)
        manage_url = self._manage(server, page, shots, tmp_path)
        self._digest(server, page, shots)
        self._old_manage_link(server, page, shots, manage_url)
        self._leave_and_come_back(server, page, shots, manage_url)
        self._server_said(server, manage_url)

    def _server_said(self, server: Server, manage_url: str) -> None:
        """The console told the newcomer what happened, and never printed a token."""
        said = "\n".join(server.output)
        assert f"mail to {READER} written to " in said
        assert "GET /manage/[token] 200 " in said
        assert "POST /signup 400 " in said  # the typo
        assert _token(manage_url) not in said
        assert "alembic" not in said

    def _sign_up(self, server: Server, page, shots: Shots) -> None:
        page.goto(server.base_url + "/")
        assert page.input_value("#timezone") == "Europe/Paris"
        assert page.get_by_label("Time of day").is_visible()
        assert not page.get_by_label("Day of the month").is_visible()  # weekly by default
        shots.take("landing")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        page.select_option("#cadence", "monthly")
        assert page.get_by_label("Day of the month").is_visible()
        assert not page.get_by_label("Day of the week").is_visible()
        # A typo first: the form comes back with the message by the field, values kept.
        page.fill("#email", "reader@example")
        page.set_input_files("#file", str(FIXTURE))
        page.select_option("#cadence", "weekly")
        page.select_option("#hour", "8")
        page.select_option("#per_email", "3")
        page.get_by_role("button", name="Send me a confirmation link").click()
        page.locator("#email-error").wait_for()
        assert page.input_value("#email") == "reader@example"
        assert page.input_value("#hour") == "8"
        assert page.evaluate("document.activeElement.className") == "error-summary"
        shots.take("signup-error")
        page.fill("#email", READER)
        page.set_input_files("#file", str(FIXTURE))
        page.get_by_role("button", name="Send me a confirmation link").click()
        page.wait_for_url("**/check-inbox")
        shots.take("check-inbox")

    def _confirm_from_the_local_inbox(self, server: Server, page, shots: Shots) -> None:
        server.link("/confirm/")  # the worker has written it
        page.get_by_role("link", name="open the local inbox").click()
        page.get_by_role("heading", name="Local inbox").wait_for()
        shots.take("dev-inbox")
        page.locator("table.inbox a").first.click()
        page.get_by_role("heading", name="Links in this email").wait_for()
        assert page.locator("iframe.email-frame").get_attribute("sandbox") == ""
        shots.take("dev-message")
        page.locator(".dev-links a[href*='/confirm/']").click()
        shots.take("confirm")
        page.get_by_role("button", name="Confirm and import my highlights").click()
        page.get_by_role("heading", name="You are subscribed").wait_for()
        summary = page.inner_text("main")
        assert "4 highlights" in summary
        assert "3 books" in summary
        assert "at 08:00" in summary
        assert "Europe/Paris" in summary
        assert page.locator(".preview .highlight").count() == 3
        shots.take("confirmed")

    def _manage(self, server: Server, page, shots: Shots, tmp_path: Path) -> str:
        page.goto(server.base_url + "/manage")
        shots.take("manage-request")
        page.fill("#email", READER)
        page.get_by_role("button", name="Email me a link").click()
        page.wait_for_url("**/check-inbox?sent=manage")
        manage_url = server.link("/manage/")
        page.goto(manage_url)
        page.get_by_role("heading", name="Your emails and library").wait_for()
        assert page.locator("#next .highlight").count() == 3
        assert "Not sent yet." in page.inner_text("#results")
        assert "Sent 0 times" not in page.inner_text("main")
        shots.take("manage")

        # Preferences: a bad timezone comes back beside the field, typed values kept.
        page.select_option("#cadence", "daily")
        assert not page.get_by_label("Day of the week").is_visible()
        page.select_option("#hour", "21")
        page.fill("#timezone", "Europe/Pariss")
        page.get_by_role("button", name="Save preferences").click()
        page.locator("#timezone-error").wait_for()
        assert page.input_value("#timezone") == "Europe/Pariss"
        assert page.input_value("#hour") == "21"
        shots.take("manage-preferences-error")
        page.fill("#timezone", "Europe/Paris")
        page.select_option("#locale", "de")
        page.get_by_role("button", name="Save preferences").click()
        notice = page.locator("#preferences .notice")
        notice.wait_for()
        assert notice.get_attribute("role") == "status"
        page.wait_for_function("() => document.activeElement.classList.contains('notice')")
        assert page.input_value("#hour") == "21"

        # Every book's frequency in one form, one press.
        page.get_by_label("How often for Walden").select_option("less")
        page.get_by_label("How often for The Meditations").select_option("more")
        page.get_by_role("button", name="Save how often each book comes").click()
        page.locator("#books .notice").wait_for()
        assert page.get_by_label("How often for Walden").input_value() == "less"
        assert page.get_by_label("How often for The Meditations").input_value() == "more"

        # Favourite: the notice is by that highlight; then the favourites filter.
        page.locator("#results").get_by_role("button", name="Favourite").first.click()
        page.locator(".highlight .notice").wait_for()
        page.select_option("#show", "favourites")
        page.locator("#results").get_by_role("button", name="Show").click()
        assert page.locator("#results .highlight").count() == 1
        page.fill("#q", "woods")
        page.select_option("#show", "all")
        page.locator("#results").get_by_role("button", name="Show").click()
        assert page.locator("#results mark").first.inner_text().lower() == "woods"
        shots.take("manage-after-changes")

        # The same file again, dropped on the file field: says plainly that nothing is new.
        page.evaluate(DROP_FILE, FIXTURE.read_text(encoding="utf-8-sig"))
        assert page.inner_text("#upload [data-file-name]") == "Chosen: My Clippings.txt"
        page.get_by_role("button", name="Upload").click()
        page.get_by_role("heading", name="Nothing new to add").wait_for()
        shots.take("upload-nothing-new")
        page.go_back()

        with page.expect_download() as download_info:
            page.get_by_role("link", name="Markdown (one section per book)").click()
        exported = tmp_path / "export.md"
        download_info.value.save_as(exported)
        markdown = exported.read_text()
        assert "live deliberately" in markdown
        assert "**Tags:** favorite" in markdown
        return manage_url

    def _digest(self, server: Server, page, shots: Shots) -> None:
        # A minute after the reader's slot: a fixed "in two days" lands more than the
        # lateness limit after the slot at some hours of the day, and is skipped then.
        report = server.send_due(server.next_slot() + timedelta(minutes=1))
        assert "sent 1" in report, report
        digest = server.digest()
        favourite = _link(digest, "/favourite/")
        discard = _link(digest, "/discard/")
        assert favourite
        assert discard
        page.goto(favourite)
        assert page.locator("main blockquote").count() == 1
        shots.take("favourite")
        page.get_by_role("button", name="Yes, it is a favourite").click()
        page.get_by_role("heading", name="Marked as a favourite").wait_for()
        shots.take("favourite-done")
        page.get_by_role("button", name="Undo").click()
        page.get_by_role("heading", name="Taken back").wait_for()
        page.goto(discard)
        page.get_by_role("button", name="Yes, never send it again").click()
        page.get_by_role("heading", name="Never sent again").wait_for()
        page.get_by_role("button", name="Undo").click()
        page.get_by_role("heading", name="Taken back").wait_for()
        # The whole passage: a digest links it (for a trimmed passage) with the same token
        # as the passage's favourite and never-again links.
        page.goto(favourite.replace("/favourite/", "/passage/"))
        assert "highlighted on" in page.inner_text("main")
        shots.take("passage")
        page.get_by_role("button", name="Never send again").click()
        page.get_by_role("heading", name="Never sent again").wait_for()

    def _old_manage_link(self, server: Server, page, shots: Shots, manage_url: str) -> None:
        links = server.links()
        reader = int(links.read(Purpose.MANAGE, _token(manage_url), now=datetime.now(UTC)).subject)
        issued = datetime.now(UTC) - timedelta(days=12)
        page.goto(links.email_manage_url(reader, 0, now=issued))
        page.get_by_role("heading", name="Your emails and library").wait_for()
        expired = links.url(Purpose.MANAGE, reader, now=issued, extra="0")
        page.goto(expired)
        page.get_by_role("heading", name="This link does not work").wait_for()
        assert page.get_by_role("button", name="Email me a new link").is_visible()
        shots.take("expired-link")

    def _leave_and_come_back(self, server: Server, page, shots: Shots, manage_url: str) -> None:
        page.goto(manage_url)
        page.get_by_role("link", name="Unsubscribe from these emails").click()
        page.get_by_role("heading", name="Stop these emails?").wait_for()
        shots.take("unsubscribe")
        page.get_by_role("button", name="Unsubscribe").click()
        page.get_by_role("heading", name="You are unsubscribed").wait_for()
        shots.take("unsubscribed")
        page.get_by_role("button", name="Resubscribe").click()
        page.get_by_role("heading", name="Welcome back").wait_for()
        shots.take("resubscribed")
        page.goto(manage_url)
        page.get_by_role("button", name="Sign out all my links").click()
        page.get_by_role("heading", name="Every link is signed out").wait_for()
        shots.take("signed-out")
        page.goto(manage_url)
        page.get_by_role("heading", name="This link does not work").wait_for()
        page.goto(server.base_url + "/confirm/not-a-real-token")
        assert page.get_by_role("heading", name="This link does not work").is_visible()
        shots.take("error")
