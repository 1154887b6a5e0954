"""The generator file format: a TF.js layers model in the Keras 2.3.1 dialect.

A generator is ``model.json`` (topology + weights manifest) plus ``group1-shard1of1.bin``
(little-endian float32 concatenated in manifest order). This is the dialect of the 2020
RhythmCAN release files and the one both TF.js 1.5.x (the Max for Live device) and TF.js 4.x
load, so a stored model is already a Max for Live model (method.md section 7).

Reading matches weights by name (the 2020 manifest is sorted alphabetically, not in layer
order) and dequantizes quantized weights as TF.js writes them. No TensorFlow here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import ModelError

MODEL_JSON: Final = "model.json"
SHARD_NAME: Final = "group1-shard1of1.bin"
KERAS_VERSION: Final = "2.3.1"
GENERATED_BY: Final = "keras v2.3.1"

_DTYPES: Final[dict[str, np.dtype[Any]]] = {
    "float32": np.dtype("<f4"),
    "int32": np.dtype("<i4"),
    "bool": np.dtype("?"),
    "float16": np.dtype("<f2"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
}


@dataclass
class LayersModel:
    """A layers model in memory: the Keras ``model_config`` object and its named weights.

    ``topology`` is ``{"class_name": "Model", "config": {name, layers, input_layers,
    output_layers}}``; ``weights`` maps ``layer/var`` to a float32 (or int32) array, in the
    order they are written. ``user_metadata`` is model.json's ``userDefinedMetadata``: free
    JSON that TF.js 4.x returns from ``getUserDefinedMetadata()`` and TF.js 1.5.x ignores
    (rhythmcan's exports keep their metadata there under ``"rhythmcan"``).
    """

    topology: dict[str, Any]
    weights: dict[str, npt.NDArray[Any]] = field(default_factory=dict)
    user_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def layers(self) -> list[dict[str, Any]]:
        """The layer entries of the topology (``name``, ``class_name``, ``config``...)."""
        config = self.topology.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ModelError("model.json has no layer list (model_config.config.layers)")
        layers: list[dict[str, Any]] = config["layers"]
        return layers

    def to_json(self) -> dict[str, Any]:
        """The ``model.json`` object (Keras 2.3.1 dialect) for this model."""
        entries = []
        for name, array in self.weights.items():
            dtype = "int32" if np.issubdtype(array.dtype, np.integer) else "float32"
            entries.append({"name": name, "shape": [int(d) for d in array.shape], "dtype": dtype})
        data: dict[str, Any] = {
            "format": "layers-model",
            "generatedBy": GENERATED_BY,
            "convertedBy": "rhythmcan",
            "modelTopology": {
                "keras_version": KERAS_VERSION,
                "backend": "tensorflow",
                "model_config": self.topology,
            },
            "weightsManifest": [{"paths": [SHARD_NAME], "weights": entries}],
        }
        if self.user_metadata:
            data["userDefinedMetadata"] = self.user_metadata
        return data

    def weight_bytes(self) -> bytes:
        """The weight shard: every weight little-endian, concatenated in ``weights`` order."""
        parts = []
        for array in self.weights.values():
            dtype = "<i4" if np.issubdtype(array.dtype, np.integer) else "<f4"
            parts.append(np.ascontiguousarray(array, dtype=dtype).tobytes())
        return b"".join(parts)

    def to_files(self) -> dict[str, bytes]:
        """``{"model.json": ..., "group1-shard1of1.bin": ...}`` ready to write or store."""
        text = json.dumps(self.to_json(), indent=None, separators=(",", ":"))
        return {MODEL_JSON: text.encode("utf-8"), SHARD_NAME: self.weight_bytes()}


def parse_model_json(data: Mapping[str, Any], where: str = "model.json") -> dict[str, Any]:
    """Return the ``model_config`` object of a parsed model.json, or raise ModelError."""
    topology = data.get("modelTopology")
    if not isinstance(topology, dict):
        raise ModelError(f"{where} is not a TF.js layers model (no modelTopology)")
    config = topology.get("model_config", topology)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ModelError(f"{where} has no model_config with a layer list")
    if not isinstance(config["config"].get("layers"), list):
        raise ModelError(f"{where} has no layer list")
    return config


def _dequantize(raw: bytes, entry: Mapping[str, Any], where: str) -> npt.NDArray[Any]:
    """Decode one manifest entry's bytes, undoing TF.js weight quantization if present."""
    quant = entry.get("quantization")
    if quant is None:
        dtype = _DTYPES.get(str(entry.get("dtype", "float32")))
        if dtype is None:
            raise ModelError(f"{where}: weight {entry.get('name')} has unsupported dtype")
        array = np.frombuffer(raw, dtype=dtype)
        if dtype.kind == "f":
            return array.astype(np.float32)
        return array.astype(np.int32) if dtype.kind in "iu" else array
    qdtype = str(quant.get("dtype", ""))
    if qdtype == "float16":
        return np.frombuffer(raw, dtype="<f2").astype(np.float32)
    if qdtype not in ("uint8", "uint16"):
        raise ModelError(
            f"{where}: weight {entry.get('name')} uses unsupported quantization {qdtype!r}"
        )
    values = np.frombuffer(raw, dtype=_DTYPES[qdtype]).astype(np.float32)
    scale = float(quant.get("scale", 1.0))
    minimum = float(quant.get("min", 0.0))
    out = values * np.float32(scale) + np.float32(minimum)
    if str(entry.get("dtype", "float32")) == "int32":
        return np.round(out).astype(np.int32)
    return out.astype(np.float32)


def _entry_nbytes(entry: Mapping[str, Any], where: str) -> int:
    """Bytes one manifest entry occupies in the shard."""
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ModelError(f"{where}: weight {entry.get('name')} has a bad shape {shape!r}")
    quant = entry.get("quantization")
    source = quant if isinstance(quant, dict) else entry
    dtype_name = str(source.get("dtype", "float32"))
    dtype = _DTYPES.get(dtype_name)
    if dtype is None:
        raise ModelError(
            f"{where}: weight {entry.get('name')} has unsupported dtype {dtype_name!r}"
        )
    return math.prod(shape) * dtype.itemsize


def _shard_name(rel: object, where: str) -> str:
    """A weightsManifest path as a bare file name beside model.json, or ModelError.

    An untrusted manifest must not read files from elsewhere ('../x', '/abs/x', 'sub/../x'):
    they would be imported as weights.
    """
    name = str(rel)
    if (
        not isinstance(rel, str)
        or name in ("", ".", "..")
        or "/" in name
        or "\\" in name
        or "\0" in name
        or Path(name).is_absolute()
        or PureWindowsPath(name).drive
    ):
        raise ModelError(
            f"{where} names weight file {name!r}, which is not a plain file name beside it; "
            "refusing to read outside the model folder"
        )
    return name


def read_weights(
    manifest: Any, base: Path, where: str = "model.json"
) -> dict[str, npt.NDArray[Any]]:
    """Read every weight a manifest names from the shard files in ``base``, keyed by name."""
    if not isinstance(manifest, list):
        raise ModelError(f"{where} has no weightsManifest")
    weights: dict[str, npt.NDArray[Any]] = {}
    for group in manifest:
        paths = group.get("paths", []) if isinstance(group, dict) else []
        entries = group.get("weights", []) if isinstance(group, dict) else []
        buffers = []
        for rel in paths:
            shard = base / _shard_name(rel, where)
            if not shard.is_file():
                raise ModelError(f"weight file {shard} is missing (it must sit beside {where})")
            buffers.append(shard.read_bytes())
        data = b"".join(buffers)
        offset = 0
        for entry in entries:
            size = _entry_nbytes(entry, where)
            if offset + size > len(data):
                raise ModelError(
                    f"weight file(s) {', '.join(map(str, paths))} are too short for weight "
                    f"{entry.get('name')} ({len(data)} bytes; need at least {offset + size})"
                )
            array = _dequantize(data[offset : offset + size], entry, where)
            weights[str(entry["name"])] = array.reshape(entry["shape"])
            offset += size
    return weights


def read_layers_model(model_json: Path) -> LayersModel:
    """Read ``model.json`` and its weight shard(s) beside it into a :class:`LayersModel`."""
    model_json = Path(model_json)
    if model_json.is_dir():
        model_json = model_json / MODEL_JSON
    try:
        data = json.loads(model_json.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model file {model_json} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"cannot read {model_json}: {error}") from None
    if not isinstance(data, dict):
        raise ModelError(f"{model_json} is not a TF.js layers model (not a JSON object)")
    topology = parse_model_json(data, str(model_json))
    weights = read_weights(data.get("weightsManifest"), model_json.parent, str(model_json))
    user = data.get("userDefinedMetadata")
    return LayersModel(
        topology=topology, weights=weights, user_metadata=user if isinstance(user, dict) else {}
    )


def write_layers_model(model: LayersModel, out_dir: Path) -> list[Path]:
    """Write ``model.json`` and ``group1-shard1of1.bin`` into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, payload in model.to_files().items():
        path = out_dir / name
        path.write_bytes(payload)
        written.append(path)
    return written
