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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PureWindowsPath
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import ModelError
from rhythmcan_cli.formats.model_folder import (
    MAX_JSON_BYTES,
    open_given,
    parse_json,
    read_fd,
    read_inside,
)

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
_QUANTIZED: Final = ("uint8", "uint16", "float16")
_MAX_RANK: Final = 8
MAX_WEIGHT_BYTES: Final = 512 * 1024 * 1024
"""Most weight bytes a model.json may declare (the paper's generator has 3.2 MB)."""


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


def _check_layers(layers: list[Any], where: str) -> None:
    """Each layer entry is an object with a unique string name, a string class and a config."""
    seen: set[str] = set()
    for index, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ModelError(f"{where}: layer {index} is not a JSON object")
        name = layer.get("name")
        if not isinstance(name, str) or not name:
            raise ModelError(f"{where}: layer {index} has no name")
        if name in seen:
            raise ModelError(f"{where}: layer name {name!r} is used twice")
        seen.add(name)
        if not isinstance(layer.get("class_name"), str):
            raise ModelError(f"{where}: layer {name!r} has no class_name")
        if not isinstance(layer.get("config"), dict):
            raise ModelError(f"{where}: layer {name!r} has no config object")
        if not isinstance(layer.get("inbound_nodes", []), list):
            raise ModelError(f"{where}: layer {name!r} has inbound_nodes that are not a list")


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
    _check_layers(config["config"]["layers"], where)
    return config


@dataclass(frozen=True)
class _Entry:
    """One checked weightsManifest entry."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    quantization: str | None
    scale: float
    minimum: float
    nbytes: int


@dataclass(frozen=True)
class _Group:
    """One checked weightsManifest group: its shard files and the weights they hold."""

    paths: tuple[str, ...]
    entries: tuple[_Entry, ...]
    nbytes: int


def _finite(value: Any, default: float, what: str) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelError(f"{what} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ModelError(f"{what} is not finite")
    return number


def _check_entry(entry: Any, index: int, where: str) -> _Entry:
    """A weightsManifest entry checked for types, dtype, quantization and size."""
    if not isinstance(entry, dict):
        raise ModelError(f"{where}: weight entry {index} is not a JSON object")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ModelError(f"{where}: weight entry {index} has no name")
    shape = entry.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) > _MAX_RANK
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise ModelError(f"{where}: weight {name!r} has a bad shape {str(shape)[:80]}")
    dtype = entry.get("dtype", "float32")
    if not isinstance(dtype, str) or dtype not in _DTYPES:
        raise ModelError(f"{where}: weight {name!r} has unsupported dtype {str(dtype)[:40]!r}")
    quant = entry.get("quantization")
    qdtype: str | None = None
    scale, minimum = 1.0, 0.0
    if quant is not None:
        if not isinstance(quant, dict):
            raise ModelError(f"{where}: weight {name!r} has a quantization that is not an object")
        qdtype = quant.get("dtype")
        if not isinstance(qdtype, str) or qdtype not in _QUANTIZED:
            raise ModelError(
                f"{where}: weight {name!r} uses unsupported quantization {str(qdtype)[:40]!r}"
            )
        scale = _finite(quant.get("scale"), 1.0, f"{where}: quantization scale of {name!r}")
        minimum = _finite(quant.get("min"), 0.0, f"{where}: quantization min of {name!r}")
    count = math.prod(shape)
    if count > MAX_WEIGHT_BYTES:
        raise ModelError(f"{where}: weight {name!r} declares {count:,} values; too large")
    itemsize = _DTYPES[qdtype or dtype].itemsize
    return _Entry(name, tuple(shape), dtype, qdtype, scale, minimum, count * itemsize)


def check_manifest(manifest: Any, where: str = "model.json") -> list[_Group]:
    """Validate a weightsManifest before any weight file is opened.

    Groups are objects with a list of plain file names (each used once in the whole
    manifest) and a list of weight entries (names unique, shapes of non-negative integers,
    known dtypes and quantizations with finite scale and min); the declared bytes of all
    weights together stay within :data:`MAX_WEIGHT_BYTES`. ModelError names the first
    problem. Nothing is allocated from the declared sizes before this passes.
    """
    if not isinstance(manifest, list):
        raise ModelError(f"{where} has no weightsManifest list")
    groups: list[_Group] = []
    paths_seen: set[str] = set()
    names_seen: set[str] = set()
    total = 0
    for g, group in enumerate(manifest):
        if not isinstance(group, dict):
            raise ModelError(f"{where}: weightsManifest group {g} is not a JSON object")
        paths = group.get("paths", [])
        entries = group.get("weights", [])
        if not isinstance(paths, list):
            raise ModelError(f"{where}: weightsManifest group {g} has paths that are not a list")
        if not isinstance(entries, list):
            raise ModelError(f"{where}: weightsManifest group {g} has weights that are not a list")
        names = []
        for rel in paths:
            name = _shard_name(rel, where)
            if name in paths_seen:
                raise ModelError(f"{where} lists weight file {name!r} more than once")
            paths_seen.add(name)
            names.append(name)
        checked = []
        for index, entry in enumerate(entries):
            item = _check_entry(entry, index, where)
            if item.name in names_seen:
                raise ModelError(f"{where} lists weight {item.name!r} more than once")
            names_seen.add(item.name)
            checked.append(item)
        nbytes = sum(item.nbytes for item in checked)
        total += nbytes
        if total > MAX_WEIGHT_BYTES:
            raise ModelError(
                f"{where} declares more than {MAX_WEIGHT_BYTES // (1 << 20)} MB of weights; "
                "not a drum generator"
            )
        if checked and not names:
            raise ModelError(f"{where}: weightsManifest group {g} lists weights but no files")
        groups.append(_Group(tuple(names), tuple(checked), nbytes))
    return groups


def _dequantize(raw: bytes, entry: _Entry, where: str) -> npt.NDArray[Any]:
    """Decode one checked entry's bytes, undoing TF.js weight quantization if present."""
    if entry.quantization is None:
        dtype = _DTYPES[entry.dtype]
        array = np.frombuffer(raw, dtype=dtype)
        if dtype.kind == "f":
            array = array.astype(np.float32)
        elif dtype.kind in "iu":
            array = array.astype(np.int32)
    elif entry.quantization == "float16":
        array = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    else:
        values = np.frombuffer(raw, dtype=_DTYPES[entry.quantization]).astype(np.float32)
        array = values * np.float32(entry.scale) + np.float32(entry.minimum)
        array = np.round(array).astype(np.int32) if entry.dtype == "int32" else array
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ModelError(f"{where}: weight {entry.name!r} holds NaN or infinite values")
    return array.astype(np.float32) if array.dtype.kind == "f" else array


def _shard_name(rel: object, where: str) -> str:
    """A weightsManifest path as a bare file name beside model.json, or ModelError.

    An untrusted manifest must not read files from elsewhere ('../x', '/abs/x', 'sub/../x'):
    they would be imported as weights.
    """
    if not isinstance(rel, str):
        raise ModelError(
            f"{where} names weight file {str(rel)[:40]!r}, which is not a plain file name"
        )
    name = rel
    if (
        name in ("", ".", "..")
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


FileReader = Callable[[str, int], bytes]
"""``reader(name, cap)``: the bytes of file ``name`` beside model.json, refusing more than
``cap`` bytes (ModelError). The store's reader also checks each file's checksum."""


def read_weights(
    manifest: Any, reader: FileReader, where: str = "model.json"
) -> dict[str, npt.NDArray[Any]]:
    """Read every weight a manifest names through ``reader``, keyed by name.

    The manifest is validated first (:func:`check_manifest`); each group's files must hold
    exactly the bytes its entries declare: a short file or trailing bytes are ModelError.
    """
    weights: dict[str, npt.NDArray[Any]] = {}
    for group in check_manifest(manifest, where):
        buffers = []
        got = 0
        for name in group.paths:
            try:
                data = reader(name, group.nbytes - got)
            except FileNotFoundError:
                raise ModelError(
                    f"weight file {name} is missing (it must sit beside {where})"
                ) from None
            except OSError as error:
                raise ModelError(f"cannot read weight file {name}: {error.strerror}") from None
            got += len(data)
            buffers.append(data)
        if got != group.nbytes:
            raise ModelError(
                f"weight file(s) {', '.join(group.paths)} are too short: {got:,} bytes where "
                f"{where} declares {group.nbytes:,}"
            )
        blob = b"".join(buffers)
        offset = 0
        for entry in group.entries:
            array = _dequantize(blob[offset : offset + entry.nbytes], entry, where)
            weights[entry.name] = array.reshape(entry.shape)
            offset += entry.nbytes
    return weights


def folder_reader(model_json: Path) -> FileReader:
    """The reader of an untrusted folder: ``model_json`` itself (the file the user named,
    a link to a regular file allowed) and regular files beside it (no links, no pipes)."""
    folder = model_json.parent

    def read(name: str, cap: int) -> bytes:
        where = str(folder / name)
        if name == model_json.name:
            with open_given(model_json, where) as fd:
                return read_fd(fd, cap, where)
        return read_inside(folder, name, cap, f"weight file {where}")

    return read


def read_layers_model(model_json: Path, *, reader: FileReader | None = None) -> LayersModel:
    """Read ``model.json`` and its weight shard(s) beside it into a :class:`LayersModel`.

    Every file is read through ``reader`` (default :func:`folder_reader`): bounded reads of
    regular files, nothing outside the folder. ModelError for anything that does not fit.
    """
    model_json = Path(model_json)
    if model_json.is_dir():
        model_json = model_json / MODEL_JSON
    read = reader or folder_reader(model_json)
    try:
        raw = read(model_json.name, MAX_JSON_BYTES)
    except FileNotFoundError:
        raise ModelError(f"model file {model_json} does not exist") from None
    except OSError as error:
        raise ModelError(f"cannot read {model_json}: {error.strerror or error}") from None
    data = parse_json(raw, str(model_json))
    if not isinstance(data, dict):
        raise ModelError(f"{model_json} is not a TF.js layers model (not a JSON object)")
    topology = parse_model_json(data, str(model_json))
    weights = read_weights(data.get("weightsManifest"), read, str(model_json))
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
