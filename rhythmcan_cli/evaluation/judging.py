"""What the genre judge says about a report's sets, and how far to trust it.

``evaluate`` asks an independent genre classifier (the judge) two things: how ambiguous the
generated patterns are (entropy) and, for a conditional model, whether the patterns follow
the genre they were asked for. Neither figure can be read alone, so beside them this module
measures the judge itself on the same report's other sets:

* its accuracy, per-genre recall and expected calibration error on the held-out real
  windows (labelled, never seen in training);
* its entropy on held-out real patterns and on both random baselines: "entropy 0.47"
  is then read as "0.47 where real drumming scores 0.23 and random patterns 0.30".

Genre-following compares only genres whose names the model and the judge share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.evaluation.calibration import JudgeQuality, confusion_matrix, judge_quality
from rhythmcan_cli.vocabulary import PATH_COLUMN

if TYPE_CHECKING:
    from rhythmcan_cli.dataset import Dataset


@dataclass
class JudgeCalibration:
    """The judge on the report's reference sets: quality on held-out real, and its entropy
    on held-out real and on both random baselines (what 'a genre' and 'no genre' score)."""

    quality: JudgeQuality
    entropy_real: float
    entropy_random_instrument: float
    entropy_random_total: float
    unseen: str = "unknown"
    """Whether the judge never saw the held-out windows it is scored on: "yes" (checked
    against its card's training split), "unknown" (its card does not say), or how many
    seen windows were left out of ``quality``."""


@dataclass
class GenreFollowing:
    """Conditional model: the judge's verdict on patterns asked for each genre.

    ``precision[g]`` is the share of the patterns conditioned on ``g`` that the judge calls
    ``g``; ``confusion`` has a row per conditioned genre (``genres``) and a column per judge
    genre (``judge_genres``). Genres the judge does not know are listed in ``skipped``.
    """

    classifier: str
    genres: list[str]
    judge_genres: list[str]
    precision: dict[str, float]
    mean_precision: float
    confusion: list[list[int]]
    judge_recall: dict[str, float] = field(default_factory=dict)
    """The judge's own recall of each genre on held-out real (the ceiling to read against)."""
    skipped: list[str] = field(default_factory=list)


def calibrate(
    quality: JudgeQuality,
    entropy_real: npt.ArrayLike,
    entropy_random_instrument: npt.ArrayLike,
    entropy_random_total: npt.ArrayLike,
) -> JudgeCalibration:
    """Bundle the judge's quality with its mean entropy on the three reference sets."""
    return JudgeCalibration(
        quality=quality,
        entropy_real=float(np.asarray(entropy_real, dtype=np.float64).mean()),
        entropy_random_instrument=float(
            np.asarray(entropy_random_instrument, dtype=np.float64).mean()
        ),
        entropy_random_total=float(np.asarray(entropy_random_total, dtype=np.float64).mean()),
    )


def held_out_quality(
    probs: npt.ArrayLike, labels: npt.ArrayLike, genres: Sequence[str]
) -> JudgeQuality:
    """The judge's quality on held-out real windows (``labels`` index ``genres``)."""
    return judge_quality(probs, labels, genres)


def genre_following(
    probs: npt.ArrayLike,
    conditioned: Sequence[str],
    judge_genres: Sequence[str],
    classifier: str,
    judge_recall: dict[str, float] | None = None,
) -> GenreFollowing:
    """Precision per conditioned genre and the confusion matrix (matched by name, any case).

    ``conditioned[i]`` is the genre pattern ``i`` was generated for.
    """
    p = np.asarray(probs, dtype=np.float64)
    if len(p) != len(conditioned):
        raise DataError(f"{len(p)} judged patterns for {len(conditioned)} genre labels")
    index = {g.lower(): i for i, g in enumerate(judge_genres)}
    asked = list(dict.fromkeys(conditioned))
    matched = [g for g in asked if g.lower() in index]
    if not matched:
        raise DataError(
            "none of the model's genres ("
            + ", ".join(asked)
            + ") is a genre of the judge ("
            + ", ".join(judge_genres)
            + "): genre-following needs shared genre names"
        )
    keep = np.asarray([g.lower() in index for g in conditioned], dtype=bool)
    rows = np.asarray([matched.index(g) for g in np.asarray(conditioned)[keep]], dtype=np.int64)
    predicted = p[keep].argmax(axis=1)
    k = len(judge_genres)
    full = confusion_matrix(rows, predicted, max(k, len(matched)))[: len(matched), :k]
    precision = {
        g: float(full[r, index[g.lower()]] / max(full[r].sum(), 1)) for r, g in enumerate(matched)
    }
    recall = judge_recall or {}
    return GenreFollowing(
        classifier=classifier,
        genres=matched,
        judge_genres=list(judge_genres),
        precision=precision,
        mean_precision=float(np.mean(list(precision.values()))),
        confusion=full.tolist(),
        judge_recall={
            g: recall[j]
            for g in matched
            for j in judge_genres
            if j.lower() == g.lower() and j in recall
        },
        skipped=[g for g in asked if g.lower() not in index],
    )


def judge_training_files(card: Any, data: Dataset) -> set[int] | None:
    """Indices into ``data.files`` of the files a stored judge was trained on, or None when
    its card cannot tell (trained on other data, or no split recorded).

    A judge's figures on held-out windows are honest only for windows of files it never saw;
    ``evaluate`` uses this to leave the others out of the judge's quality.
    """
    from rhythmcan_cli.dataset import split_by_file
    from rhythmcan_cli.dataset.splits import file_groups

    if card is None or getattr(card, "data_fingerprint", "") != data.fingerprint:
        return None
    training = dict(getattr(card, "training", {}) or {})
    column, values = training.get("split_column"), training.get("train_values")
    if isinstance(column, str) and isinstance(values, list) and data.report.labels_csv:
        path_column = str(data.report.options.get("path_column", PATH_COLUMN))
        try:
            groups = file_groups(
                data, Path(data.report.labels_csv), column, path_column=path_column
            )
        except DataError:
            return None
        return {i for i, g in enumerate(groups) if g in values}
    seed, share = training.get("seed"), training.get("validation")
    if isinstance(seed, int) and isinstance(share, (int, float)) and 0 < share < 1:
        train, _ = split_by_file(data, validation=float(share), seed=seed)
        return {int(i) for i in np.unique(train.file_ids)}
    return None


__all__ = [
    "GenreFollowing",
    "JudgeCalibration",
    "calibrate",
    "genre_following",
    "held_out_quality",
    "judge_training_files",
]
