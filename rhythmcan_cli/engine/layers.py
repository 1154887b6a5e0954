"""The one registry of layers the engine runs: a builder per Keras layer class.

Each builder turns a layer's config and input shapes into its output shape and a numpy
function, checking every weight's shape (``ops.Weights``). ``SUPPORTED_LAYERS`` (the
registry's names plus ``InputLayer``) is what ``models import`` accepts and what the Keras
bridge (``training/keras_io.py``) converts; a test keeps the three in step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from rhythmcan_cli.engine.ops import FloatArray, Shape, Weights, activation, ifco_to_ifoc, lstm
from rhythmcan_cli.errors import ModelError

LayerFn = Callable[[Sequence[FloatArray]], FloatArray]
Built = tuple[Shape, LayerFn]
"""A built layer: its output shape (no batch axis) and its numpy function."""


def _dense(name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights) -> Built:
    shape = in_shapes[0]
    units = int(cfg["units"])
    act = activation(cfg.get("activation"), name)
    kernel = weights.get(name, "kernel", (shape[-1], units))
    bias = weights.get(name, "bias", (units,)) if cfg.get("use_bias", True) else None

    def dense(args: Sequence[FloatArray]) -> FloatArray:
        y = args[0] @ kernel
        if bias is not None:
            y += bias
        return act(y)

    return (*shape[:-1], units), dense


def _leaky_relu(name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights) -> Built:
    shape = in_shapes[0]
    slope = np.float32(cfg.get("alpha", cfg.get("negative_slope", 0.3)))

    def leaky(args: Sequence[FloatArray]) -> FloatArray:
        x = args[0]
        return np.where(x >= 0, x, x * slope)

    return shape, leaky


def _batch_normalization(
    name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights
) -> Built:
    shape = in_shapes[0]
    axis = cfg.get("axis", -1)
    if isinstance(axis, list):
        axis = axis[0] if len(axis) == 1 else None
    if axis not in (-1, len(shape)):
        raise ModelError(f"batch normalization {name} must normalise the last axis")
    dim = (shape[-1],)
    eps = float(cfg.get("epsilon", 1e-3))
    mean = weights.get(name, "moving_mean", dim)
    var = weights.get(name, "moving_variance", dim)
    ones, zeros = np.ones(dim, np.float32), np.zeros(dim, np.float32)
    gamma = weights.get(name, "gamma", dim) if cfg.get("scale", True) else ones
    beta = weights.get(name, "beta", dim) if cfg.get("center", True) else zeros
    # Keras computes (x - mean) * (gamma / sqrt(var + eps)) + beta.
    inv = (gamma / np.sqrt(var + np.float32(eps))).astype(np.float32)

    def batchnorm(args: Sequence[FloatArray]) -> FloatArray:
        out: FloatArray = (args[0] - mean) * inv + beta
        return out

    return shape, batchnorm


def _reshape(name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights) -> Built:
    shape = in_shapes[0]
    target = tuple(int(d) for d in cfg["target_shape"])
    size = int(np.prod(shape))
    if -1 in target:
        known = int(np.prod([d for d in target if d != -1]))
        target = tuple(size // known if d == -1 else d for d in target)
    if int(np.prod(target)) != size:
        raise ModelError(f"reshape {name} cannot turn shape {list(shape)} into {list(target)}")

    def reshape(args: Sequence[FloatArray]) -> FloatArray:
        return args[0].reshape((args[0].shape[0], *target))

    return target, reshape


def _flatten(name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights) -> Built:
    shape = in_shapes[0]
    flat = (int(np.prod(shape)),)

    def flatten(args: Sequence[FloatArray]) -> FloatArray:
        return args[0].reshape(args[0].shape[0], -1)

    return flat, flatten


def _dropout(name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights) -> Built:
    shape = in_shapes[0]
    return shape, lambda args: args[0]


def _activation_layer(
    name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights
) -> Built:
    shape = in_shapes[0]
    act = activation(cfg.get("activation"), name)
    return shape, lambda args: act(args[0])


def _multiply(name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights) -> Built:
    shape = in_shapes[0]
    if len(in_shapes) < 2 or any(s != shape for s in in_shapes):
        raise ModelError(
            f"multiply {name} needs inputs of one shape, got {[list(s) for s in in_shapes]}"
        )

    def multiply(args: Sequence[FloatArray]) -> FloatArray:
        out = args[0] * args[1]
        for extra in args[2:]:
            out = out * extra
        return out

    return shape, multiply


def _concatenate(name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights) -> Built:
    shape = in_shapes[0]
    axis = int(cfg.get("axis", -1))
    ranks = {len(s) for s in in_shapes}
    if len(in_shapes) < 2 or len(ranks) != 1 or axis not in (-1, len(shape)):
        raise ModelError(
            f"concatenate {name} joins inputs of one rank on the last axis, got "
            f"{[list(s) for s in in_shapes]} on axis {axis}"
        )
    if any(s[:-1] != shape[:-1] for s in in_shapes):
        raise ModelError(
            f"concatenate {name} needs inputs that differ only in the last axis, got "
            f"{[list(s) for s in in_shapes]}"
        )

    def concatenate(args: Sequence[FloatArray]) -> FloatArray:
        out: FloatArray = np.concatenate(args, axis=-1)
        return out

    return (*shape[:-1], sum(s[-1] for s in in_shapes)), concatenate


def _lstm_layer(name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights) -> Built:
    shape = in_shapes[0]
    if cfg.get("go_backwards") or cfg.get("stateful") or cfg.get("return_state"):
        raise ModelError(f"LSTM {name}: go_backwards, stateful and return_state are not supported")
    if len(shape) != 2:
        raise ModelError(f"LSTM {name} needs a (steps, features) input, got {list(shape)}")
    units = int(cfg["units"])
    act = activation(cfg.get("activation", "tanh"), name)
    rec_act = activation(cfg.get("recurrent_activation", "sigmoid"), name)
    kernel = weights.get(name, "kernel", (shape[1], 4 * units))
    recurrent = weights.get(name, "recurrent_kernel", (units, 4 * units))
    bias = weights.get(name, "bias", (4 * units,)) if cfg.get("use_bias", True) else None
    seq = bool(cfg.get("return_sequences", False))
    kernel = ifco_to_ifoc(kernel, units)
    recurrent = ifco_to_ifoc(recurrent, units)
    bias = None if bias is None else ifco_to_ifoc(bias, units)

    def run(args: Sequence[FloatArray]) -> FloatArray:
        return lstm(args[0], kernel, recurrent, bias, act, rec_act, seq)

    return ((shape[0], units) if seq else (units,)), run


def _embedding(name: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: Weights) -> Built:
    shape = in_shapes[0]
    # Filled in by the caller, which owns the genre input.
    return shape, lambda args: args[0]


@dataclass(frozen=True)
class LayerKind:
    """A supported layer class: its builder and whether it merges several inputs."""

    build: Callable[[str, dict[str, Any], list[Shape], Weights], Built]
    merges: bool = False


LAYERS: Final[dict[str, LayerKind]] = {
    "Dense": LayerKind(_dense),
    "LeakyReLU": LayerKind(_leaky_relu),
    "BatchNormalization": LayerKind(_batch_normalization),
    "Reshape": LayerKind(_reshape),
    "Flatten": LayerKind(_flatten),
    "Dropout": LayerKind(_dropout),
    "Activation": LayerKind(_activation_layer),
    "Multiply": LayerKind(_multiply, merges=True),
    "Concatenate": LayerKind(_concatenate, merges=True),
    "LSTM": LayerKind(_lstm_layer),
    "Embedding": LayerKind(_embedding),
}
"""Every layer class the engine runs, by Keras class name."""

SUPPORTED_LAYERS: Final = ("InputLayer", *LAYERS)
