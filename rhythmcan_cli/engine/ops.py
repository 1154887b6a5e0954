"""The numpy arithmetic of the engine: activations, the Keras LSTM (gate order reordered
for one sigmoid call), and weight lookup by layer and variable name with shape checks.

Semantics follow Keras 2.3.1 / TF.js (the file's dialect): LSTM gate order i, f, c, o;
``hard_sigmoid`` is ``clip(0.2 x + 0.5, 0, 1)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import ModelError

FloatArray = npt.NDArray[np.float32]
Shape = tuple[int, ...]
"""A tensor shape without the batch dimension."""


def _sigmoid(x: FloatArray) -> FloatArray:
    # 0.5 * (1 + tanh(x / 2)) == 1 / (1 + exp(-x)), without overflow warnings.
    out: FloatArray = np.tanh(x * np.float32(0.5))
    out += np.float32(1.0)
    out *= np.float32(0.5)
    return out


def _hard_sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = np.clip(x * np.float32(0.2) + np.float32(0.5), 0.0, 1.0)
    return out.astype(np.float32, copy=False)


def _softmax(x: FloatArray) -> FloatArray:
    e: FloatArray = np.exp(x - x.max(axis=-1, keepdims=True))
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out.astype(np.float32, copy=False)


def _relu(x: FloatArray) -> FloatArray:
    out: FloatArray = np.maximum(x, np.float32(0.0))
    return out


def _linear(x: FloatArray) -> FloatArray:
    return x


def _softplus(x: FloatArray) -> FloatArray:
    return np.logaddexp(np.float32(0.0), x).astype(np.float32)


ACTIVATIONS: Final[dict[str, Callable[[FloatArray], FloatArray]]] = {
    "linear": _linear,
    "relu": _relu,
    "sigmoid": _sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "tanh": np.tanh,
    "softmax": _softmax,
    "softplus": _softplus,
}


def activation(name: Any, layer: str) -> Callable[[FloatArray], FloatArray]:
    """The activation function a config names (Keras 3 may wrap it in a dict)."""
    if isinstance(name, dict):
        name = name.get("config", {}).get("name", name.get("class_name"))
    if name is None:
        return _linear
    fn = ACTIVATIONS.get(str(name))
    if fn is None:
        raise ModelError(
            f"layer {layer} uses activation {name!r}, which rhythmcan does not support "
            f"(supported: {', '.join(ACTIVATIONS)})"
        )
    return fn


class Weights:
    """Weights looked up by layer and variable name, tolerant of the dialects in the wild."""

    def __init__(self, weights: dict[str, npt.NDArray[Any]]) -> None:
        self._weights = weights
        self.used: set[str] = set()

    def get(self, layer: str, var: str, shape: Shape) -> FloatArray:
        """``layer/var`` as float32 with the expected shape, or ModelError."""
        key = f"{layer}/{var}"
        if key not in self._weights:
            candidates = [
                k for k in self._weights if k.split("/")[-1] == var and layer in k.split("/")[:-1]
            ]
            if len(candidates) != 1:
                raise ModelError(f"model has no weight {key} (layer {layer} needs it)")
            key = candidates[0]
        array = np.asarray(self._weights[key], dtype=np.float32)
        if tuple(array.shape) != tuple(shape):
            raise ModelError(
                f"weight {key} has shape {list(array.shape)}, layer {layer} needs {list(shape)}"
            )
        self.used.add(key)
        return array


def lstm(
    x: FloatArray,
    kernel: FloatArray,
    recurrent: FloatArray,
    bias: FloatArray | None,
    activation: Callable[[FloatArray], FloatArray],
    recurrent_activation: Callable[[FloatArray], FloatArray],
    return_sequences: bool,
) -> FloatArray:
    """Keras LSTM over ``x`` (N, T, F); weights already reordered to gates i, f, o, c.

    All time steps' input projections come from one matmul, laid out time-major so each
    step reads a contiguous block; the three sigmoid gates are activated in one call.
    """
    n, steps, features = x.shape
    units = recurrent.shape[0]
    time_major = np.ascontiguousarray(x.transpose(1, 0, 2)).reshape(steps * n, features)
    projected = (time_major @ kernel).reshape(steps, n, 4 * units)
    if bias is not None:
        projected += bias
    h = np.zeros((n, units), dtype=np.float32)
    c = np.zeros((n, units), dtype=np.float32)
    z = np.empty((n, 4 * units), dtype=np.float32)
    outputs = np.empty((steps, n, units), dtype=np.float32) if return_sequences else None
    for t in range(steps):
        np.matmul(h, recurrent, out=z)
        z += projected[t]
        gates = recurrent_activation(z[:, : 3 * units])
        g = activation(z[:, 3 * units :])
        c *= gates[:, units : 2 * units]
        c += gates[:, :units] * g
        h = gates[:, 2 * units :] * activation(c)
        if outputs is not None:
            outputs[t] = h
    if outputs is None:
        return h
    result: FloatArray = np.ascontiguousarray(outputs.transpose(1, 0, 2))
    return result


def ifco_to_ifoc(array: FloatArray, units: int) -> FloatArray:
    """Reorder the last axis from Keras gate order (i, f, c, o) to (i, f, o, c)."""
    i, f, c, o = (array[..., k * units : (k + 1) * units] for k in range(4))
    out: FloatArray = np.ascontiguousarray(np.concatenate([i, f, o, c], axis=-1))
    return out
