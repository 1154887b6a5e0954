"""Shared test helpers: generator files and stored models built fast, without TensorFlow.

``make_generator_files`` writes the method.md section 3 generator (plain or conditional) in
the Keras 2.3.1 TF.js dialect straight from numpy, with random weights and randomised
BatchNorm moving statistics, so store/sample/evaluate tests get a real model in milliseconds.
Layer names follow ``rhythmcan_cli.training.networks.build_generator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pytest

from rhythmcan_cli.formats.layers_model import LayersModel
from rhythmcan_cli.store import StoredModel
from rhythmcan_cli.vocabulary import ModelKind


class GeneratorSizes(TypedDict):
    """The size arguments of ``generator_layers_model``."""

    z_dim: int
    dense: tuple[int, int]
    lstm_units: int


class MidiTiming(TypedDict):
    """The timing options shared by the MIDI writers (``midi_bytes``, ``write_pattern_files``)."""

    bpm: float
    swing: float
    loops: int


class TrainerSizes(TypedDict):
    """The network and batch sizes of a trainer that runs in seconds (``TrainConfig`` fields)."""

    batch_size: int
    dense: tuple[int, ...]
    lstm_units: int
    d_lstm_units: int
    d_dense_units: int
    genre_lstm_units: int
    genre_dense_units: int


TINY_TRAINER: TrainerSizes = {
    "batch_size": 8,
    "dense": (16, 32),
    "lstm_units": 8,
    "d_lstm_units": 4,
    "d_dense_units": 8,
    "genre_lstm_units": 4,
    "genre_dense_units": 8,
}

TINY: GeneratorSizes = {"z_dim": 8, "dense": (16, 64), "lstm_units": 8}
DEFAULT: GeneratorSizes = {"z_dim": 100, "dense": (512, 1024), "lstm_units": 128}


def _layer(name: str, class_name: str, config: dict[str, Any], *sources: str) -> dict[str, Any]:
    config = {"name": name, "trainable": True, "dtype": "float32", **config}
    nodes = [[[src, 0, 0, {}] for src in sources]] if sources else []
    return {"name": name, "class_name": class_name, "config": config, "inbound_nodes": nodes}


def _input(name: str, shape: list[int | None], dtype: str) -> dict[str, Any]:
    config = {"batch_input_shape": shape, "dtype": dtype, "sparse": False, "name": name}
    return {"name": name, "class_name": "InputLayer", "config": config, "inbound_nodes": []}


def generator_layers_model(
    *,
    z_dim: int = 8,
    dense: Sequence[int] = (16, 64),
    lstm_units: int = 8,
    n_genres: int | None = None,
    seed: int = 0,
    last_activation: str = "sigmoid",
    recurrent_activation: str = "sigmoid",
    final_leaky: float | None = None,
    conditioning: str = "multiply",
    genre_dim: int = 4,
    output_head: str = "lstm",
) -> LayersModel:
    """The generator as a LayersModel (2.3.1 dialect) with random weights from ``seed``.

    ``last_activation="tanh", final_leaky=0.3`` gives the 2020 conditional model's ending;
    ``conditioning="concat"`` concatenates a ``genre_dim`` embedding with z (the AC recipe);
    ``output_head="dense"`` ends in ``LSTM(9, tanh) pattern_lstm -> Dense(9, sigmoid) pattern``.
    """
    rng = np.random.default_rng(seed)
    layers: list[dict[str, Any]] = []
    weights: dict[str, np.ndarray] = {}

    def w(name: str, *shape: int, scale: float | None = None) -> None:
        fan_in = shape[0] if len(shape) > 1 else 1
        s = scale if scale is not None else 1.0 / np.sqrt(fan_in)
        weights[name] = (rng.normal(0.0, s, shape)).astype(np.float32)

    layers.append(_input("z", [None, z_dim], "float32"))
    inputs = [["z", 0, 0]]
    h = "z"
    width = z_dim
    if n_genres is not None and conditioning == "concat":
        layers.append(_input("genre", [None, 1], "int32"))
        inputs.append(["genre", 0, 0])
        layers.append(
            _layer(
                "genre_embedding",
                "Embedding",
                {"input_dim": n_genres, "output_dim": genre_dim, "mask_zero": False},
                "genre",
            )
        )
        w("genre_embedding/embeddings", n_genres, genre_dim, scale=1.0)
        layers.append(
            _layer("genre_flatten", "Flatten", {"data_format": "channels_last"}, "genre_embedding")
        )
        layers.append(_layer("z_genre", "Concatenate", {"axis": -1}, "z", "genre_flatten"))
        h, width = "z_genre", z_dim + genre_dim
    elif n_genres is not None:
        layers.append(_input("genre", [None, 1], "int32"))
        inputs.append(["genre", 0, 0])
        layers.append(
            _layer(
                "genre_embedding",
                "Embedding",
                {"input_dim": n_genres, "output_dim": z_dim, "mask_zero": False},
                "genre",
            )
        )
        w("genre_embedding/embeddings", n_genres, z_dim, scale=1.0)
        layers.append(
            _layer("genre_flatten", "Flatten", {"data_format": "channels_last"}, "genre_embedding")
        )
        layers.append(_layer("z_genre", "Multiply", {}, "z", "genre_flatten"))
        h = "z_genre"
    for i, units in enumerate(dense, start=1):
        d, a, b = f"dense_{i}", f"leaky_re_lu_{i}", f"batch_normalization_{i}"
        layers.append(
            _layer(d, "Dense", {"units": units, "activation": "linear", "use_bias": True}, h)
        )
        w(f"{d}/kernel", width, units)
        w(f"{d}/bias", units, scale=0.1)
        layers.append(_layer(a, "LeakyReLU", {"alpha": 0.2}, d))
        layers.append(
            _layer(
                b,
                "BatchNormalization",
                {"axis": -1, "momentum": 0.9, "epsilon": 0.001, "center": True, "scale": True},
                a,
            )
        )
        weights[f"{b}/gamma"] = rng.uniform(0.5, 1.5, units).astype(np.float32)
        weights[f"{b}/beta"] = rng.normal(0.0, 0.1, units).astype(np.float32)
        weights[f"{b}/moving_mean"] = rng.normal(0.0, 0.3, units).astype(np.float32)
        weights[f"{b}/moving_variance"] = rng.uniform(0.2, 2.0, units).astype(np.float32)
        h, width = b, units
    features = dense[-1] // 32
    layers.append(_layer("reshape", "Reshape", {"target_shape": [32, features]}, h))
    layers.append(
        _layer("dropout", "Dropout", {"rate": 0.1, "noise_shape": None, "seed": None}, "reshape")
    )
    h, width = "dropout", features
    last = (
        ("pattern_lstm", 9, "tanh") if output_head == "dense" else ("pattern", 9, last_activation)
    )
    for name, units, act in (("lstm_1", lstm_units, "tanh"), ("lstm_2", lstm_units, "tanh"), last):
        layers.append(
            _layer(
                name,
                "LSTM",
                {
                    "return_sequences": True,
                    "return_state": False,
                    "go_backwards": False,
                    "stateful": False,
                    "unroll": False,
                    "units": units,
                    "activation": act,
                    "recurrent_activation": recurrent_activation,
                    "use_bias": True,
                    "unit_forget_bias": True,
                    "dropout": 0.0,
                    "recurrent_dropout": 0.0,
                    "implementation": 2,
                },
                h,
            )
        )
        w(f"{name}/kernel", width, 4 * units)
        w(f"{name}/recurrent_kernel", units, 4 * units)
        w(f"{name}/bias", 4 * units, scale=0.1)
        h, width = name, units
    if output_head == "dense":
        layers.append(
            _layer("pattern", "Dense", {"units": 9, "activation": "sigmoid", "use_bias": True}, h)
        )
        w("pattern/kernel", width, 9)
        w("pattern/bias", 9, scale=0.1)
        h = "pattern"
    if final_leaky is not None:
        layers.append(_layer("pattern_leaky", "LeakyReLU", {"alpha": final_leaky}, h))
        h = "pattern_leaky"
    topology = {
        "class_name": "Model",
        "config": {
            "name": "generator",
            "layers": layers,
            "input_layers": inputs,
            "output_layers": [[h, 0, 0]],
        },
    }
    return LayersModel(topology=topology, weights=weights)


def make_generator_files(
    tmp_dir: Path | None = None, *, n_genres: int | None = None, seed: int = 0, tiny: bool = True
) -> dict[str, bytes]:
    """``{"generator/model.json": ..., "generator/group1-shard1of1.bin": ...}`` of a generator.

    Tiny sizes (z 8, dense 16/64, LSTM 8) unless ``tiny=False`` (the paper's sizes). When
    ``tmp_dir`` is given the files are also written under ``tmp_dir/generator/``.
    """
    sizes = TINY if tiny else DEFAULT
    lm = generator_layers_model(n_genres=n_genres, seed=seed, **sizes)
    files = {f"generator/{name}": payload for name, payload in lm.to_files().items()}
    if tmp_dir is not None:
        for rel, payload in files.items():
            path = Path(tmp_dir) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(payload)
    return files


def make_stored_model(
    name: str,
    *,
    kind: ModelKind = "can",
    genres: Sequence[str] = ("funk", "rock", "jazz"),
    n_genres: int | None = None,
    seed: int = 0,
    tiny: bool = True,
    force: bool = False,
) -> StoredModel:
    """Save a generator into the (test's isolated) store and return ``open_model(name)``.

    ``kind="cgan"`` builds a conditional generator with ``len(genres)`` genres (or
    ``n_genres``); other kinds get a z-only generator.
    """
    from rhythmcan_cli import store

    if kind == "cgan" and n_genres is None:
        n_genres = len(genres)
    files = make_generator_files(
        None, n_genres=n_genres if kind == "cgan" else None, seed=seed, tiny=tiny
    )
    sizes = TINY if tiny else DEFAULT
    card = store.ModelCard(name=name, kind=kind, genres=list(genres), z_dim=sizes["z_dim"])
    store.save_model(name, card, files, force=force)
    return store.open_model(name)


def need_sounddevice() -> None:
    """Skip the calling test when sounddevice cannot load PortAudio: the import then raises
    OSError, which ``pytest.importorskip`` is not meant to catch."""
    try:
        import sounddevice  # noqa: F401
    except OSError as exc:
        pytest.skip(f"sounddevice cannot load PortAudio: {exc}")
