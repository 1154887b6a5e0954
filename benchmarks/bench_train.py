"""Milliseconds per Creative-GAN training step (one D step + one G step), batch 64, default sizes.

Compares rhythmcan's tf.function steps with a straightforward Keras loop of the SAME models
measured in the same process: ``G.predict_on_batch`` for the fakes, ``train_on_batch`` on D
(real batch with genre labels, fake batch), and ``train_on_batch`` on a combined G -> D model
with D's ``trainable`` flag toggled off (the Keras 2 GAN idiom). Then estimates the epoch
time on the Groove MIDI Dataset (one D step per batch, one G step every 3 batches).

Then compares the recipes' loops in the same process (``--recipes``, on by default): for
``paper`` (3 D steps per G step, one real+fake pass) and ``tuned`` (1 D step per G step,
minibatch-stddev D in two passes, instance noise, a second optimizer for the genre head) it
reports CPU and wall milliseconds per D and G step, **G updates per CPU-second** and the wall
time of a Groove epoch; and the cost of reading the metrics back to Python after every step
(the host sync the loss-ratio pause needs) against leaving them as tensors.

    .venv/bin/python benchmarks/bench_train.py [--steps 10] [--repeats 5] [--groove DIR]
                                               [--no-baseline] [--no-recipes]
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from pathlib import Path

import numpy as np

from rhythmcan_cli.dataset import groove as groove_recipe

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
GROOVE = groove_recipe.default_dir(ROOT)
K = 9
BATCH = 64


def groove_windows(groove: Path) -> int | None:
    """Training windows of the Groove dataset (90 % of files; built or read from the cache)."""
    if not (groove / "info.csv").is_file():
        return None
    from rhythmcan_cli.dataset import build_dataset, split_by_file

    data = build_dataset(groove, labels_csv=groove / "info.csv")
    train, _ = split_by_file(data, validation=0.1, seed=0)
    return len(train)


def best_ms(fn: object, steps: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` mean milliseconds per call over ``steps`` calls."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(steps):
            fn()  # type: ignore[operator]
        best = min(best, (time.perf_counter() - started) / steps * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed round")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (best counts)")
    parser.add_argument("--groove", type=Path, default=GROOVE)
    parser.add_argument("--no-baseline", action="store_true", help="skip train_on_batch")
    parser.add_argument("--no-recipes", action="store_true", help="skip the recipe loops")
    args = parser.parse_args()
    if not args.no_baseline:
        baseline(args)
    if not args.no_recipes:
        recipes(args)


def cpu_wall_ms(fn: object, steps: int, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` (CPU ms, wall ms) per call: CPU counts every thread of the process."""
    best_cpu = best_wall = float("inf")
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(steps):
            fn()  # type: ignore[operator]
        best_cpu = min(best_cpu, (time.process_time() - cpu) / steps * 1000)
        best_wall = min(best_wall, (time.perf_counter() - wall) / steps * 1000)
    return best_cpu, best_wall


def recipes(args: argparse.Namespace) -> None:
    """The paper's loop and the tuned recipe's loop, same process, same batch (can mode)."""
    import keras
    import tensorflow as tf

    from rhythmcan_cli.training.config import TrainConfig
    from rhythmcan_cli.training.steps import Trainer

    rng = np.random.default_rng(0)
    x = (rng.random((BATCH, 32, 9)) > 0.8).astype(np.float32)
    y = rng.integers(0, K, BATCH).astype(np.int32)
    z = rng.normal(0, 0.5, (BATCH, 100)).astype(np.float32)
    windows = groove_windows(args.groove) or 18_000
    batches = windows // BATCH
    print(f"recipe loops (can, batch {BATCH}, {batches} batches per Groove epoch):")
    for recipe in ("paper", "tuned"):
        keras.utils.set_random_seed(0)
        config = TrainConfig.for_recipe(recipe)
        t = Trainer("can", K, config, tf.distribute.get_strategy(), np.ones(K, np.float32))
        t.d_step(x, y, z, 1.0)
        t.g_step(y, z, 1.0)
        d_fn = functools.partial(t.d_step, x, y, z, 1.0)
        g_fn = functools.partial(t.g_step, y, z, 1.0)
        raw_fn = functools.partial(t._d_fn, *t.distribute(x, y, z), tf.constant(1.0))
        d_cpu, d_wall = cpu_wall_ms(d_fn, args.steps, args.repeats)
        g_cpu, g_wall = cpu_wall_ms(g_fn, args.steps, args.repeats)
        raw_cpu, raw_wall = cpu_wall_ms(raw_fn, args.steps, args.repeats)
        per_g_cpu = config.d_steps * d_cpu + g_cpu
        epoch = (batches * d_wall + batches / config.d_steps * g_wall) / 1000
        print(
            f"  {recipe:5s}: D {d_cpu:6.1f} ms CPU / {d_wall:6.1f} ms wall, "
            f"G {g_cpu:6.1f} / {g_wall:6.1f}; {config.d_steps} D per G: "
            f"{1000 / per_g_cpu:.2f} G updates per CPU-second; epoch {epoch:.0f} s wall "
            f"({batches // config.d_steps} G updates); D step without the metrics read-back "
            f"{raw_cpu:6.1f} ms CPU / {raw_wall:6.1f} ms wall"
        )


def baseline(args: argparse.Namespace) -> None:
    """Ours against a train_on_batch loop of the same models (the paper's recipe)."""

    import keras
    import tensorflow as tf

    from rhythmcan_cli.training.config import TrainConfig
    from rhythmcan_cli.training.steps import Trainer

    rng = np.random.default_rng(0)
    x = (rng.random((BATCH, 32, 9)) > 0.8).astype(np.float32)
    y = rng.integers(0, K, BATCH).astype(np.int32)
    z = rng.normal(0, 0.5, (BATCH, 100)).astype(np.float32)

    # --- ours: tf.function steps
    keras.utils.set_random_seed(0)
    trainer = Trainer("can", K, TrainConfig(), tf.distribute.get_strategy())
    trainer.d_step(x, y, z)
    trainer.g_step(y, z)

    # --- baseline: the same models in a train_on_batch loop
    from rhythmcan_cli.training.losses import ambiguity_weight
    from rhythmcan_cli.training.networks import build_can_discriminator, build_generator

    keras.utils.set_random_seed(0)
    g = build_generator()
    d = build_can_discriminator(K)
    w = ambiguity_weight(K)
    d.compile(
        optimizer=keras.optimizers.Adam(1e-5),
        loss=["binary_crossentropy", "sparse_categorical_crossentropy"],
        loss_weights=[1.0, w],
    )
    d_real_fake = keras.Model(d.input, d.outputs[0])
    d_real_fake.compile(optimizer=keras.optimizers.Adam(1e-5), loss="binary_crossentropy")
    z_in = keras.Input((100,))
    combined = keras.Model(z_in, d(g(z_in)))
    combined.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=["binary_crossentropy", "categorical_crossentropy"],  # CE(uniform, p) = L_amb
        loss_weights=[1.0, w],
    )
    ones, zeros = np.ones((BATCH, 1), np.float32), np.zeros((BATCH, 1), np.float32)
    uniform = np.full((BATCH, K), 1.0 / K, np.float32)

    def base_d() -> None:
        d.trainable = True
        fake = g.predict_on_batch(z)
        d.train_on_batch(x, [ones, y])
        d_real_fake.train_on_batch(fake, zeros)

    def base_g() -> None:
        d.trainable = False
        combined.train_on_batch(z, [ones, uniform])

    base_d()
    base_g()
    base_d()
    base_g()
    # Interleave the four measurements, best of ``repeats`` each: the machine is shared.
    timings: dict[str, float] = {}
    runs = {
        "ours_d": lambda: trainer.d_step(x, y, z),
        "ours_g": lambda: trainer.g_step(y, z),
        "base_d": base_d,
        "base_g": base_g,
    }
    for _ in range(args.repeats):
        for key, fn in runs.items():
            timings[key] = min(timings.get(key, float("inf")), best_ms(fn, args.steps, 1))
    ours_d, ours_g = timings["ours_d"], timings["ours_g"]
    base_d_ms, base_g_ms = timings["base_d"], timings["base_g"]

    ours = ours_d + ours_g
    base = base_d_ms + base_g_ms
    print(
        f"device: {'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}, "
        f"{os.cpu_count()} cores, batch {BATCH}, default sizes, K={K}"
    )
    print(f"ours (tf.function):      D {ours_d:7.1f} ms  G {ours_g:7.1f} ms  D+G {ours:7.1f} ms")
    print(
        f"train_on_batch baseline: D {base_d_ms:7.1f} ms  G {base_g_ms:7.1f} ms  D+G {base:7.1f} ms"
    )
    print(f"speed-up per D+G step: {base / ours:.2f}x")
    windows = groove_windows(args.groove)
    if windows is not None:
        batches = windows // BATCH
        epoch_ours = (batches * ours_d + batches / 3 * ours_g) / 1000
        epoch_base = (batches * base_d_ms + batches / 3 * base_g_ms) / 1000
        print(
            f"Groove epoch ({windows} training windows, {batches} batches, 3 D steps per G step, "
            f"extrapolated): ours {epoch_ours:.0f} s, baseline {epoch_base:.0f} s "
            f"({epoch_base / epoch_ours:.2f}x)"
        )


if __name__ == "__main__":
    main()
