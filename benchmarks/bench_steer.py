"""Benchmark steering (`sample --like`, `--keep`) on the bundled models (run by hand).

    .venv/bin/python benchmarks/bench_steer.py [--targets 100] [--model default-can]

Wall time depends on what else runs; CPU time (``time.process_time``) is also printed: the
engine runs on one thread, so on an idle machine wall time is about the CPU time.

1. ``--like``: ``--targets`` real 2-bar windows of the Groove MIDI Dataset (../shared/data,
   one window per file from a seeded draw of files) as targets. For each: the distance of
   the pattern found, the median distance of the random samples the search starts from,
   and the wall and CPU time. Targets: the median target's ratio (found / random median)
   <= 0.5 (every target cannot: some grooves are far from anything a model makes, so the
   summary also counts the targets at <= 0.5 on their own); <= 2 s per target.
2. ``--keep kick,snare``: selecting among 2,048 candidates (generation included) on a
   pattern of the model; the kept rows must be bit-identical. Target: <= 1 s.

Prints one JSON object per line and a summary; the figures in docs/user-guide.md came
from this script.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rhythmcan_cli.dataset import groove as groove_recipe  # noqa: E402
from rhythmcan_cli.grid import STEPS_PER_BAR  # noqa: E402
from rhythmcan_cli.midi import read_midi_windows  # noqa: E402
from rhythmcan_cli.sampling.steer import (  # noqa: E402
    LoadedModel,
    Steering,
    Target,
    like,
    steer,
)
from rhythmcan_cli.store import open_model  # noqa: E402

GROOVE = groove_recipe.default_dir(ROOT)


def groove_targets(count: int, seed: int, groove: Path = GROOVE) -> list[Target]:
    """``count`` windows, one from each of ``count`` randomly drawn 4/4 beat files."""
    files = sorted(p for p in groove.rglob("*.mid") if "beat_4-4" in p.name)
    if not files:
        raise SystemExit(f"no Groove MIDI files under {groove}")
    rng = np.random.default_rng(seed)
    targets: list[Target] = []
    for index in rng.permutation(len(files)):
        windows = read_midi_windows(files[index], hop=STEPS_PER_BAR).windows
        if not len(windows):
            continue
        pick = int(rng.integers(len(windows)))
        targets.append(Target(windows[pick], 0.0, f"{files[index].name} bar {pick + 1}"))
        if len(targets) == count:
            break
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--model", default="default-can")
    parser.add_argument("--genre", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-like", action="store_true")
    parser.add_argument("--groove", type=Path, default=GROOVE, help="the Groove 'groove' folder")
    args = parser.parse_args()
    model = LoadedModel.of(open_model(args.model))
    model.generator()  # loaded once, as in one CLI call

    ratios: list[float] = []
    found_distances: list[int] = []
    random_medians: list[float] = []
    nearer_than_empty = 0
    times: list[float] = []
    cpu: list[float] = []
    if not args.skip_like:
        for i, target in enumerate(groove_targets(args.targets, args.seed, args.groove)):
            start, start_cpu = time.perf_counter(), time.process_time()
            found = like(model, target, seed=args.seed + i, genre=args.genre, fit_thresholds=True)
            elapsed = time.perf_counter() - start
            cpu.append(time.process_time() - start_cpu)
            ratio = found.distance / max(found.random_median, 1e-9)
            empty = int(target.hits_at(0.2).sum())  # the distance of an empty pattern
            ratios.append(ratio)
            found_distances.append(found.distance)
            random_medians.append(found.random_median)
            nearer_than_empty += found.distance < empty
            times.append(elapsed)
            print(
                json.dumps(
                    {
                        "target": target.label,
                        "found": found.distance,
                        "random_median": found.random_median,
                        "empty": empty,
                        "ratio": round(ratio, 3),
                        "seconds": round(elapsed, 3),
                        "cpu_seconds": round(cpu[-1], 3),
                        "evaluated": found.evaluated,
                    }
                ),
                flush=True,
            )
        print(
            f"like: {len(ratios)} targets, median ratio {statistics.median(ratios):.3f}, "
            f"mean ratio {statistics.mean(ratios):.3f}, "
            f"{sum(r <= 0.5 for r in ratios)} of {len(ratios)} at <= 0.5, range "
            f"{min(ratios):.3f}-{max(ratios):.3f}; median found "
            f"{statistics.median(found_distances)} vs median random median "
            f"{statistics.median(random_medians)}; "
            f"{nearer_than_empty} nearer than an empty pattern; wall median "
            f"{statistics.median(times):.2f} s, max {max(times):.2f} s; CPU median "
            f"{statistics.median(cpu):.2f} s, max {max(cpu):.2f} s per target"
        )

    anchor = steer(model, seed=args.seed, genre=args.genre).patterns[0]
    keep_times = []
    keep_cpu = []
    for repeat in range(5):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = steer(
            model,
            n=4,
            seed=repeat,
            vary=anchor,
            noise=1.0,
            genre=args.genre,
            steering=Steering(keep=(0, 1), candidates=2048),
        )
        keep_times.append(time.perf_counter() - start)
        keep_cpu.append(time.process_time() - start_cpu)
        for pattern in result.patterns:
            assert np.array_equal(pattern.values[:, :2], anchor.values[:, :2])
    print(
        f"keep: 2,048 candidates, kept rows bit-identical; median "
        f"{statistics.median(keep_times):.2f} s, min {min(keep_times):.2f} s; CPU median "
        f"{statistics.median(keep_cpu):.2f} s"
    )


if __name__ == "__main__":
    main()
