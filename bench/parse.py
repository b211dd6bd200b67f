"""Import-engine throughput and memory, side by side with the PyPI parsers `clippings` and `kclip`.

    .venv/bin/python bench/parse.py [--mb 150] [--quick] [--formats-only]

Builds a large `My Clippings.txt` by repeating the real files in ../shared/clippings (or,
without them, the project's own fixtures), then runs each contender in a fresh interpreter
on the same file: clippost parse alone, clippost parse + merge, `clippings` and `kclip`.
Throughput is the work alone (after imports, reading the file included); peak memory is
the child's maximum resident set (os.wait4) minus that of an interpreter that imported the
same modules and did nothing. A peer too slow for the full file runs on a slice, and its
figures are labelled as extrapolated from that slice.

A second table runs everyone on English files that `clippings` can read (it stops at the
first entry it does not understand), so that the peers' speed can be compared at all.

A third table gives, for each of the other formats (Kobo, KOReader, Apple Books, Readwise,
Kindle app, Play Books, Moon+, Boox), entries per second of parse + merge on a synthetic
file of 20,000 items in that format's real layout (`bench/formats.py`), each in a fresh
interpreter, the best of three runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "clippings"
FIXTURES = ROOT / "tests" / "clippings" / "fixtures"
SEPARATOR = b"=========="
MB = 1_000_000
PEER_BUDGET_S = 60.0  # a peer projected to need longer than this runs on a slice
SLICE_MB = 8

CONTENDERS = {
    "clippost parse": "clippost.clippings",
    "clippost parse+merge": "clippost.clippings",
    "clippings (PyPI)": "clippings.parser",
    "kclip (PyPI)": "kclip",
}


# --- worker side: runs in a fresh interpreter ----------------------------------------------


def _work(name: str, path: Path) -> dict[str, object]:
    started, cpu = time.perf_counter(), time.process_time()
    entries, note = _run_contender(name, path)
    return {
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "entries": entries,
        "note": note,
    }


def _run_contender(name: str, path: Path) -> tuple[int, str]:
    if name.startswith("clippost"):
        from clippost.clippings import merge, parse

        result = parse(path.read_bytes())
        if name.endswith("merge"):
            library = merge(result.entries)
            return len(result.entries), f"{library.highlight_count} highlights after merging"
        return len(result.entries), f"{len(result.problems)} problems"
    if name.startswith("clippings"):
        from clippings.parser import parse_clippings

        try:
            with path.open(encoding="utf-8") as file:
                return len(parse_clippings(file)), ""
        except Exception as exc:  # the peer raises on the first entry it cannot read
            return 0, f"raised {type(exc).__name__}: returned nothing"
    import kclip

    # Kept in a list, as every contender keeps what it returns.
    clips = list(kclip.get_clippings_from_filename(str(path)))
    good = sum(1 for clip in clips if isinstance(clip, kclip.Clipping))
    return good, f"{len(clips) - good} unparseable"


def worker_main(name: str, path: str | None) -> None:
    if name == "format":
        print(json.dumps(_format_work(Path(path or ""))))
        return
    __import__(CONTENDERS[name])
    report = _work(name, Path(path)) if path else {}
    print(json.dumps(report))


def _format_work(path: Path) -> dict[str, object]:
    """Parse + merge of one file, best of three, in this fresh interpreter."""
    from clippost.clippings import merge, parse

    data = path.read_bytes()
    best = float("inf")
    entries = highlights = 0
    problems = ""
    for _ in range(3):
        started = time.perf_counter()
        result = parse(data)
        library = merge(result.entries)
        best = min(best, time.perf_counter() - started)
        entries, highlights = len(result.entries), library.highlight_count
        problems = result.error or f"{len(result.problems)} problems"
    return {"seconds": best, "entries": entries, "highlights": highlights, "note": problems}


# --- parent side ---------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    size: int  # bytes actually processed
    seconds: float
    cpu: float
    entries: int
    note: str
    peak_mb: float
    extrapolated_from: int | None = None  # the slice size, when the run was on a slice

    @property
    def mbps(self) -> float:
        return self.size / MB / self.seconds if self.seconds else 0.0

    @property
    def cpu_mbps(self) -> float:
        return self.size / MB / self.cpu if self.cpu else 0.0


def _child(name: str, path: Path | None) -> tuple[dict[str, object], float]:
    """Run one contender in a fresh interpreter; its report and its peak RSS in MB."""
    args = [sys.executable, __file__, "--worker", name] + ([str(path)] if path else [])
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} exited with {proc.returncode}")
    return json.loads(output), usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def measure(name: str, path: Path, *, slice_path: Path | None) -> Run:
    _, baseline = _child(name, None)
    target, extrapolated = path, None
    if slice_path is not None and name.startswith(("clippings", "kclip")):
        probe, _ = _child(name, slice_path)
        projected = float(probe["seconds"]) * path.stat().st_size / slice_path.stat().st_size  # type: ignore[arg-type]
        if projected > PEER_BUDGET_S:
            target, extrapolated = slice_path, slice_path.stat().st_size
    report, peak = _child(name, target)
    return Run(
        name=name,
        size=target.stat().st_size,
        seconds=float(report["seconds"]),  # type: ignore[arg-type]
        cpu=float(report["cpu"]),  # type: ignore[arg-type]
        entries=int(report["entries"]),  # type: ignore[call-overload]
        note=str(report["note"]),
        peak_mb=max(peak - baseline, 0.0),
        extrapolated_from=extrapolated,
    )


def source_files(english_for_clippings: bool) -> list[Path]:
    if SHARED.is_dir():
        files = sorted(SHARED.glob("*.txt"))
    else:
        files = sorted(p for p in FIXTURES.rglob("*.txt"))
    if english_for_clippings:
        files = [f for f in files if _clippings_reads(f)]
    return files


def _clippings_reads(path: Path) -> bool:
    from clippings.parser import parse_clippings

    try:
        with path.open(encoding="utf-8") as file:
            parse_clippings(file)
    except Exception:
        return False
    return True


def build_input(files: list[Path], size: int, directory: Path, name: str) -> Path:
    """Concatenate `files` (each ending with a separator) until at least `size` bytes."""
    chunks = []
    for f in files:
        data = f.read_bytes()
        if not data.rstrip().endswith(SEPARATOR):
            data = data.rstrip() + b"\r\n" + SEPARATOR + b"\r\n"
        chunks.append(data)
    corpus = b"".join(chunks)
    path = directory / name
    with path.open("wb") as out:
        written = 0
        while written < size:
            out.write(corpus)
            written += len(corpus)
    return path


def cut_slice(path: Path, size: int, directory: Path) -> Path:
    """The first `size` bytes of `path`, cut just after a separator line."""
    with path.open("rb") as file:
        head = file.read(size)
    end = head.rfind(SEPARATOR)
    piece = directory / f"slice-{path.name}"
    piece.write_bytes(head[: head.index(b"\n", end) + 1] if end >= 0 else head)
    return piece


def print_table(title: str, runs: list[Run], input_size: int) -> None:
    print(f"\n{title} ({input_size / MB:.1f} MB)")
    header = f"{'contender':<22}{'MB':>7}{'entries':>10}{'wall s':>9}{'MB/s':>8}{'CPU MB/s':>10}"
    print(header + f"{'peak MB':>9}{'peak/input':>11}  notes")
    for r in runs:
        note = r.note
        if r.extrapolated_from:
            note += f"; on a {r.extrapolated_from / MB:.0f} MB slice, full run extrapolated"
            note += f" to {r.seconds * input_size / r.size:.0f} s"
        print(
            f"{r.name:<22}{r.size / MB:>7.1f}{r.entries:>10}{r.seconds:>9.2f}{r.mbps:>8.1f}"
            f"{r.cpu_mbps:>10.1f}{r.peak_mb:>9.0f}{r.peak_mb * MB / r.size:>10.2f}x  {note}"
        )


def print_verdict(runs: list[Run]) -> None:
    by_name = {r.name: r for r in runs}
    ours = by_name["clippost parse+merge"]
    for peer in ("clippings (PyPI)", "kclip (PyPI)"):
        other = by_name[peer]
        if other.entries == 0:
            print(f"  {peer}: returned no entries, so no speed ratio")
        else:
            label = " (peer figure from a slice)" if other.extrapolated_from else ""
            print(
                f"  clippost parse+merge vs {peer}: {ours.mbps / other.mbps:.1f}x the throughput,"
                f" {ours.entries / other.entries:.2f}x the entries{label}"
            )
    print(f"  target parse+merge >= 25 MB/s: {ours.mbps:.1f} MB/s wall, {ours.cpu_mbps:.1f} CPU")
    worst = max(by_name[n].peak_mb * MB / by_name[n].size for n in ("clippost parse", ours.name))
    print(f"  target peak <= 4x input: {worst:.2f}x")
    faster = all(
        ours.mbps > r.mbps for r in runs if r.entries and not r.name.startswith("clippost")
    )
    print(f"  faster than every peer that returns entries: {'yes' if faster else 'NO'}")


def bench(files: list[Path], size: int, directory: Path, title: str) -> None:
    path = build_input(files, size, directory, f"{title.split()[0]}.txt")
    piece = cut_slice(path, SLICE_MB * MB, directory)
    runs = [measure(name, path, slice_path=piece) for name in CONTENDERS]
    print_table(f"{title}: {len(files)} files repeated", runs, path.stat().st_size)
    print_verdict(runs)
    path.unlink()


FORMAT_ITEMS = 20_000


def bench_formats(directory: Path) -> None:
    """One line per other format: entries/s of parse + merge on a synthetic file."""
    sys.path.insert(0, str(Path(__file__).parent))
    from formats import BUILDERS

    print(f"\nother formats: {FORMAT_ITEMS} items each, parse + merge, best of 3")
    print(f"{'format':<28}{'MB':>7}{'entries':>9}{'seconds':>9}{'entries/s':>11}{'MB/s':>7}  notes")
    for name, build in BUILDERS.items():
        path = directory / "format.input"
        path.write_bytes(build(FORMAT_ITEMS))
        report, _ = _child("format", path)
        size, seconds = path.stat().st_size, float(report["seconds"])  # type: ignore[arg-type]
        entries = int(report["entries"])  # type: ignore[call-overload]
        print(
            f"{name:<28}{size / MB:>7.1f}{entries:>9}{seconds:>9.3f}{entries / seconds:>11.0f}"
            f"{size / MB / seconds:>7.1f}  {report['highlights']} highlights, {report['note']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=150, help="input size in MB (default 150)")
    parser.add_argument("--quick", action="store_true", help="20 MB, for a quick look")
    parser.add_argument("--formats-only", action="store_true", help="only the other formats")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker[0], args.worker[1] if len(args.worker) > 1 else None)
        return
    size = int((20 if args.quick else args.mb) * MB)
    origin = SHARED if SHARED.is_dir() else FIXTURES
    print(f"source: {origin}; one core per contender, each in a fresh interpreter")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        if not args.formats_only:
            bench(source_files(False), size, directory, "all-languages input")
            english = source_files(True)
            if english:
                bench(english, size, directory, "english-for-clippings input")
        bench_formats(directory)


if __name__ == "__main__":
    main()
