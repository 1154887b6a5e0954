"""Shaping patterns: voice names, per-voice thresholds, ranges, density and syncopation.

The command-line vocabulary (``kick``, ``hats``...) comes from :mod:`rhythmcan_cli.grid`;
the measures are those ``--density`` and ``--syncopation`` select on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.grid import N_CLASSES, STEPS, STEPS_PER_BAR, check_threshold, voice_indices

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

BARS: Final = STEPS // STEPS_PER_BAR
SYNCOPATION_BANDS: Final[dict[str, tuple[float, float]]] = {
    "low": (0.0, 20.0),
    "mid": (21.0, 31.0),
    "high": (32.0, math.inf),
}
"""--syncopation low/mid/high: terciles of :func:`pattern_syncopation` over 7,354 Groove MIDI
Dataset windows (every third file, hits above 0.2): a third of real 2-bar grooves each."""


def parse_voices(text: str) -> tuple[int, ...]:
    """``kick,snare`` or ``hats`` -> sorted row indices (grid.py's names), or UsageError."""
    rows: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            rows.update(voice_indices(part))
        except DataError as error:
            raise UsageError(str(error)) from None
    if not rows:
        raise UsageError(f"name at least one drum voice, e.g. kick,snare; got {text!r}")
    return tuple(sorted(rows))


@dataclass(frozen=True)
class VoiceThresholds:
    """A base threshold (None: the model's) and per-voice overrides {row: threshold}."""

    base: float | None = None
    voices: dict[int, float] = field(default_factory=dict)

    def vector(self, default: float) -> npt.NDArray[np.float64]:
        """One threshold per row (9,)."""
        out = np.full(N_CLASSES, default if self.base is None else self.base, dtype=np.float64)
        for row, value in self.voices.items():
            out[row] = value
        return out


def parse_thresholds(text: str) -> VoiceThresholds:
    """``0.2``, ``kick=0.4`` or ``0.2,kick=0.4,hats=0.1`` (groups allowed), or UsageError."""
    base: float | None = None
    voices: dict[int, float] = {}
    for part in text.split(","):
        name, sep, number = part.rpartition("=") if "=" in part else ("", "", part)
        try:
            value = check_threshold(float(number))
        except ValueError:
            raise UsageError(
                f"bad threshold {part.strip()!r}: write it like 0.2,kick=0.4,hats=0.1"
            ) from None
        except DataError as error:
            raise UsageError(f"--threshold {part.strip()}: {error}") from None
        if not sep:
            base = value
            continue
        for row in parse_voices(name):
            voices[row] = value
    return VoiceThresholds(base, voices)


def parse_range(
    text: str, what: str, *, bands: dict[str, tuple[float, float]] | None = None
) -> tuple[float, float]:
    """``4-12``, ``8`` (exactly), ``12-`` (at least) or a band name -> (low, high)."""
    key = text.strip().lower()
    if bands and key in bands:
        return bands[key]
    low_text, sep, high_text = key.partition("-")
    try:
        low = float(low_text) if low_text else 0.0
        high = (float(high_text) if high_text else math.inf) if sep else low
    except ValueError:
        names = f" or one of {', '.join(bands)}" if bands else ""
        raise UsageError(f"bad {what} {text!r}: write a range like 4-12{names}") from None
    if not (low >= 0 and high >= low) or math.isnan(low) or math.isnan(high):
        raise UsageError(f"bad {what} {text!r}: the range must run from low to high, >= 0")
    return low, high


# ------------------------------------------------------------------------------- measures


def apply_thresholds(
    values: npt.ArrayLike, thresholds: npt.NDArray[np.float64]
) -> tuple[FloatArray, float]:
    """Per-voice thresholds as one pattern threshold: ``(values', min(thresholds))``.

    A pattern carries one threshold, so cells of a voice whose own threshold is higher are
    zeroed where they do not pass it; every hit keeps its value (its velocity).
    """
    out = np.array(values, dtype=np.float32)
    low = float(thresholds.min())
    above = thresholds > low
    if above.any():
        cols = out[..., above]
        cols[cols <= thresholds[above].astype(np.float32)] = 0.0
        out[..., above] = cols
    return out, low


def hits_of(values: npt.ArrayLike, threshold: float | npt.ArrayLike) -> BoolArray:
    """Cells strictly above the threshold(s): one pattern, or a batch with one per pattern."""
    array = np.asarray(values)
    limit = np.asarray(threshold, dtype=np.float64)
    if array.ndim == 3 and limit.ndim == 1:
        limit = limit[:, None, None]
    result: BoolArray = array > limit
    return result


def onsets_per_bar(hits: BoolArray) -> npt.NDArray[np.float64]:
    """Hits per bar of (N, 32, 9) hits (the density that --density selects on)."""
    return np.asarray(hits.sum(axis=(1, 2)), dtype=np.float64) / BARS


def pattern_syncopation(hits: BoolArray) -> npt.NDArray[np.float64]:
    """Longuet-Higgins & Lee syncopation summed over the voices of (N, 32, 9) hits.

    descriptors.py's measure of the any-drum line is 0 for most grooves (a hi-hat on every
    8th leaves no rest to syncopate into); each voice on its own tells them apart.
    """
    from rhythmcan_cli.evaluation.descriptors import syncopation

    n = len(hits)
    rows = np.ascontiguousarray(hits.transpose(0, 2, 1)).reshape(n * N_CLASSES, STEPS)
    return np.asarray(syncopation(rows).reshape(n, N_CLASSES).sum(axis=1), dtype=np.float64)


def distances_to(
    target_hits: BoolArray,
    target_values: FloatArray,
    hits: BoolArray,
    values: FloatArray,
    rows: Sequence[int] | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """OSA distance of each candidate to the target (only ``rows`` when given) and the L2
    distance of their values: the ranking key (distance first, L2 breaks ties)."""
    from rhythmcan_cli.evaluation.distance import distance_matrix

    if rows is not None:
        mask = np.zeros(N_CLASSES, dtype=bool)
        mask[list(rows)] = True
        target_hits, hits = target_hits & mask, hits & mask
        target_values = target_values * mask
        values = values * mask
    osa = distance_matrix(target_hits[None], hits)[0].astype(np.int64)
    diff = values.astype(np.float64) - target_values.astype(np.float64)[None]
    return osa, np.sqrt((diff * diff).sum(axis=(1, 2)))
