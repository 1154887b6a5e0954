"""Training options beyond the paper (training/beyond.py): checks, maths and train steps."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from rhythmcan_cli import store
from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.training import beyond, recipes
from rhythmcan_cli.training.config import TrainConfig
from rhythmcan_cli.training.steps import Trainer
from rhythmcan_cli.training.train import train
from tests.training.test_recipes import SIZES, _two_genres

BEYOND = (
    "ambiguity_realness",
    "density_weight",
    "genre_freeze_epochs",
    "zero_below",
    "rf_flatten",
    "profile_weight",
    "mode_seeking",
)


def test_every_preset_leaves_the_beyond_options_off_and_they_parse() -> None:
    for recipe in recipes.RECIPES:
        config = TrainConfig.for_recipe(recipe)
        assert not any(getattr(config, key) for key in BEYOND), recipe
        assert config.output_head == "lstm"
        assert config.rf_flatten is False
    parsed = recipes.parse_options(
        [
            "ambiguity-realness=yes",
            "density_weight=0.5",
            "genre_freeze_epochs=4",
            "zero_below=0.1",
            "output_head=dense",
            "rf-flatten=true",
            "profile_weight=10",
            "mode_seeking=1",
        ]
    )
    assert parsed == {
        "ambiguity_realness": True,
        "density_weight": 0.5,
        "genre_freeze_epochs": 4.0,
        "zero_below": 0.1,
        "output_head": "dense",
        "rf_flatten": True,
        "profile_weight": 10.0,
        "mode_seeking": 1.0,
    }
    TrainConfig.for_recipe("tuned", **parsed).check()  # a valid combination


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"output_head": "gru"}, "output_head must be one of lstm, dense"),
        ({"density_weight": -1.0}, "density_weight must be 0 or more"),
        ({"profile_weight": -0.5}, "profile_weight must be 0 or more"),
        ({"mode_seeking": -1.0}, "mode_seeking must be 0 or more"),
        ({"mode_seeking": 1.0, "batch_size": 1}, "--batch-size must be at least 2"),
        ({"genre_freeze_epochs": 2.0, "lr_genre": None}, "needs the genre head's own optimizer"),
        ({"zero_below": 0.3, "threshold": 0.2}, "must not exceed the sampling threshold"),
        ({"zero_below": 1.0, "threshold": 1.0}, "zero_below must be in [0, 1)"),
    ],
)
def test_bad_beyond_values_are_one_line_usage_errors(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        TrainConfig.for_recipe("tuned", **values).check()


def test_zero_gate_forwards_exact_zeros_and_passes_the_gradient_through() -> None:
    x = tf.Variable([[0.05, 0.5], [0.099, 0.1]])
    with tf.GradientTape() as tape:
        y = beyond.zero_gate(x, 0.1)
        loss = tf.reduce_sum(y * tf.constant([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(y.numpy(), np.array([[0.0, 0.5], [0.0, 0.1]], np.float32))
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), [[1.0, 2.0], [3.0, 4.0]])
    assert beyond.zero_gate(x, 0.0) is x


def test_density_loss_is_zero_at_the_real_density_and_grows_with_a_roll() -> None:
    rng = np.random.default_rng(0)
    real = (rng.random((64, 32, 9)) > 0.9).astype(np.float32) * 0.8
    target = beyond.real_density(real)
    assert target.shape == (9,) and target.dtype == np.float32
    np.testing.assert_allclose(target, real.astype(np.float64).mean(axis=(0, 1)), rtol=1e-6)
    assert float(beyond.density_loss(tf.constant(real), tf.constant(target))) < 1e-8
    rolled = real.copy()
    rolled[:, :, 5] = 0.9  # a mid-tom on every step of every pattern
    loss = float(beyond.density_loss(tf.constant(rolled), tf.constant(target)))
    expected = np.log((0.9 + 0.01) / (target[5] + 0.01)) ** 2 / 9
    assert loss == pytest.approx(expected, rel=1e-4)


def test_real_profile_is_the_mean_grid_per_genre_or_overall() -> None:
    rng = np.random.default_rng(1)
    x = (rng.random((30, 32, 9)) > 0.8).astype(np.float32)
    y = np.array([0] * 10 + [2] * 20)
    per_genre = beyond.real_profile(x, y, 4)
    assert per_genre.shape == (4, 32, 9) and per_genre.dtype == np.float32
    np.testing.assert_allclose(per_genre[0], x[:10].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(per_genre[2], x[10:].mean(axis=0), rtol=1e-6)
    # A genre with no windows (1, 3) gets the profile of all windows.
    np.testing.assert_allclose(per_genre[1], x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(per_genre[3], x.mean(axis=0), rtol=1e-6)
    overall = beyond.real_profile(x)
    assert overall.shape == (1, 32, 9)
    np.testing.assert_allclose(overall[0], x.mean(axis=0), rtol=1e-6)


def test_profile_loss_sees_where_hits_fall_which_density_loss_cannot() -> None:
    rng = np.random.default_rng(2)
    real = (rng.random((64, 32, 9)) > 0.9).astype(np.float32) * 0.8
    real[:, [0, 16], 0] = 0.9  # a kick on beat 1 of both bars
    profiles = tf.constant(beyond.real_profile(real))
    index = tf.zeros(64, tf.int32)
    assert float(beyond.profile_loss(tf.constant(real), profiles, index)) < 1e-8
    # The same kicks one step late: per-drum density is unchanged, the profile is not.
    shifted = np.roll(real, 1, axis=1)
    density = tf.constant(beyond.real_density(real))
    assert float(beyond.density_loss(tf.constant(shifted), density)) < 1e-6
    moved = float(beyond.profile_loss(tf.constant(shifted), profiles, index))
    assert moved > 0.01
    # Per-genre targets: each example is matched against the mean of the profiles it asks for.
    two = tf.constant(np.stack([beyond.real_profile(real)[0], beyond.real_profile(shifted)[0]]))
    asks_shifted = tf.ones(64, tf.int32)
    assert float(beyond.profile_loss(tf.constant(shifted), two, asks_shifted)) < 1e-8
    assert float(beyond.profile_loss(tf.constant(real), two, asks_shifted)) == pytest.approx(
        moved, rel=1e-5
    )


def test_mode_seeking_loss_is_large_when_the_output_ignores_z() -> None:
    rng = np.random.default_rng(3)
    z = tf.constant(rng.normal(size=(8, 4)).astype(np.float32))
    z_other = tf.roll(z, shift=1, axis=0)
    d_z = float(tf.reduce_mean(tf.abs(z - z_other)))
    same = tf.constant(np.full((8, 32, 9), 0.3, np.float32))
    collapsed = float(beyond.mode_seeking_loss(same, same, z, z_other))
    assert collapsed == pytest.approx(1.0 / beyond.MODE_SEEKING_EPSILON, rel=1e-3)
    a = tf.constant(rng.random((8, 32, 9)).astype(np.float32))
    b = tf.constant(rng.random((8, 32, 9)).astype(np.float32))
    varied = float(beyond.mode_seeking_loss(a, b, z, z_other))
    d_x = float(tf.reduce_mean(tf.abs(a - b)))
    assert varied == pytest.approx(1.0 / (d_x / d_z + beyond.MODE_SEEKING_EPSILON), rel=1e-4)
    assert varied < collapsed / 1000
    # A batch of one (z == z_other) stays finite.
    one = tf.constant(np.ones((1, 4), np.float32))
    assert np.isfinite(float(beyond.mode_seeking_loss(same[:1], same[:1], one, one)))


def test_realness_weight_is_twice_d_and_stops_the_gradient() -> None:
    p = tf.Variable([[0.5], [0.1], [1.0]])
    with tf.GradientTape() as tape:
        w = beyond.realness_weight(p)
        total = tf.reduce_sum(w * tf.reshape(p, [-1]))
    np.testing.assert_allclose(w.numpy(), [1.0, 0.2, 2.0])
    # d/dp sum(sg(2p) * p) = 2p: no term from the weight itself.
    np.testing.assert_allclose(tape.gradient(total, p).numpy().ravel(), [1.0, 0.2, 2.0])


def _can_trainer(**options: object) -> Trainer:
    config = TrainConfig.for_recipe("tuned", **{**SIZES, **options})
    density = np.full(9, 0.05, np.float32)
    return Trainer("can", 3, config, tf.distribute.get_strategy(), np.ones(3, np.float32), density)


def _batch() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = (rng.random((8, 32, 9)) > 0.8).astype(np.float32)
    return x, np.arange(8, dtype=np.int32) % 3, rng.normal(size=(8, 100)).astype(np.float32) * 0.5


@pytest.mark.slow
def test_can_g_step_adds_the_density_term_and_weights_ambiguity_by_realness() -> None:
    # An untrained G outputs ~0.28-0.40 everywhere: a floor of 0.3 cuts some cells, not all.
    trainer = _can_trainer(
        density_weight=2.0, ambiguity_realness=True, zero_below=0.3, threshold=0.35
    )
    _, y, z = _batch()
    metrics = trainer.g_step(y, z, 10.0)  # past every ramp
    assert metrics["g_density"] > 0.0
    expected = (
        metrics["g_adversarial"]
        + beyond_weight(3) * metrics["g_ambiguity"]
        + 2.0 * metrics["g_density"]
    )
    assert metrics["g_loss"] == pytest.approx(expected, rel=1e-5)
    # Training output (what D sees) has exact zeros and nothing in (0, 0.3); sampling does not.
    seen = trainer._generate(tf.constant(z), tf.constant(y), training=True).numpy()
    assert np.any(seen == 0.0) and not np.any((seen > 0.0) & (seen < 0.3))
    raw = trainer._generate(tf.constant(z), tf.constant(y), training=False).numpy()
    assert np.any((raw > 0.0) & (raw < 0.3)) and not np.any(raw == 0.0)


@pytest.mark.slow
def test_cgan_g_step_matches_each_requested_genres_profile() -> None:
    options = {"profile_weight": 3.0, "mode_seeking": 0.5}
    config = TrainConfig.for_recipe("tuned", **{**SIZES, **options})
    _, y, z = _batch()
    # Genre 1's profile is a loud grid, the others silent: the term depends on what is asked.
    profiles = np.zeros((3, 32, 9), np.float32)
    profiles[1] = 0.9
    trainer = Trainer(
        "cgan", 3, config, tf.distribute.get_strategy(), np.ones(3, np.float32), None, profiles
    )
    metrics = trainer.g_step(y, z, 10.0)  # past the class ramp
    fake = trainer._generate(tf.constant(z), tf.constant(y), training=True)
    expected_profile = float(beyond.profile_loss(fake, tf.constant(profiles), tf.constant(y)))
    assert metrics["g_profile"] > 0.0
    assert metrics["g_mode_seeking"] > 0.0
    assert metrics["g_loss"] == pytest.approx(
        metrics["g_adversarial"]
        + metrics["g_class"]
        + 3.0 * metrics["g_profile"]
        + 0.5 * metrics["g_mode_seeking"],
        rel=1e-5,
    )
    all_loud = trainer.g_step(np.ones(8, np.int32), z, 10.0)["g_profile"]
    assert abs(all_loud - expected_profile) > 0.1  # another target, another loss


def beyond_weight(k: int) -> float:
    from rhythmcan_cli.training.losses import ambiguity_weight

    return ambiguity_weight(k)


@pytest.mark.slow
def test_the_genre_head_stops_learning_after_its_freeze_epochs() -> None:
    trainer = _can_trainer(genre_freeze_epochs=1.0)
    x, y, z = _batch()
    heads = [v.numpy().copy() for v in trainer.genre_vars]
    trainer.d_step(x, y, z, 0.5)  # before the freeze: the head learns
    moved = [v.numpy().copy() for v in trainer.genre_vars]
    assert any(not np.array_equal(a, b) for a, b in zip(heads, moved, strict=True))
    rf_before = [v.numpy().copy() for v in trainer.d_vars]
    trainer.d_step(x, y, z, 1.5)  # after it: the head is fixed, the real/fake branch is not
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(moved, trainer.genre_vars, strict=True))
    assert any(
        not np.array_equal(a, v.numpy()) for a, v in zip(rf_before, trainer.d_vars, strict=True)
    )


@pytest.mark.slow
def test_a_can_with_every_beyond_option_trains_stores_and_records_them(
    isolated_home: Path,
) -> None:
    options = {
        "ambiguity_realness": True,
        "density_weight": 1.0,
        "genre_freeze_epochs": 1.0,
        "zero_below": 0.1,
        "output_head": "dense",
        "rf_flatten": True,
        "profile_weight": 2.0,
        "mode_seeking": 0.5,
    }
    config = TrainConfig.for_recipe(
        "tuned",
        **{**SIZES, "batch_size": 16, "z_dim": 8},
        validation=0.0,
        **options,
    )
    result = train(_two_genres(64), mode="can", name="beyond", epochs=2, config=config)
    assert {"g_density", "g_profile", "g_mode_seeking"} <= set(result.final_losses)
    model = store.open_model("beyond")
    assert {k: model.card.training[k] for k in options} == options
    run = (isolated_home / "runs" / "beyond" / "run.json").read_text()
    assert '"output_head": "dense"' in run and '"density_weight": 1.0' in run
    patterns = model.generator().generate(np.zeros((4, 8), np.float32) + 0.3)
    assert patterns.shape == (4, 32, 9) and 0.0 <= patterns.min() <= patterns.max() <= 1.0


@pytest.mark.parametrize("minibatch_std", [False, True])
def test_a_flattening_real_fake_branch_reads_every_step_at_its_place(minibatch_std: bool) -> None:
    from rhythmcan_cli.grid import N_CLASSES, STEPS
    from rhythmcan_cli.training import networks

    summary = networks.build_can_discriminator(3, 8, 16, 8, 16, minibatch_std=minibatch_std)
    flat = networks.build_can_discriminator(
        3, 8, 16, 8, 16, minibatch_std=minibatch_std, flatten=True
    )
    names = {layer.name for layer in flat.layers}
    assert "rf_flatten" in names and "rf_flatten" not in {lay.name for lay in summary.layers}
    # The Dense reads 2 x RF_FLAT_UNITS features at each of the 32 steps, not one summary.
    dense_in = flat.get_layer("rf_dense").kernel.shape[0]
    assert dense_in == STEPS * 2 * networks.RF_FLAT_UNITS
    assert summary.get_layer("rf_dense").kernel.shape[0] == 2 * 8
    real, genre = flat(np.zeros((2, STEPS, N_CLASSES), np.float32))
    assert real.shape == (2, 1) and genre.shape == (2, 3)
    plain = networks.build_discriminator(8, 16, flatten=True)
    projection = networks.build_projection_discriminator(3, 8, 16, flatten=True)
    for model in (plain, projection):
        assert model.get_layer("rf_dense").kernel.shape[0] == dense_in
