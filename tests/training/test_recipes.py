"""Training recipes: presets, option parsing, ramps, class weights and the AC-conditioned cGAN."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

from rhythmcan_cli import store
from rhythmcan_cli.dataset import Dataset, DatasetReport
from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.training import recipes
from rhythmcan_cli.training.config import TrainConfig
from rhythmcan_cli.training.steps import Trainer
from rhythmcan_cli.training.train import train
from tests.helpers import TINY_TRAINER

SIZES: dict[str, Any] = {**TINY_TRAINER, "seed": 3}


def test_paper_is_the_default_and_tuned_switches_every_change_on() -> None:
    paper = TrainConfig()
    assert all(getattr(paper, k) == v for k, v in recipes.PAPER.items())
    assert TrainConfig.for_recipe("paper") == paper
    tuned = TrainConfig.for_recipe("tuned", lr_d=3e-5)
    assert tuned.recipe == "tuned" and tuned.lr_d == 3e-5  # options go on top of the recipe
    assert tuned.conditioning == "concat" and tuned.cgan_discriminator == "ac"
    assert tuned.minibatch_std and tuned.class_balanced and tuned.real_label == 0.9
    with pytest.raises(UsageError, match="unknown --recipe"):
        TrainConfig.for_recipe("wild")


def test_options_parse_to_the_recipe_types_and_bad_ones_are_usage_errors() -> None:
    parsed = recipes.parse_options(
        ["minibatch-std=yes", "lr_d=2e-5", "d_steps=2", "lr_genre=none", "conditioning=concat"]
    )
    assert parsed == {
        "minibatch_std": True,
        "lr_d": 2e-5,
        "d_steps": 2,
        "lr_genre": None,
        "conditioning": "concat",
    }
    for bad in ("lr_d", "colour=red", "d_steps=two", "minibatch_std=maybe"):
        with pytest.raises(UsageError):
            recipes.parse_options([bad])
    for values in ({"conditioning": "add"}, {"instance_noise": -1.0}, {"lr_genre": 0.0}):
        with pytest.raises(UsageError):
            TrainConfig(**values).check()


def test_class_weights_balance_the_genres() -> None:
    y = np.array([0] * 6 + [1] * 3 + [2] * 1)
    w = recipes.class_weights(y, 4)
    per_genre = np.bincount(y, weights=w[y], minlength=4)
    assert np.allclose(per_genre[:3], per_genre[0]) and w[3] == 0.0
    assert math.isclose(float(w[y].mean()), 1.0, rel_tol=1e-6)


def test_ramps_and_instance_noise_move_with_training_progress() -> None:
    values = [float(recipes.ramp(tf.constant(p), 4.0)) for p in (0.0, 1.0, 4.0, 9.0)]
    assert values == [0.0, 0.25, 1.0, 1.0]
    assert float(recipes.ramp(tf.constant(0.0), 0.0)) == 1.0  # no ramp: full weight at once
    noise = [float(recipes.noise_sigma(tf.constant(p), 0.2, 10.0)) for p in (0.0, 5.0, 12.0)]
    assert noise == pytest.approx([0.2, 0.1, 0.0])
    assert float(recipes.noise_sigma(tf.constant(3.0), 0.0, 10.0)) == 0.0


def test_minibatch_std_adds_the_batch_spread_as_a_channel() -> None:
    layer = recipes.minibatch_std_layer()
    same = np.repeat(np.random.default_rng(0).random((1, 32, 9)), 4, axis=0).astype(np.float32)
    varied = np.random.default_rng(1).random((4, 32, 9)).astype(np.float32)
    a, b = np.asarray(layer(same)), np.asarray(layer(varied))
    assert a.shape == (4, 32, 10)
    assert np.allclose(a[..., :9], same) and a[..., 9].max() < 1e-3  # a repeated pattern
    assert b[..., 9].min() > 0.1 and np.allclose(b[..., 9], b[0, 0, 9])


@pytest.mark.slow
def test_ac_cgan_steps_train_the_genre_head_on_real_data_with_its_own_optimizer() -> None:
    config = TrainConfig.for_recipe("tuned", **SIZES)
    trainer = Trainer("cgan", 3, config, tf.distribute.get_strategy(), np.ones(3, np.float32))
    assert trainer.ac and trainer.d_genre is not None and trainer.genre_vars
    assert trainer.discriminator is not None and trainer.generator is not None
    names = [layer.name for layer in trainer.discriminator.layers]
    assert "rf_minibatch_std" in names and "genre" in names
    assert type(trainer.generator.get_layer("z_genre")).__name__ == "Concatenate"
    rng = np.random.default_rng(0)
    x = (rng.random((8, 32, 9)) > 0.8).astype(np.float32)
    y = np.arange(8, dtype=np.int32) % 3
    z = rng.normal(size=(8, 100)).astype(np.float32) * 0.5

    g_before = [v.numpy().copy() for v in trainer.generator.trainable_variables]
    head_before = [v.numpy().copy() for v in trainer.genre_vars]
    metrics = trainer.d_step(x, y, z, 0.0)
    assert {"d_real_fake", "d_genre", "genre_acc", "d_loss"} <= set(metrics)
    assert trainer.opt_genre.iterations.numpy() == 1 and trainer.opt_d.iterations.numpy() == 1
    assert any(
        not np.array_equal(a, v.numpy())
        for a, v in zip(head_before, trainer.genre_vars, strict=True)
    )
    assert all(
        np.array_equal(a, v.numpy())
        for a, v in zip(g_before, trainer.generator.trainable_variables, strict=True)
    )
    metrics = trainer.g_step(y, z, 0.0)
    assert "g_class" in metrics and "g_ambiguity" not in metrics
    # At progress 0 the class loss is ramped out: G's loss is the adversarial term alone.
    assert metrics["g_loss"] == pytest.approx(metrics["g_adversarial"], abs=1e-6)
    metrics = trainer.g_step(y, z, 10.0)
    assert metrics["g_loss"] == pytest.approx(metrics["g_adversarial"] + metrics["g_class"], 1e-5)


def test_paper_cgan_keeps_the_label_discriminator_and_multiplied_embedding() -> None:
    trainer = Trainer("cgan", 3, TrainConfig(**SIZES), tf.distribute.get_strategy())
    assert not trainer.ac and trainer.d_genre is None and not trainer.genre_vars
    assert trainer.generator is not None
    assert type(trainer.generator.get_layer("z_genre")).__name__ == "Multiply"


def _two_genres(n: int = 192) -> Dataset:
    """Genre 0 plays closed hat on every eighth, genre 1 high tom: easy to tell apart."""
    rng = np.random.default_rng(0)
    files = 16
    file_ids = (np.arange(n) % files).astype(np.int32)
    y = (file_ids % 2).astype(np.int32)
    x = (rng.random((n, 32, 9)) > 0.9).astype(np.float32) * 0.5
    x[np.arange(n)[:, None], np.arange(0, 32, 2)[None, :], (2 + 4 * y)[:, None]] = 1.0
    report = DatasetReport(
        data_dir="synthetic",
        labels_csv=None,
        files_found=files,
        files_read=files,
        skipped=(),
        windows_per_genre={"hats": int((y == 0).sum()), "toms": int((y == 1).sum())},
        files_per_genre={},
        unmapped={},
        notes=0,
        options={},
    )
    return Dataset(
        x=x,
        y=y,
        genres=("hats", "toms"),
        file_ids=file_ids,
        files=tuple(f"f{i}.mid" for i in range(files)),
        report=report,
        fingerprint="two-genres",
    )


@pytest.mark.slow
def test_ac_conditioned_cgan_follows_its_genre(isolated_home: Path) -> None:
    """A tiny AC-conditioned cGAN, stored and run by the numpy engine, plays the asked genre."""
    config = TrainConfig.for_recipe(
        "tuned",
        **{**SIZES, "batch_size": 16, "z_dim": 8},
        lr_g=3e-3,
        lr_d=1e-3,
        lr_genre=3e-3,
        class_ramp_epochs=0.5,
        validation=0.0,
    )
    result = train(_two_genres(), mode="cgan", name="ac", epochs=8, config=config)
    model = store.open_model("ac")
    assert model.card.training["recipe"] == "tuned"
    assert model.card.training["conditioning"] == "concat"
    generator = model.generator()
    z = np.random.default_rng(5).normal(0.0, 0.5, (64, 8)).astype(np.float32)
    hats, toms = generator.generate(z, np.zeros(64)), generator.generate(z, np.ones(64))
    # Same z, other genre: each genre's own drum is louder when it is asked for.
    rows = {
        name: (float(p[..., 2].mean()), float(p[..., 6].mean()))
        for name, p in (("hats", hats), ("toms", toms))
    }
    assert rows["hats"][0] > rows["toms"][0] + 0.05, (rows, result.final_losses)
    assert rows["toms"][1] > rows["hats"][1] + 0.05, (rows, result.final_losses)
