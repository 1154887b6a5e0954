"""The numpy engine equals Keras on the same weights and z (the one test module running Keras).

Every generator the project can train (``models.build_generator``: plain/Creative and
conditional, tiny and default sizes) or import (the 2020 release model, files written in the
2.3.1 dialect) is compared with Keras within 1e-5, with randomised BatchNorm moving
statistics so that the moving-stat path is really exercised.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from rhythmcan_cli import engine
from rhythmcan_cli.engine import Generator
from rhythmcan_cli.engine import generator as engine_generator
from rhythmcan_cli.errors import DataError, ModelError
from rhythmcan_cli.formats.layers_model import LayersModel, read_layers_model
from tests.helpers import generator_layers_model

TOL = 1e-5


@pytest.fixture(scope="module")
def keras() -> Any:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def _keras_out(model: Any, z: np.ndarray, genres: np.ndarray | None = None) -> np.ndarray:
    inputs = z if genres is None else [z, genres.reshape(-1, 1).astype(np.int32)]
    return np.asarray(model(inputs, training=False))


def _randomise(model: Any, seed: int) -> None:
    """Random weights everywhere, BatchNorm moving statistics included (not 0/1)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for w in layer.weights:
            shape = tuple(w.shape)
            var = w.path.split("/")[-1]
            if var in ("moving_variance", "gamma"):
                values.append(rng.uniform(0.3, 1.7, shape))
            elif var == "moving_mean":
                values.append(rng.normal(0.0, 0.5, shape))
            else:
                fan_in = shape[0] if len(shape) > 1 else 10
                values.append(rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape))
        if values:
            layer.set_weights([v.astype(np.float32) for v in values])


@pytest.mark.parametrize(
    ("n_genres", "tiny", "conditioning"),
    [
        (None, True, "dense-head"),
        (None, True, "multiply"),
        (4, True, "multiply"),
        (4, True, "concat"),
        (None, False, "multiply"),
        (5, False, "multiply"),
        (5, False, "concat"),
    ],
)
def test_engine_equals_keras_for_trainable_generators(
    keras: Any, n_genres: int | None, tiny: bool, conditioning: str
) -> None:
    from rhythmcan_cli.training.keras_io import to_layers_model
    from rhythmcan_cli.training.networks import build_generator

    sizes: dict[str, Any] = {"z_dim": 8, "dense": (16, 64), "lstm_units": 8} if tiny else {}
    if conditioning == "dense-head":  # beyond the paper: LSTM(tanh) -> Dense(sigmoid)
        sizes, conditioning = {**sizes, "output_head": "dense"}, "multiply"
    model = build_generator(n_genres=n_genres, conditioning=conditioning, **sizes)
    _randomise(model, seed=7)
    gen = Generator.from_layers_model(to_layers_model(model))
    rng = np.random.default_rng(0)
    z = rng.normal(0.0, 1.0, (6, gen.z_dim)).astype(np.float32)
    genres = None if n_genres is None else rng.integers(0, n_genres, 6)
    ours = gen.generate(z, genres, clip=False)
    assert ours.shape == (6, 32, 9) and ours.dtype == np.float32
    assert float(ours.std()) > 1e-3  # not a degenerate constant output
    np.testing.assert_allclose(ours, _keras_out(model, z, genres), atol=TOL, rtol=0)
    assert gen.n_genres == n_genres


@pytest.mark.parametrize(
    ("n_genres", "ending"),
    [
        (None, {}),
        (3, {}),
        (3, {"last_activation": "tanh", "final_leaky": 0.3}),
        (3, {"conditioning": "concat", "genre_dim": 5}),
        (None, {"output_head": "dense"}),
    ],
)
def test_engine_equals_keras_for_files_written_without_tensorflow(
    keras: Any, n_genres: int | None, ending: dict[str, Any]
) -> None:
    """Including the 2020 conditional model's ending (LSTM 9 tanh + LeakyReLU 0.3)."""
    from rhythmcan_cli.training.keras_io import to_keras

    lm = generator_layers_model(n_genres=n_genres, seed=11, **ending)
    model = to_keras(lm)
    gen = Generator.from_layers_model(lm)
    z = np.random.default_rng(1).normal(0.0, 1.0, (5, 8)).astype(np.float32)
    genres = None if n_genres is None else np.array([0, 1, 2, 2, 0])
    np.testing.assert_allclose(
        gen.generate(z, genres, clip=False), _keras_out(model, z, genres), atol=TOL, rtol=0
    )


def test_engine_equals_keras_on_the_2020_release_model(keras: Any, tokui_model: Any) -> None:
    from rhythmcan_cli.training.keras_io import to_keras

    lm = read_layers_model(tokui_model)
    gen = Generator.from_layers_model(lm)
    assert gen.z_dim == 100 and gen.n_genres is None
    z = np.random.default_rng(2).normal(0.0, 1.0, (4, 100)).astype(np.float32)
    np.testing.assert_allclose(
        gen.generate(z, clip=False), _keras_out(to_keras(lm), z), atol=TOL, rtol=0
    )


def test_engine_equals_keras_on_other_supported_layers(keras: Any) -> None:
    """Activation layers, Dense activations, a last-step LSTM, tanh/linear recurrences."""
    from rhythmcan_cli.training.keras_io import to_layers_model

    layers = keras.layers
    z = keras.Input(shape=(6,), name="z")
    h = layers.Dense(64, activation="relu", name="d1")(z)
    h = layers.Dense(64, activation="tanh", name="d2")(h)
    h = layers.Activation("sigmoid", name="act")(h)
    h = layers.LeakyReLU(negative_slope=0.3, name="leaky")(h)
    h = layers.Reshape((32, 2), name="r")(h)
    h = layers.LSTM(5, return_sequences=True, recurrent_activation="tanh", name="l1")(h)
    h = layers.LSTM(7, return_sequences=False, activation="linear", name="l2")(h)
    h = layers.Dense(288, activation="softmax", name="d3")(h)
    out = layers.Reshape((32, 9), name="out")(h)
    model = keras.Model(z, out)
    _randomise(model, seed=3)
    gen = Generator.from_layers_model(to_layers_model(model))
    x = np.random.default_rng(3).normal(0.0, 1.0, (4, 6)).astype(np.float32)
    np.testing.assert_allclose(gen.generate(x, clip=False), _keras_out(model, x), atol=TOL, rtol=0)


def test_to_keras_round_trips_through_to_layers_model(keras: Any) -> None:
    from rhythmcan_cli.training.keras_io import to_keras, to_layers_model

    lm = generator_layers_model(n_genres=2, seed=4)
    back = to_layers_model(to_keras(lm))
    assert sorted(layer["name"] for layer in back.layers) == sorted(
        layer["name"] for layer in lm.layers
    )
    assert back.topology["config"]["input_layers"] == lm.topology["config"]["input_layers"]
    for name, array in lm.weights.items():
        np.testing.assert_array_equal(back.weights[name], array)


@pytest.mark.parametrize(("n_genres", "head"), [(None, "lstm"), (3, "lstm"), (None, "dense")])
def test_helper_files_have_the_form_of_trained_generators(
    keras: Any, n_genres: int | None, head: str
) -> None:
    """tests.helpers writes exactly what keras_io writes for build_generator's models."""
    from rhythmcan_cli.training.keras_io import to_layers_model
    from rhythmcan_cli.training.networks import build_generator

    trained = to_layers_model(
        build_generator(z_dim=8, n_genres=n_genres, dense=(16, 64), lstm_units=8, output_head=head)
    )
    helper = generator_layers_model(n_genres=n_genres, output_head=head)
    assert {layer["name"]: layer for layer in trained.layers} == {
        layer["name"]: layer for layer in helper.layers
    }
    for key in ("input_layers", "output_layers"):
        assert trained.topology["config"][key] == helper.topology["config"][key]
    assert [(k, v.shape) for k, v in trained.weights.items()] == [
        (k, v.shape) for k, v in helper.weights.items()
    ]


# ---------------------------------------------------------------- engine alone (no Keras)


def test_genre_weights_blend_the_embedding_rows() -> None:
    gen = Generator.from_layers_model(generator_layers_model(n_genres=3, seed=5))
    emb = gen.genre_embeddings
    assert emb is not None and emb.shape == (3, 8)
    z = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    one_hot = np.eye(3, dtype=np.float32)[[0, 2, 1, 2]]
    np.testing.assert_allclose(
        gen.generate(z, genre_weights=one_hot), gen.generate(z, genres=[0, 2, 1, 2]), atol=1e-7
    )
    blend = gen.generate(z, genre_weights=[0.5, 0.5, 0.0])
    assert not np.allclose(blend, gen.generate(z, genres=[0, 0, 0, 0]), atol=1e-4)
    # Scaling the z by a mixed embedding row equals one blended genre row.
    mixed = (0.5 * emb[0] + 0.5 * emb[1]).astype(np.float32)
    assert np.allclose(mixed, emb[[0, 1]].mean(axis=0))


def test_generate_is_batched_consistently_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = Generator.from_layers_model(generator_layers_model(seed=6))
    z = np.random.default_rng(0).normal(size=(10, 8)).astype(np.float32)
    whole = gen.generate(z)
    monkeypatch.setattr(engine_generator, "_CHUNK", 3)
    np.testing.assert_allclose(gen.generate(z), whole, atol=1e-6)
    assert whole.min() >= 0.0 and whole.max() <= 1.0


def test_hard_sigmoid_follows_keras_2_and_tfjs() -> None:
    x = np.array([-3.0, -2.5, 0.0, 1.0, 2.5, 4.0], dtype=np.float32)
    np.testing.assert_allclose(
        engine.ACTIVATIONS["hard_sigmoid"](x), [0.0, 0.0, 0.5, 0.7, 1.0, 1.0], atol=1e-7
    )


def _mutated(lm: LayersModel, layer: str, **changes: Any) -> LayersModel:
    topology = copy.deepcopy(lm.topology)
    for entry in topology["config"]["layers"]:
        if entry["name"] == layer:
            entry.update(changes)
    return LayersModel(topology, dict(lm.weights))


def test_unsupported_layers_are_named() -> None:
    lm = _mutated(generator_layers_model(), "lstm_2", class_name="GRU")
    lm = _mutated(lm, "dropout", class_name="GaussianNoise")
    with pytest.raises(ModelError, match=r"dropout \(GaussianNoise\), lstm_2 \(GRU\)"):
        Generator.from_layers_model(lm)


def test_unsupported_activation_is_named() -> None:
    lm = generator_layers_model()
    for entry in lm.layers:
        if entry["name"] == "pattern":
            entry["config"]["activation"] = "swish"
    with pytest.raises(ModelError, match="swish"):
        Generator.from_layers_model(lm)


def test_missing_and_misshapen_weights_are_model_errors() -> None:
    lm = generator_layers_model()
    missing = LayersModel(lm.topology, {k: v for k, v in lm.weights.items() if k != "dense_2/bias"})
    with pytest.raises(ModelError, match="dense_2/bias"):
        Generator.from_layers_model(missing)
    bad = dict(lm.weights)
    bad["lstm_1/recurrent_kernel"] = np.zeros((3, 32), np.float32)
    with pytest.raises(ModelError, match=r"lstm_1/recurrent_kernel has shape \[3, 32\]"):
        Generator.from_layers_model(LayersModel(lm.topology, bad))


def test_lstm_cell_weight_names_are_accepted() -> None:
    lm = generator_layers_model(seed=8)
    renamed = {k.replace("lstm_1/", "lstm_1/lstm_cell/"): v for k, v in lm.weights.items()}
    z = np.ones((2, 8), np.float32)
    np.testing.assert_array_equal(
        Generator.from_layers_model(LayersModel(lm.topology, renamed)).generate(z),
        Generator.from_layers_model(lm).generate(z),
    )


def test_bad_generate_arguments_are_data_errors() -> None:
    plain = Generator.from_layers_model(generator_layers_model())
    cond = Generator.from_layers_model(generator_layers_model(n_genres=2))
    z = np.zeros((2, 8), np.float32)
    with pytest.raises(DataError, match=r"z must have shape \(N, 8\)"):
        plain.generate(np.zeros((2, 9)))
    with pytest.raises(DataError, match="no genre input"):
        plain.generate(z, genres=[0, 1])
    with pytest.raises(DataError, match="exactly one"):
        cond.generate(z)
    with pytest.raises(DataError, match="exactly one"):
        cond.generate(z, genres=[0, 1], genre_weights=[[1, 0], [0, 1]])
    with pytest.raises(DataError, match=r"0\.\.1"):
        cond.generate(z, genres=[0, 2])
    with pytest.raises(DataError, match="genre_weights"):
        cond.generate(z, genre_weights=[[1, 0, 0]])
