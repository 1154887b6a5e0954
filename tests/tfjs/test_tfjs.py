"""export-tfjs and models import; exports loaded in real TF.js 1.5.2 and 4.22.0 under Node.

The TF.js checks need ``node`` and ``.tfjs/<version>/node_modules/@tensorflow/tfjs`` (what
``scripts/test`` installs); they skip with the reason when either is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli import store
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.engine import Generator
from rhythmcan_cli.errors import DataError, ModelError, UsageError
from rhythmcan_cli.formats.layers_model import SHARD_NAME, read_layers_model, write_layers_model
from rhythmcan_cli.tfjs.exchange import (
    METADATA_FILE,
    export_metadata,
    export_tfjs,
    import_model,
)
from rhythmcan_cli.vocabulary import ModelKind
from tests.conftest import ROOT
from tests.helpers import generator_layers_model, make_stored_model

TFJS_VERSIONS = ("1.5.2", "4.22.0")
RUNNER = ROOT / "tests" / "tfjs" / "run_model.js"
TOL = 1e-5


def run_tfjs_full(
    version: str, model_json: Path, z: np.ndarray, genres: list[int] | None, tmp: Path
) -> dict[str, Any]:
    """What ``run_model.js`` reports: ``outputs`` for each z row (and genre id) and the
    loaded model's ``metadata`` (getUserDefinedMetadata()), in TF.js ``version`` (Node)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (scripts/test installs nodejs)")
    tfjs_dir = ROOT / ".tfjs" / version
    if not (tfjs_dir / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        pytest.skip(f"TF.js {version} is not installed in {tfjs_dir} (run scripts/test)")
    inputs = tmp / f"inputs-{version}.json"
    payload: dict[str, Any] = {"z": z.astype(float).tolist()}
    if genres is not None:
        payload["genres"] = genres
    inputs.write_text(json.dumps(payload))
    done = subprocess.run(
        [node, str(RUNNER), str(tfjs_dir), str(model_json), str(inputs)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    assert result["version"] == version
    return result


def run_tfjs(
    version: str, model_json: Path, z: np.ndarray, genres: list[int] | None, tmp: Path
) -> np.ndarray:
    """Outputs of ``model_json`` in TF.js ``version`` (Node) for each z row (and genre id)."""
    result = run_tfjs_full(version, model_json, z, genres, tmp)
    return np.asarray(result["outputs"], dtype=np.float32)


# ---------------------------------------------------------------- export


def test_export_writes_one_json_with_the_metadata_inside(tmp_path: Path) -> None:
    model = make_stored_model("cond", kind="cgan", genres=("funk", "rock", "jazz"))
    written = export_tfjs(model, tmp_path / "out")
    assert [p.name for p in written] == [SHARD_NAME, "model.json"]  # model.json last
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [SHARD_NAME, "model.json"]
    )
    meta = json.loads((tmp_path / "out" / "model.json").read_text())["userDefinedMetadata"][
        "rhythmcan"
    ]
    assert meta == export_metadata(tmp_path / "out" / "model.json")
    assert meta["format"] == "rhythmcan-generator" and meta["format_version"] == 2
    assert meta["kind"] == "cgan" and meta["genres"] == ["funk", "rock", "jazz"]
    assert meta["inputs"] == ["z", "genre"] and meta["n_genres"] == 3
    assert meta["z_dim"] == 8 and meta["steps"] == 32 and meta["output_shape"] == [32, 9]
    assert meta["class_names"][0] == "kick" and meta["output_pitches"][0] == 36
    assert meta["z_sigma"] == model.card.z_sigma_sample
    assert meta["threshold"] == model.card.threshold
    data = json.loads((tmp_path / "out" / "model.json").read_text())
    assert data["modelTopology"]["keras_version"] == "2.3.1"
    z = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    exported = Generator.from_layers_model(read_layers_model(tmp_path / "out" / "model.json"))
    np.testing.assert_array_equal(
        exported.generate(z, genres=[0, 1, 2]), model.generator().generate(z, genres=[0, 1, 2])
    )


def test_export_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    model = make_stored_model("plain")
    export_tfjs(model, tmp_path)
    with pytest.raises(DataError, match=r"model\.json already exists; use --force"):
        export_tfjs(model, tmp_path)
    (tmp_path / "model.json").unlink()
    with pytest.raises(DataError, match=rf"{SHARD_NAME} already exists"):
        export_tfjs(model, tmp_path)
    assert len(export_tfjs(model, tmp_path, force=True)) == 2


def test_export_replaces_an_old_exports_metadata_file_only_with_force(tmp_path: Path) -> None:
    """The device's Load dialog lists every .json: an old rhythmcan.json must not stay."""
    model = make_stored_model("plain")
    (tmp_path / METADATA_FILE).write_text("{}")
    with pytest.raises(DataError, match=r"rhythmcan\.json already exists; use --force"):
        export_tfjs(model, tmp_path)
    export_tfjs(model, tmp_path, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([SHARD_NAME, "model.json"])


def test_export_of_a_model_without_generator_is_a_model_error(tmp_path: Path) -> None:
    card = store.ModelCard(name="clf", kind="classifier", genres=["a", "b"])
    store.save_model("clf", card, {"classifier/weights.bin": b"\0" * 8})
    with pytest.raises(ModelError, match="no generator"):
        export_tfjs(store.open_model("clf"), tmp_path)
    assert not any(tmp_path.iterdir())


def test_cli_export_tfjs(tmp_path: Path) -> None:
    make_stored_model("plain")
    runner = CliRunner()
    result = runner.invoke(app, ["export-tfjs", "plain", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "x" / "model.json") in result.stdout
    again = runner.invoke(app, ["export-tfjs", "plain", str(tmp_path / "x")])
    assert again.exit_code == 1 and "--force" in again.output
    forced = runner.invoke(app, ["export-tfjs", "plain", str(tmp_path / "x"), "--force", "-q"])
    assert forced.exit_code == 0, forced.output
    missing = runner.invoke(app, ["export-tfjs", "nope", str(tmp_path / "y")])
    assert missing.exit_code == 1 and not (tmp_path / "y").exists()


# ---------------------------------------------------------------- import


def test_export_then_import_keeps_kind_genres_and_outputs(tmp_path: Path) -> None:
    original = make_stored_model("orig", kind="cgan", genres=("a", "b"), seed=3)
    export_tfjs(original, tmp_path)
    imported = import_model(tmp_path / "model.json", name="copy")
    assert imported.kind == "cgan" and imported.card.genres == ["a", "b"]
    assert imported.card.z_dim == 8
    z = np.random.default_rng(1).normal(size=(4, 8)).astype(np.float32)
    np.testing.assert_array_equal(
        imported.generator().generate(z, genres=[1, 0, 1, 0]),
        original.generator().generate(z, genres=[1, 0, 1, 0]),
    )


def test_the_old_layout_with_rhythmcan_json_beside_still_imports(tmp_path: Path) -> None:
    original = make_stored_model("orig", kind="cgan", genres=("a", "b", "c"), seed=2)
    export_tfjs(original, tmp_path)
    meta = export_metadata(tmp_path / "model.json")
    assert meta is not None
    # Rewrite as a pre-0.2 export: bare model.json, the metadata in rhythmcan.json.
    write_layers_model(read_layers_model(original.path / "generator" / "model.json"), tmp_path)
    assert export_metadata(tmp_path / "model.json") is None
    (tmp_path / METADATA_FILE).write_text(json.dumps({**meta, "format_version": 1}))
    imported = import_model(tmp_path / "model.json", name="old")
    assert imported.kind == "cgan" and imported.card.genres == ["a", "b", "c"]
    assert imported.card.z_sigma_sample == original.card.z_sigma_sample
    # The metadata is not copied into the store's model.json: the card holds it.
    stored = json.loads((imported.path / "generator" / "model.json").read_text())
    assert "userDefinedMetadata" not in stored


def test_import_refuses_foreign_metadata_inside_model_json(tmp_path: Path) -> None:
    lm = generator_layers_model()
    lm.user_metadata = {"rhythmcan": {"format": "something-else"}}
    write_layers_model(lm, tmp_path)
    with pytest.raises(ModelError, match=r"userDefinedMetadata\.rhythmcan is not rhythmcan"):
        import_model(tmp_path, name="x")
    lm.user_metadata = {"other-tool": {"anything": 1}}
    write_layers_model(lm, tmp_path)
    assert import_model(tmp_path, name="x").kind == "can"


def test_import_infers_kind_and_default_genre_names(tmp_path: Path) -> None:
    write_layers_model(generator_layers_model(n_genres=3), tmp_path / "c")
    write_layers_model(generator_layers_model(), tmp_path / "p")
    cond = import_model(tmp_path / "c" / "model.json", name="c")
    assert cond.kind == "cgan" and cond.card.genres == ["genre_0", "genre_1", "genre_2"]
    named = import_model(tmp_path / "c", name="c2", genres=["x", "y", "z"])
    assert named.card.genres == ["x", "y", "z"]
    plain = import_model(tmp_path / "p" / "model.json", name="p", genres=["funk", "rock"])
    assert plain.kind == "can" and plain.card.genres == ["funk", "rock"]
    # No rhythmcan metadata: a 2020 release model, sampled at 1.0 like the Max for Live device.
    assert plain.card.z_sigma_sample == 1.0 and cond.card.z_sigma_sample == 1.0
    assert import_model(tmp_path / "p", name="g", kind="gan").kind == "gan"


def test_import_refuses_kind_and_genre_mismatches(tmp_path: Path) -> None:
    write_layers_model(generator_layers_model(n_genres=3), tmp_path / "c")
    write_layers_model(generator_layers_model(), tmp_path / "p")
    with pytest.raises(UsageError, match="has 3 genres but 2"):
        import_model(tmp_path / "c", name="a", genres=["x", "y"])
    with pytest.raises(UsageError, match="has a genre input"):
        import_model(tmp_path / "c", name="a", kind="can")
    with pytest.raises(UsageError, match="has no genre input"):
        import_model(tmp_path / "p", name="a", kind="cgan")
    with pytest.raises(UsageError, match="kind must be"):
        import_model(tmp_path / "p", name="a", kind="classifier")
    assert store.list_models() == []


def _broken(tmp_path: Path, how: str) -> Path:
    lm = generator_layers_model()
    if how == "layer":
        for entry in lm.layers:
            if entry["name"] == "lstm_2":
                entry["class_name"] = "GRU"
    if how == "shape":
        lm.weights["dense_2/kernel"] = np.zeros((17, 64), np.float32)
    if how == "output":  # drop the last LSTM: the output becomes (32, 8)
        lm.layers[:] = [entry for entry in lm.layers if entry["name"] != "pattern"]
        lm.topology["config"]["output_layers"] = [["lstm_2", 0, 0]]
        lm.weights = {k: v for k, v in lm.weights.items() if not k.startswith("pattern/")}
    write_layers_model(lm, tmp_path)
    if how == "short":
        shard = tmp_path / SHARD_NAME
        shard.write_bytes(shard.read_bytes()[:100])
    if how == "missing":
        (tmp_path / SHARD_NAME).unlink()
    return tmp_path / "model.json"


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("layer", r"lstm_2 \(GRU\)"),
        ("shape", r"dense_2/kernel has shape \[17, 64\]"),
        ("short", "too short"),
        ("missing", "missing"),
        ("output", r"outputs shape \[32, 8\]"),
    ],
)
def test_bad_models_are_refused_and_nothing_is_stored(
    tmp_path: Path, how: str, message: str
) -> None:
    path = _broken(tmp_path, how)
    with pytest.raises(ModelError, match=message):
        import_model(path, name="bad")
    assert store.list_models() == []
    result = CliRunner().invoke(app, ["models", "import", str(path), "--name", "bad"])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert store.list_models() == []


def test_the_2020_release_model_imports_and_samples(tokui_model: Path) -> None:
    imported = import_model(tokui_model, name="tokui-2020")
    assert imported.kind == "can" and imported.card.z_dim == 100
    z = np.random.default_rng(5).normal(size=(3, 100)).astype(np.float32)
    original = Generator.from_layers_model(read_layers_model(tokui_model))
    np.testing.assert_array_equal(imported.generator().generate(z), original.generate(z))
    assert (imported.generator().generate(z) > 0.2).sum() > 0


# ---------------------------------------------------------------- real TF.js


@pytest.mark.parametrize("version", TFJS_VERSIONS)
@pytest.mark.parametrize("kind", ["can", "cgan"])
def test_exports_run_in_tfjs_like_the_numpy_engine(
    tmp_path: Path, version: str, kind: ModelKind
) -> None:
    model = make_stored_model(f"m-{kind}", kind=kind, genres=("funk", "rock", "jazz"), seed=9)
    export_tfjs(model, tmp_path / "export")
    z = np.random.default_rng(4).normal(size=(3, 8)).astype(np.float32)
    genres = [2, 0, 1] if kind == "cgan" else None
    result = run_tfjs_full(version, tmp_path / "export" / "model.json", z, genres, tmp_path)
    ours = model.generator().generate(z, genres, clip=False)
    np.testing.assert_allclose(np.asarray(result["outputs"]), ours, atol=TOL, rtol=0)
    # The metadata inside model.json loads with the model; TF.js hands it back untouched.
    assert result["metadata"]["rhythmcan"] == export_metadata(tmp_path / "export" / "model.json")


@pytest.mark.parametrize("version", TFJS_VERSIONS)
@pytest.mark.parametrize(
    "variant",
    [
        {"recurrent_activation": "hard_sigmoid"},
        # The 2020 conditional model's ending: LSTM 9 tanh + LeakyReLU 0.3.
        {"n_genres": 3, "last_activation": "tanh", "final_leaky": 0.3},
        # The AC recipe's conditional generator: a genre embedding concatenated with z.
        {"n_genres": 3, "conditioning": "concat", "genre_dim": 4},
        # Beyond the paper: LSTM(9, tanh) -> Dense(9, sigmoid) per step.
        {"output_head": "dense"},
    ],
    ids=["hard-sigmoid", "cgan-2020-ending", "cgan-concat", "dense-head"],
)
def test_other_generator_variants_match_tfjs(
    tmp_path: Path, version: str, variant: dict[str, Any]
) -> None:
    lm = generator_layers_model(seed=10, **variant)
    write_layers_model(lm, tmp_path / "m")
    z = np.random.default_rng(6).normal(size=(3, 8)).astype(np.float32)
    genres = [1, 2, 0] if "n_genres" in variant else None
    theirs = run_tfjs(version, tmp_path / "m" / "model.json", z, genres, tmp_path)
    ours = Generator.from_layers_model(lm).generate(z, genres, clip=False)
    np.testing.assert_allclose(theirs, ours, atol=TOL, rtol=0)
    if "final_leaky" in variant:
        assert ours.min() < 0.0  # the raw output leaves [0, 1]; generate() clips by default
        clipped = Generator.from_layers_model(lm).generate(z, genres)
        assert clipped.min() >= 0.0


@pytest.mark.parametrize("version", TFJS_VERSIONS)
def test_imported_2020_model_matches_tfjs_on_the_original_files(
    tmp_path: Path, version: str, tokui_model: Path
) -> None:
    imported = import_model(tokui_model, name="tokui-2020")
    z = np.random.default_rng(7).normal(size=(2, 100)).astype(np.float32)
    theirs = run_tfjs(version, tokui_model, z, None, tmp_path)
    np.testing.assert_allclose(
        theirs, imported.generator().generate(z, clip=False), atol=TOL, rtol=0
    )
