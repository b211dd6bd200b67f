"""build_mime against the stdlib EmailMessage for a 5 KB personalised digest.

Run: .venv/bin/python bench/mime.py [N]
Prints microseconds per message for each, and how many times faster build_mime is.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from clippost.mail import Message
from clippost.rendering.mime import build_mime

HIGHLIGHTS = [
    (
        "Middlemarch",
        "George Eliot",
        "What do we live for, if it is not to make life less difficult to each other?",
    ),
    (
        "Le Petit Prince",
        "Antoine de Saint-Exupéry",
        "On ne voit bien qu’avec le cœur. L’essentiel est invisible pour les yeux.",
    ),
    ("Moby-Dick", "Herman Melville", "It is not down on any map; true places never are."),
    (
        "The Waves",
        "Virginia Woolf",
        "“I am made and remade continually. Different people draw different words from me.”",
    ),
    (
        "Walden",
        "Henry David Thoreau",
        "I went to the woods because I wished to live "
        "deliberately, to front only the essential facts of life — and see if I could not "
        "learn what it had to teach.",
    ),
]


def digest(number: int) -> Message:
    """A digest as the renderer makes it: about 5 KB of text and HTML, personalised."""
    name = f"Reader {number}"
    text_items = [f"{q}\n  — {t}, {a}\n" for t, a, q in HIGHLIGHTS]
    html_items = [
        f'<tr><td style="padding:16px 24px;font-family:Georgia,serif;font-size:17px;'
        f'line-height:1.5;color:#222"><blockquote style="margin:0">{q}</blockquote>'
        f'<p style="margin:8px 0 0;color:#666;font-size:14px">{t}, {a} · '
        f'<a href="https://clippost.example/f/{number}/{i}">favourite</a> · '
        f'<a href="https://clippost.example/d/{number}/{i}">never again</a></p></td></tr>\n'
        for i, (t, a, q) in enumerate(HIGHLIGHTS)
    ]
    text = f"Hello {name},\n\nFive highlights for today:\n\n" + "\n".join(text_items * 2)
    html = (
        '<!doctype html><html><body style="margin:0;background:#f6f4ef">\n'
        f'<table role="presentation" width="100%"><tr><td><h1>Hello {name}</h1></td></tr>\n'
        + "".join(html_items)
        + "</table></body></html>\n"
    )
    return Message(
        message_id=f"<{number:032x}@clippost.example>",
        from_address="news@clippost.example",
        from_name="Clippost",
        to=f"reader{number}@example.org",
        subject=f"Your highlights: Le Petit Prince, Walden and 3 more ({number})",
        text=text,
        html=html,
        date=datetime(2026, 11, 22, 7, 0, tzinfo=UTC),
        headers={
            "List-Unsubscribe": f"<https://clippost.example/u/{number}>, "
            f"<mailto:unsubscribe@clippost.example?subject={number}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": "Clippost digest <digest.clippost.example>",
            "Auto-Submitted": "auto-generated",
        },
    )


def stdlib(message: Message) -> bytes:
    """The naive way: EmailMessage and its generator."""
    email = EmailMessage()
    email["From"] = formataddr((message.from_name, message.from_address))
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.date)
    email["Message-ID"] = message.message_id
    for name, value in message.headers.items():
        email[name] = value
    email.set_content(message.text)
    email.add_alternative(message.html, subtype="html")
    return email.as_bytes(policy=SMTP)


def per_message(build: Callable[[Message], bytes], messages: list[Message]) -> float:
    start = time.perf_counter()
    for message in messages:
        build(message)
    return (time.perf_counter() - start) / len(messages) * 1e6


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    messages = [digest(n) for n in range(count)]
    size = len(build_mime(messages[0]))
    fast = min(per_message(build_mime, messages) for _ in range(3))
    slow = per_message(stdlib, messages[: max(1, count // 10)])
    print(f"message size: {size} bytes on the wire")
    print(f"build_mime:   {fast:8.1f} µs/message")
    print(f"EmailMessage: {slow:8.1f} µs/message")
    print(f"ratio:        {slow / fast:8.1f}x")


if __name__ == "__main__":
    main()
