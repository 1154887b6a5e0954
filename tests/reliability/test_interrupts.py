"""Interrupted and concurrent work with real processes and real signals.

SIGKILL and SIGINT during ``rhythmcan train`` (resume loses at most one checkpoint interval,
no half model is ever listed), a second ``train`` of the same name (the lock), SIGKILL during
dataset builds (the cache never holds a partial file) and during ``models import`` (no half
model), and ``models rm`` racing ``sample`` (a result or one clear line, never a traceback).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli import store
from tests.helpers import make_generator_files, make_stored_model
from tests.reliability.procs import (
    alive,
    assert_clean_failure,
    children,
    cli,
    error_lines,
    run_cli,
    start,
    wait_for,
    write_drum_folder,
)

TINY_TRAIN = [
    "--mode",
    "gan",
    "--batch-size",
    "8",
    "--validation",
    "0",
    "--checkpoint-every",
    "1",
    "--lstm-units",
    "4",
    "--dense",
    "8,32",
    "--d-lstm-units",
    "4",
    "--d-dense",
    "8",
    "--genre-lstm-units",
    "4",
    "--genre-dense",
    "8",
    "--d-steps",
    "1",
    "--seed",
    "7",
    "--quiet",
]


STARTUP_S = 300
"""How long a training process may take to start and log an epoch: TensorFlow's start-up
alone took over 60 s on a 2-core machine at load 12 (waits end as soon as the epoch is logged)."""


def metric_epochs(run: Path) -> list[int]:
    """Epochs logged in the run's metrics.jsonl (whole lines only)."""
    try:
        text = (run / "metrics.jsonl").read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [int(json.loads(line)["epoch"]) for line in text.splitlines() if line.endswith("}")]


def checkpoint_epoch(run: Path) -> int:
    """The epoch counter saved in the run's latest checkpoint (TensorFlow, in this process)."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(run / "checkpoints"))
    assert latest is not None, "no checkpoint"
    reader = tf.train.load_checkpoint(latest)
    names = [n for n in reader.get_variable_to_shape_map() if n.startswith("epoch/")]
    assert names, reader.get_variable_to_shape_map()
    return int(reader.get_tensor(names[0]))


def no_model_named(name: str) -> None:
    """Neither a usable nor a broken model ``name`` is listed, and no temp folder is visible."""
    listing = store.scan_models()
    assert name not in [m.name for m in listing.models]
    assert name not in [b.name for b in listing.broken]
    if store.models_dir().exists():
        assert not (store.models_dir() / name).exists()


@pytest.mark.slow
def test_train_killed_locked_interrupted_and_resumed(tmp_path: Path, isolated_home: Path) -> None:
    """One run through the whole story (TensorFlow starts four times, so it is one test)."""
    data = write_drum_folder(tmp_path / "data")
    run = isolated_home / "runs" / "r"
    base = ["train", str(data), "--name", "r", *TINY_TRAIN]

    # 1. A long run; while it trains, a second run of the same name gets the lock error.
    first = start(cli(*base, "--epochs", "100000"))
    wait_for(lambda: len(metric_epochs(run)) >= 1, STARTUP_S, "the first epoch", first)
    second = run_cli(*base, "--epochs", "3", "--force")
    line = assert_clean_failure(second)
    assert "already running" in line and "'r'" in line
    assert first.poll() is None, "the lock error must not disturb the running training"

    # 2. SIGKILL after a few checkpointed epochs: no model, the checkpoint survives.
    wait_for(lambda: len(metric_epochs(run)) >= 3, STARTUP_S, "three epochs", first)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    logged = max(metric_epochs(run))
    saved = checkpoint_epoch(run)
    assert logged - 1 <= saved <= logged  # at most one interval (1 epoch) lost
    no_model_named("r")
    listed = run_cli("models", "list", "--json")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr
    assert '"r"' not in listed.stdout

    # 3. Resume, then SIGINT while training: exit 130, one message, a checkpoint, no model.
    resumed = start(cli(*base, "--epochs", "100000", "--resume"))
    # the log may hold one epoch past the checkpoint: wait for an epoch beyond it
    wait_for(
        lambda: max(metric_epochs(run), default=0) > logged, STARTUP_S, "a resumed epoch", resumed
    )
    assert metric_epochs(run) == list(range(1, max(metric_epochs(run)) + 1))  # no gaps, no twins
    resumed.send_signal(signal.SIGINT)
    _, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 130, err
    assert "Traceback" not in err, err
    assert "interrupted" in err and "--resume" in err, err
    no_model_named("r")
    stopped_at = checkpoint_epoch(run)
    assert stopped_at >= max(metric_epochs(run))  # SIGINT saves the step it stopped at

    # 4. Finish: the model appears whole, trained from where SIGINT left off.
    target = stopped_at + 1
    done = run_cli(*base, "--epochs", str(target), "--resume", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["resumed_from_epoch"] == stopped_at and result["epochs"] == target
    assert metric_epochs(run) == list(range(1, target + 1))
    model = store.open_model("r")
    assert model.card.epochs == target
    assert model.generator().generate(np.zeros((1, model.generator().z_dim))).shape == (1, 32, 9)


BUILD_LOOP = r"""
import os, sys
from pathlib import Path
from rhythmcan_cli.dataset import build_dataset
data, cache = Path(sys.argv[1]), Path(sys.argv[2])
print("ready", flush=True)
while True:
    built = build_dataset(data, cache_dir=cache, workers=2)
    print("built", flush=True)
    if built.report.cache_file:
        os.remove(built.report.cache_file)  # build again: the next kill may hit the save
"""


def start_builder(data: Path, cache: Path) -> subprocess.Popen[str]:
    """A process building ``data`` in a loop (2 worker processes), in its own process group."""
    builder = start([*cli()[:1], "-c", BUILD_LOOP, str(data), str(cache)], session=True)
    assert builder.stdout is not None
    assert builder.stdout.readline().strip() == "ready"
    return builder


def test_killed_dataset_builds_never_leave_a_partial_cache(tmp_path: Path) -> None:
    """SIGKILL to the whole builder (process group) at random moments, six times."""
    from rhythmcan_cli.dataset import build_dataset
    from rhythmcan_cli.dataset.reading import SERIAL_BELOW

    files = SERIAL_BELOW // 3 + 1  # per genre: enough files for the worker pool
    data = write_drum_folder(tmp_path / "data", genres=("a", "b", "c"), files=files, patterns=6)
    reference = build_dataset(data, cache_dir=False, workers=1)
    cache = tmp_path / "cache"
    rng = random.Random(8)
    for _ in range(6):
        builder = start_builder(data, cache)
        time.sleep(rng.uniform(0.05, 1.0))
        os.killpg(builder.pid, signal.SIGKILL)
        builder.communicate(timeout=30)
        for cached in (cache / "datasets").glob("*.npz"):
            with np.load(cached, allow_pickle=False) as saved:  # whole or absent
                assert np.array_equal(saved["x"], reference.x)
                assert np.array_equal(saved["y"], reference.y)
    rebuilt = build_dataset(data, cache_dir=cache, workers=1)
    again = build_dataset(data, cache_dir=cache, workers=1)
    assert again.report.from_cache
    for built in (rebuilt, again):
        assert np.array_equal(built.x, reference.x) and built.files == reference.files
    visible = [p.name for p in (cache / "datasets").iterdir() if not p.name.startswith(".")]
    assert visible == [f"dataset-{reference.fingerprint}.npz"]


def ctrl_c_build(data: Path, cache: Path) -> tuple[int | None, str]:
    """Start ``data inspect``, Ctrl-C its process group once workers run; (exit, stderr).

    Exit None: still running 5 s later (it was then killed). Fails if a worker outlives it.
    """
    proc = start(cli("data", "inspect", str(data), "--quiet"), session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not children(proc.pid):
            if proc.poll() is not None:  # the build finished before a worker was seen
                return proc.returncode, proc.communicate()[1]
            assert time.monotonic() < deadline, "no worker process appeared in 60 s"
            time.sleep(0.02)
        workers = children(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
        try:
            _, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            return None, "hang"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(pid) for pid in workers):
            time.sleep(0.05)
        assert [pid for pid in workers if alive(pid)] == [], "workers outlived Ctrl-C"
        return proc.returncode, err
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)


def test_ctrl_c_during_a_parallel_build_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    """Ctrl-C mid-build, up to six times: 130 and 'interrupted', no traceback, no cache."""
    from rhythmcan_cli.dataset.reading import SERIAL_BELOW

    files = SERIAL_BELOW // 2 + 10
    data = write_drum_folder(tmp_path / "data", genres=("a", "b"), files=files, patterns=24)
    cache = Path(os.environ["RHYTHMCAN_CACHE"])
    for _ in range(6):
        code, err = ctrl_c_build(data, cache)
        assert code is not None, "data inspect still running 5 s after Ctrl-C"
        assert "Traceback" not in err, err
        if code == 130:
            assert error_lines(err) == ["interrupted"], err
            assert not list(cache.glob("datasets/*.npz"))
        else:  # the build won the race: then the cache holds it whole
            assert code == 0, err
            for cached in cache.glob("datasets/*.npz"):
                with np.load(cached, allow_pickle=False) as saved:
                    assert saved["x"].shape[1:] == (32, 9)
                cached.unlink()


def test_killing_the_builder_leaves_no_orphan_workers(tmp_path: Path) -> None:
    from rhythmcan_cli.dataset.reading import SERIAL_BELOW

    files = SERIAL_BELOW // 2 + 1
    data = write_drum_folder(tmp_path / "data", genres=("a", "b"), files=files, patterns=40)
    builder = start_builder(data, tmp_path / "cache")
    workers: list[int] = []
    try:
        wait_for(lambda: len(children(builder.pid)) >= 2, 30, "the worker processes", builder)
        workers = children(builder.pid)
        builder.send_signal(signal.SIGKILL)  # the parent only, as the OOM killer would
        builder.wait(timeout=30)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(alive(pid) for pid in workers):
            time.sleep(0.1)
        survivors = [pid for pid in workers if alive(pid)]
    finally:
        for pid in workers:  # never leave them behind, whatever the outcome
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(builder.pid, signal.SIGKILL)
        builder.communicate(timeout=30)
    assert survivors == [], f"orphaned pool workers {survivors}"


def test_killed_models_import_never_lists_a_half_model(tmp_path: Path) -> None:
    make_generator_files(tmp_path, seed=4, tiny=False)  # paper sizes: a write worth killing
    source = tmp_path / "generator" / "model.json"
    rng = random.Random(3)
    outcomes = {"imported": 0, "absent": 0}
    for attempt in range(4):
        proc = start(
            cli("models", "import", str(source), "--name", "imp", "--kind", "can", "--force")
        )
        time.sleep(rng.uniform(0.3, 1.2) if attempt else 0.05)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        listing = store.scan_models()
        assert listing.broken == [], listing.broken
        if "imp" in [m.name for m in listing.models]:
            model = store.open_model("imp")  # verifies every checksum
            assert model.generator().z_dim == 100
            outcomes["imported"] += 1
        else:
            outcomes["absent"] += 1
    done = run_cli("models", "import", str(source), "--name", "imp", "--kind", "can", "--force")
    assert done.returncode == 0, done.stderr
    store.open_model("imp").generator()
    hidden = [p for p in store.models_dir().iterdir() if p.name.startswith(".")]
    assert hidden == [], hidden  # killed writers' temp folders are cleaned on the next write
    assert sum(outcomes.values()) == 4


def test_models_rm_while_sample_reads_gives_a_result_or_one_line(tmp_path: Path) -> None:
    make_stored_model("shared")
    files = [make_generator_files(seed=s) for s in (1, 2)]
    card = store.open_model("shared").card
    stop = threading.Event()
    rounds = [0]

    def churn() -> None:
        while not stop.is_set():
            store.remove_model("shared")
            time.sleep(0.002)
            store.save_model("shared", card, files[rounds[0] % 2])
            rounds[0] += 1

    churner = threading.Thread(target=churn)
    churner.start()
    results: list[tuple[int, str, str]] = []
    try:
        procs = [
            start(
                cli(
                    "sample",
                    "--model",
                    "shared",
                    "-n",
                    "2",
                    "--seed",
                    str(i),
                    "-o",
                    "-",
                    "--format",
                    "json",
                )
            )
            for i in range(6)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            results.append((proc.returncode, out, err))
    finally:
        stop.set()
        churner.join()
    assert rounds[0] > 0
    for code, out, err in results:
        if code == 0:
            lines = out.strip().splitlines()
            assert len(lines) == 2 and all(json.loads(line)["model"] for line in lines)
        else:
            line = assert_clean_failure((code, err))
            assert "shared" in line, line
    assert all(len(error_lines(err)) <= 1 for _, _, err in results)
