"""Untrusted models are data only: no code from a file, checksums enforced, no store escapes.

The store's policy, as tested here: a model is the regular files its card lists, under its
folder; card paths are relative and stay inside; weight shards named by a model.json sit
beside it (no sub-paths, no absolute paths); a model file that is a symlink (to anything) or
not a regular file (a device, a FIFO) makes the model unusable with a ModelError instead of
being read; removing a model never deletes anything outside the store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rhythmcan_cli import store
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.engine import Generator
from rhythmcan_cli.errors import ModelError, RhythmcanError
from rhythmcan_cli.formats.layers_model import LayersModel, read_layers_model
from tests.helpers import generator_layers_model, make_generator_files, make_stored_model
from tests.reliability.bounds import time_limit

PACKAGE = Path(__file__).resolve().parents[2] / "rhythmcan_cli"
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def with_layer(class_name: str, config: dict[str, Any]) -> LayersModel:
    """The tiny generator with one extra layer of ``class_name`` after the last LSTM."""
    lm = generator_layers_model()
    layers = lm.topology["config"]["layers"]
    last = lm.topology["config"]["output_layers"][0][0]
    layers.append(
        {
            "name": "evil",
            "class_name": class_name,
            "config": {"name": "evil", "trainable": True, "dtype": "float32", **config},
            "inbound_nodes": [[[last, 0, 0, {}]]],
        }
    )
    lm.topology["config"]["output_layers"] = [["evil", 0, 0]]
    return lm


def write_model(lm: LayersModel, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in lm.to_files().items():
        (folder / name).write_bytes(payload)
    return folder / "model.json"


LAMBDA: dict[str, Any] = {
    "function": ["4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMEAAAAfABTAKkBTqkAqQHaAXhy", None, None],
    "function_type": "lambda",
    "module": "builtins",
    "output_shape": None,
    "arguments": {},
}


@pytest.mark.parametrize(
    ("class_name", "config"),
    [("Lambda", LAMBDA), ("TotallyCustomLayer", {}), ("__import__", {"name": "os"})],
)
def test_code_carrying_or_unknown_layers_are_refused_by_name(
    tmp_path: Path, class_name: str, config: dict[str, Any]
) -> None:
    model_json = write_model(with_layer(class_name, config), tmp_path / "m")
    with pytest.raises(ModelError, match=re.escape(class_name)):
        Generator.from_layers_model(read_layers_model(model_json))
    code, _, err = invoke("models", "import", str(model_json), "--name", "evil", "--kind", "can")
    assert code == 1 and class_name in one_error_line(err)
    assert store.list_models() == []
    assert not (store.models_dir() / "evil").exists()


def test_a_stored_model_with_a_lambda_is_never_run(tmp_path: Path) -> None:
    """Even inside the store with valid checksums, a Lambda generator is refused at load."""
    files = {f"generator/{k}": v for k, v in with_layer("Lambda", LAMBDA).to_files().items()}
    store.save_model("lam", store.ModelCard(name="lam", kind="can", z_dim=8), files)
    with pytest.raises(ModelError, match="Lambda"):
        store.open_model("lam").generator()
    code, _, err = invoke("sample", "--model", "lam", "-o", "-", "--format", "json")
    assert code == 1 and "Lambda" in one_error_line(err)


def test_checksum_mismatch_through_the_cli_is_one_line_and_not_used() -> None:
    model = make_stored_model("tampered")
    shard = model.path / "generator" / "group1-shard1of1.bin"
    blob = bytearray(shard.read_bytes())
    blob[100] ^= 0xFF
    shard.write_bytes(bytes(blob))
    for args in (
        ("sample", "--model", "tampered", "-o", "-", "--format", "json"),
        ("export-tfjs", "tampered", "out"),
        ("models", "show", "tampered"),
    ):
        code, out, err = invoke(*args)
        assert code == 1, (args, err)
        assert "checksum" in one_error_line(err) and out == ""
    listed = store.scan_models()
    assert [b.name for b in listed.broken] == ["tampered"] and listed.models == []


@pytest.mark.parametrize("rel", ["../escape.bin", "/etc/hostname", "generator/../../x.bin"])
def test_card_file_paths_cannot_leave_the_model_folder(rel: str) -> None:
    model = make_stored_model("m")
    card = json.loads((model.path / "card.json").read_text())
    card["files"][rel] = "0" * 64
    (model.path / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="invalid file name"):
        store.open_model("m")
    assert [b.name for b in store.scan_models().broken] == ["m"]


@pytest.mark.parametrize("escape", ["outside", "absolute"])
def test_weight_paths_cannot_leave_the_model_folder(tmp_path: Path, escape: str) -> None:
    lm = generator_layers_model()
    folder = tmp_path / "model"
    model_json = write_model(lm, folder)
    secret = tmp_path / "secret.bin"
    os.replace(folder / "group1-shard1of1.bin", secret)  # same size: a perfect stand-in
    data = json.loads(model_json.read_text())
    data["weightsManifest"][0]["paths"] = ["../secret.bin" if escape == "outside" else str(secret)]
    model_json.write_text(json.dumps(data))
    try:
        read_layers_model(model_json)
    except ModelError:
        refused = True
    else:
        refused = False
    code, _, _ = invoke("models", "import", str(model_json), "--name", "stolen", "--kind", "can")
    assert refused and code == 1 and store.list_models() == []


def test_symlinked_model_folder_is_removed_without_touching_its_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make_stored_model("real")
    shutil.copytree(store.models_dir() / "real", outside)
    store.remove_model("real")
    (store.models_dir() / "ext").symlink_to(outside, target_is_directory=True)
    store.remove_model("ext")
    assert not (store.models_dir() / "ext").exists()
    assert (outside / "card.json").is_file() and (outside / "generator" / "model.json").is_file()


def test_a_symlinked_model_file_is_refused_even_with_matching_bytes(tmp_path: Path) -> None:
    """Model files are opened with O_NOFOLLOW: a link is refused even when its target holds
    the recorded bytes, so a store folder can never make rhythmcan read outside it."""
    model = make_stored_model("linked")
    shard = model.path / "generator" / "group1-shard1of1.bin"
    outside = tmp_path / "shard.bin"
    shutil.copyfile(shard, outside)
    shard.unlink()
    shard.symlink_to(outside)
    with pytest.raises(ModelError, match="symbolic link") as caught:
        store.open_model("linked")
    assert "\n" not in str(caught.value)
    assert [b.name for b in store.scan_models().broken] == ["linked"]


def test_a_symlinked_folder_inside_a_model_is_refused(tmp_path: Path) -> None:
    model = make_stored_model("linkdir")
    outside = tmp_path / "elsewhere"
    shutil.copytree(model.path / "generator", outside)
    shutil.rmtree(model.path / "generator")
    (model.path / "generator").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ModelError, match="symbolic link"):
        store.open_model("linkdir")


def test_a_model_file_linked_to_a_device_fails_fast() -> None:
    model = make_stored_model("zero")
    shard = model.path / "generator" / "group1-shard1of1.bin"
    shard.unlink()
    shard.symlink_to("/dev/zero")
    with time_limit(3.0), pytest.raises(ModelError):
        store.open_model("zero")


def test_model_names_cannot_escape_the_store(tmp_path: Path) -> None:
    make_generator_files(tmp_path, seed=1)
    source = str(tmp_path / "generator" / "model.json")
    for name in ("../up", "/abs", "a/b", ".hidden", "..", "x" * 65, "nul\x00"):
        code, _, err = invoke("models", "import", source, "--name", name, "--kind", "can")
        assert code == 1 and "invalid model name" in one_error_line(err), name
        code, _, err = invoke("models", "rm", name, "--yes")
        assert code != 0 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generator"]
    assert store.list_models() == []


def test_a_keras_classifier_with_a_lambda_is_refused(tmp_path: Path) -> None:
    import keras

    from rhythmcan_cli.training.classifier import CLASSIFIER_FILE, load_classifier

    inputs = keras.Input((32, 9))
    hidden = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(hidden))
    path = tmp_path / CLASSIFIER_FILE
    keras.Model(inputs, outputs).save(path)
    card = store.ModelCard(name="clf", kind="classifier", genres=["a", "b"])
    store.save_model("clf", card, {CLASSIFIER_FILE: path})
    with pytest.raises((RhythmcanError, ValueError)) as caught:
        load_classifier(store.open_model("clf"))
    assert "lambda" in str(caught.value).lower()


def test_a_keras_classifier_with_a_lambda_is_a_model_error(tmp_path: Path) -> None:
    import keras

    from rhythmcan_cli.training.classifier import CLASSIFIER_FILE, load_classifier

    inputs = keras.Input((32, 9))
    hidden = keras.layers.Lambda(lambda x: x + 1.0)(keras.layers.Flatten()(inputs))
    path = tmp_path / CLASSIFIER_FILE
    keras.Model(inputs, keras.layers.Dense(2)(hidden)).save(path)
    card = store.ModelCard(name="clf", kind="classifier", genres=["a", "b"])
    store.save_model("clf", card, {CLASSIFIER_FILE: path})
    with pytest.raises(ModelError, match=r"(?i)lambda"):
        load_classifier(store.open_model("clf"))


FORBIDDEN = [
    (r"\bimport pickle\b|\bpickle\.", "pickle"),
    (r"allow_pickle\s*=\s*True", "allow_pickle=True"),
    (r"safe_mode\s*=\s*False", "safe_mode=False"),
    (r"(?<![\w.])eval\(", "eval("),
    (r"(?<![\w.])exec\(", "exec("),
    (r"\bmarshal\.loads|\bdill\b|\bcloudpickle\b|\bjoblib\.load", "marshal/dill/joblib"),
    (r"yaml\.load\(|yaml\.unsafe_load", "yaml.load"),
    (r"np\.load\((?![^)]*allow_pickle=False)", "np.load without allow_pickle=False"),
    (r"load_model\((?![^)]*safe_mode=True)", "load_model without safe_mode=True"),
]


def test_the_package_never_unpickles_or_evaluates_code() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) > 10
    found = []
    for source in sources:
        text = source.read_text(encoding="utf-8")
        for pattern, label in FORBIDDEN:
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{source.relative_to(PACKAGE.parent)}:{line}: {label}")
    assert found == []
