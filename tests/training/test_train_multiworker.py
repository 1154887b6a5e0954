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

import pytest

from tests.conftest import subprocess_env
from tests.training.tiny_trainer_probe import probe_command, probe_result, run_probe


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.slow
def test_two_workers_on_loopback_report_the_single_process_losses() -> None:
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [
        subprocess.Popen(
            probe_command("worker"),
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
    alone = run_probe("worker", subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"), timeout=900)
    assert alone["replicas"] == 1
    results = [probe_result(stdout) for stdout, _ in outputs]
    assert [r["replicas"] for r in results] == [2, 2]
    # Both workers see the same reduced (global) losses...
    flat = [[x for step in r["losses"] for x in step] for r in results]
    assert flat[0] == pytest.approx(flat[1], abs=1e-6)
    # ... and those of one process on the whole batch. The generator's BatchNorm sees 4
    # patterns per worker instead of 8, so the fakes differ slightly; the rest is the same.
    for a, b in zip(alone["losses"], results[0]["losses"], strict=True):
        for x, y in zip(a, b, strict=True):
            assert abs(x - y) <= 2e-3 * max(1.0, abs(x)), (alone, results)
