"""The drum grid: 2 bars of 4/4 at 16th-note resolution, 9 drum classes.

A pattern is a float32 array of shape ``(STEPS, N_CLASSES)`` (time-major) whose values
in ``[0, 1]`` are onset strengths: ``velocity / 127`` for real drumming, generator output
for generated patterns. A cell "has a hit" when its value is above a threshold.

The 9 classes are Magenta's ``drum_kit`` vocabulary in the order the released 2020
RhythmCAN models were trained with; changing the order breaks every stored model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.vocabulary import DEFAULT_THRESHOLD as DEFAULT_THRESHOLD
from rhythmcan_cli.vocabulary import EVAL_THRESHOLD as EVAL_THRESHOLD

STEPS: Final = 32
"""Steps per pattern: 2 bars x 16 sixteenths."""
STEPS_PER_BAR: Final = 16
STEPS_PER_BEAT: Final = 4
N_CLASSES: Final = 9

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class DrumClass:
    """One row of the grid: its name, the MIDI pitches read into it, the pitch written out."""

    name: str
    label: str
    input_pitches: tuple[int, ...]
    output_pitch: int


# Input pitches: General MIDI percussion plus the Roland TD-11 extras the Groove MIDI
# Dataset uses (about 12 % of its hits are not plain GM). The first pitch is the GM one.
VOCABULARY: Final[tuple[DrumClass, ...]] = (
    DrumClass("kick", "Kick", (36, 35), 36),
    # 37 side stick, 39 clap, 40 electric snare; 27/28/31-34 GM2 snare-ish sounds;
    # 56 cowbell, 65/66 timbales, 75 claves, 85 castanets are short, snare-register hits.
    DrumClass("snare", "Snare", (38, 40, 37, 39, 27, 28, 31, 32, 33, 34, 56, 65, 66, 75, 85), 38),
    # 44 pedal hat; 22 TD-11 closed-hat edge (7.8 % of Groove hits); shakers, maracas,
    # guiro and cabasa (54, 68-71, 73, 78, 80) play the closed-hat role.
    DrumClass("closed_hat", "Closed HH", (42, 44, 22, 54, 68, 69, 70, 71, 73, 78, 80), 42),
    # 26 TD-11 open-hat edge; long scrapes and whistles (67, 72, 74, 79, 81).
    DrumClass("open_hat", "Open HH", (46, 26, 67, 72, 74, 79, 81), 46),
    # 43 floor tom (TD-11 floor), 58 TD-11 floor-tom rim; low hand drums.
    DrumClass("low_tom", "Low Tom", (45, 41, 43, 58, 29, 61, 64, 84), 45),
    DrumClass("mid_tom", "Mid Tom", (47, 48, 60, 63, 77, 86, 87), 47),
    # 50 high tom (TD-11 high-tom rim shares it).
    DrumClass("high_tom", "High Tom", (50, 30, 62, 76, 83), 50),
    # 52 china, 55 splash, 57 crash 2.
    DrumClass("crash", "Crash", (49, 55, 57, 52), 49),
    # 53 ride bell, 59 TD-11 ride edge.
    DrumClass("ride", "Ride", (51, 53, 59, 82), 51),
)

CLASS_NAMES: Final[tuple[str, ...]] = tuple(c.name for c in VOCABULARY)
OUTPUT_PITCHES: Final[tuple[int, ...]] = tuple(c.output_pitch for c in VOCABULARY)
PITCH_TO_CLASS: Final[dict[int, int]] = {
    pitch: index for index, cls in enumerate(VOCABULARY) for pitch in cls.input_pitches
}
VOICE_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "hats": ("closed_hat", "open_hat"),
    "toms": ("low_tom", "mid_tom", "high_tom"),
    "cymbals": ("crash", "ride"),
}
"""Names that stand for several voices on the command line (``--keep hats``)."""


def voice_indices(name: str) -> tuple[int, ...]:
    """The rows a voice or group name stands for (case-insensitive), or DataError listing them."""
    key = name.strip().lower().replace("-", "_")
    if key in CLASS_NAMES:
        return (CLASS_NAMES.index(key),)
    if key in VOICE_GROUPS:
        return tuple(CLASS_NAMES.index(member) for member in VOICE_GROUPS[key])
    raise DataError(
        f"unknown drum voice {name.strip()!r}; use {', '.join(CLASS_NAMES)}"
        f" or a group: {', '.join(VOICE_GROUPS)}"
    )


def _check_vocabulary() -> None:
    """Invariant: every input pitch maps to exactly one class."""
    seen: list[int] = [p for c in VOCABULARY for p in c.input_pitches]
    if len(seen) != len(set(seen)):  # pragma: no cover - guards edits to the table above
        raise AssertionError("a MIDI pitch is listed under two drum classes")


_check_vocabulary()


def check_pattern(values: npt.ArrayLike) -> FloatArray:
    """Return ``values`` as a float32 ``(32, 9)`` array in [0, 1], or raise DataError."""
    array = np.asarray(values, dtype=np.float32)
    if array.shape != (STEPS, N_CLASSES):
        raise DataError(
            f"a pattern must be {STEPS} steps x {N_CLASSES} drums, got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise DataError("a pattern holds NaN or infinite values")
    if array.min(initial=0.0) < 0.0 or array.max(initial=0.0) > 1.0:
        raise DataError("pattern values must lie in [0, 1]")
    return array


def check_batch(values: npt.ArrayLike) -> FloatArray:
    """Return a float32 ``(N, 32, 9)`` batch in [0, 1], or raise DataError."""
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 3 or array.shape[1:] != (STEPS, N_CLASSES):
        raise DataError(
            f"a pattern batch must be N x {STEPS} x {N_CLASSES}, got shape {array.shape}"
        )
    if array.size and (not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1):
        raise DataError("pattern values must be finite and lie in [0, 1]")
    return array


@dataclass(frozen=True)
class Pattern:
    """One validated drum pattern. ``values`` is a read-only float32 (32, 9) array."""

    values: FloatArray

    def __post_init__(self) -> None:
        array = check_pattern(self.values).copy()
        array.setflags(write=False)
        object.__setattr__(self, "values", array)

    def hits(self, threshold: float = DEFAULT_THRESHOLD) -> npt.NDArray[np.bool_]:
        """Boolean (32, 9) grid of cells strictly above ``threshold``."""
        return binarize(self.values, threshold)

    def onsets(self, threshold: float = DEFAULT_THRESHOLD) -> int:
        """Number of hits above ``threshold``."""
        return int(self.hits(threshold).sum())


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` if it lies in [0, 1], else raise DataError."""
    if not 0.0 <= threshold <= 1.0 or not np.isfinite(threshold):
        raise DataError(f"threshold must lie between 0 and 1, got {threshold}")
    return float(threshold)


def binarize(values: npt.ArrayLike, threshold: float = DEFAULT_THRESHOLD) -> npt.NDArray[np.bool_]:
    """Cells strictly above ``threshold`` (works on one pattern or a batch)."""
    check_threshold(threshold)
    return np.asarray(values) > threshold
