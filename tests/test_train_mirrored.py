"""MirroredStrategy over two logical CPU devices gives the single-device losses (subprocess).

Plain-GAN mode keeps it quick; the distributed code path (per-replica steps, global-batch
loss averaging, SUM reduction, mirrored optimizer updates) is the same for every mode.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import subprocess_env

PROBE = r"""
import json
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
import keras
from rhythmcan_cli.training.config import TrainConfig
from rhythmcan_cli.training.steps import Trainer

config = TrainConfig(
    batch_size=8, dense=(16, 32), lstm_units=8, d_lstm_units=4, d_dense_units=8,
    genre_lstm_units=4, genre_dense_units=8, dropout=0.0,
)
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

def losses(strategy):
    keras.utils.set_random_seed(1)
    trainer = Trainer("gan", 1, config, strategy)
    found = []
    for x, y, z_d, z_g in batches:
        d = trainer.d_step(x, y, z_d)
        g = trainer.g_step(y, z_g)
        found.append([d["d_loss"], d["d_acc"], g["g_loss"]])
    return found, trainer.replicas

single, n1 = losses(tf.distribute.get_strategy())
devices = [d.name for d in tf.config.list_logical_devices("CPU")]
mirrored, n2 = losses(tf.distribute.MirroredStrategy(devices))
print("RESULT=" + json.dumps({"single": single, "mirrored": mirrored, "replicas": [n1, n2]}))
"""


def test_two_steps_under_mirrored_strategy_match_single_device() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT="))
    result = json.loads(line[len("RESULT=") :])
    assert result["replicas"] == [1, 2]
    single, mirrored = result["single"], result["mirrored"]
    for a, b in zip(single, mirrored, strict=True):
        for x, y in zip(a, b, strict=True):
            # The generator's BatchNorm sees 4 patterns per replica instead of 8, so the
            # fakes (and the losses) differ slightly; everything else is the same arithmetic.
            assert abs(x - y) <= 2e-3 * max(1.0, abs(x)), (single, mirrored)
