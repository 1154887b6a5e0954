"""`rhythmcan train` end to end on a tiny synthetic MIDI folder: every mode, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli import store
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.midi import write_midi

TINY_ARGS = [
    "--epochs",
    "2",
    "--batch-size",
    "8",
    "--lstm-units",
    "8",
    "--dense",
    "16,32",
    "--d-lstm-units",
    "4",
    "--d-dense",
    "8",
    "--genre-lstm-units",
    "4",
    "--genre-dense",
    "8",
    "--seed",
    "7",
    "--quiet",
]


def _write_genre(folder: Path, genre: str, files: int, rng: np.random.Generator) -> None:
    (folder / genre).mkdir(parents=True, exist_ok=True)
    row = {"rock": 0, "jazz": 8, "funk": 2}[genre]
    for i in range(files):
        patterns = (rng.random((4, 32, 9)) > 0.8).astype(np.float32) * 0.7
        patterns[:, ::4, row] = 1.0  # each genre has its own busy instrument
        write_midi(patterns, folder / genre / f"{i}.mid")


@pytest.fixture(scope="module")
def midi_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two genres x 4 files x 4 patterns (3 windows each with a one-bar hop... and more)."""
    root = tmp_path_factory.mktemp("midi")
    rng = np.random.default_rng(0)
    for genre in ("rock", "jazz"):
        _write_genre(root, genre, 4, rng)
    return root


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["can", "cgan", "gan", "classifier"])
def test_each_mode_trains_and_stores_a_loadable_model(midi_dir: Path, mode: str) -> None:
    extra = ["--tensorboard", "--attribution", "synthetic"] if mode == "can" else []
    if mode == "cgan":  # the tuned recipe end to end, one option on top of it
        extra = ["--recipe", "tuned", "--option", "minibatch_std=false"]
    code, stdout, stderr = invoke(
        "train",
        str(midi_dir),
        "--mode",
        mode,
        "--name",
        f"m-{mode}",
        "--validation",
        "0",
        "--json",
        *TINY_ARGS,
        *extra,
    )
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["epochs"] == 2 and summary["interrupted"] is False
    model = store.open_model(f"m-{mode}")
    assert model.card.kind == mode
    assert model.card.genres == ["jazz", "rock"]
    assert model.card.epochs == 2
    if mode == "classifier":
        from rhythmcan_cli.training.classifier import load_classifier

        probs = np.asarray(load_classifier(model)(np.zeros((3, 32, 9), np.float32)))
        assert probs.shape == (3, 2)
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        return
    generator = model.generator()
    z = np.random.default_rng(1).normal(size=(3, 100)).astype(np.float32)
    genres = np.array([0, 1, 0]) if mode == "cgan" else None
    out = generator.generate(z, genres)
    assert out.shape == (3, 32, 9) and out.min() >= 0.0 and out.max() <= 1.0
    log = (store.runs_dir() / f"m-{mode}" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in log] == [1, 2]
    if mode == "cgan":
        assert model.card.training["recipe"] == "tuned"
        assert model.card.training["conditioning"] == "concat"
        assert model.card.training["minibatch_std"] is False
    if mode == "can":
        assert model.card.attribution == "synthetic"
        assert any((store.runs_dir() / "m-can" / "tensorboard").glob("events.out.tfevents.*"))


def test_bad_input_is_one_line_and_writes_nothing(
    midi_dir: Path, tmp_path: Path, isolated_home: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    single = tmp_path / "single"
    _write_genre(single, "funk", 2, np.random.default_rng(1))
    cases = [
        ([str(empty), "--name", "x"], 1, None),
        ([str(single), "--name", "x", "--mode", "can"], 1, "at least 2 genres"),
        ([str(single), "--name", "x", "--mode", "cgan"], 1, "at least 2 genres"),
        ([str(midi_dir), "--name", "x", "--mode", "wgan"], 2, None),
        ([str(midi_dir), "--name", "x", "--dense", "16,40"], 2, "multiple of 32"),
        ([str(midi_dir), "--name", "x", "--validation", "1.5"], 2, None),
        ([str(midi_dir), "--name", "x", "--epochs", "0"], 2, None),
        ([str(midi_dir), "--name", "../x"], 1, "invalid model name"),
        ([str(midi_dir), "--name", "x", "--resume"], 2, "no run named"),
        ([str(midi_dir), "--name", "x", "--recipe", "nope"], 2, "unknown --recipe"),
        ([str(midi_dir), "--name", "x", "--option", "nope=1"], 2, "--option"),
        ([str(midi_dir), "--name", "x", "--option", "class_balanced=maybe"], 2, "cannot read"),
        ([str(midi_dir), "--name", "x", "--option", "conditioning=add"], 2, "--conditioning"),
    ]
    for args, expected, text in cases:
        code, _, stderr = invoke("train", *args, "--quiet")
        assert code == expected, (args, stderr)
        if text:
            assert text in stderr
            assert len([line for line in stderr.splitlines() if line.strip()]) == 1, stderr
    assert not (isolated_home / "models").exists() or not any((isolated_home / "models").iterdir())
    assert not (isolated_home / "runs").exists() or not any((isolated_home / "runs").iterdir())
