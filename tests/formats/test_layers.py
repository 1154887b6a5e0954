"""The generator file format: TF.js layers models in the Keras 2.3.1 dialect (no TensorFlow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rhythmcan_cli.errors import ModelError
from rhythmcan_cli.formats.layers_model import (
    SHARD_NAME,
    LayersModel,
    read_layers_model,
    write_layers_model,
)
from tests.helpers import generator_layers_model, make_generator_files


def _write(folder: Path, model_json: dict[str, Any], shards: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in shards.items():
        (folder / name).write_bytes(payload)
    path = folder / "model.json"
    path.write_text(json.dumps(model_json))
    return path


def test_write_then_read_round_trips_topology_and_weights(tmp_path: Path) -> None:
    lm = generator_layers_model(n_genres=3, seed=1)
    written = write_layers_model(lm, tmp_path / "out")
    assert sorted(p.name for p in written) == ["group1-shard1of1.bin", "model.json"]
    back = read_layers_model(tmp_path / "out" / "model.json")
    assert back.topology == lm.topology
    assert list(back.weights) == list(lm.weights)
    for name, array in lm.weights.items():
        np.testing.assert_array_equal(back.weights[name], array)
        assert back.weights[name].dtype == np.float32


def test_written_model_json_is_the_keras_2_3_1_dialect(tmp_path: Path) -> None:
    files = make_generator_files(tmp_path, n_genres=2)
    data = json.loads(files["generator/model.json"])
    assert data["format"] == "layers-model"
    assert data["modelTopology"]["keras_version"] == "2.3.1"
    config = data["modelTopology"]["model_config"]
    assert config["class_name"] == "Model"
    assert config["config"]["input_layers"] == [["z", 0, 0], ["genre", 0, 0]]
    layers = {layer["name"]: layer for layer in config["config"]["layers"]}
    assert layers["z"]["config"]["batch_input_shape"] == [None, 8]
    assert layers["leaky_re_lu_1"]["config"]["alpha"] == 0.2
    assert layers["dense_1"]["inbound_nodes"] == [[["z_genre", 0, 0, {}]]]
    names = [w["name"] for w in data["weightsManifest"][0]["weights"]]
    assert "lstm_1/kernel" in names and not any("lstm_cell" in n for n in names)
    total = sum(4 * int(np.prod(w["shape"])) for w in data["weightsManifest"][0]["weights"])
    assert len(files["generator/group1-shard1of1.bin"]) == total
    assert (tmp_path / "generator" / "model.json").read_bytes() == files["generator/model.json"]


def test_weights_are_matched_by_name_not_position(tmp_path: Path) -> None:
    lm = generator_layers_model(seed=2)
    data = lm.to_json()
    entries = data["weightsManifest"][0]["weights"]
    order = sorted(range(len(entries)), key=lambda i: entries[i]["name"])  # as the 2020 files
    arrays = list(lm.weights.values())
    data["weightsManifest"][0]["weights"] = [entries[i] for i in order]
    shard = b"".join(arrays[i].astype("<f4").tobytes() for i in order)
    back = read_layers_model(_write(tmp_path, data, {SHARD_NAME: shard}))
    for name, array in lm.weights.items():
        np.testing.assert_array_equal(back.weights[name], array)


def test_weights_split_over_several_shards_are_concatenated(tmp_path: Path) -> None:
    lm = generator_layers_model(seed=3)
    data = lm.to_json()
    blob = lm.weight_bytes()
    cut = len(blob) // 3 + 1  # a cut in the middle of a float
    data["weightsManifest"][0]["paths"] = ["a.bin", "b.bin"]
    back = read_layers_model(_write(tmp_path, data, {"a.bin": blob[:cut], "b.bin": blob[cut:]}))
    np.testing.assert_array_equal(back.weights["lstm_2/kernel"], lm.weights["lstm_2/kernel"])


@pytest.mark.parametrize("qdtype", ["uint8", "uint16"])
def test_quantized_weights_are_dequantized(tmp_path: Path, qdtype: str) -> None:
    values = np.array([[-1.0, 0.5], [2.0, 0.0]], dtype=np.float32)
    vmin, levels = float(values.min()), (255 if qdtype == "uint8" else 65535)
    scale = (float(values.max()) - vmin) / levels
    q = np.round((values - vmin) / scale).astype(qdtype)
    lm = LayersModel({"class_name": "Model", "config": {"layers": []}}, {})
    data = lm.to_json()
    data["weightsManifest"] = [
        {
            "paths": ["w.bin"],
            "weights": [
                {
                    "name": "dense/kernel",
                    "shape": [2, 2],
                    "dtype": "float32",
                    "quantization": {"dtype": qdtype, "scale": scale, "min": vmin},
                }
            ],
        }
    ]
    raw = q.astype(q.dtype.newbyteorder("<")).tobytes()
    back = read_layers_model(_write(tmp_path, data, {"w.bin": raw}))
    assert back.weights["dense/kernel"].dtype == np.float32
    np.testing.assert_allclose(back.weights["dense/kernel"], values, atol=scale / 2 + 1e-7)


def test_float16_quantization_is_read(tmp_path: Path) -> None:
    values = np.array([0.25, -3.5, 1.0], dtype=np.float16)
    data = LayersModel({"class_name": "Model", "config": {"layers": []}}).to_json()
    data["weightsManifest"] = [
        {
            "paths": ["w.bin"],
            "weights": [
                {
                    "name": "x/bias",
                    "shape": [3],
                    "dtype": "float32",
                    "quantization": {"dtype": "float16"},
                }
            ],
        }
    ]
    back = read_layers_model(_write(tmp_path, data, {"w.bin": values.astype("<f2").tobytes()}))
    np.testing.assert_array_equal(back.weights["x/bias"], values.astype(np.float32))


def test_missing_weight_file_is_a_model_error(tmp_path: Path) -> None:
    write_layers_model(generator_layers_model(), tmp_path)
    (tmp_path / SHARD_NAME).unlink()
    with pytest.raises(ModelError, match="missing"):
        read_layers_model(tmp_path / "model.json")


@pytest.mark.parametrize(
    "rel", ["../group1-shard1of1.bin", "/tmp/x.bin", "sub/x.bin", "sub\\x.bin", "..", "C:x.bin", 3]
)
def test_weight_paths_must_be_plain_names_beside_model_json(tmp_path: Path, rel: object) -> None:
    lm = generator_layers_model()
    folder = tmp_path / "inner" / "model"
    write_layers_model(lm, folder)
    (tmp_path / "inner" / SHARD_NAME).write_bytes((folder / SHARD_NAME).read_bytes())
    data = json.loads((folder / "model.json").read_text())
    data["weightsManifest"][0]["paths"] = [rel]
    (folder / "model.json").write_text(json.dumps(data))
    with pytest.raises(ModelError, match="not a plain file name") as caught:
        read_layers_model(folder / "model.json")
    assert repr(str(rel)) in str(caught.value) and "\n" not in str(caught.value)


def test_short_weight_file_is_a_model_error(tmp_path: Path) -> None:
    write_layers_model(generator_layers_model(), tmp_path)
    shard = tmp_path / SHARD_NAME
    shard.write_bytes(shard.read_bytes()[:-4])
    with pytest.raises(ModelError, match="too short"):
        read_layers_model(tmp_path / "model.json")


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        json.dumps({"format": "graph-model"}),
        json.dumps({"modelTopology": {"model_config": {"config": {}}}}),
    ],
)
def test_unreadable_model_json_is_a_model_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "model.json"
    path.write_text(text)
    with pytest.raises(ModelError):
        read_layers_model(path)


def test_missing_model_json_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        read_layers_model(tmp_path / "nothing" / "model.json")


def test_a_folder_reads_its_model_json(tmp_path: Path) -> None:
    write_layers_model(generator_layers_model(), tmp_path)
    assert read_layers_model(tmp_path).weights.keys() == generator_layers_model().weights.keys()


def test_one_registry_of_layers_the_engine_runs_and_the_keras_bridge_writes() -> None:
    """The engine's registry is the list of supported layers; the Keras bridge writes a 2.3.1
    config for exactly those, so a layer cannot be supported in one place and not the other."""
    from rhythmcan_cli.engine import LAYERS, SUPPORTED_LAYERS
    from rhythmcan_cli.training.keras_io import CONFIGS

    assert set(SUPPORTED_LAYERS) == {"InputLayer", *LAYERS}
    assert set(CONFIGS) == set(SUPPORTED_LAYERS)
