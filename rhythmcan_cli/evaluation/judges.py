"""Genre judges for ``evaluate``: the protocol, finding one, training one on the fly, caching.

A judge is anything with ``name``, ``genres`` and ``predict_proba(x) -> (N, K)``
(:class:`GenreClassifier`). :func:`resolve_classifier` picks one for a dataset: the one asked
for, else the bundled ``default-classifier`` when its genres are the data's, else one cached
for this training split (``classifier-<hash>``: ``models list`` keeps those apart), else it
trains one now with the judge recipe (``rhythmcan_cli.training.judge_training``: class-balanced,
augmented, early-stopped and temperature-scaled on files held out *from the training
split*, so the evaluation's held-out files stay unseen) and caches it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError, ModelError
from rhythmcan_cli.progress import ProgressCallback

if TYPE_CHECKING:
    from rhythmcan_cli.dataset import Dataset
    from rhythmcan_cli.store import StoredModel

FloatArray = npt.NDArray[np.float32]
INNER_VALIDATION = 0.15
"""Share of the training split's files an on-the-fly judge stops early and calibrates on."""


class GenreClassifier(Protocol):
    """Anything that maps (N, 32, 9) patterns to (N, K) genre probabilities."""

    @property
    def name(self) -> str: ...

    @property
    def genres(self) -> Sequence[str]: ...

    def predict_proba(self, x: FloatArray) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True)
class ArrayClassifier:
    """A GenreClassifier from a function (a Keras model's ``predict``, a numpy stand-in)."""

    name: str
    genres: Sequence[str]
    function: Callable[[FloatArray], Any]
    card: Any = None
    """The stored judge's card (its training split), when it came from the store."""

    def predict_proba(self, x: FloatArray) -> npt.NDArray[np.float64]:
        """Probabilities, rows renormalised to sum 1."""
        p = np.asarray(self.function(x), dtype=np.float64)
        if p.shape != (len(x), len(self.genres)):
            raise ModelError(
                f"classifier '{self.name}' returned shape {p.shape}, "
                f"expected ({len(x)}, {len(self.genres)})"
            )
        p = np.clip(p, 0.0, None)
        result: npt.NDArray[np.float64] = p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)
        return result


# --------------------------------------------------------------------------- classifier


def classifier_name(fingerprint: str) -> str:
    """Store name of the classifier trained on the fly for a dataset fingerprint."""
    import hashlib

    return f"classifier-{hashlib.sha256(fingerprint.encode()).hexdigest()[:12]}"


def resolve_classifier(
    choice: GenreClassifier | str | None,
    train: Dataset,
    genres: Sequence[str],
    *,
    seed: int,
    progress: ProgressCallback | None,
    notes: list[str],
    epochs: int = 10,
) -> GenreClassifier:
    """The classifier to judge ambiguity with (see the module docstring for the order).

    ``choice`` may be a ready classifier, a stored classifier's name, or None: then the
    bundled ``default-classifier`` if its genres match, else one cached for this data's
    fingerprint, else one trained now on the training split and cached.
    """
    if choice is not None and not isinstance(choice, str):
        _check_classifier_genres(choice.name, choice.genres, genres)
        return choice
    from rhythmcan_cli import store

    if isinstance(choice, str):
        model = store.open_model(choice)
        if model.card.kind != "classifier":
            raise ModelError(
                f"model '{model.name}' is a {model.card.kind}, not a genre classifier: train "
                "one with 'rhythmcan train DATA_DIR --mode classifier --name NAME'"
            )
        _check_classifier_genres(model.name, model.card.genres, genres)
        return _load_classifier(model)
    candidates: list[StoredModel] = []
    with contextlib.suppress(ModelError):
        default = store.default_model("classifier")
        if [g.lower() for g in default.card.genres] == [g.lower() for g in genres]:
            candidates.append(default)
    cached = classifier_name(train.fingerprint)
    with contextlib.suppress(ModelError):
        candidates.append(store.open_model(cached))
    for model in candidates:
        if model.card.kind == "classifier":
            return _load_classifier(model)
    model, figures = _train_on_the_fly(train, genres, seed=seed, epochs=epochs, progress=progress)
    _cache_classifier(model, cached, genres, train.fingerprint, figures)
    notes.append(
        f"trained genre judge '{cached}' on the training split (held-out accuracy "
        f"{figures['validation_accuracy']:.0%} on {INNER_VALIDATION:.0%} of its files; cached in "
        "the store for the next run)"
    )
    return _load_classifier(store.open_model(cached))


def _train_on_the_fly(
    train: Dataset,
    genres: Sequence[str],
    *,
    seed: int,
    epochs: int,
    progress: ProgressCallback | None,
) -> tuple[Any, dict[str, Any]]:
    """A judge trained on ``train`` only: early stopping and temperature on some of its files."""
    from rhythmcan_cli.dataset import split_by_file
    from rhythmcan_cli.training.judge_training import train_judge

    inner_train, inner_held = split_by_file(train, validation=INNER_VALIDATION, seed=seed)
    if len(inner_held) == 0 or len(inner_train) == 0:
        raise DataError(
            "the training split is too small to train a genre judge (it needs 2+ files in "
            "some genre): pass --classifier NAME or --no-classifier"
        )
    result = train_judge(
        inner_train.x,
        inner_train.y,
        inner_held.x,
        inner_held.y,
        genres,
        members=3,
        max_epochs=epochs,
        seed=seed,
        progress=progress,
    )
    figures = {
        "validation_accuracy": result.validation.accuracy,
        "validation_macro_recall": result.validation.macro_recall,
        "validation_ece": result.validation.ece,
        "temperature": result.temperature,
    }
    return result.model, figures


def _cache_classifier(
    model: Any, name: str, genres: Sequence[str], fingerprint: str, figures: dict[str, Any]
) -> None:
    """Save an in-memory Keras judge into the store as a kind 'classifier' model."""
    import tempfile

    from rhythmcan_cli import store
    from rhythmcan_cli.training import judge_training
    from rhythmcan_cli.training.classifier import CLASSIFIER_FILE

    with tempfile.TemporaryDirectory(prefix="rhythmcan-eval-") as tmp:
        path = Path(tmp) / "classifier.keras"
        model.save(path)
        card = store.ModelCard(
            name=name,
            kind="classifier",
            genres=list(genres),
            data_fingerprint=fingerprint,
            epochs=None,
            final_losses={k: float(v) for k, v in figures.items()},
            versions=store.package_versions(),
            description="genre judge trained by 'rhythmcan evaluate' on a training split "
            "(cached; reused for the same split)",
            training={"recipe": judge_training.RECIPE, "cached": True},
        )
        store.save_model(name, card, {CLASSIFIER_FILE: path}, force=True)


def _check_classifier_genres(name: str, theirs: Sequence[str], genres: Sequence[str]) -> None:
    if [g.lower() for g in theirs] != [g.lower() for g in genres]:
        raise ModelError(
            f"classifier '{name}' knows the genres {', '.join(theirs) or '(none)'}, but the data "
            f"has {', '.join(genres)}: leave out --classifier to judge with one trained on this "
            "data (trained once, then cached), or skip ambiguity with --no-classifier"
        )


def _load_classifier(model: StoredModel) -> GenreClassifier:
    """A stored classifier (Keras, safe mode) as a GenreClassifier."""
    from rhythmcan_cli.training.classifier import load_classifier

    loaded = load_classifier(model)

    def function(x: FloatArray) -> Any:
        return loaded.predict(x, verbose=0)

    return ArrayClassifier(model.name, list(model.card.genres), function, card=model.card)


__all__ = [
    "ArrayClassifier",
    "GenreClassifier",
    "classifier_name",
    "resolve_classifier",
]
