"""Benchmark: build the Groove MIDI Dataset (beats and fills, no cache) and time it.

Run by hand: ``.venv/bin/python benchmarks/bench_dataset.py [GROOVE_DIR] [--workers N]``.
Target (issue 2): under 30 s on a 2-core machine. Prints seconds, files per second and
windows, plus a serial (1 worker) build in the same process as the baseline, and a cached
build for comparison.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rhythmcan_cli.dataset import build_dataset
from rhythmcan_cli.dataset.groove import default_dir

DEFAULT = default_dir(Path(__file__).resolve().parents[1])


def timed(groove: Path, **options: object) -> tuple[float, int, int, bool]:
    """Seconds, files found, windows and whether the build came from the cache."""
    started = time.perf_counter()
    data = build_dataset(groove, labels_csv=groove / "info.csv", **options)  # type: ignore[arg-type]
    seconds = time.perf_counter() - started
    return seconds, data.report.files_found, len(data), data.report.from_cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("groove", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    parser.add_argument("--skip-serial", action="store_true", help="skip the 1-worker baseline")
    args = parser.parse_args()
    if not (args.groove / "info.csv").is_file():
        raise SystemExit(f"no Groove MIDI Dataset at {args.groove}")

    rows = []
    seconds, files, windows, _ = timed(args.groove, cache_dir=False, workers=args.workers)
    rows.append(("parallel, no cache", seconds, files, windows))
    if not args.skip_serial:
        seconds, files, windows, _ = timed(args.groove, cache_dir=False, workers=1)
        rows.append(("serial (1 worker), no cache", seconds, files, windows))
    with tempfile.TemporaryDirectory() as cache:
        timed(args.groove, cache_dir=Path(cache), workers=args.workers)
        seconds, files, windows, hit = timed(args.groove, cache_dir=Path(cache))
        assert hit, "the second build should come from the cache"
        rows.append(("cached (second build)", seconds, files, windows))

    print(f"Groove MIDI Dataset at {args.groove}")
    for name, seconds, files, windows in rows:
        print(
            f"{name:30s} {seconds:7.2f} s  {files / seconds:8.1f} files/s"
            f"  {files} files  {windows} windows"
        )
    print(f"target: parallel build under 30 s -> {'OK' if rows[0][1] < 30 else 'TOO SLOW'}")


if __name__ == "__main__":
    main()
