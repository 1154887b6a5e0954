"""`train` without --name, and --resume refusing a changed option (no TensorFlow needed)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rhythmcan_cli import store
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.cli.run_options import continue_command, default_name


def _record(name: str, command: dict[str, object]) -> None:
    folder = store.runs_dir() / name
    folder.mkdir(parents=True)
    record = {"name": name, "mode": "can", "seed": 1, "epochs": 3, "command": command}
    (folder / "run.json").write_text(json.dumps(record))


def test_a_default_name_comes_from_the_folder_and_the_mode(tmp_path: Path) -> None:
    data = tmp_path / "My Groove!"
    data.mkdir()
    assert default_name(data, "can", reuse=False) == "my-groove-can"
    (store.models_dir() / "my-groove-can").mkdir(parents=True)
    assert default_name(data, "can", reuse=False) == "my-groove-can-2"
    _record("my-groove-can-2", {})
    assert default_name(data, "can", reuse=False) == "my-groove-can-3"
    assert default_name(data, "can", reuse=True) == "my-groove-can"  # --resume, --force
    assert default_name(tmp_path / "x" / "..", "cgan", reuse=True).endswith("-cgan")
    store.validate_name(default_name(tmp_path / ("a" * 200), "classifier", reuse=True))


def test_the_continue_command_quotes_what_a_shell_would_split(tmp_path: Path) -> None:
    assert continue_command(tmp_path / "my data", "tm") == (
        f"rhythmcan train '{tmp_path}/my data' --name tm --resume"
    )


def test_resume_refuses_a_changed_option_before_any_work(tmp_path: Path) -> None:
    _record(
        "tm",
        {"batch_size": 32, "mode": "cgan", "full_label": False, "where": ["beat_type=beat"]},
    )
    runner = CliRunner()
    cases = [
        (["--batch-size", "16"], "was started with --batch-size 32: resume it without"),
        (["--mode", "can"], "was started with --mode cgan"),
        (["--full-label"], "was started without --full-label"),
        (["--where", "beat_type=fill"], "was started with --where beat_type=beat"),
    ]
    for extra, message in cases:
        result = runner.invoke(app, ["train", str(tmp_path), "--name", "tm", "--resume", *extra])
        assert result.exit_code == 2, (extra, result.stderr)
        [line] = result.stderr.splitlines()
        assert line.startswith(f"error: run 'tm' {message}") and "over with --force" in line
    # the same value again is not a change (it gets as far as reading the empty folder)
    same = runner.invoke(
        app, ["train", str(tmp_path), "--name", "tm", "--resume", "--batch-size", "32"]
    )
    assert "was started" not in same.stderr


def test_train_without_a_name_says_which_it_picked(tmp_path: Path) -> None:
    data = tmp_path / "groove"
    data.mkdir()
    result = CliRunner().invoke(app, ["train", str(data), "--mode", "cgan"])
    assert result.exit_code == 1  # an empty folder, after the name was chosen
    assert result.stderr.splitlines()[0] == "no --name given: the model is named 'groove-cgan'"
