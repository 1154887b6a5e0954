"""Benchmark: a full `evaluate` of one model against Groove, every section, bundled judge.

Run by hand (2 cores): ``.venv/bin/python benchmarks/bench_evaluate.py [GROOVE_DIR]
[--model default-can] [-n 1000] [--repeat 2]``.

Target: <= 15 s for 1,000 patterns against the Groove MIDI Dataset (9 genres, beats,
~18,500 windows) with every section: the paper's table, novelty, texture, descriptors,
ambiguity with the judge's calibration and genre-following. The dataset comes from the
cache (as in any second run); TensorFlow's import and the judge's load are counted once,
in the first run, and reported apart. Prints the wall time of each stage (from the
progress callback), the total wall time and the process's CPU time (all threads; on a
shared, loaded machine the CPU time divided by the cores is the fairer figure).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rhythmcan_cli.dataset import build_dataset
from rhythmcan_cli.dataset import groove as recipe
from rhythmcan_cli.evaluation.protocol import evaluate
from rhythmcan_cli.progress import ProgressEvent
from rhythmcan_cli.store import open_model


class Stages:
    """Wall time from each stage's first progress event to the next stage's."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.start: dict[str, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if event.task not in self.start:
            self.order.append(event.task)
            self.start[event.task] = time.perf_counter()

    def durations(self, end: float) -> dict[str, float]:
        marks = [self.start[t] for t in self.order] + [end]
        return {t: marks[i + 1] - marks[i] for i, t in enumerate(self.order)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "groove", nargs="?", default=recipe.default_dir(Path(__file__).resolve().parents[1])
    )
    parser.add_argument("--model", default="default-can")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    groove = Path(args.groove)
    started = time.perf_counter()
    data = build_dataset(groove, **recipe.dataset_options(groove))
    print(f"dataset: {len(data)} windows in {time.perf_counter() - started:.2f} s (cache)")
    model = open_model(args.model)
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    for run in range(args.repeat):
        stages = Stages()
        started, cpu = time.perf_counter(), time.process_time()
        report = evaluate(
            model, data, n=args.n, seed=1, classifier="default-classifier", progress=stages
        )
        end, cpu = time.perf_counter(), time.process_time() - cpu
        shown = ", ".join(f"{t} {s:.2f}" for t, s in stages.durations(end).items())
        label = "first (TensorFlow import + judge load)" if run == 0 else "warm"
        print(f"run {run + 1} {label}: {end - started:.2f} s wall, {cpu:.2f} s CPU  [{shown}]")
        assert report.ambiguity is not None and report.texture


if __name__ == "__main__":
    main()
