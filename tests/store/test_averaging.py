"""Averaging epochs of one run (store/averaging.py and `rhythmcan models average`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli import store
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.errors import ModelError, StoreError, UsageError
from rhythmcan_cli.formats.layers_model import LayersModel
from rhythmcan_cli.store.averaging import AVERAGE_KEY, average_models, average_weights
from tests.helpers import TINY, make_generator_files

RUN: dict[str, Any] = {"seed": 2020, "recipe": "tuned", "lr_g": 1e-4}


def snapshot(
    name: str, epoch: int, *, kind: str = "cgan", training: dict[str, Any] | None = None,
    fingerprint: str = "f00d", genres: tuple[str, ...] = ("funk", "rock"),
) -> store.StoredModel:  # fmt: skip
    """One epoch of a pretend run: random weights seeded by the epoch, the run's card."""
    files = make_generator_files(None, n_genres=len(genres) if kind == "cgan" else None, seed=epoch)
    card = store.ModelCard(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        genres=list(genres),
        z_dim=TINY["z_dim"],
        epochs=epoch,
        data_fingerprint=fingerprint,
        training=dict(RUN if training is None else training),
        final_losses={"g_loss": 1.0},
        description="cgan trained by rhythmcan",
    )
    store.save_model(name, card, files)
    return store.open_model(name)


def test_the_average_is_the_mean_of_the_weights_and_the_card_says_so() -> None:
    parts = [snapshot(f"e{epoch}", epoch) for epoch in (7, 3, 5)]
    model = average_models("mean", ["e7", "e3", parts[2].path])
    weights = [p.layers_model().weights for p in parts]
    got = model.layers_model().weights
    assert list(got) == list(weights[0])
    for name, array in got.items():
        expected = np.mean([w[name].astype(np.float64) for w in weights], axis=0)
        np.testing.assert_allclose(array, expected, rtol=1e-6, atol=1e-7)
        assert not np.array_equal(array, weights[0][name]) or not array.any()
    card = model.card
    assert card.training[AVERAGE_KEY] == {"epochs": [3, 5, 7], "models": 3}
    assert {k: v for k, v in card.training.items() if k != AVERAGE_KEY} == RUN
    assert card.epochs == 7 and card.final_losses == {} and card.name == "mean"
    assert "averaged over 3 epochs, 3-7" in card.description
    model.verify()  # checksums written by save_model
    z = np.random.default_rng(0).normal(size=(4, TINY["z_dim"])).astype(np.float32)
    out = model.generator().generate(z, np.array([1, 1, 0, 0]))
    assert out.shape == (4, 32, 9) and np.isfinite(out).all()
    first = parts[0].generator().generate(z, np.array([1, 1, 0, 0]))
    assert not np.allclose(out, first)


def test_an_average_can_itself_be_averaged_with_later_epochs() -> None:
    for epoch in (1, 2, 3):
        snapshot(f"e{epoch}", epoch)
    average_models("early", ["e1", "e2"])
    model = average_models("later", ["early", "e3"])
    assert model.card.training[AVERAGE_KEY]["models"] == 2


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"training": {**RUN, "seed": 1}}, "seed"),
        ({"training": {**RUN, "recipe": "paper"}}, "recipe"),
        ({"fingerprint": "beef"}, "data_fingerprint"),
        ({"genres": ("funk", "jazz")}, "genres"),
    ],
)
def test_epochs_of_different_runs_are_refused_naming_the_difference(
    change: dict[str, Any], named: str
) -> None:
    snapshot("a", 1)
    snapshot("b", 2, **change)
    with pytest.raises(ModelError, match=rf"not epochs of one training run.*{named}"):
        average_models("mean", ["a", "b"])
    assert not (store.models_dir() / "mean").exists()


def test_models_that_do_not_say_how_they_were_trained_are_refused() -> None:
    snapshot("a", 1)
    snapshot("imported", 2, training={})
    with pytest.raises(ModelError, match="does not say how it was trained"):
        average_models("mean", ["a", "imported"])


def test_too_few_or_repeated_sources_are_usage_errors() -> None:
    snapshot("a", 1)
    with pytest.raises(UsageError, match="at least two"):
        average_models("mean", ["a"])
    with pytest.raises(UsageError, match="given twice"):
        average_models("mean", ["a", store.model_path("a")])
    with pytest.raises(StoreError, match="name"):
        average_models("../escape", ["a", "a"])
    assert not (store.models_dir().parent / "escape").exists()


def test_an_existing_name_needs_force_and_is_then_replaced_whole() -> None:
    for epoch in (1, 2):
        snapshot(f"e{epoch}", epoch)
    with pytest.raises(StoreError, match="already exists"):
        average_models("e1", ["e1", "e2"])
    assert store.open_model("e1").card.epochs == 1
    model = average_models("e1", ["e1", "e2"], force=True)
    assert model.card.training[AVERAGE_KEY]["epochs"] == [1, 2]


def test_layers_that_differ_or_integer_weights_that_differ_cannot_be_averaged() -> None:
    topology = {"class_name": "Model", "config": {"layers": []}}
    a = LayersModel(topology=topology, weights={"w": np.ones(3, np.float32)})
    b = LayersModel(topology=topology, weights={"w": np.ones(4, np.float32)})
    with pytest.raises(ModelError, match="different weights"):
        average_weights([a, b])
    c = LayersModel(topology={"class_name": "Model", "config": {"layers": [{}]}}, weights={})
    with pytest.raises(ModelError, match="different layers"):
        average_weights([a, c])
    i = LayersModel(topology=topology, weights={"n": np.array([1, 2], np.int32)})
    j = LayersModel(topology=topology, weights={"n": np.array([1, 3], np.int32)})
    with pytest.raises(ModelError, match="integer weight"):
        average_weights([i, j])
    assert average_weights([i, i]).weights["n"].dtype == np.int32


def test_cli_average_stores_the_model_and_bad_input_is_one_line() -> None:
    runner = CliRunner()
    for epoch in (4, 5):
        snapshot(f"e{epoch}", epoch)
    result = runner.invoke(app, ["models", "average", "smooth", "e4", "e5"])
    assert result.exit_code == 0, result.stderr
    assert "averaged 2 epochs (4, 5) into smooth" in result.stderr
    assert store.open_model("smooth").card.training[AVERAGE_KEY]["epochs"] == [4, 5]
    result = runner.invoke(app, ["models", "average", "again", "e4"])
    assert result.exit_code != 0
    assert "at least two" in result.stderr and "Traceback" not in result.stderr
    snapshot("other", 6, training={**RUN, "seed": 7})
    result = runner.invoke(app, ["models", "average", "mix", "e4", "other"])
    assert result.exit_code != 0 and "seed" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
