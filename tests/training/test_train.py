"""Training library: the ambiguity loss, which variables each step moves, resume, interruption."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from rhythmcan_cli import store
from rhythmcan_cli.dataset import Dataset, DatasetReport
from rhythmcan_cli.errors import DataError, StoreError, UsageError
from rhythmcan_cli.progress import ProgressEvent
from rhythmcan_cli.training import losses
from rhythmcan_cli.training.config import TrainConfig
from rhythmcan_cli.training.steps import Trainer
from rhythmcan_cli.training.train import train
from tests.helpers import TINY_TRAINER

TINY = TrainConfig(**TINY_TRAINER, seed=3, validation=0.25)


def synthetic(n_genres: int = 3, files: int = 8, per_file: int = 4, seed: int = 0) -> Dataset:
    """Windows whose genre shows in which rows are busy, spread over whole files."""
    rng = np.random.default_rng(seed)
    n = files * per_file
    file_ids = np.repeat(np.arange(files, dtype=np.int32), per_file)
    y = (file_ids % n_genres).astype(np.int32)
    x = (rng.random((n, 32, 9)) > 0.85).astype(np.float32) * 0.8
    x[np.arange(n), ::4, y] = 1.0
    genres = tuple(f"g{i}" for i in range(n_genres))
    report = DatasetReport(
        data_dir="synthetic",
        labels_csv=None,
        files_found=files,
        files_read=files,
        skipped=(),
        windows_per_genre={g: int((y == i).sum()) for i, g in enumerate(genres)},
        files_per_genre={},
        unmapped={},
        notes=0,
        options={},
    )
    return Dataset(
        x=x,
        y=y,
        genres=genres,
        file_ids=file_ids,
        files=tuple(f"f{i}.mid" for i in range(files)),
        report=report,
        fingerprint=f"synthetic-{n_genres}-{files}-{per_file}-{seed}",
    )


# ------------------------------------------------------------------ losses


@pytest.mark.parametrize("k", [2, 3, 9])
def test_ambiguity_loss_is_ln_k_at_the_uniform_posterior(k: int) -> None:
    uniform = tf.fill((4, k), 1.0 / k)
    assert np.allclose(losses.ambiguity_loss(uniform).numpy(), math.log(k), atol=1e-6)


def test_ambiguity_loss_grows_away_from_uniform() -> None:
    k = 4
    previous = math.log(k)
    for sharp in (0.3, 0.5, 0.8, 0.99):
        p = np.full((1, k), (1 - sharp) / (k - 1), np.float32)
        p[0, 1] = sharp
        value = float(losses.ambiguity_loss(tf.constant(p))[0])
        assert value > previous
        previous = value
    assert math.isclose(losses.ambiguity_weight(9), 1 / 3)


# ------------------------------------------------------------------ steps


def _weights(variables: list[Any]) -> list[np.ndarray]:
    """Values of the variables, leaving out Keras' dropout RNG states (not weights)."""
    return [v.numpy().copy() for v in variables if "seed_generator" not in v.path]


@pytest.mark.slow
def test_generator_step_moves_only_the_generator_and_d_step_only_the_discriminator() -> None:
    trainer = Trainer("can", 3, TINY, tf.distribute.get_strategy())
    assert trainer.generator is not None and trainer.discriminator is not None
    g, d = trainer.generator, trainer.discriminator
    rng = np.random.default_rng(0)
    z = rng.normal(size=(8, 100)).astype(np.float32)
    data = synthetic()

    g_before, d_before = _weights(g.trainable_variables), _weights(d.variables)
    metrics = trainer.g_step(np.zeros(8, np.int32), z)
    assert metrics["g_ambiguity"] >= math.log(3) - 1e-4
    # D: trainable weights and BatchNorm statistics untouched by G's step.
    assert all(np.array_equal(a, b) for a, b in zip(d_before, _weights(d.variables), strict=True))
    moved = [
        not np.array_equal(a, b)
        for a, b in zip(g_before, _weights(g.trainable_variables), strict=True)
    ]
    assert sum(moved) >= len(moved) - 2  # every kernel moves (a bias may stay put by chance)

    g_before, d_before = _weights(g.trainable_variables), _weights(d.trainable_variables)
    metrics = trainer.d_step(data.x[:8], data.y[:8], z)
    assert {"d_loss", "d_genre", "genre_acc", "d_real_fake"} <= set(metrics)
    assert all(
        np.array_equal(a, b) for a, b in zip(g_before, _weights(g.trainable_variables), strict=True)
    )
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(d_before, _weights(d.trainable_variables), strict=True)
    )


# ------------------------------------------------------------------ runs


@pytest.mark.slow
def test_interrupted_run_leaves_no_model_and_resume_continues_the_count(
    isolated_home: Path,
) -> None:
    data = synthetic()
    stop = threading.Event()
    events: list[ProgressEvent] = []

    def progress(event: ProgressEvent) -> None:
        events.append(event)
        if event.task == "train" and event.done == 3:
            stop.set()  # what the CLI's Ctrl-C handler does

    first = train(
        data, mode="can", name="run1", epochs=3, config=TINY, progress=progress, stop=stop
    )
    assert first.interrupted and first.model_path is None
    assert first.steps == 3
    assert not (store.models_dir() / "run1").exists()
    assert "run1" not in [m.name for m in store.list_models()]

    with pytest.raises(StoreError, match="--resume"):
        train(data, mode="can", name="run1", epochs=3, config=TINY)

    second = train(data, mode="can", name="run1", epochs=3, config=TINY, resume=True)
    assert not second.interrupted
    assert second.resumed_from_epoch == 1
    assert second.epochs == 3
    lines = (isolated_home / "runs" / "run1" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    per_epoch = json.loads(lines[0])["steps"]
    assert per_epoch < 3  # the interruption came in the middle of epoch 2
    assert second.steps == 3 * per_epoch
    assert json.loads(lines[-1])["steps"] == 3 * per_epoch
    model = store.open_model("run1")
    assert model.card.kind == "can" and model.card.epochs == 3
    # Sampling defaults to the training sigma (1.0 on a 0.5-trained model doubled the rolls).
    assert model.card.z_sigma_train == 0.5 and model.card.z_sigma_sample == 0.5
    assert model.card.training["z_sigma_sample"] == 0.5
    assert model.card.genres == ["g0", "g1", "g2"]
    out = model.generator().generate(np.zeros((2, 100), np.float32))
    assert out.shape == (2, 32, 9)

    # The name is now a model: a fresh run under it needs --force (refused before any work).
    with pytest.raises(StoreError, match="exists"):
        train(data, mode="can", name="run1", epochs=1, config=TINY)
    assert store.open_model("run1").card.epochs == 3


@pytest.mark.parametrize(
    ("mode", "genres", "error", "match"),
    [
        ("can", 1, DataError, "at least 2 genres"),
        ("cgan", 1, DataError, "at least 2 genres"),
        ("dcgan", 2, UsageError, "unknown mode"),
    ],
)
def test_bad_requests_write_nothing(
    isolated_home: Path, mode: Any, genres: int, error: type[Exception], match: str
) -> None:
    """``mode`` is any string: train() checks it at run time ('dcgan' is refused)."""
    with pytest.raises(error, match=match):
        train(synthetic(genres), mode=mode, name="bad", epochs=1, config=TINY)
    assert not (isolated_home / "models" / "bad").exists()
    assert not (isolated_home / "runs" / "bad").exists()


def test_out_of_range_options_are_usage_errors() -> None:
    for cfg in (
        TrainConfig(batch_size=0),
        TrainConfig(validation=1.5),
        TrainConfig(dense=(16, 40)),
        TrainConfig(loss_ratio=0.5),
    ):
        with pytest.raises(UsageError):
            train(synthetic(), mode="can", name="x", epochs=1, config=cfg)
    with pytest.raises(UsageError):
        train(synthetic(), mode="can", name="x", epochs=0, config=TINY)
    with pytest.raises(StoreError):
        train(synthetic(), mode="can", name="../x", epochs=1, config=TINY)
