"""Numpy forward pass of generators stored as TF.js layers models (no TensorFlow).

``sample`` must feel instant: importing TensorFlow alone costs seconds, a numpy forward pass
of the whole generator takes milliseconds. The layer graph is walked once at load time from
``input_layers`` to ``output_layers`` (via ``inbound_nodes``) into a list of steps, each built
by the layer registry (layers.py); weights are checked against the shapes flowing through, so
a model that does not fit fails at load time with one line. Math is float32 and batched;
LSTMs project all time steps in one matmul. BatchNormalization uses moving statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.engine.layers import LAYERS, SUPPORTED_LAYERS, LayerFn
from rhythmcan_cli.engine.ops import FloatArray, Shape, Weights
from rhythmcan_cli.errors import DataError, ModelError
from rhythmcan_cli.formats.layers_model import LayersModel

_CHUNK: Final = 4096
"""Rows per forward chunk: big enough for BLAS, small enough to stay in cache-friendly memory."""


@dataclass
class _Step:
    """One layer call: output name, input names, the function of the input arrays."""

    name: str
    inputs: tuple[str, ...]
    fn: LayerFn


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

    weights = Weights(lm.weights)
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
            layer_kind = LAYERS[kind]
            if not layer_kind.merges and len(sources) != 1:
                raise ModelError(f"layer {name} ({kind}) takes one input, got {len(sources)}")
            shape, fn = layer_kind.build(name, cfg, in_shapes, weights)
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
