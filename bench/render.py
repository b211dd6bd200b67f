"""What rendering one digest costs: the sender's renderer (templates + headers), then MIME.

Run: .venv/bin/python bench/render.py [--n 2000] [--highlights 5] [--rounds 3]

Uses `bench/send.py`'s realistic payloads (random sentences, real signed links) in the
stored form the planner writes today (v1) and, where the renderer knows it, the v2 form
(locale, timezone, slot, schedule, highlighted_on, whole-passage links), in English,
German and Japanese. Prints CPU microseconds per digest (process time, so waiting for a
core another process holds is not counted), the best of `--rounds` rounds: on a busy
machine the best round is the least disturbed one. Compare runs by their ratios: to
measure older code in the same conditions, alternate with a checkout of it
(`PYTHONPATH=/tmp/old/src .venv/bin/python bench/render.py`, run from /tmp/old). Figures
(the digest's stencils: half the CPU of the Jinja run) in docs/email.md, "Cost".
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from clippost.links import Links, Purpose
from clippost.rendering.mime import build_mime
from send import MAIL_FROM, TITLES, as_claimed, digest_payload, renderer, sentence

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
LINKS = Links(
    base_url="https://clippost.example.org",
    secret_key="bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-0123",  # noqa: S106
    confirm_ttl=timedelta(days=3),
    manage_ttl=timedelta(days=30),
    unsubscribe_mailbox=MAIL_FROM,
)
JAPANESE = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。" * 3


def v1_payload(n: int, highlights: int, rng: random.Random) -> dict[str, Any]:
    """What planner/service.py stores today, with `highlights` passages."""
    payload = digest_payload(n, LINKS, NOW, rng)
    while len(payload["highlights"]) < highlights:
        payload["highlights"].extend(digest_payload(n + 7, LINKS, NOW, rng)["highlights"])
    payload["highlights"] = payload["highlights"][:highlights]
    return payload


def v2_payload(n: int, highlights: int, rng: random.Random, locale: str) -> dict[str, Any]:
    """The documented v2 contract (docs in /work/plan/digest-payload.md)."""
    payload = v1_payload(n, highlights, rng)
    for k, item in enumerate(payload["highlights"]):
        item["highlighted_on"] = f"2021-03-{1 + (n + k) % 28:02d}"
        item["passage_url"] = LINKS.url(Purpose.FAVOURITE, n * 10 + k, now=NOW)
        item["book_author"] = TITLES[(n + k) % len(TITLES)][1]
        if locale == "ja" and k % 2 == 0:
            item["text"] = JAPANESE
            item["book_title"] = "吾輩は猫である"
            item["book_author"] = "夏目 漱石"
        if k == 0 and n % 4 == 0:
            item["text"] = " ".join(sentence(rng, 12) for _ in range(14))  # over 700 chars
    payload.update(
        v=2,
        locale=locale,
        timezone="Europe/Paris",
        slot=NOW.isoformat(),
        schedule={"cadence": "weekly", "hour": 7, "weekday": 0, "timezone": "Europe/Paris"},
    )
    return payload


def best_of(rounds: int, payloads: list[dict[str, Any]], *, mime: bool) -> float:
    """Microseconds per digest, best round."""
    render = renderer()
    claimed = [as_claimed(row, n) for n, row in enumerate(payloads)]
    build_mime(render(claimed[0], NOW))  # compile templates, load catalogues
    timings = []
    for _ in range(rounds):
        started = time.process_time()
        for row in claimed:
            message = render(row, NOW)
            if mime:
                build_mime(message)
        timings.append((time.process_time() - started) / len(claimed) * 1e6)
    return min(timings)


def rows(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "message_id": f"<{n:032x}@clippost.example.org>",
            "recipient": f"reader{n}@example.net",
            "recipient_hash": "x",
            "payload": payload,
            "created_at": NOW,
            "due_at": NOW,
        }
        for n, payload in enumerate(payloads)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="digests per round")
    parser.add_argument("--highlights", type=int, default=5, help="passages per digest")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--v1-only", action="store_true", help="skip the v2 payloads")
    args = parser.parse_args()
    rng = random.Random(7)
    sets = {"v1": [v1_payload(n, args.highlights, rng) for n in range(args.n)]}
    if not args.v1_only:
        for locale in ("en", "de", "ja"):
            sets[f"v2 {locale}"] = [
                v2_payload(n, args.highlights, rng, locale) for n in range(args.n)
            ]
    print(f"{args.n} digests of {args.highlights} passages, best of {args.rounds} rounds")
    for name, payloads in sets.items():
        data = rows(payloads)
        render_only = best_of(args.rounds, data, mime=False)
        with_mime = best_of(args.rounds, data, mime=True)
        size = len(build_mime(renderer()(as_claimed(data[1], 1), NOW)))
        print(
            f"  {name:<6} render {render_only:6.0f} µs/digest   render + MIME "
            f"{with_mime:6.0f} µs/digest   ({size:,} bytes)"
        )


if __name__ == "__main__":
    main()
