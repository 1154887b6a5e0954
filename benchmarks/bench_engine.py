"""Benchmark: numpy generator inference (patterns per second), paper-size generator.

Run by hand: ``.venv/bin/python benchmarks/bench_engine.py [-n 10000] [--tfjs-model PATH]``.

The generator is the paper's (z 100, Dense 512/1024, LSTM 128/128/9; 802,152 parameters),
built from numpy (no TensorFlow) or read from ``--tfjs-model``. Baselines in this same process:
  * ``matmul floor``: the same matrix products the forward pass needs (dense layers, all
    LSTM input projections and the 32 recurrent products per LSTM), nothing else: the BLAS
    lower bound on this machine; the ratio shows what activations and bookkeeping add.
  * ``one at a time``: ``generate`` called per pattern (what an unbatched loop would cost).
Target: 10,000 patterns/s is the aim, issue 4 asks for >= 2,000 patterns/s end to end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rhythmcan_cli.engine import Generator
from rhythmcan_cli.formats.layers_model import read_layers_model
from tests.helpers import generator_layers_model


def best_of(fn: object, repeats: int = 3) -> float:
    """Fastest of ``repeats`` runs, in seconds (the machine is shared; take the quietest)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def matmul_floor(n: int) -> None:
    """Only the matrix products of one forward pass over ``n`` patterns (chunks of 4096)."""
    rng = np.random.default_rng(0)
    w = {
        k: rng.normal(size=s).astype(np.float32)
        for k, s in {
            "d1": (100, 512),
            "d2": (512, 1024),
            "k1": (32, 512),
            "r1": (128, 512),
            "k2": (128, 512),
            "r2": (128, 512),
            "k3": (128, 36),
            "r3": (9, 36),
        }.items()
    }
    for start in range(0, n, 4096):
        m = min(4096, n - start)
        z = np.ones((m, 100), np.float32)
        h = (z @ w["d1"]) @ w["d2"]
        x = h.reshape(m * 32, 32)
        for k, r in (("k1", "r1"), ("k2", "r2"), ("k3", "r3")):
            x @ w[k]
            units = w[r].shape[0]
            state = np.ones((m, units), np.float32)
            for _ in range(32):
                state @ w[r]
            x = np.ones((m * 32, units), np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--tfjs-model", type=Path, default=None)
    args = parser.parse_args()
    lm = (
        read_layers_model(args.tfjs_model)
        if args.tfjs_model
        else generator_layers_model(z_dim=100, dense=(512, 1024), lstm_units=128)
    )
    gen = Generator.from_layers_model(lm)
    z = np.random.default_rng(0).normal(size=(args.n, gen.z_dim)).astype(np.float32)
    gen.generate(z[:64])  # warm up
    engine = best_of(lambda: gen.generate(z))
    floor = best_of(lambda: matmul_floor(args.n))
    single_n = 200
    single = best_of(lambda: [gen.generate(z[i : i + 1]) for i in range(single_n)], 1)
    print(f"engine, batched     {args.n / engine:10.0f} patterns/s  ({engine:.2f} s for {args.n})")
    print(
        f"matmul floor        {args.n / floor:10.0f} patterns/s  (engine / floor = "
        f"{engine / floor:.2f}x)"
    )
    print(
        f"engine, one by one  {single_n / single:10.0f} patterns/s  (batched is "
        f"{(args.n / engine) / (single_n / single):.1f}x faster)"
    )


if __name__ == "__main__":
    main()
