"""Keras 3 models <-> the generator file format (TF.js layers model, Keras 2.3.1 dialect).

Keras 3 serialises functional models in a form TF.js cannot load ("Unknown layer:
Functional", InputLayer without batchInputShape, LeakyReLU ``negative_slope``, LSTM weights
under ``/lstm_cell/``). ``to_layers_model`` writes each supported layer's config afresh in the
2.3.1 dialect that TF.js 1.5.x and 4.x both load (method.md section 7). ``to_keras`` goes the
other way (Keras 3 ``Model.from_config`` accepts the 2.3.1 config) for tests and parity checks.

TensorFlow/Keras are imported inside the functions: training, export and import only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from rhythmcan_cli.engine import SUPPORTED_LAYERS
from rhythmcan_cli.errors import ModelError
from rhythmcan_cli.formats.layers_model import LayersModel

if TYPE_CHECKING:
    import keras


def _activation_name(value: Any) -> str:
    """A Keras activation as the plain string 2.3.1 writes ("sigmoid", "linear"...)."""
    if isinstance(value, dict):
        value = value.get("config", {}).get("name", value.get("class_name"))
    if callable(value):
        value = getattr(value, "__name__", str(value))
    return "linear" if value is None else str(value)


def _dtype_name(value: Any) -> str:
    """The dtype string from a Keras 3 DTypePolicy dict or a plain string."""
    if isinstance(value, dict):
        value = value.get("config", {}).get("name", "float32")
    return "float32" if value is None else str(value)


def _histories(value: Any) -> Iterator[str]:
    """Layer names a Keras 3 ``inbound_nodes`` entry refers to, in argument order."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            yield str(value["config"]["keras_history"][0])
            return
        for key in ("args", "kwargs"):
            if key in value:
                yield from _histories(value[key])
        if "args" not in value and "kwargs" not in value:
            for item in value.values():
                yield from _histories(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _histories(item)


Config = dict[str, Any]


def _input_layer(base: Config, cfg: Config) -> Config:
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape") or []
    return {
        "batch_input_shape": list(shape),
        "dtype": base["dtype"],
        "sparse": False,
        "name": base["name"],
    }


def _dense(base: Config, cfg: Config) -> Config:
    return {
        **base,
        "units": int(cfg["units"]),
        "activation": _activation_name(cfg.get("activation")),
        "use_bias": bool(cfg.get("use_bias", True)),
    }


def _leaky_relu(base: Config, cfg: Config) -> Config:
    slope: Any = cfg.get("negative_slope", cfg.get("alpha", 0.3))
    return {**base, "alpha": float(slope)}


def _batch_normalization(base: Config, cfg: Config) -> Config:
    axis = cfg.get("axis", -1)
    if isinstance(axis, list):
        axis = axis[0]
    return {
        **base,
        "axis": int(axis),
        "momentum": float(cfg.get("momentum", 0.99)),
        "epsilon": float(cfg.get("epsilon", 1e-3)),
        "center": bool(cfg.get("center", True)),
        "scale": bool(cfg.get("scale", True)),
    }


def _lstm(base: Config, cfg: Config) -> Config:
    return {
        **base,
        "return_sequences": bool(cfg.get("return_sequences", False)),
        "return_state": False,
        "go_backwards": bool(cfg.get("go_backwards", False)),
        "stateful": False,
        "unroll": False,
        "units": int(cfg["units"]),
        "activation": _activation_name(cfg.get("activation", "tanh")),
        "recurrent_activation": _activation_name(cfg.get("recurrent_activation", "sigmoid")),
        "use_bias": bool(cfg.get("use_bias", True)),
        "unit_forget_bias": bool(cfg.get("unit_forget_bias", True)),
        "dropout": 0.0,
        "recurrent_dropout": 0.0,
        "implementation": 2,
    }


def _embedding(base: Config, cfg: Config) -> Config:
    return {
        **base,
        "input_dim": int(cfg["input_dim"]),
        "output_dim": int(cfg["output_dim"]),
        "mask_zero": bool(cfg.get("mask_zero", False)),
    }


CONFIGS: dict[str, Callable[[Config, Config], Config]] = {
    "InputLayer": _input_layer,
    "Dense": _dense,
    "LeakyReLU": _leaky_relu,
    "BatchNormalization": _batch_normalization,
    "Reshape": lambda base, cfg: {
        **base,
        "target_shape": [int(d) for d in cfg["target_shape"]],
    },
    "Dropout": lambda base, cfg: {
        **base,
        "rate": float(cfg.get("rate", 0.0)),
        "noise_shape": None,
        "seed": None,
    },
    "LSTM": _lstm,
    "Embedding": _embedding,
    "Flatten": lambda base, cfg: {**base, "data_format": "channels_last"},
    "Multiply": lambda base, cfg: base,
    "Concatenate": lambda base, cfg: {**base, "axis": int(cfg.get("axis", -1))},
    "Activation": lambda base, cfg: {**base, "activation": _activation_name(cfg.get("activation"))},
}
"""The 2.3.1 config writer of every layer the engine runs (keys: ``engine.SUPPORTED_LAYERS``;
tests/test_layers.py keeps the two in step)."""


def _config_2_3_1(class_name: str, name: str, cfg: Config) -> Config:
    """A clean 2.3.1 config for one supported layer (only keys both TF.js and Keras read)."""
    base: Config = {"name": name, "trainable": True, "dtype": _dtype_name(cfg.get("dtype"))}
    writer = CONFIGS.get(class_name)
    if writer is None:
        raise ModelError(f"layer {name} ({class_name}) is not supported")
    return writer(base, cfg)


def to_layers_model(model: keras.Model) -> LayersModel:
    """Convert a Keras 3 functional generator into the Keras 2.3.1 TF.js dialect."""
    config = model.get_config()
    entries = config.get("layers", [])
    unsupported = sorted(
        f"{e['name']} ({e['class_name']})"
        for e in entries
        if e["class_name"] not in SUPPORTED_LAYERS
    )
    if unsupported:
        raise ModelError(
            f"cannot export layers TF.js/rhythmcan do not run: {', '.join(unsupported)}"
        )
    layers = []
    for entry in entries:
        name = str(entry["name"])
        nodes = entry.get("inbound_nodes") or []
        if len(nodes) > 1:
            raise ModelError(f"layer {name} is called more than once; not supported")
        sources = list(_histories(nodes[0])) if nodes else []
        layers.append(
            {
                "name": name,
                "class_name": entry["class_name"],
                "config": _config_2_3_1(entry["class_name"], name, entry.get("config", {})),
                "inbound_nodes": [[[src, 0, 0, {}] for src in sources]] if sources else [],
            }
        )

    def refs(value: Any) -> list[list[Any]]:
        if isinstance(value, list) and value and isinstance(value[0], str):
            value = [value]
        return [[str(v[0]), 0, 0] for v in value]

    topology = {
        "class_name": "Model",
        "config": {
            "name": str(config.get("name", model.name)),
            "layers": layers,
            "input_layers": refs(config["input_layers"]),
            "output_layers": refs(config["output_layers"]),
        },
    }
    weights: dict[str, np.ndarray] = {}
    for layer in model.layers:
        for variable in layer.weights:
            var = str(variable.path).split("/")[-1].split(":")[0]
            weights[f"{layer.name}/{var}"] = np.asarray(variable.numpy(), dtype=np.float32)
    return LayersModel(topology=topology, weights=weights)


def to_keras(lm: LayersModel) -> keras.Model:
    """Build a Keras 3 model from a layers model and set its weights by name."""
    import copy
    import warnings

    import keras

    config = lm.topology.get("config")
    if not isinstance(config, dict):
        raise ModelError("model.json has no model_config.config")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = keras.Model.from_config(copy.deepcopy(config))
    for layer in model.layers:
        values = []
        for variable in layer.weights:
            var = str(variable.path).split("/")[-1].split(":")[0]
            key = f"{layer.name}/{var}"
            if key not in lm.weights:
                key = f"{layer.name}/lstm_cell/{var}"
            if key not in lm.weights:
                raise ModelError(f"model has no weight {layer.name}/{var}")
            values.append(np.asarray(lm.weights[key], dtype=np.float32))
        if values:
            try:
                layer.set_weights(values)
            except ValueError as error:
                raise ModelError(f"weights of layer {layer.name} do not fit: {error}") from None
    return model
