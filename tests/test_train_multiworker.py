"""Two worker processes on 127.0.0.1 (TF_CONFIG, MultiWorkerMirroredStrategy) train like one.

Each worker takes its half of every global batch (``Trainer.distribute``); the per-replica
losses are averaged over the global batch and summed across workers, so both workers must
report the losses a single process computes on the whole batch. Plain-GAN mode and tiny
sizes keep it short; the distributed path is the same for every mode.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.conftest import subprocess_env

PROBE = r"""
import json, os
import numpy as np
import tensorflow as tf

strategy = (
    tf.distribute.MultiWorkerMirroredStrategy()
    if os.environ.get("TF_CONFIG")
    else tf.distribute.get_strategy()
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
keras.utils.set_random_seed(1)
trainer = Trainer("gan", 1, config, strategy)
found = []
for x, y, z_d, z_g in batches:
    d = trainer.d_step(x, y, z_d)
    g = trainer.g_step(y, z_g)
    found.append([d["d_loss"], d["d_acc"], g["g_loss"]])
print("RESULT=" + json.dumps({"losses": found, "replicas": trainer.replicas}), flush=True)
"""


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _result(stdout: str) -> dict[str, object]:
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT="))
    data: dict[str, object] = json.loads(line[len("RESULT=") :])
    return data


@pytest.mark.slow
def test_two_workers_on_loopback_report_the_single_process_losses() -> None:
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", PROBE],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env(
                TF_CPP_MIN_LOG_LEVEL="3",
                TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
            ),
        )
        for i in range(2)
    ]
    try:
        outputs = [worker.communicate(timeout=900) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr[-3000:]
    single = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
        timeout=900,
        check=False,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    alone = _result(single.stdout)
    assert alone["replicas"] == 1
    results = [_result(stdout) for stdout, _ in outputs]
    assert [r["replicas"] for r in results] == [2, 2]
    # Both workers see the same reduced (global) losses...
    flat = [[x for step in r["losses"] for x in step] for r in results]  # type: ignore[attr-defined]
    assert flat[0] == pytest.approx(flat[1], abs=1e-6)
    # ... and those of one process on the whole batch. The generator's BatchNorm sees 4
    # patterns per worker instead of 8, so the fakes differ slightly; the rest is the same.
    for a, b in zip(alone["losses"], results[0]["losses"], strict=True):  # type: ignore[call-overload]
        for x, y in zip(a, b, strict=True):
            assert abs(x - y) <= 2e-3 * max(1.0, abs(x)), (alone, results)
