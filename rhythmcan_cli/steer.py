"""Steering a generator by search in its latent space: no retraining, only choosing.

The numpy engine makes a couple of thousand patterns a second, so instead of asking the
GAN for one pattern we ask it for many *candidates* (seeded, so the choice is
reproducible) and keep the ones that fit:

- **Your groove as the start** (:func:`like`): seeded random z, then a few rounds of local
  refinement around the best (smaller and smaller steps in z), scored by the evaluation's
  optimal-string-alignment distance to a target (:mod:`rhythmcan_cli.distance`) on the
  hits as they are heard, ties broken by the L2 distance of the values (velocities).
- **Locked voices** (``keep``): the kept rows are copied from the anchor exactly; the
  other rows come from the candidate whose kept rows are nearest the anchor's, so the
  new voices are ones the model pairs with that kick and snare.
- **Shape** (``density``, ``syncopation``): candidates outside a range are dropped;
  per-voice thresholds thin or fill single voices (:func:`apply_thresholds`).

Everything is a function of the seed: the same command gives the same patterns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError, MidiError, UsageError
from rhythmcan_cli.grid import (
    N_CLASSES,
    STEPS,
    STEPS_PER_BAR,
    check_threshold,
    voice_indices,
)
from rhythmcan_cli.patterns import Genre, SampledPattern
from rhythmcan_cli.store import StoredModel

if TYPE_CHECKING:  # pragma: no cover
    from rhythmcan_cli.engine import Generator

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

CANDIDATES: Final = 2048
"""Candidates drawn when selecting by --keep, --density or --syncopation."""
LIKE_RANDOM: Final = 512
"""Random patterns the --like search starts from (their median distance is reported)."""
LIKE_ROUNDS: Final = (1.0, 0.8, 0.6, 0.4, 0.3, 0.2)
"""Step sizes (in units of the model's z spread) of the refinement rounds, coarse to fine."""
LIKE_ELITES: Final = 4
"""Best patterns refined in each round."""
LIKE_PER_ELITE: Final = 64
"""Variations tried around each of them per round."""
FIT_LEVELS: Final = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
"""Thresholds a voice may pick when a --like search fits them (no --threshold given)."""
BARS: Final = STEPS // STEPS_PER_BAR
SYNCOPATION_BANDS: Final[dict[str, tuple[float, float]]] = {
    "low": (0.0, 20.0),
    "mid": (21.0, 31.0),
    "high": (32.0, math.inf),
}
"""--syncopation low/mid/high: terciles of :func:`pattern_syncopation` over 7,354 Groove MIDI
Dataset windows (every third file, hits above 0.2): a third of real 2-bar grooves each."""
MIDI_SUFFIXES: Final = (".mid", ".midi", ".smf", ".kar")


class LoadedModel(StoredModel):
    """A stored model whose generator is loaded once (searches call it many times)."""

    _loaded: Generator | None = None

    @classmethod
    def of(cls, model: StoredModel) -> LoadedModel:
        """Wrap ``model`` (already a LoadedModel: itself)."""
        if isinstance(model, LoadedModel):
            return model
        return cls(model.path, model.card, model.bundled)

    def generator(self) -> Generator:
        if self._loaded is None:
            self._loaded = super().generator()
        return self._loaded


# ------------------------------------------------------------------------------ parsing


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
    from rhythmcan_cli.descriptors import syncopation

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
    from rhythmcan_cli.distance import distance_matrix

    if rows is not None:
        mask = np.zeros(N_CLASSES, dtype=bool)
        mask[list(rows)] = True
        target_hits, hits = target_hits & mask, hits & mask
        target_values = target_values * mask
        values = values * mask
    osa = distance_matrix(target_hits[None], hits)[0].astype(np.int64)
    diff = values.astype(np.float64) - target_values.astype(np.float64)[None]
    return osa, np.sqrt((diff * diff).sum(axis=(1, 2)))


# -------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """The groove to start from: its values, the threshold its hits are read at, a label.

    ``match_threshold`` is the threshold the search compares hits at: None for a MIDI
    groove (compare at the output's threshold, like with like: a ghost note too soft to
    pass it is not asked of the model), the pattern's own for pattern JSON.
    """

    values: FloatArray
    threshold: float
    label: str
    match_threshold: float | None = None

    @property
    def hits(self) -> BoolArray:
        return hits_of(self.values, self.threshold)

    def hits_at(self, threshold: float) -> BoolArray:
        """The hits compared in a search whose output is read at ``threshold``."""
        limit = threshold if self.match_threshold is None else self.match_threshold
        return hits_of(self.values, limit)


def load_target(ref: str, *, bar: int | None = None, channel: int = 10) -> Target:
    """A --like target: ``last``, a pattern JSON file, or a MIDI file's 2-bar window.

    ``bar`` (1-based) picks the window starting at that bar of the file's 4/4 stretches
    (for pattern JSON: the pattern on that line); by default the first with any hit.
    A MIDI groove is read at threshold 0: every note played counts, ghost notes too.
    """
    from rhythmcan_cli import patterns as pj

    if bar is not None and bar < 1:
        raise UsageError(f"--bar counts from 1, got {bar}")
    path = Path(ref).expanduser()
    if ref != "last" and not path.is_file():
        raise DataError(f"--like: no such file: {ref}")
    if ref == "last" or not _looks_like_midi(path):
        found = pj.resolve_patterns(ref)
        index = (bar or 1) - 1
        if index >= len(found):
            raise UsageError(f"--bar {bar}: {ref} holds {len(found)} pattern(s)")
        chosen = found[index]
        label = "the last pattern" if ref == "last" else f"{path.name} pattern {index + 1}"
        values = np.asarray(chosen.values, dtype=np.float32)
        return Target(values, chosen.threshold, label, chosen.threshold)
    from rhythmcan_cli.midi import read_midi_windows

    try:
        windows = read_midi_windows(path, channel=channel, hop=STEPS_PER_BAR, min_onsets=0)
    except MidiError as error:
        raise DataError(f"--like: cannot read {path.name} as MIDI: {error}") from None
    with_hits = [i for i in range(len(windows.windows)) if windows.windows[i].any()]
    if not with_hits:
        raise DataError(
            f"--like: {path.name} has no 2-bar 4/4 drum window on channel {channel}"
            " (rhythmcan reads 4/4 drums, GM channel 10)"
        )
    if bar is None:
        index = with_hits[0]
    else:
        index = bar - 1
        if index >= len(windows.windows) or not windows.windows[index].any():
            raise UsageError(
                f"--bar {bar}: {path.name} has drum hits in 2-bar windows starting at bars "
                f"{_bars_text([i + 1 for i in with_hits])}"
            )
    values = np.asarray(windows.windows[index], dtype=np.float32)
    return Target(values, 0.0, f"{path.name} bar {index + 1}")


def _looks_like_midi(path: Path) -> bool:
    if path.suffix.lower() in MIDI_SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"MThd"
    except OSError as error:
        raise DataError(f"--like: cannot read {path}: {error.strerror or error}") from None


def _bars_text(bars: list[int]) -> str:
    if len(bars) > 8:
        return f"{bars[0]}-{bars[-1]} ({len(bars)} windows)"
    return ", ".join(str(b) for b in bars)


# ----------------------------------------------------------------------------- searching


@dataclass(frozen=True)
class LikeResult:
    """The pattern found for a target, how near it is, and how near random ones are."""

    pattern: SampledPattern
    distance: int
    velocity_l2: float
    random_median: float
    evaluated: int
    target: Target
    levels: tuple[float, ...] | None = None
    """The per-voice thresholds fitted (None: the pattern's own threshold for every voice)."""


Sampler = Callable[..., list[SampledPattern]]


def _sampler() -> Sampler:
    from rhythmcan_cli.sample import sample

    return sample


def like(
    model: StoredModel,
    target: Target,
    *,
    seed: int,
    genre: Genre = None,
    ambiguous: bool = False,
    z_std: float | None = None,
    threshold: float | None = None,
    fit_thresholds: bool = False,
) -> LikeResult:
    """Find the z whose pattern is nearest ``target``: random search, then refinement.

    The first ``LIKE_RANDOM`` patterns are plain samples of the model (their median distance
    to the target is what the result is compared with); each round then varies the
    ``LIKE_ELITES`` best found so far with a smaller step. Conditional models search within
    the requested genre (or blend); without one, each candidate keeps its own genre.
    ``fit_thresholds`` (when the user set no threshold) lets each voice pick its threshold
    too (:func:`_fitted`); the random median is always at the model's own threshold.
    """
    model = LoadedModel.of(model)
    sample = _sampler()
    rng = np.random.default_rng(seed)
    z_sigma = float(z_std or getattr(model.card, "z_sigma_sample", 1.0) or 1.0)
    common = {"genre": genre, "ambiguous": ambiguous, "threshold": threshold}
    pool = sample(model, n=LIKE_RANDOM, seed=_child(rng), z_std=z_std, **common)
    random_median = float(np.median(_score(target, pool, False)[0]))
    osa, l2 = _score(target, pool, fit_thresholds)
    for step in LIKE_ROUNDS:
        order = np.lexsort((l2, osa))
        elites = [pool[i] for i in _distinct(pool, order, LIKE_ELITES)]
        fresh: list[SampledPattern] = []
        for elite in elites:
            fresh += sample(
                model,
                n=LIKE_PER_ELITE,
                seed=_child(rng),
                vary=elite,
                noise=step * z_sigma,
                **common,
            )
        more_osa, more_l2 = _score(target, fresh, fit_thresholds)
        pool += fresh
        osa, l2 = np.concatenate([osa, more_osa]), np.concatenate([l2, more_l2])
    best = int(np.lexsort((l2, osa))[0])
    found = replace(pool[best], seed=seed, index=0)
    levels = _fitted_levels(target, found) if fit_thresholds else None
    if levels is not None:
        values, limit = apply_thresholds(found.values, np.asarray(levels))
        values.setflags(write=False)
        found = replace(found, values=values, threshold=limit)
    diff = found.values.astype(np.float64) - target.values.astype(np.float64)
    l2_best = float(np.sqrt((diff * diff).sum()))
    return LikeResult(found, int(osa[best]), l2_best, random_median, len(pool), target, levels)


def voice_distances(target_hits: BoolArray, hits: BoolArray) -> npt.NDArray[np.int64]:
    """OSA distance per voice, (N, 9), of each of (N, 32, 9) ``hits`` to ``target_hits``."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    def rows(h: BoolArray) -> list[bytes]:
        flat = np.ascontiguousarray(h.transpose(0, 2, 1)).astype(np.uint8) + ord("0")
        return [bytes(r) for r in flat.reshape(-1, STEPS)]

    table = process.cdist(rows(target_hits[None]), rows(hits), scorer=OSA.distance, workers=1)
    per_row = np.asarray(table, dtype=np.int64).reshape(N_CLASSES, -1, N_CLASSES)
    # cdist pairs every target row with every candidate row: keep voice k against voice k.
    diagonal = per_row[np.arange(N_CLASSES), :, np.arange(N_CLASSES)]
    return np.ascontiguousarray(diagonal.T)


def _level_distances(target_hits: BoolArray, values: FloatArray) -> npt.NDArray[np.int64]:
    """(levels, N, 9): per-voice distances with every voice read at each of FIT_LEVELS."""
    return np.stack([voice_distances(target_hits, values > level) for level in FIT_LEVELS])


def _fitted_levels(target: Target, pattern: SampledPattern) -> tuple[float, ...]:
    """Each voice's threshold (of FIT_LEVELS) that brings ``pattern`` nearest the target.

    The distance is a sum over voices, so each voice picks its level on its own: a soft
    hi-hat the model plays at 0.15 can then be heard. Applied with :func:`apply_thresholds`
    (one pattern threshold, the lowest, with cells under a voice's own level zeroed).
    """
    values = np.asarray(pattern.values, dtype=np.float32)
    per_level = _level_distances(target.hits_at(pattern.threshold), values[None])[:, 0, :]
    return tuple(float(FIT_LEVELS[i]) for i in per_level.argmin(axis=0).tolist())


def _child(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**32))


def _score(
    target: Target, patterns: Sequence[SampledPattern], fit: bool
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Distance of each pattern to the target (``fit``: each voice at its best level) and
    the L2 distance of the values."""
    values = np.stack([p.values for p in patterns]).astype(np.float32, copy=False)
    hits = hits_of(values, [p.threshold for p in patterns])
    target_hits = target.hits_at(patterns[0].threshold)
    osa, l2 = distances_to(target_hits, target.values, hits, values)
    if fit:
        osa = _level_distances(target_hits, values).min(axis=0).sum(axis=1)
    return osa, l2


def _distinct(pool: Sequence[SampledPattern], order: npt.NDArray[np.int64], k: int) -> list[int]:
    """The first ``k`` indices of ``order`` with different z (variations can repeat)."""
    chosen: list[int] = []
    seen: set[bytes] = set()
    for i in order.tolist():
        key = pool[i].z.tobytes()
        if key not in seen:
            seen.add(key)
            chosen.append(int(i))
            if len(chosen) == k:
                break
    return chosen


# ----------------------------------------------------------------------------- selecting


@dataclass(frozen=True)
class Steering:
    """What to select on: kept voices (with their anchor), density, syncopation."""

    keep: tuple[int, ...] = ()
    density: tuple[float, float] | None = None
    syncopation: tuple[float, float] | None = None
    candidates: int = CANDIDATES

    @property
    def selecting(self) -> bool:
        return bool(self.keep) or self.density is not None or self.syncopation is not None


@dataclass(frozen=True)
class Shaped:
    """Candidates after thresholds and kept rows: values, thresholds, hits; ``own_*``: the
    candidates' own values and hits before the kept rows were pasted in."""

    values: FloatArray
    thresholds: npt.NDArray[np.float64]
    hits: BoolArray
    own_values: FloatArray
    own_hits: BoolArray


def shape(
    patterns: Sequence[SampledPattern],
    thresholds: VoiceThresholds,
    *,
    keep: tuple[int, ...] = (),
    anchor: Target | None = None,
) -> Shaped:
    """Apply per-voice thresholds and paste the anchor's kept rows into every pattern.

    Kept voices are read at the anchor's own threshold (they sound as they did there).
    """
    n = len(patterns)
    own = np.stack([p.values for p in patterns]).astype(np.float32)
    values = own.copy()
    own_limits = np.empty(n, dtype=np.float64)
    limits = np.empty(n, dtype=np.float64)
    rows = list(keep)
    for i, pattern in enumerate(patterns):
        vector = thresholds.vector(pattern.threshold)
        own[i], own_limits[i] = apply_thresholds(own[i], vector)
        if rows and anchor is not None:
            vector[rows] = anchor.threshold
            values[i][:, rows] = anchor.values[:, rows]
        values[i], limits[i] = apply_thresholds(values[i], vector)
    return Shaped(values, limits, hits_of(values, limits), own, hits_of(own, own_limits))


def select(
    shaped: Shaped, steering: Steering, n: int, anchor: Target | None
) -> npt.NDArray[np.int64]:
    """Indices of the ``n`` candidates to keep, best first; UsageError when too few fit."""
    fits = np.ones(len(shaped.values), dtype=bool)
    for what, wanted, measure in (
        ("--density", steering.density, onsets_per_bar),
        ("--syncopation", steering.syncopation, pattern_syncopation),
    ):
        if wanted is None:
            continue
        got = measure(shaped.hits)
        inside = (got >= wanted[0]) & (got <= wanted[1])
        if int((fits & inside).sum()) < n:
            raise UsageError(_unreachable(what, wanted, got, inside, n, len(got)))
        fits &= inside
    if int(fits.sum()) < n:
        raise UsageError(
            f"only {int(fits.sum())} of {len(fits)} candidates fit --density and --syncopation"
            " together; widen a range or raise --candidates"
        )
    index = np.flatnonzero(fits)
    if steering.keep and anchor is not None:
        # Rank on the candidates' own kept rows (the pasted ones are the anchor's).
        osa, l2 = distances_to(
            anchor.hits,
            anchor.values,
            shaped.own_hits[index],
            shaped.own_values[index],
            steering.keep,
        )
        index = index[np.lexsort((l2, osa))]
    return index[:n]


def _unreachable(
    what: str,
    wanted: tuple[float, float],
    got: npt.NDArray[np.float64],
    inside: BoolArray,
    n: int,
    total: int,
) -> str:
    """One line: what the candidates reached, and a range that would work."""
    wanted_text = f"{wanted[0]:g}-{wanted[1]:g}" if math.isfinite(wanted[1]) else f"{wanted[0]:g}-"
    gap = np.where(got < wanted[0], wanted[0] - got, np.maximum(got - wanted[1], 0.0))
    nearest = got[int(np.argmin(gap))]
    near = np.sort(got[np.argsort(gap, kind="stable")[: max(n, total // 4)]])
    return (
        f"{what} {wanted_text}: {int(inside.sum())} of {total} candidates reach it (need {n});"
        f" the nearest reached {nearest:g} (the model spans {got.min():g}-{got.max():g}"
        f" here): try {what} {near[0]:g}-{near[-1]:g}"
    )


# ------------------------------------------------------------------------------ steering


@dataclass(frozen=True)
class SteerResult:
    """The patterns, the --like search (if any) and how many candidates were considered."""

    patterns: list[SampledPattern]
    like: LikeResult | None = None
    candidates: int = 0


def steer(
    model: StoredModel,
    *,
    n: int = 1,
    seed: int,
    genre: Genre = None,
    ambiguous: bool = False,
    z_std: float | None = None,
    thresholds: VoiceThresholds | None = None,
    vary: SampledPattern | None = None,
    noise: float = 0.2,
    target: Target | None = None,
    steering: Steering | None = None,
) -> SteerResult:
    """``sample`` with --like, --keep, --density, --syncopation and per-voice thresholds.

    With ``target``, the pattern nearest it is found first (:func:`like`) and becomes the
    anchor: ``n == 1`` gives it, more give variations around it (``noise``). ``keep`` needs
    an anchor: the rows are kept from ``target`` (your own groove) when there is one, else
    from ``vary``. Selecting draws ``steering.candidates`` patterns (variations of the
    anchor, or plain samples without one) and keeps the ``n`` that fit, best first.
    """
    steering = steering or Steering()
    thresholds = thresholds or VoiceThresholds()
    if n < 1:
        raise UsageError(f"-n must be at least 1, got {n}")
    if steering.keep and vary is None and target is None:
        raise UsageError(
            "--keep needs an anchor to keep voices from: add --vary FILE|last or --like FILE"
        )
    if steering.candidates < n:
        raise UsageError(f"--candidates ({steering.candidates}) must be at least -n ({n})")
    model = LoadedModel.of(model)
    sample = _sampler()
    rng = np.random.default_rng(seed)
    found: LikeResult | None = None
    anchor = vary
    if target is not None:
        found = like(
            model,
            target,
            seed=_child(rng),
            genre=genre,
            ambiguous=ambiguous,
            z_std=z_std,
            threshold=thresholds.base,
            fit_thresholds=thresholds.base is None and not thresholds.voices,
        )
        anchor = replace(found.pattern, seed=seed)
        if found.levels is not None:  # variations are read like the match
            thresholds = VoiceThresholds(None, dict(enumerate(found.levels)))
    kept_from = target
    if kept_from is None and vary is not None:
        kept_from = Target(np.asarray(vary.values, dtype=np.float32), vary.threshold, "the anchor")
    options = {"genre": genre, "ambiguous": ambiguous, "z_std": z_std, "threshold": thresholds.base}
    if not steering.selecting:
        if anchor is not None and target is not None and n == 1:
            drawn = [anchor]
        else:
            drawn = sample(
                model,
                n=n,
                seed=_child(rng) if target else seed,
                vary=anchor,
                noise=noise,
                **options,
            )
        shaped = shape(drawn, thresholds)
        return SteerResult(_rebuild(drawn, shaped, range(n)), found, len(drawn))
    drawn = sample(
        model,
        n=steering.candidates,
        seed=_child(rng) if target else seed,
        vary=anchor,
        noise=noise,
        **options,
    )
    shaped = shape(drawn, thresholds, keep=steering.keep, anchor=kept_from)
    chosen = select(shaped, steering, n, kept_from)
    return SteerResult(_rebuild(drawn, shaped, chosen.tolist()), found, len(drawn))


def _rebuild(
    drawn: Sequence[SampledPattern], shaped: Shaped, chosen: Sequence[int] | range
) -> list[SampledPattern]:
    """The chosen candidates with their shaped values and pattern thresholds."""
    out = []
    for i in chosen:
        values = shaped.values[i].copy()
        values.setflags(write=False)
        out.append(replace(drawn[i], values=values, threshold=float(shaped.thresholds[i])))
    return out
