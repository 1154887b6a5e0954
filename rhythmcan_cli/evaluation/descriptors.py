"""Rhythm descriptors and the overlapping area of their distributions (plausibility).

Each pattern is reduced to a few numbers that music theory and the rhythm-similarity
literature use: onset density per instrument, Longuet-Higgins & Lee syncopation, and
Milne & Herff's balance and evenness of the onset positions on the 32-step circle. A
generated set is plausible when these distributions overlap the real ones; the
overlap is measured mgeval-style as the overlapping area (OA) of two kernel density
estimates on a shared grid, so OA of a set with itself is exactly 1 and disjoint sets
give about 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.grid import CLASS_NAMES, EVAL_THRESHOLD, N_CLASSES, STEPS, binarize

FloatArray = npt.NDArray[np.float64]

# Longuet-Higgins & Lee metrical weights of the 16 sixteenths of a 4/4 bar: bar 0,
# half bar -1, beat -2, eighth -3, sixteenth -4 (higher = metrically stronger).
_BAR_WEIGHTS: Final = (0, -4, -3, -4, -2, -4, -3, -4, -1, -4, -3, -4, -2, -4, -3, -4)
LHL_WEIGHTS: Final[npt.NDArray[np.int64]] = np.array(_BAR_WEIGHTS * (STEPS // 16), dtype=np.int64)

DESCRIPTOR_NAMES: Final[tuple[str, ...]] = (
    "density",
    *(f"density_{name}" for name in CLASS_NAMES),
    "syncopation",
    "balance",
    "evenness",
)
"""Columns of :func:`describe`. Densities are hits per step (0..1); syncopation is the
Longuet-Higgins & Lee sum over both bars of the 'any drum' onset line; balance and
evenness (0..1) are Milne & Herff's measures of the same onset positions."""


def _hits(patterns: npt.ArrayLike, threshold: float) -> npt.NDArray[np.bool_]:
    array = np.asarray(patterns)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (STEPS, N_CLASSES):
        raise DataError(f"patterns must be N x {STEPS} x {N_CLASSES}, got shape {array.shape}")
    return array if array.dtype == np.bool_ else binarize(array, threshold)


def syncopation(onsets: npt.NDArray[np.bool_]) -> FloatArray:
    """Longuet-Higgins & Lee syncopation of (N, 32) onset lines, read cyclically.

    A note followed by a rest on a metrically stronger position (before the next note)
    syncopates by the weight difference; the pattern's score is the sum. No notes: 0.
    """
    onsets = np.asarray(onsets, dtype=bool)
    result = np.zeros(len(onsets), dtype=np.float64)
    offsets = np.arange(1, STEPS)
    # later[t, d-1] = the step d after t, cyclically; weights of those steps.
    later = (np.arange(STEPS)[:, None] + offsets[None, :]) % STEPS
    later_weight = LHL_WEIGHTS[later]
    for start in range(0, len(onsets), 2048):
        part = onsets[start : start + 2048]
        # rest_run[n, t, d-1]: every step from t+1 to t+d is silent (the run after a note).
        rest_run = np.cumprod(~part[:, later], axis=2).astype(bool)
        strongest = np.where(rest_run, later_weight[None], -100).max(axis=2)
        gain = np.where(part, np.maximum(strongest - LHL_WEIGHTS[None, :], 0), 0)
        result[start : start + 2048] = gain.sum(axis=1)
    return result


def balance_evenness(onsets: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """Milne & Herff balance and evenness of (N, 32) onset lines (both 0..1; no notes: 0).

    Balance is 1 minus the length of the mean onset vector on the 32-step circle (1 = the
    onsets balance around the centre); evenness is the length of the mean of each onset's
    offset from the perfectly even placement of the same number of onsets (1 = even).
    """
    angles = 2 * np.pi * np.arange(STEPS) / STEPS
    unit = np.exp(1j * angles)
    counts = onsets.sum(axis=1)
    safe = np.maximum(counts, 1)
    balance = np.where(counts > 0, 1 - np.abs(onsets @ unit) / safe, 0.0)
    # Rank of each onset among the pattern's onsets (0..count-1).
    rank = np.cumsum(onsets, axis=1) - 1
    phase = np.exp(1j * (angles[None, :] - 2 * np.pi * rank / safe[:, None]))
    evenness = np.where(counts > 0, np.abs((phase * onsets).sum(axis=1)) / safe, 0.0)
    return balance.astype(np.float64), evenness.astype(np.float64)


def describe(patterns: npt.ArrayLike, *, threshold: float = EVAL_THRESHOLD) -> FloatArray:
    """Descriptor matrix (N, len(DESCRIPTOR_NAMES)) of float patterns (or boolean hits)."""
    hits = _hits(patterns, threshold)
    any_hit: npt.NDArray[np.bool_] = np.asarray(hits.any(axis=2), dtype=np.bool_)
    balance, evenness = balance_evenness(any_hit)
    columns = [
        hits.sum(axis=(1, 2)) / (STEPS * N_CLASSES),
        *(hits[:, :, k].sum(axis=1) / STEPS for k in range(N_CLASSES)),
        syncopation(any_hit),
        balance,
        evenness,
    ]
    return np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=1)


def overlap_area(a: npt.ArrayLike, b: npt.ArrayLike, *, points: int = 512) -> float:
    """Overlapping area of the Gaussian KDEs of two 1-D samples (0..1; a sample with itself: 1).

    Both densities use one bandwidth (Scott's rule on the pooled sample, floored so that
    constant samples still form a narrow bump) and are normalised on a shared grid, so the
    area is exactly 1 for identical samples.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if len(x) < 2 or len(y) < 2:
        raise DataError(
            f"an overlapping area needs at least 2 values per side, got {len(x)} and {len(y)}"
        )
    pooled = np.concatenate([x, y])
    spread = float(pooled.max() - pooled.min())
    scott = float(pooled.std(ddof=1)) * len(pooled) ** (-1 / 5)
    width = max(scott, 0.02 * spread, 1e-3)
    grid = np.linspace(pooled.min() - 4 * width, pooled.max() + 4 * width, points)
    fx = _kde(x, grid, width)
    fy = _kde(y, grid, width)
    return float(np.minimum(fx, fy).sum())


def _kde(sample: FloatArray, grid: FloatArray, width: float) -> FloatArray:
    """Gaussian KDE on ``grid``, normalised to sum 1 (chunked to bound memory)."""
    density = np.zeros_like(grid)
    for start in range(0, len(sample), 4096):
        part = sample[start : start + 4096]
        density += np.exp(-0.5 * ((grid[None, :] - part[:, None]) / width) ** 2).sum(axis=0)
    total = density.sum()
    return density / total if total > 0 else density


def histogram(values: npt.ArrayLike, edges: npt.ArrayLike) -> FloatArray:
    """Share of values in each bin (for plots and JSON); sums to 1 over the bins."""
    counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=np.asarray(edges))
    total = counts.sum()
    return (counts / total if total else counts).astype(np.float64)


def compare(
    generated: npt.ArrayLike, real: npt.ArrayLike, *, threshold: float = EVAL_THRESHOLD
) -> dict[str, dict[str, float]]:
    """Per descriptor: mean and std of both sets and their overlapping area."""
    g = describe(generated, threshold=threshold)
    r = describe(real, threshold=threshold)
    result: dict[str, dict[str, float]] = {}
    for j, name in enumerate(DESCRIPTOR_NAMES):
        result[name] = {
            "generated_mean": float(g[:, j].mean()),
            "generated_std": float(g[:, j].std()),
            "real_mean": float(r[:, j].mean()),
            "real_std": float(r[:, j].std()),
            "overlap": overlap_area(g[:, j], r[:, j]),
        }
    return result


def mean_overlap(comparison: Mapping[str, Mapping[str, float]]) -> float:
    """Mean overlapping area over the descriptors of a :func:`compare` result."""
    return float(np.mean([row["overlap"] for row in comparison.values()]))
