"""Malformed and lying model files (issue 17, defects 8 and 9): one line each, nothing stored.

A model.json and its metadata are checked against one schema (layers.check_manifest for
the weights manifest, card_schema for the facts) before anything is allocated or stored.
Each case here used to end in a traceback, or was stored and broke every later ``sample``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rhythmcan_cli import store
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.errors import ModelError
from rhythmcan_cli.formats.card_schema import check_card
from rhythmcan_cli.tfjs.exchange import export_tfjs
from tests.helpers import make_stored_model
from tests.reliability.procs import assert_clean_failure

runner = CliRunner()
Mutation = Callable[[dict[str, Any]], None]


def exported(tmp_path: Path) -> Path:
    """A tiny conditional model exported to ``tmp_path/export`` (metadata inside)."""
    model = make_stored_model("src", kind="cgan", genres=("funk", "rock"))
    export_tfjs(model, tmp_path / "export")
    return tmp_path / "export" / "model.json"


def group(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = data["weightsManifest"][0]
    return result


def entry(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = group(data)["weights"][0]
    return result


def layers(data: dict[str, Any]) -> list[Any]:
    result: list[Any] = data["modelTopology"]["model_config"]["config"]["layers"]
    return result


def dense_layer(data: dict[str, Any]) -> dict[str, Any]:
    return next(layer for layer in layers(data) if layer["class_name"] == "Dense")


def meta(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = data["userDefinedMetadata"]["rhythmcan"]
    return result


MALFORMED: dict[str, Mutation] = {
    # the weights manifest
    "paths is a string": lambda d: group(d).update(paths="group1-shard1of1.bin"),
    "paths is a number": lambda d: group(d).update(paths=5),
    "a path is a number": lambda d: group(d).update(paths=[5]),
    "manifest is a string": lambda d: d.update(weightsManifest="abc"),
    "a group is a string": lambda d: d.update(weightsManifest=["abc"]),
    "weight entries are strings": lambda d: group(d).update(weights=["abc", "def"]),
    "weights is a string": lambda d: group(d).update(weights="abc"),
    "entry without name": lambda d: entry(d).pop("name"),
    "shape is a boolean": lambda d: entry(d).update(shape=True),
    "shape holds booleans": lambda d: entry(d).update(shape=[True, 8]),
    "quantization is a string": lambda d: entry(d).update(quantization="uint8"),
    "quantization is a list": lambda d: entry(d).update(quantization=["uint8"]),
    "scale is a string": lambda d: entry(d).update(
        quantization={"dtype": "uint8", "scale": "abc", "min": 0}
    ),
    "scale is infinite": lambda d: entry(d).update(
        quantization={"dtype": "uint8", "scale": math.inf, "min": 0}
    ),
    "dtype is a number": lambda d: entry(d).update(dtype=5),
    # the topology
    "layers are strings": lambda d: layers(d).__setitem__(slice(None), ["abc", "def"]),
    "a layer without config": lambda d: dense_layer(d).pop("config"),
    "units is a string": lambda d: dense_layer(d)["config"].update(units="abc"),
    "a layer without units": lambda d: dense_layer(d)["config"].pop("units"),
    # the metadata
    "threshold is text": lambda d: meta(d).update(threshold="abc"),
    "pitches are text": lambda d: meta(d).update(output_pitches=["a"] * 9),
    "pitches are floats": lambda d: meta(d).update(output_pitches=[36.5] * 9),
}

LYING: dict[str, Mutation] = {
    "z_sigma is the text nan": lambda d: meta(d).update(z_sigma="nan"),
    "z_sigma is NaN": lambda d: meta(d).update(z_sigma=math.nan),
    "z_sigma is infinite": lambda d: meta(d).update(z_sigma=math.inf),
    "z_sigma is zero": lambda d: meta(d).update(z_sigma=0),
    "z_sigma_train is negative": lambda d: meta(d).update(z_sigma_train=-1.0),
    "threshold is 5": lambda d: meta(d).update(threshold=5),
    "threshold is -0.1": lambda d: meta(d).update(threshold=-0.1),
    "pitch 1000": lambda d: meta(d).update(output_pitches=[1000] + [36] * 8),
    "one pitch": lambda d: meta(d).update(output_pitches=[36]),
    "genres is a string": lambda d: meta(d).update(genres="rock"),
    "genres repeat": lambda d: meta(d).update(genres=["rock", "rock"]),
    "a genre with an escape": lambda d: meta(d).update(genres=["funk", "\x1b[2Jrock"]),
    "eight drum names": lambda d: meta(d).update(class_names=["kick"] * 8),
    "kind is a classifier": lambda d: meta(d).update(kind="classifier"),
    "z_dim lies": lambda d: meta(d).update(z_dim=99),
    "steps lie": lambda d: meta(d).update(steps=64),
    "description is a list": lambda d: meta(d).update(description=["x"]),
}


def import_mutated(tmp_path: Path, mutate: Mutation) -> tuple[int, str]:
    model_json = exported(tmp_path)
    data = json.loads(model_json.read_text())
    mutate(data)
    model_json.write_text(json.dumps(data))
    result = runner.invoke(app, ["models", "import", str(model_json), "--name", "imp"])
    return result.exit_code, result.stderr


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_model_files_are_one_line_and_nothing_is_stored(
    tmp_path: Path, case: str
) -> None:
    code, stderr = import_mutated(tmp_path, MALFORMED[case])
    assert_clean_failure((code, stderr), code=code if code in (1, 2) else 1)
    assert not (store.models_dir() / "imp").exists()


@pytest.mark.parametrize("case", sorted(LYING))
def test_lying_metadata_is_refused_at_import(tmp_path: Path, case: str) -> None:
    code, stderr = import_mutated(tmp_path, LYING[case])
    line = assert_clean_failure((code, stderr), code=code if code in (1, 2) else 1)
    assert "\x1b" not in line
    assert not (store.models_dir() / "imp").exists()


def test_the_unchanged_export_imports(tmp_path: Path) -> None:
    """The control: the same export without a mutation imports and samples."""
    code, stderr = import_mutated(tmp_path, lambda d: None)
    assert code == 0, stderr
    assert store.open_model("imp").card.genres == ["funk", "rock"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("z_sigma_sample", math.nan),
        ("threshold", 1.5),
        ("output_pitches", [128] * 9),
        ("genres", "rock"),
        ("files", {"generator/model.json": "not-a-sha"}),
        ("steps", True),
    ],
)
def test_a_stored_card_breaking_the_schema_is_a_broken_model(field: str, value: Any) -> None:
    """The same schema guards card.json in the store: the model is listed as broken."""
    model = make_stored_model("edited")
    card_path = model.path / store.CARD_FILE
    data = json.loads(card_path.read_text())
    data[field] = value
    card_path.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=field):
        store.open_model("edited")
    assert [b.name for b in store.scan_models().broken] == ["edited"]
    with pytest.raises(ModelError, match=field):
        check_card(data)


def test_save_model_refuses_a_card_that_breaks_the_schema() -> None:
    card = store.ModelCard(name="bad", kind="can", z_sigma_sample=float("nan"))
    with pytest.raises(ModelError, match="z_sigma_sample"):
        store.save_model("bad", card, {})
    assert not (store.models_dir() / "bad").exists()
