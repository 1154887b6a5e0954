"""The Groove recipe (dataset/groove.py) says the same thing to the library and to the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rhythmcan_cli.cli.options import dataset_options
from rhythmcan_cli.dataset import groove
from tests.conftest import subprocess_env


def parse_cli(args: list[str]) -> dict[str, object]:
    """``rhythmcan train``'s dataset options from command-line words, as the CLI builds them."""
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    return dataset_options(
        {
            "labels": Path(pairs["--labels"]),
            "path_column": "midi_filename",
            "label_column": "style",
            "full_label": False,
            "where": [args[i + 1] for i, a in enumerate(args) if a == "--where"],
            "channel": 10,
            "hop": int(pairs["--hop"]),
            "min_onsets": int(pairs["--min-onsets"]),
            "genres": pairs["--genres"],
            "min_genre_windows": 0,
        }
    )


def test_the_cli_options_and_the_library_options_are_one_recipe(tmp_path: Path) -> None:
    from_cli = parse_cli(groove.cli_options(tmp_path))
    for key, value in groove.dataset_options(tmp_path).items():
        assert from_cli[key] == value, key
    assert sorted(groove.GENRES) == list(groove.GENRES) and len(groove.GENRES) == 9


def test_shell_scripts_get_one_option_per_line(tmp_path: Path) -> None:
    folder = tmp_path / "a folder with spaces"
    out = subprocess.run(
        [sys.executable, "-m", "rhythmcan_cli.dataset.groove", str(folder)],
        capture_output=True,
        text=True,
        check=True,
        env=subprocess_env(),
    ).stdout.splitlines()
    assert out == groove.cli_options(folder)
    assert out[1] == str(folder / "info.csv")


def test_the_default_folder_is_beside_the_project_unless_groove_dir_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GROOVE_DIR", raising=False)
    assert groove.default_dir(tmp_path / "project") == tmp_path / "shared" / groove.SHARED_PATH
    monkeypatch.setenv("GROOVE_DIR", str(tmp_path / "elsewhere"))
    assert groove.default_dir(tmp_path / "project") == tmp_path / "elsewhere"


def test_without_a_folder_the_module_prints_the_default_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = {k: v for k, v in subprocess_env().items() if k != "GROOVE_DIR"}
    out = subprocess.run(
        [sys.executable, "-m", "rhythmcan_cli.dataset.groove"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=project,
    ).stdout.strip()
    assert Path(out) == tmp_path / "shared" / groove.SHARED_PATH
