"""The default models shipped inside the package: intact, attributed, and what sample uses."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli import store
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.engine import Generator

pytestmark = pytest.mark.bundled

DEFAULTS = {"can": "default-can", "cgan": "default-cgan", "classifier": "default-classifier"}


@pytest.mark.parametrize("kind", sorted(DEFAULTS))
def test_bundled_default_is_intact_and_attributed(kind: str) -> None:
    model = store.default_model(kind)  # checksums verified on open
    assert model.bundled and model.name == DEFAULTS[kind] and model.card.kind == kind
    assert len(model.card.genres) >= 6
    assert "Groove MIDI Dataset" in model.card.attribution
    assert "CC BY 4.0" in model.card.attribution
    assert model.card.training.get("seed") == 2020


@pytest.mark.parametrize("kind", ["can", "cgan"])
def test_bundled_generators_run_in_numpy(kind: str) -> None:
    model = store.default_model(kind)
    generator = model.generator()
    assert isinstance(generator, Generator)
    z = np.random.default_rng(0).normal(0, 1, (4, generator.z_dim)).astype(np.float32)
    genres = np.arange(4) % len(model.card.genres) if kind == "cgan" else None
    out = generator.generate(z, genres=genres)
    assert out.shape == (4, 32, 9)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert (kind == "cgan") == (generator.n_genres == len(model.card.genres))
    # Trained here at 0.5: sampled at the training sigma (method.md section 11).
    assert model.card.z_sigma_sample == model.card.z_sigma_train == 0.5
    assert model.card.training["z_sigma_sample"] == 0.5


def test_bundled_classifier_is_a_plain_keras_archive() -> None:
    path = store.default_model("classifier").path / "classifier.keras"
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    assert {"config.json", "model.weights.h5"} <= names
    assert not any(name.endswith((".pkl", ".pickle", ".npy")) for name in names)


@pytest.mark.parametrize(
    ("args", "model", "genre"),
    [(["--genre-ambiguous"], "default-can", None), (["--genre", "funk"], "default-cgan", "funk")],
)
def test_sample_uses_the_bundled_defaults_reproducibly(
    args: list[str], model: str, genre: str | None
) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["sample", *args, "--seed", "5", "--format", "json"])
    again = runner.invoke(app, ["sample", *args, "--seed", "5", "--format", "json"])
    assert first.exit_code == 0, first.output
    assert first.stdout == again.stdout
    pattern = json.loads(first.stdout)
    assert pattern["model"] == model and pattern["genre"] == genre
    assert np.asarray(pattern["values"]).shape == (32, 9)


def test_bundled_judge_states_its_held_out_figures() -> None:
    """The judge's card says how it was split and what it scored on files it never saw."""
    card = store.default_model("classifier").card
    assert card.training["split_column"] == "split" and card.training["train_values"] == ["train"]
    figures = card.extra["judge"]
    for key in ("test_accuracy", "test_macro_recall", "test_ece", "temperature"):
        assert isinstance(figures[key], float)
    assert 0.0 < figures["test_ece"] < figures["test_macro_recall"] <= 1.0
    assert card.final_losses["test_accuracy"] == figures["test_accuracy"]
    assert set(figures["test_recall"]) <= set(card.genres)


@pytest.mark.parametrize("kind", ["can", "cgan"])
def test_the_script_that_reproduces_a_bundled_gan_names_its_epochs_and_options(kind: str) -> None:
    """scripts/train-default-models' AVERAGE_<KIND> default is the window the card records,
    and its <KIND>_OPTIONS are the ones the card was trained with."""
    import re
    from pathlib import Path

    card = store.default_model(kind).card
    script = (Path(__file__).parents[2] / "scripts" / "train-default-models").read_text()
    key = kind.upper()
    window = re.search(rf"AVERAGE_{key}=\$\{{AVERAGE_{key}-(\d+)-(\d+)\}}", script)
    assert window is not None
    first, last = int(window.group(1)), int(window.group(2))
    assert card.training["weight_average"]["epochs"] == list(range(first, last + 1))
    assert card.epochs == last
    block = re.search(rf"\b{key}_OPTIONS=\(([^)]*)\)", script)
    assert block is not None
    options = dict(re.findall(r"--option (\w+)=([\w.]+)", block.group(1)))
    assert options
    for name, text in options.items():
        expected = text == "true" if text in ("true", "false") else float(text)
        assert card.training[name] == expected, name
    assert card.training["recipe"] == "tuned"
