"""Numpy forward pass of generators stored as TF.js layers models (no TensorFlow).

``sample`` must feel instant: importing TensorFlow alone costs seconds, a numpy forward pass
of the whole generator takes milliseconds. The layer graph is walked once at load time from
``input_layers`` to ``output_layers`` (via ``inbound_nodes``) into a list of steps; weights are
checked against the shapes flowing through, so a model that does not fit fails at load time
with one line. Math is float32 and batched; LSTMs project all time steps in one matmul.

Semantics follow Keras 2.3.1 / TF.js (the file's dialect): LSTM gate order i, f, c, o;
``hard_sigmoid`` is ``clip(0.2 x + 0.5, 0, 1)``; BatchNormalization uses moving statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError, ModelError
from rhythmcan_cli.formats.layers_model import LayersModel

FloatArray = npt.NDArray[np.float32]
Shape = tuple[int, ...]
"""A tensor shape without the batch dimension."""

SUPPORTED_LAYERS: Final = (
    "InputLayer",
    "Dense",
    "LeakyReLU",
    "BatchNormalization",
    "Reshape",
    "Dropout",
    "LSTM",
    "Embedding",
    "Flatten",
    "Multiply",
    "Concatenate",
    "Activation",
)
_CHUNK: Final = 4096
"""Rows per forward chunk: big enough for BLAS, small enough to stay in cache-friendly memory."""


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


def _activation(name: Any, layer: str) -> Callable[[FloatArray], FloatArray]:
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


@dataclass
class _Step:
    """One layer call: output name, input names, the function of the input arrays."""

    name: str
    inputs: tuple[str, ...]
    fn: Callable[[Sequence[FloatArray]], FloatArray]


class _Weights:
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


def _lstm(
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


def _ifco_to_ifoc(array: FloatArray, units: int) -> FloatArray:
    """Reorder the last axis from Keras gate order (i, f, c, o) to (i, f, o, c)."""
    i, f, c, o = (array[..., k * units : (k + 1) * units] for k in range(4))
    out: FloatArray = np.ascontiguousarray(np.concatenate([i, f, o, c], axis=-1))
    return out


class Generator:
    """A generator ready to run: ``generate(z, genres)`` -> (N, 32, 9) float32 patterns."""

    def __init__(
        self,
        steps: list[_Step],
        z_input: str,
        genre_input: str | None,
        output: str,
        z_dim: int,
        output_shape: Shape,
        embedding: FloatArray | None,
        embedding_layer: str | None,
    ) -> None:
        self._steps = steps
        self._z_input = z_input
        self._genre_input = genre_input
        self._output = output
        self.z_dim = z_dim
        self.output_shape = output_shape
        self._embedding = embedding
        self._embedding_layer = embedding_layer
        self.n_genres: int | None = None if embedding is None else int(embedding.shape[0])

    @property
    def genre_embeddings(self) -> FloatArray | None:
        """The genre embedding matrix (K, D) of a conditional model (a copy), else None."""
        return None if self._embedding is None else self._embedding.copy()

    @classmethod
    def from_layers_model(cls, lm: LayersModel) -> Generator:
        """Compile ``lm``'s layer graph into numpy steps; ModelError names what does not fit.

        The file is untrusted data: a config value of the wrong type or a missing key
        (``"units": "abc"``, a layer without ``units``) is a ModelError, never a traceback.
        """
        try:
            return _compile(lm)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            raise ModelError(
                f"model.json has a layer configuration rhythmcan cannot read "
                f"({type(error).__name__}: {str(error)[:120]})"
            ) from None

    def forward(self, z: FloatArray, genre_rows: FloatArray | None) -> FloatArray:
        """Run the compiled steps on a z batch and (conditional) embedding rows (N, D)."""
        values: dict[str, FloatArray] = {self._z_input: z}
        if self._genre_input is not None:
            assert genre_rows is not None
            # The Embedding step reads the precomputed (possibly blended) rows.
            values[self._genre_input] = genre_rows
        for step in self._steps:
            values[step.name] = step.fn([values[name] for name in step.inputs])
        return values[self._output]

    def generate(
        self,
        z: npt.ArrayLike,
        genres: npt.ArrayLike | None = None,
        genre_weights: npt.ArrayLike | None = None,
        *,
        clip: bool = True,
    ) -> FloatArray:
        """Patterns for a z batch (N, z_dim); conditional models need genres or genre_weights.

        ``genres`` (N,) holds genre ids; ``genre_weights`` (N, K) mixes the embedding rows
        (a genre blend). Output values are clipped to [0, 1] unless ``clip=False`` (raw
        output, for parity checks).
        """
        z_arr = np.asarray(z, dtype=np.float32)
        if z_arr.ndim == 1:
            z_arr = z_arr[None, :]
        if z_arr.ndim != 2 or z_arr.shape[1] != self.z_dim:
            raise DataError(f"z must have shape (N, {self.z_dim}), got {tuple(z_arr.shape)}")
        n = z_arr.shape[0]
        rows: FloatArray | None = None
        if self._embedding is None:
            if genres is not None or genre_weights is not None:
                raise DataError("this model has no genre input; sample it without a genre")
        else:
            k = self._embedding.shape[0]
            if (genres is None) == (genre_weights is None):
                raise DataError(
                    "this conditional model needs exactly one of genres or genre_weights"
                )
            if genres is not None:
                ids = np.asarray(genres).reshape(-1)
                if ids.shape[0] == 1 and n > 1:
                    ids = np.repeat(ids, n)
                if ids.shape[0] != n or not np.all(np.equal(np.mod(ids, 1), 0)):
                    raise DataError(f"genres must be {n} integer genre ids")
                ids = ids.astype(np.int64)
                if ids.size and (ids.min() < 0 or ids.max() >= k):
                    raise DataError(f"genre ids must lie in 0..{k - 1}")
                rows = self._embedding[ids]
            else:
                w = np.asarray(genre_weights, dtype=np.float32)
                if w.ndim == 1:
                    w = np.broadcast_to(w, (n, w.shape[0]))
                if w.shape != (n, k) or not np.all(np.isfinite(w)):
                    raise DataError(f"genre_weights must have shape ({n}, {k}), got {w.shape}")
                rows = (w @ self._embedding).astype(np.float32)
        out = np.empty((n, *self.output_shape), dtype=np.float32)
        for start in range(0, n, _CHUNK):
            stop = min(n, start + _CHUNK)
            part = self.forward(
                np.ascontiguousarray(z_arr[start:stop]), None if rows is None else rows[start:stop]
            )
            out[start:stop] = part
        if clip:
            np.clip(out, 0.0, 1.0, out=out)
        return out


def _embedding_rows(args: Sequence[FloatArray]) -> FloatArray:
    """The Embedding step: the genre input already holds the (blended) rows (N, D)."""
    return args[0][:, None, :]


def _inbound(layer: dict[str, Any]) -> tuple[str, ...]:
    """Names of the layers feeding ``layer`` (Keras 2.3.1 ``inbound_nodes`` form)."""
    nodes = layer.get("inbound_nodes") or []
    if not nodes:
        return ()
    if len(nodes) != 1:
        raise ModelError(f"layer {layer.get('name')} is called more than once; not supported")
    names = []
    for ref in nodes[0]:
        if not isinstance(ref, list) or not ref or not isinstance(ref[0], str):
            raise ModelError(
                f"layer {layer.get('name')} has inbound_nodes in an unknown form "
                "(expected the Keras 2.3.1 dialect: [[[name, 0, 0, {}]]])"
            )
        if len(ref) > 2 and ref[2] != 0:
            raise ModelError(f"layer {layer.get('name')} reads a second output of {ref[0]}")
        names.append(ref[0])
    return tuple(names)


def _names(refs: Any, what: str) -> list[str]:
    """Layer names from ``input_layers``/``output_layers`` ([[name, 0, 0], ...])."""
    if not isinstance(refs, list) or not refs:
        raise ModelError(f"model.json has no {what}")
    if isinstance(refs[0], str):  # a single [name, 0, 0]
        refs = [refs]
    return [str(ref[0]) for ref in refs]


def _input_shape(config: dict[str, Any], name: str) -> Shape:
    shape = config.get("batch_input_shape") or config.get("batch_shape")
    if shape is None and config.get("input_shape") is not None:
        shape = [None, *config["input_shape"]]
    if not isinstance(shape, list) or len(shape) < 2 or any(d is None for d in shape[1:]):
        raise ModelError(f"input layer {name} has no fixed batch_input_shape")
    return tuple(int(d) for d in shape[1:])


def _compile(lm: LayersModel) -> Generator:
    """Turn the topology into ordered numpy steps, checking every weight's shape."""
    config = lm.topology.get("config", {})
    layers = {str(layer.get("name")): layer for layer in lm.layers}
    unsupported = sorted(
        {
            f"{name} ({layer.get('class_name')})"
            for name, layer in layers.items()
            if layer.get("class_name") not in SUPPORTED_LAYERS
        }
    )
    if unsupported:
        raise ModelError(
            f"model uses layers rhythmcan cannot run: {', '.join(unsupported)} "
            f"(supported: {', '.join(SUPPORTED_LAYERS)})"
        )
    inputs = _names(config.get("input_layers"), "input_layers")
    outputs = _names(config.get("output_layers"), "output_layers")
    if len(outputs) != 1:
        raise ModelError(f"a generator has one output, this model has {len(outputs)}")
    if not 1 <= len(inputs) <= 2:
        raise ModelError(f"a generator has 1 or 2 inputs (z, genre), this model has {len(inputs)}")
    for name in (*inputs, *outputs):
        if name not in layers:
            raise ModelError(f"model.json names layer {name} as input/output but lacks it")

    weights = _Weights(lm.weights)
    shapes: dict[str, Shape] = {}
    steps: list[_Step] = []
    embedding: FloatArray | None = None
    embedding_layer: str | None = None
    genre_input: str | None = None
    visiting: set[str] = set()

    def build(name: str) -> Shape:
        nonlocal embedding, embedding_layer, genre_input
        if name in shapes:
            return shapes[name]
        if name not in layers:
            raise ModelError(f"model.json refers to a layer {name} it does not define")
        if name in visiting:
            raise ModelError(f"model.json has a cycle through layer {name}")
        visiting.add(name)
        layer = layers[name]
        kind = str(layer.get("class_name"))
        cfg: dict[str, Any] = layer.get("config") or {}
        sources = _inbound(layer)
        in_shapes = [build(src) for src in sources]
        visiting.discard(name)
        if kind == "InputLayer":
            if name not in inputs:
                raise ModelError(f"input layer {name} is not listed in input_layers")
            shape = _input_shape(cfg, name)
        else:
            if not sources:
                raise ModelError(f"layer {name} ({kind}) has no inbound layer")
            if kind not in ("Multiply", "Concatenate") and len(sources) != 1:
                raise ModelError(f"layer {name} ({kind}) takes one input, got {len(sources)}")
            shape, fn = _layer(name, kind, cfg, in_shapes, weights)
            if kind == "Embedding":
                src_layer = layers[sources[0]]
                if src_layer.get("class_name") != "InputLayer" or embedding is not None:
                    raise ModelError(
                        f"embedding {name} must read a model input directly (one embedding)"
                    )
                table = (int(cfg.get("input_dim", 0)), int(cfg.get("output_dim", 0)))
                embedding = weights.get(name, "embeddings", table)
                embedding_layer = name
                genre_input = sources[0]
                if in_shapes[0] != (1,):
                    raise ModelError(f"genre input {sources[0]} must have shape [null, 1]")
                shape = (1, embedding.shape[1])
                fn = _embedding_rows
            steps.append(_Step(name, sources, fn))
        shapes[name] = shape
        return shape

    out_shape = build(outputs[0])
    for name in inputs:
        build(name)
    z_inputs = [name for name in inputs if name != genre_input]
    if len(z_inputs) != 1:
        raise ModelError("a generator has exactly one z input (plus an optional genre input)")
    z_shape = shapes[z_inputs[0]]
    if len(z_shape) != 1:
        raise ModelError(f"z input {z_inputs[0]} must be a vector, got shape {list(z_shape)}")
    unused = sorted(set(lm.weights) - weights.used)
    if unused:
        raise ModelError(f"model.json has weights no layer uses: {', '.join(unused[:5])}")
    return Generator(
        steps=steps,
        z_input=z_inputs[0],
        genre_input=genre_input,
        output=outputs[0],
        z_dim=z_shape[0],
        output_shape=out_shape,
        embedding=embedding,
        embedding_layer=embedding_layer,
    )


def _layer(
    name: str, kind: str, cfg: dict[str, Any], in_shapes: list[Shape], weights: _Weights
) -> tuple[Shape, Callable[[Sequence[FloatArray]], FloatArray]]:
    """Output shape and numpy function of one (non-input) layer."""
    shape = in_shapes[0]
    if kind == "Dense":
        units = int(cfg["units"])
        act = _activation(cfg.get("activation"), name)
        kernel = weights.get(name, "kernel", (shape[-1], units))
        bias = weights.get(name, "bias", (units,)) if cfg.get("use_bias", True) else None

        def dense(args: Sequence[FloatArray]) -> FloatArray:
            y = args[0] @ kernel
            if bias is not None:
                y += bias
            return act(y)

        return (*shape[:-1], units), dense
    if kind == "LeakyReLU":
        slope = np.float32(cfg.get("alpha", cfg.get("negative_slope", 0.3)))

        def leaky(args: Sequence[FloatArray]) -> FloatArray:
            x = args[0]
            return np.where(x >= 0, x, x * slope)

        return shape, leaky
    if kind == "BatchNormalization":
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
    if kind == "Reshape":
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
    if kind == "Flatten":
        flat = (int(np.prod(shape)),)

        def flatten(args: Sequence[FloatArray]) -> FloatArray:
            return args[0].reshape(args[0].shape[0], -1)

        return flat, flatten
    if kind == "Dropout":
        return shape, lambda args: args[0]
    if kind == "Activation":
        act = _activation(cfg.get("activation"), name)
        return shape, lambda args: act(args[0])
    if kind == "Multiply":
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
    if kind == "Concatenate":
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
    if kind == "LSTM":
        if cfg.get("go_backwards") or cfg.get("stateful") or cfg.get("return_state"):
            raise ModelError(
                f"LSTM {name}: go_backwards, stateful and return_state are not supported"
            )
        if len(shape) != 2:
            raise ModelError(f"LSTM {name} needs a (steps, features) input, got {list(shape)}")
        units = int(cfg["units"])
        act = _activation(cfg.get("activation", "tanh"), name)
        rec_act = _activation(cfg.get("recurrent_activation", "sigmoid"), name)
        kernel = weights.get(name, "kernel", (shape[1], 4 * units))
        recurrent = weights.get(name, "recurrent_kernel", (units, 4 * units))
        bias = weights.get(name, "bias", (4 * units,)) if cfg.get("use_bias", True) else None
        seq = bool(cfg.get("return_sequences", False))
        kernel = _ifco_to_ifoc(kernel, units)
        recurrent = _ifco_to_ifoc(recurrent, units)
        bias = None if bias is None else _ifco_to_ifoc(bias, units)

        def lstm(args: Sequence[FloatArray]) -> FloatArray:
            return _lstm(args[0], kernel, recurrent, bias, act, rec_act, seq)

        return ((shape[0], units) if seq else (units,)), lstm
    if kind == "Embedding":
        # Filled in by the caller, which owns the genre input.
        return shape, lambda args: args[0]
    raise ModelError(f"layer {name} ({kind}) is not supported")  # pragma: no cover
