"""Two training steps of a tiny plain-GAN trainer, run in a fresh process by the strategy tests.

A distribution strategy must be set up before TensorFlow does anything else (logical devices,
``TF_CONFIG``), so the tests run this file in a subprocess: ``python tiny_trainer_probe.py
MODE``. It prints one line ``RESULT=<json>`` that :func:`probe_result` reads back.

- ``mirrored``: splits the CPU into two logical devices and reports the losses of one device
  (``single``) and of a MirroredStrategy over both (``mirrored``), with their replica counts.
- ``worker``: a MultiWorkerMirroredStrategy when ``TF_CONFIG`` is set, else the default
  strategy; reports that process's ``losses`` and ``replicas``.

Each step's losses are ``[d_loss, d_acc, g_loss]``. Plain-GAN mode and tiny sizes keep it
quick; the distributed path is the same for every mode. Fixed data and seeds make every run
see the same batches and initial weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

MODES = ("mirrored", "worker")
PREFIX = "RESULT="


def probe_command(mode: str) -> list[str]:
    """The command line that runs this probe in ``mode`` with the current interpreter."""
    if mode not in MODES:
        raise ValueError(f"unknown probe mode {mode!r}; modes: {', '.join(MODES)}")
    return [sys.executable, str(Path(__file__).resolve()), mode]


def probe_result(stdout: str) -> dict[str, Any]:
    """The JSON object of the probe's ``RESULT=`` line in ``stdout``."""
    line = next(x for x in stdout.splitlines() if x.startswith(PREFIX))
    data: dict[str, Any] = json.loads(line[len(PREFIX) :])
    return data


def run_probe(mode: str, env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run the probe to its end; its result, or an AssertionError with the tail of stderr."""
    done = subprocess.run(
        probe_command(mode), capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return probe_result(done.stdout)


def _two_steps(strategy: Any) -> tuple[list[list[float]], int]:
    """Losses of two d/g steps on fixed batches under ``strategy``, and its replica count."""
    import keras

    from rhythmcan_cli.training.config import TrainConfig
    from rhythmcan_cli.training.steps import Trainer
    from tests.helpers import TINY_TRAINER

    config = TrainConfig(**TINY_TRAINER, dropout=0.0)
    rng = np.random.default_rng(0)
    batches = [
        (
            (rng.random((8, 32, 9)) > 0.8).astype(np.float32),
            np.zeros(8, np.int32),
            rng.normal(0, 0.5, (8, 100)).astype(np.float32),
            rng.normal(0, 0.5, (8, 100)).astype(np.float32),
        )
        for _ in range(2)
    ]
    keras.utils.set_random_seed(1)
    trainer = Trainer("gan", 1, config, strategy)
    found = []
    for x, y, z_d, z_g in batches:
        d = trainer.d_step(x, y, z_d)
        g = trainer.g_step(y, z_g)
        found.append([d["d_loss"], d["d_acc"], g["g_loss"]])
    return found, trainer.replicas


def _mirrored() -> dict[str, Any]:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    single, n1 = _two_steps(tf.distribute.get_strategy())
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    mirrored, n2 = _two_steps(tf.distribute.MirroredStrategy(devices))
    return {"single": single, "mirrored": mirrored, "replicas": [n1, n2]}


def _worker() -> dict[str, Any]:
    import tensorflow as tf

    strategy = (
        tf.distribute.MultiWorkerMirroredStrategy()
        if os.environ.get("TF_CONFIG")
        else tf.distribute.get_strategy()
    )
    losses, replicas = _two_steps(strategy)
    return {"losses": losses, "replicas": replicas}


def main(argv: list[str]) -> None:
    """Run the mode named in ``argv`` and print its result line."""
    if len(argv) != 1 or argv[0] not in MODES:
        raise SystemExit(f"usage: tiny_trainer_probe.py {{{'|'.join(MODES)}}}")
    result = _mirrored() if argv[0] == "mirrored" else _worker()
    print(PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
