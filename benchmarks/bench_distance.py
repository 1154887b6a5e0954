"""Benchmark: the paper's distance table, vectorised vs the original per-pair approach.

Run by hand: ``.venv/bin/python benchmarks/bench_distance.py [--data DIR --labels CSV]``.

The original approach makes one Python-level OSA call per pair of patterns per
instrument. Both baselines run in this same process on a subset:
  * ``per-call``: rapidfuzz's C OSA called once per pair per instrument (a fast original),
  * ``pure Python``: the textbook dynamic programme (``distance.osa_reference``).
The vectorised path (``distance.distance_matrix``) then computes the full 1,000 x 20,000
matrix and the time per pair is compared. Target: >= 30x over ``per-call``.

Without --data the sets are random patterns with Groove-like per-instrument densities;
random rows are nearly all distinct, which is the worst case for the vectorised path
(real data repeats rows and is faster).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from rhythmcan_cli.evaluation import distance

DENSITY = np.array([0.2, 0.15, 0.45, 0.08, 0.04, 0.03, 0.03, 0.03, 0.15])


def synthetic(n: int, seed: int) -> np.ndarray:
    """Random patterns with per-instrument hit probabilities like real drumming."""
    rng = np.random.default_rng(seed)
    hits = rng.random((n, 32, 9)) < DENSITY
    return (hits * rng.uniform(0.3, 1.0, hits.shape)).astype(np.float32)


def real(data: Path, labels: Path | None, n_train: int) -> np.ndarray:
    """Up to ``n_train`` real windows from a MIDI folder (needs rhythmcan_cli.dataset)."""
    from rhythmcan_cli.dataset import build_dataset

    dataset = build_dataset(data, labels_csv=labels)
    x = dataset.x
    if len(x) < n_train:
        reps = -(-n_train // len(x))
        x = np.concatenate([x] * reps)
    return np.asarray(x[:n_train], dtype=np.float32)


def per_call(a: np.ndarray, b: np.ndarray) -> float:
    """Seconds per pair: one rapidfuzz OSA call per pair per instrument."""
    from rapidfuzz.distance import OSA

    ha = [["".join("1" if v else "0" for v in row) for row in (p > 0.25).T] for p in a]
    hb = [["".join("1" if v else "0" for v in row) for row in (p > 0.25).T] for p in b]
    start = time.perf_counter()
    total = 0
    for x in ha:
        for y in hb:
            for k in range(9):
                total += OSA.distance(x[k], y[k])
    return (time.perf_counter() - start) / (len(a) * len(b))


def pure_python(a: np.ndarray, b: np.ndarray) -> float:
    """Seconds per pair with the plain dynamic programme."""
    start = time.perf_counter()
    for x in a:
        for y in b:
            distance.pattern_distance_reference(x, y)
    return (time.perf_counter() - start) / (len(a) * len(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="MIDI folder for real training patterns")
    parser.add_argument("--labels", type=Path, help="labels CSV for --data")
    parser.add_argument("-n", type=int, default=1000, help="generated patterns")
    parser.add_argument("--train", type=int, default=20000, help="training patterns")
    args = parser.parse_args()

    generated = synthetic(args.n, 0)
    training = real(args.data, args.labels, args.train) if args.data else synthetic(args.train, 1)
    print(f"cores: {os.cpu_count()}  generated: {len(generated)}  training: {len(training)}")

    # The machine is shared: interleave the measurements and keep each one's best of 3.
    slow_call = fast = full = nearest = mean = float("inf")
    for _ in range(3):
        slow_call = min(slow_call, per_call(generated[:100], training[:1000]))
        start = time.perf_counter()
        matrix = distance.distance_matrix(generated, training)
        full = min(full, time.perf_counter() - start)
        fast = full / matrix.size
    slow_py = pure_python(generated[:4], training[:25])
    start = time.perf_counter()
    distance.nearest_distances(generated, training)
    nearest = time.perf_counter() - start
    start = time.perf_counter()
    distance.mean_distance(generated, training)
    mean = time.perf_counter() - start

    # Same answers on the subset the baselines used.
    for i in range(3):
        for j in range(3):
            assert matrix[i, j] == distance.pattern_distance_reference(generated[i], training[j])

    pairs = matrix.size
    print(
        f"vectorised full {len(generated)} x {len(training)} matrix: {full:.2f} s "
        f"({fast * 1e9:.1f} ns/pair); nearest neighbours {nearest:.2f} s; mean {mean:.2f} s"
    )
    print(
        f"per-call baseline (rapidfuzz OSA per pair per instrument): "
        f"{slow_call * 1e6:.2f} us/pair -> full table would take {slow_call * pairs:.0f} s; "
        f"speed-up {slow_call / fast:.0f}x"
    )
    print(
        f"pure-Python baseline: {slow_py * 1e6:.0f} us/pair -> full table would take "
        f"{slow_py * pairs / 3600:.1f} h; speed-up {slow_py / fast:.0f}x"
    )
    print(f"RATIO (per-call / vectorised) = {slow_call / fast:.1f}x  (target >= 30x)")


if __name__ == "__main__":
    main()
