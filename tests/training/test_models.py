"""Keras builders: the paper's sizes, the layers the numpy engine supports, output ranges."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rhythmcan_cli.engine import SUPPORTED_LAYERS
from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.training import networks as models

ENGINE_LAYERS = set(SUPPORTED_LAYERS)  # what the numpy engine runs


def test_default_generator_has_the_papers_parameter_count() -> None:
    g = models.build_generator()
    assert g.count_params() == 802_152
    assert g.output_shape == (None, 32, 9)
    assert {type(layer).__name__ for layer in g.layers} <= ENGINE_LAYERS
    assert g.layers[-1].name == models.GENERATOR_OUTPUT


def test_conditional_generator_takes_z_and_genre_and_ends_in_sigmoid() -> None:
    g = models.build_generator(z_dim=12, n_genres=3, dense=(16, 32), lstm_units=8)
    assert [t.name for t in g.inputs] == ["z", "genre"]
    assert {type(layer).__name__ for layer in g.layers} <= ENGINE_LAYERS
    assert g.get_layer("genre_embedding").get_config()["output_dim"] == 12
    z = np.random.default_rng(0).normal(size=(5, 12)).astype(np.float32) * 10
    out = np.asarray(g([z, np.array([[0], [1], [2], [0], [1]], np.int32)], training=False))
    assert out.shape == (5, 32, 9)
    assert out.min() >= 0.0 and out.max() <= 1.0
    # The genre changes the output (the embedding is multiplied into z).
    other = np.asarray(g([z, np.full((5, 1), 2, np.int32)], training=False))
    assert not np.allclose(out[:2], other[:2])


def test_concat_conditioning_feeds_z_and_a_unit_scale_genre_embedding() -> None:
    g = models.build_generator(
        z_dim=12, n_genres=3, dense=(16, 32), lstm_units=8, conditioning="concat", genre_dim=5
    )
    assert {type(layer).__name__ for layer in g.layers} <= ENGINE_LAYERS
    assert type(g.get_layer("z_genre")).__name__ == "Concatenate"
    assert g.get_layer("dense_1").kernel.shape == (12 + 5, 16)
    table = np.asarray(g.get_layer("genre_embedding").embeddings)
    assert table.shape == (3, 5) and 0.4 < float(table.std()) < 2.0  # unit scale, not +-0.05
    z = np.random.default_rng(0).normal(size=(4, 12)).astype(np.float32)
    a = np.asarray(g([z, np.zeros((4, 1), np.int32)], training=False))
    b = np.asarray(g([z, np.full((4, 1), 2, np.int32)], training=False))
    assert not np.allclose(a, b)
    with pytest.raises(UsageError):
        models.build_generator(n_genres=3, conditioning="add")


def test_discriminators_shapes() -> None:
    x = np.zeros((4, 32, 9), np.float32)
    d = models.build_discriminator(lstm_units=4, dense_units=8)
    assert np.asarray(d(x)).shape == (4, 1)
    can = models.build_can_discriminator(3, 4, 8, 4, 8)
    real, genre = can(x)
    assert np.asarray(real).shape == (4, 1)
    assert np.allclose(np.asarray(genre).sum(axis=1), 1.0, atol=1e-5)
    assert can.get_layer("genre").kernel_regularizer is not None
    cd = models.build_conditional_discriminator(3, lstm_units=(4, 4), dense_units=8)
    assert np.asarray(cd([x, np.zeros((4, 1), np.int32)])).shape == (4, 1)
    clf = models.build_classifier(3, lstm_units=4, dense_units=8)
    assert np.asarray(clf(x)).shape == (4, 3)


@pytest.mark.parametrize(
    "kwargs",
    [{"dense": (16, 40)}, {"dense": ()}, {"lstm_units": 0}, {"dropout": 1.0}, {"n_genres": 0}],
)
def test_bad_sizes_are_one_line_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        models.build_generator(**kwargs)
