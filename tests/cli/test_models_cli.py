"""`rhythmcan models` subcommands: output, --json, exit codes, no TensorFlow."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rhythmcan_cli import store
from rhythmcan_cli.cli import models as models_cli
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.store import paths as store_paths
from tests.conftest import subprocess_env
from tests.helpers import make_generator_files, make_stored_model

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_list_empty_store_hints_on_stderr_and_succeeds() -> None:
    code, out, err = invoke("models", "list")
    assert code == 0
    assert out == ""
    assert "rhythmcan train" in err
    code, out, _ = invoke("models", "list", "--json")
    assert code == 0 and json.loads(out) == {"models": [], "broken": []}


def test_list_shows_models_and_flags_broken_ones() -> None:
    make_stored_model("groovy", kind="cgan", genres=("funk", "rock"))
    make_stored_model("amb", kind="can")
    (store.models_dir() / "wreck").mkdir()
    code, out, err = invoke("models", "list")
    assert code == 0
    lines = out.splitlines()
    assert any("groovy" in line and "cgan" in line and " 2 " in line for line in lines)
    assert any("amb" in line and "user" in line for line in lines)
    assert any("wreck" in line and "broken" in line for line in lines)
    assert "card.json" in err
    code, out, _ = invoke("models", "list", "--wide")
    assert any("groovy" in line and "funk, rock" in line for line in out.splitlines())


GENRES_18 = (
    "afrobeat", "afrocuban", "blues", "country", "dance", "funk", "gospel", "highlife", "hiphop",
    "jazz", "latin", "middleeastern", "neworleans", "pop", "punk", "reggae", "rock", "soul",
)  # fmt: skip


def test_list_fits_80_columns_without_breaking_a_word() -> None:
    """One line per model at 80 columns: names, kinds and sources whole; genres counted."""
    make_stored_model("a-rather-long-model-name", kind="cgan", genres=GENRES_18)
    make_stored_model("my-classifier", kind="classifier", genres=GENRES_18)
    result = runner.invoke(app, ["models", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert len(lines) == 2 + 2  # header, rule, one line per model
    words = {word for line in lines[2:] for word in line.split()}
    assert {"a-rather-long-model-name", "my-classifier", "cgan", "clf", "18", "user"} <= words
    assert "\u2026" not in result.stdout  # nothing cut short
    wide = runner.invoke(app, ["models", "list", "--wide"], env={"COLUMNS": "80"})
    assert "middleeastern" in wide.stdout and "classifier" in wide.stdout


def test_list_keeps_evaluates_cached_classifiers_apart() -> None:
    make_stored_model("mine", kind="can")
    make_stored_model("classifier-0123456789ab", kind="classifier")
    code, out, err = invoke("models", "list")
    assert code == 0
    assert "mine" in out and "classifier-0123456789ab" not in out
    assert "1 classifier cached by 'rhythmcan evaluate' not shown" in err
    code, out, err = invoke("models", "list", "--all")
    assert any(
        "classifier-0123456789ab" in line and "evaluate" in line for line in out.splitlines()
    )
    assert "not shown" not in err
    data = json.loads(invoke("models", "list", "--json")[1])
    cached = {m["name"]: m["cached_by_evaluate"] for m in data["models"]}
    assert cached == {"classifier-0123456789ab": True, "mine": False}


def test_list_json_is_parseable_with_cards_and_broken() -> None:
    make_stored_model("groovy", kind="cgan", genres=("funk", "rock"))
    folder = make_stored_model("bad").path
    (folder / "generator" / "model.json").write_text("{}")
    code, out, _ = invoke("models", "list", "--json")
    assert code == 0
    data = json.loads(out)
    assert [m["name"] for m in data["models"]] == ["groovy"]
    model = data["models"][0]
    assert model["kind"] == "cgan" and model["genres"] == ["funk", "rock"]
    assert model["bundled"] is False and model["size_bytes"] > 0
    assert set(model["files"]) == {"generator/model.json", "generator/group1-shard1of1.bin"}
    assert [b["name"] for b in data["broken"]] == ["bad"]
    assert "checksum" in data["broken"][0]["error"]


def test_show_text_and_json() -> None:
    make_stored_model("groovy", kind="cgan", genres=("funk", "rock"))
    code, out, _ = invoke("models", "show", "groovy")
    assert code == 0
    assert "0:funk, 1:rock" in out and "sha256 generator/model.json" in out
    code, out, _ = invoke("models", "show", "groovy", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["name"] == "groovy" and data["z_dim"] == 8
    assert Path(data["path"]) == store.models_dir() / "groovy"


def test_show_json_stays_strict_with_a_nan_loss() -> None:
    card = store.ModelCard(name="n", kind="can", final_losses={"g": float("nan"), "d": 0.5})
    store.save_model("n", card, make_generator_files())
    code, out, _ = invoke("models", "show", "n", "--json")
    assert code == 0
    assert json.loads(out)["final_losses"] == {"g": None, "d": 0.5}


def test_show_unknown_and_corrupt_models_fail_with_one_line() -> None:
    code, out, err = invoke("models", "show", "nope")
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "models list" in err
    folder = make_stored_model("m").path
    (folder / "generator" / "group1-shard1of1.bin").write_bytes(b"\0" * 16)
    code, _, err = invoke("models", "show", "m")
    assert code == 1 and "checksum" in err and "Traceback" not in err


def test_show_accepts_a_folder_path() -> None:
    folder = make_stored_model("m").path
    code, out, _ = invoke("models", "show", str(folder), "--json")
    assert code == 0 and json.loads(out)["name"] == "m"


def test_path_prints_the_folder() -> None:
    folder = make_stored_model("m").path
    code, out, _ = invoke("models", "path", "m")
    assert code == 0 and out.strip() == str(folder)
    code, _, err = invoke("models", "path", "../etc")
    assert code == 1 and "invalid model name" in err


def test_rm_needs_yes_when_nobody_can_answer() -> None:
    make_stored_model("m")
    code, _, err = invoke("models", "rm", "m")
    assert code == 2 and "--yes" in err
    assert store.open_model("m").name == "m"
    code, _, _ = invoke("models", "rm", "m", "--yes")
    assert code == 0
    assert store.list_models() == []
    code, _, err = invoke("models", "rm", "m", "--yes")
    assert code == 1 and "no model named" in err


def test_rm_asks_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models_cli, "_stdin_is_terminal", lambda: True)
    make_stored_model("m")
    code, _, _ = invoke("models", "rm", "m", stdin="n\n")
    assert code == 1 and store.open_model("m").name == "m"
    code, _, _ = invoke("models", "rm", "m", stdin="y\n")
    assert code == 0 and store.list_models() == []


def test_rm_refuses_bundled_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    built = make_stored_model("default-can").path
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    shutil.move(str(built), str(bundled / "default-can"))
    monkeypatch.setattr(store_paths, "BUNDLED_DIR", bundled)
    code, out, _ = invoke("models", "list", "--json")
    assert [(m["name"], m["bundled"]) for m in json.loads(out)["models"]] == [("default-can", True)]
    code, _, err = invoke("models", "rm", "default-can", "--yes")
    assert code == 1 and "bundled" in err
    assert (bundled / "default-can" / "card.json").is_file()
    code, out, _ = invoke("models", "default")
    assert code == 0 and "can: default-can" in out


def test_default_sets_and_clears_the_users_choice() -> None:
    make_stored_model("mine", kind="can")
    code, _, _ = invoke("models", "default", "mine")
    assert code == 0 and store.default_model("can").name == "mine"
    code, _, _ = invoke("models", "default", "--clear", "can")
    assert code == 0
    code, out, _ = invoke("models", "default")
    assert "can: (none)" in out


def test_import_checks_options_before_doing_anything(tmp_path: Path) -> None:
    code, _, err = invoke(
        "models", "import", str(tmp_path / "model.json"), "--name", "x", "--kind", "vae"
    )
    assert code == 2 and "--kind" in err
    code, _, err = invoke("models", "import", str(tmp_path / "model.json"), "--name", "../x")
    assert code == 1 and "invalid model name" in err
    assert store.list_models() == []


def test_import_stores_a_tfjs_generator(tmp_path: Path) -> None:
    make_generator_files(tmp_path, n_genres=None, seed=3)
    code, _, err = invoke(
        "models",
        "import",
        str(tmp_path / "generator" / "model.json"),
        "--name",
        "imported",
        "--kind",
        "can",
        "--genres",
        "funk,rock",
    )
    assert code == 0, err
    model = store.open_model("imported")
    assert model.kind == "can" and model.card.genres == ["funk", "rock"]
    assert model.generator().z_dim == 8
    code, _, err = invoke(
        "models",
        "import",
        str(tmp_path / "generator" / "model.json"),
        "--name",
        "imported",
        "--kind",
        "can",
    )
    assert code == 1 and "--force" in err


def test_import_the_2020_release_model(tokui_model: Path) -> None:
    code, _, err = invoke("models", "import", str(tokui_model), "--name", "tokui", "--kind", "can")
    assert code == 0, err
    code, out, _ = invoke("models", "show", "tokui", "--json")
    data = json.loads(out)
    assert code == 0 and data["kind"] == "can" and data["z_dim"] == 100
    assert store.open_model("tokui").generator().z_dim == 100
    # the 2020 files hold neither the training z spread nor the epochs: unknown, not a default
    assert data["z_sigma_train"] is None and data["epochs"] is None
    assert data["z_sigma_sample"] == 1.0  # the Max for Live device's sampling spread
    code, out, _ = invoke("models", "show", "tokui")
    assert code == 0 and "sigma unknown in training" in " ".join(out.split())


PROBE = """
import sys
from pathlib import Path
from typer.testing import CliRunner
from rhythmcan_cli.cli.app import app
from tests.helpers import make_generator_files, make_stored_model
make_stored_model("m")
make_generator_files(Path(sys.argv[1]))
codes = [CliRunner().invoke(app, args).exit_code for args in (
    ["models", "import", sys.argv[1] + "/generator/model.json", "--name", "imp"],
    ["models", "list"], ["models", "list", "--json"], ["models", "show", "m"],
    ["models", "show", "m", "--json"], ["models", "path", "m"], ["models", "default"],
    ["models", "rm", "m", "--yes"])]
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ("tensorflow", "keras"))
print(codes, heavy)
"""


def test_models_commands_never_import_tensorflow(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.stdout.strip() == "[0, 0, 0, 0, 0, 0, 0, 0] []"


def test_exit_codes_through_the_real_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rhythmcan_cli", "models", "show", "nope"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: no model named 'nope'")
    assert "Traceback" not in done.stderr
