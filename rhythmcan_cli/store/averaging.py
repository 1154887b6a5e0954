"""Averaging the generator weights of several epochs of one training run into a new model.

GAN training oscillates: one epoch rolls, the next drops a drum (docs/results.md). The mean of
the weights of consecutive epochs (Yazici et al., "The Unusual Effectiveness of Averaging in
GAN Training", ICLR 2019) smooths that out without more training. Only snapshots of **one**
run can be averaged: two separately trained networks hold their features in different units,
and the mean of their weights is noise. "One run" is checked on the cards: the same kind,
genres, grid, data fingerprint and training configuration (seed included), differing only in
the epoch. BatchNorm's moving statistics are averaged like every other weight.

Weights are read through the store's checksum-verified reader and the result is written with
``save_model`` (atomic), so a failure never leaves a half-written model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import numpy as np

from rhythmcan_cli.errors import ModelError, UsageError
from rhythmcan_cli.formats.layers_model import LayersModel
from rhythmcan_cli.store.cards import GENERATOR_JSON, ModelCard
from rhythmcan_cli.store.paths import validate_name
from rhythmcan_cli.store.saving import save_model
from rhythmcan_cli.store.stored import StoredModel, open_model
from rhythmcan_cli.vocabulary import GENERATOR_KINDS

AVERAGE_KEY: Final = "weight_average"
"""The card's ``training`` entry that records an average: ``{"epochs": [...], "models": n}``."""
MAX_SOURCES: Final = 1000
_SAME_RUN: Final = ("kind", "genres", "class_names", "output_pitches", "steps", "z_dim")


def _run_key(card: ModelCard) -> dict[str, Any]:
    """What must match for two cards to be epochs of one run."""
    training = {k: v for k, v in card.training.items() if k != AVERAGE_KEY}
    key = {field: getattr(card, field) for field in _SAME_RUN}
    return {**key, "data_fingerprint": card.data_fingerprint, "training": training}


def _check_same_run(models: Sequence[StoredModel]) -> None:
    """ModelError unless every model is a generator snapshot of the first one's run."""
    first = models[0]
    for model in models:
        if model.kind not in GENERATOR_KINDS:
            raise ModelError(f"model {model.name!r} is a {model.kind}: only generators average")
        if not model.card.training or not model.card.data_fingerprint:
            raise ModelError(
                f"model {model.name!r} does not say how it was trained (an imported file?): "
                "only epochs of one rhythmcan training run can be averaged"
            )
    for model in models[1:]:
        a, b = _run_key(first.card), _run_key(model.card)
        if a != b:
            differ = sorted(k for k in a if a[k] != b[k])
            if differ == ["training"]:
                differ = sorted(
                    k for k in {*a["training"], *b["training"]}
                    if a["training"].get(k) != b["training"].get(k)
                )  # fmt: skip
            raise ModelError(
                f"models {first.name!r} and {model.name!r} are not epochs of one training run "
                f"(they differ in {', '.join(differ)}); averaging weights of different runs "
                "gives noise"
            )


def average_weights(parts: Sequence[LayersModel]) -> LayersModel:
    """The element-wise mean (float64, stored as float32) of same-shaped layers models.

    Integer weights must be equal in every part (they are indices, not parameters). The first
    part's topology and metadata are kept; every part must have the same topology.
    """
    first = parts[0]
    for part in parts[1:]:
        if part.topology != first.topology:
            raise ModelError("the generators have different layers: they cannot be averaged")
        if list(part.weights) != list(first.weights) or any(
            part.weights[n].shape != first.weights[n].shape for n in first.weights
        ):
            raise ModelError("the generators have different weights: they cannot be averaged")
    weights: dict[str, np.ndarray] = {}
    for name, array in first.weights.items():
        stack = [part.weights[name] for part in parts]
        if np.issubdtype(array.dtype, np.integer):
            if any(not np.array_equal(s, array) for s in stack):
                raise ModelError(f"integer weight {name!r} differs: it cannot be averaged")
            weights[name] = array
        else:
            weights[name] = np.mean(np.stack(stack).astype(np.float64), axis=0).astype(np.float32)
    return LayersModel(
        topology=first.topology, weights=weights, user_metadata=dict(first.user_metadata)
    )


def average_models(name: str, sources: Sequence[str | Path], *, force: bool = False) -> StoredModel:
    """Store as ``name`` the mean generator of ``sources`` (names or folders; 2 or more).

    The card is the newest source's (highest epoch), with ``training["weight_average"]`` =
    ``{"epochs": [...], "models": n}``, a description saying so, and no final losses (one
    epoch's losses do not describe an average). UsageError for fewer than two or repeated
    sources; ModelError when they are not epochs of one run.
    """
    validate_name(name)  # before any model is read
    if len(sources) < 2:
        raise UsageError("averaging needs at least two models (epochs of one training run)")
    if len(sources) > MAX_SOURCES:
        raise UsageError(f"at most {MAX_SOURCES} models can be averaged, got {len(sources)}")
    models = [open_model(source) for source in sources]
    paths = [model.path.resolve() for model in models]
    if len(set(paths)) != len(paths):
        raise UsageError("the same model is given twice: each epoch counts once")
    _check_same_run(models)
    mean = average_weights([model.layers_model() for model in models])
    epochs = sorted(int(m.card.epochs or 0) for m in models)
    newest = max(models, key=lambda m: int(m.card.epochs or 0))
    record = {"epochs": epochs, "models": len(models)}
    card = replace(
        newest.card,
        name=name,
        created="",
        final_losses={},
        files={},
        description=(
            f"{newest.card.description} (generator weights averaged over {len(models)} "
            f"epochs, {epochs[0]}-{epochs[-1]}, of one run)"
        ).strip(),
        training={**newest.card.training, AVERAGE_KEY: record},
    )
    folder = GENERATOR_JSON.split("/")[0]
    files = {f"{folder}/{rel}": payload for rel, payload in mean.to_files().items()}
    save_model(name, card, files, force=force)
    return open_model(name)
