"""The projection discriminator for the conditional GAN (``cgan_discriminator="projection"``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from rhythmcan_cli import store
from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.training import networks, recipes
from rhythmcan_cli.training.config import TrainConfig
from rhythmcan_cli.training.steps import Trainer
from rhythmcan_cli.training.train import train
from tests.training.test_recipes import SIZES, _two_genres


def _batch(n: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = (rng.random((n, 32, 9)) > 0.8).astype(np.float32)
    y = np.arange(n, dtype=np.int32) % 3
    z = rng.normal(size=(n, 100)).astype(np.float32) * 0.5
    return x, y, z


def test_the_projection_option_parses_is_off_in_every_preset_and_unknown_ones_are_refused() -> None:
    assert "projection" in recipes.CGAN_DISCRIMINATORS
    parsed = recipes.parse_options(["cgan-discriminator=projection"])
    assert parsed == {"cgan_discriminator": "projection"}
    TrainConfig.for_recipe("tuned", **parsed).check()
    assert all(p["cgan_discriminator"] != "projection" for p in recipes.PRESETS.values())
    with pytest.raises(UsageError, match="--cgan-discriminator must be one of"):
        TrainConfig.for_recipe("tuned", cgan_discriminator="hinge").check()


def test_projection_scores_depend_on_the_label_through_the_inner_product() -> None:
    d = networks.build_projection_discriminator(3, lstm_units=4, dense_units=8)
    x = np.repeat(_batch(1)[0], 3, axis=0)
    labels = np.arange(3, dtype=np.int32)[:, None]
    scores = np.asarray(d([x, labels], training=False)).reshape(-1)
    assert scores.shape == (3,) and np.ptp(scores) > 1e-4  # same x, three different scores
    # D(x, y) = sigmoid(psi(phi(x)) + <embed(y), phi(x)>), computed by hand from its layers.
    import keras

    phi = np.asarray(keras.Model(d.inputs, d.get_layer("rf_leaky_re_lu").output)([x, labels]))
    kernel, bias = (np.asarray(w) for w in d.get_layer("real_logit").weights)
    table = np.asarray(d.get_layer("genre_projection").embeddings)
    logit = (phi @ kernel).reshape(-1) + bias + np.sum(table[labels[:, 0]] * phi, axis=1)
    assert np.allclose(scores, 1.0 / (1.0 + np.exp(-logit)), atol=1e-5)
    # Rows of about unit length at init, whatever the width.
    assert 0.3 < float(np.linalg.norm(table, axis=1).mean()) < 2.0
    d.get_layer("genre_projection").embeddings.assign(np.zeros_like(table))
    flat = np.asarray(d([x, labels], training=False)).reshape(-1)
    assert np.ptp(flat) < 1e-6  # without the embedding the label no longer matters


@pytest.mark.slow
def test_projection_d_and_g_steps_move_only_their_own_side(tmp_path: Path) -> None:
    config = TrainConfig.for_recipe("tuned", **SIZES, cgan_discriminator="projection")
    trainer = Trainer("cgan", 3, config, tf.distribute.get_strategy(), np.ones(3, np.float32))
    assert trainer.projection and not trainer.ac and trainer.d_genre is None
    assert trainer.generator is not None and trainer.discriminator is not None
    names = [layer.name for layer in trainer.discriminator.layers]
    assert "genre_projection" in names and "rf_minibatch_std" in names
    # Only D changes: G keeps the tuned recipe's concatenated genre.
    assert type(trainer.generator.get_layer("z_genre")).__name__ == "Concatenate"
    x, y, z = _batch()
    g_vars, d_vars = (
        trainer.generator.trainable_variables,
        trainer.discriminator.trainable_variables,
    )

    def snapshot(variables: list[tf.Variable]) -> list[np.ndarray]:
        return [np.array(v.numpy(), copy=True) for v in variables]

    def moved(before: list[np.ndarray], variables: list[tf.Variable]) -> bool:
        return any(not np.array_equal(a, v.numpy()) for a, v in zip(before, variables, strict=True))

    g0, d0 = snapshot(g_vars), snapshot(d_vars)
    table0 = np.array(trainer.discriminator.get_layer("genre_projection").embeddings.numpy())
    metrics = trainer.d_step(x, y, z, 0.0)
    assert {"d_real_fake", "d_loss", "d_acc"} <= set(metrics) and "d_genre" not in metrics
    assert moved(d0, d_vars) and not moved(g0, g_vars)
    table1 = trainer.discriminator.get_layer("genre_projection").embeddings.numpy()
    assert not np.array_equal(table0, table1)  # the class embedding learns
    g1, d1 = snapshot(g_vars), snapshot(d_vars)
    metrics = trainer.g_step(y, z, 0.0)
    assert "g_class" not in metrics and metrics["g_loss"] == pytest.approx(metrics["g_adversarial"])
    assert moved(g1, g_vars) and not moved(d1, d_vars)

    # The checkpoint holds the projection D and its optimizer: a fresh Trainer restores them.
    path = trainer.checkpoint.write(str(tmp_path / "ckpt"))
    again = Trainer("cgan", 3, config, tf.distribute.get_strategy(), np.ones(3, np.float32))
    again.checkpoint.read(path).assert_consumed()
    assert again.discriminator is not None
    assert np.array_equal(
        again.discriminator.get_layer("genre_projection").embeddings.numpy(), table1
    )
    assert int(again.opt_d.iterations.numpy()) == 1 and int(again.opt_g.iterations.numpy()) == 1


@pytest.mark.slow
def test_a_projection_cgan_trains_resumes_and_stores_a_loadable_model(isolated_home: Path) -> None:
    config = TrainConfig.for_recipe(
        "tuned",
        **{**SIZES, "batch_size": 16, "z_dim": 8},
        cgan_discriminator="projection",
        validation=0.0,
    )
    data = _two_genres(64)
    train(data, mode="cgan", name="proj", epochs=1, config=config)
    result = train(data, mode="cgan", name="proj", epochs=2, config=config, resume=True, force=True)
    assert result.resumed_from_epoch == 1 and result.epochs == 2
    model = store.open_model("proj")
    assert model.card.training["cgan_discriminator"] == "projection"
    assert model.card.epochs == 2
    generator = model.generator()
    z = np.random.default_rng(5).normal(0.0, 0.5, (4, 8)).astype(np.float32)
    patterns = generator.generate(z, np.ones(4))
    assert patterns.shape == (4, 32, 9) and 0.0 <= patterns.min() <= patterns.max() <= 1.0
