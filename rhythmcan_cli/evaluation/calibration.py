"""How far a genre judge can be trusted: accuracy, recall, calibration, temperature (numpy).

An ambiguity figure ("entropy 0.47") means nothing without the judge's own quality beside
it: how often it is right on real patterns it never saw, how its confidence matches its
accuracy (expected calibration error), and what entropy it gives to patterns with no genre
at all (the random baselines). This module computes those from probabilities and true
labels; it never imports TensorFlow, so any ``predict_proba`` function can be judged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError

FloatArray = npt.NDArray[np.float64]

ECE_BINS: Final = 15
"""Equal-width confidence bins of the expected calibration error (Guo et al. 2017)."""
TEMPERATURES: Final = np.exp(np.linspace(math.log(0.05), math.log(20.0), 400))
"""Grid searched by :func:`fit_temperature` (log-spaced 0.05..20)."""


@dataclass
class JudgeQuality:
    """A judge's quality on labelled patterns it never saw (held-out real windows)."""

    n: int
    accuracy: float
    macro_recall: float
    recall: dict[str, float]
    ece: float
    mean_confidence: float
    confusion: list[list[int]] = field(default_factory=list)
    """Rows: true genre; columns: predicted genre (the judge's genre order)."""


def _probs(p: npt.ArrayLike) -> FloatArray:
    probs = np.asarray(p, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 1:
        raise DataError(f"probabilities must be (N, K), got shape {probs.shape}")
    return probs


def confusion_matrix(
    true: npt.ArrayLike, predicted: npt.ArrayLike, k: int
) -> npt.NDArray[np.int64]:
    """(k, k) counts: row = true class, column = predicted class."""
    t = np.asarray(true, dtype=np.int64)
    p = np.asarray(predicted, dtype=np.int64)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (t, p), 1)
    return matrix


def expected_calibration_error(
    probs: npt.ArrayLike, true: npt.ArrayLike, bins: int = ECE_BINS
) -> float:
    """Sum over confidence bins of |accuracy - mean confidence| weighted by the bin's share.

    0 = the judge's top probability is exactly how often it is right.
    """
    p = _probs(probs)
    t = np.asarray(true, dtype=np.int64)
    if not len(p):
        raise DataError("calibration needs at least 1 labelled pattern")
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == t).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def judge_quality(probs: npt.ArrayLike, true: npt.ArrayLike, genres: Sequence[str]) -> JudgeQuality:
    """Accuracy, per-genre recall (genres with no pattern are left out), ECE, confusion."""
    p = _probs(probs)
    t = np.asarray(true, dtype=np.int64)
    if len(p) != len(t):
        raise DataError(f"{len(p)} probability rows for {len(t)} labels")
    if not len(p):
        raise DataError("judging a classifier needs at least 1 labelled pattern")
    k = p.shape[1]
    matrix = confusion_matrix(t, p.argmax(axis=1), k)
    support = matrix.sum(axis=1)
    recall = {genres[i]: float(matrix[i, i] / support[i]) for i in range(k) if support[i] > 0}
    return JudgeQuality(
        n=len(p),
        accuracy=float(np.trace(matrix) / len(p)),
        macro_recall=float(np.mean(list(recall.values()))),
        recall=recall,
        ece=expected_calibration_error(p, t),
        mean_confidence=float(p.max(axis=1).mean()),
        confusion=matrix.tolist(),
    )


def apply_temperature(probs: npt.ArrayLike, temperature: float) -> FloatArray:
    """softmax(log p / T): T > 1 softens an over-confident judge, T < 1 sharpens it."""
    p = _probs(probs)
    logits = np.log(np.clip(p, 1e-12, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    result: FloatArray = e / e.sum(axis=1, keepdims=True)
    return result


def fit_temperature(probs: npt.ArrayLike, true: npt.ArrayLike) -> float:
    """The temperature minimising the negative log-likelihood of ``true`` (grid search).

    Fitted on held-out windows (never the training ones, where any network is over-confident).
    """
    p = _probs(probs)
    t = np.asarray(true, dtype=np.int64)
    logits = np.log(np.clip(p, 1e-12, None))
    best, best_nll = 1.0, math.inf
    for temperature in TEMPERATURES:
        z = logits / temperature
        z = z - z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        nll = float((log_norm - z[np.arange(len(t)), t]).mean())
        if nll < best_nll:
            best, best_nll = float(temperature), nll
    return best


__all__ = [
    "JudgeQuality",
    "apply_temperature",
    "confusion_matrix",
    "expected_calibration_error",
    "fit_temperature",
    "judge_quality",
]
