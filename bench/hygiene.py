"""What issue 9's data hygiene costs: the control-character pass over every imported entry,
and the email labels (cut and unlinked titles), each as a ratio of the work around it.

    .venv/bin/python bench/hygiene.py [--mb 20]

1. Parse a Kindle file of `--mb` MB built from the project's fixtures, then run
   `clean_entries` again over its entries (it already ran inside `parse`: this is its
   cost alone). Prints CPU seconds of each and the cleaning's share of the parse.
2. `label` against `one_line` (what a title went through before) on 10,000 real-looking
   titles, half of them dotted (digests cache a book's label, so this is paid once a book
   per process, not once a passage).
Targets: the cleaning pass under 5% of parsing; a label under 2 us.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from clippost.clippings import parse
from clippost.clippings.cleaning import clean_entries
from clippost.rendering.labels import label
from clippost.rendering.plaintext import one_line

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "clippings" / "fixtures"


def _kindle_file(size: int) -> bytes:
    pieces = [path.read_bytes() for path in sorted(FIXTURES.rglob("*.txt")) if path.stat().st_size]
    pieces = [p for p in pieces if b"==========" in p]
    out = bytearray()
    while len(out) < size:
        for piece in pieces:
            out += piece.removeprefix(b"\xef\xbb\xbf")
            if not out.endswith(b"\n"):
                out += b"\r\n"
    return bytes(out)


def _cpu(call: object, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        call()  # type: ignore[operator]
        best = min(best, time.process_time() - started)
    return best


def cleaning(mb: float) -> None:
    data = _kindle_file(int(mb * 1_000_000))
    result = parse(data)
    parse_cpu = _cpu(lambda: parse(data), repeat=2)
    clean_cpu = _cpu(lambda: clean_entries(result.entries), repeat=3)
    share = clean_cpu / parse_cpu
    print(f"parse {len(data) / 1e6:.1f} MB, {len(result.entries)} entries: {parse_cpu:.2f} s CPU")
    print(f"clean_entries alone: {clean_cpu * 1000:.1f} ms CPU = {share:.1%} of the parse")
    print(f"  target < 5%: {'yes' if share < 0.05 else 'NO'}")


def labels() -> None:
    titles = [
        f"{'Node.js in Action, 2nd ed.' if n % 2 else 'The Name of the Rose'} vol {n}"
        for n in range(10_000)
    ]
    base = _cpu(lambda: [one_line(t) for t in titles], repeat=5)
    cost = _cpu(lambda: [label(t) for t in titles], repeat=5)
    per = cost / len(titles) * 1e6
    before = base / len(titles) * 1e6
    print(f"one_line: {before:.2f} us a title; label: {per:.2f} us ({cost / base:.1f}x)")
    print(f"  target label < 2 us: {'yes' if per < 2 else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0)
    args = parser.parse_args()
    cleaning(args.mb)
    labels()


if __name__ == "__main__":
    main()
