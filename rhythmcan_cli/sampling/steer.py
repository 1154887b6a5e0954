"""Steering a generator by search in its latent space: no retraining, only choosing.

The numpy engine makes a couple of thousand patterns a second, so instead of asking the
GAN for one pattern we ask it for many *candidates* (seeded, so the choice is
reproducible) and keep the ones that fit:

- **Your groove as the start** (:func:`like`): seeded random z, then a few rounds of local
  refinement around the best (smaller and smaller steps in z), scored by the evaluation's
  optimal-string-alignment distance to a target (:mod:`rhythmcan_cli.evaluation.distance`) on the
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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.grid import N_CLASSES, STEPS
from rhythmcan_cli.sampling.patterns import Genre, SampledPattern
from rhythmcan_cli.sampling.shaping import (
    BoolArray,
    FloatArray,
    VoiceThresholds,
    apply_thresholds,
    distances_to,
    hits_of,
    onsets_per_bar,
    pattern_syncopation,
)
from rhythmcan_cli.sampling.target import Target
from rhythmcan_cli.store import StoredModel

if TYPE_CHECKING:  # pragma: no cover
    from rhythmcan_cli.engine import Generator

CANDIDATES: Final = 2048
"""Candidates drawn when selecting by --keep, --density or --syncopation."""
LIKE_RANDOM: Final = 512
"""Random patterns the --like search starts from (their median distance is reported)."""
LIKE_WIDE: Final = 512
"""More random patterns drawn with a wider z (the search may look where sampling rarely goes;
the random median is of the plain samples only)."""
LIKE_WIDE_SPREAD: Final = 3.0
"""How much wider, in units of the model's z spread."""
LIKE_ROUNDS: Final = (1.0, 0.7, 0.5, 0.35, 0.25, 0.15)
"""Step sizes (in units of the model's z spread) of the refinement rounds, coarse to fine."""
LIKE_SHARES: Final = (144, 96, 80, 64)
"""Variations tried per round around the best, second best... pattern found so far (the best
gets the most: it is where the search most often ends)."""
FIT_LEVELS: Final = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Thresholds a voice may pick when a --like search fits them (no --threshold given): low
ones let a soft hi-hat be heard, high ones keep only a voice's surest hits."""


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
    from rhythmcan_cli.sampling.sample import sample

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
    to the target is what the result is compared with), ``LIKE_WIDE`` more come from a wider
    z; each round then varies the best few found so far (``LIKE_SHARES``) with a smaller
    step, and the search stops early once a pattern matches exactly. Conditional models
    search within the requested genre (or blend); without one, each candidate keeps its own
    genre.
    ``fit_thresholds`` (when the user set no threshold) lets each voice pick its threshold
    too (:func:`_fitted_levels`); the random median is always at the model's own threshold.
    """
    model = LoadedModel.of(model)
    sample = _sampler()
    rng = np.random.default_rng(seed)
    z_sigma = float(z_std or getattr(model.card, "z_sigma_sample", 1.0) or 1.0)
    common = {"genre": genre, "ambiguous": ambiguous, "threshold": threshold}
    pool = sample(model, n=LIKE_RANDOM, seed=_child(rng), z_std=z_std, **common)
    random_median = float(np.median(_score(target, pool, False)[0]))
    pool += sample(model, n=LIKE_WIDE, seed=_child(rng), z_std=LIKE_WIDE_SPREAD * z_sigma, **common)
    osa, l2 = _score(target, pool, fit_thresholds)
    for step in LIKE_ROUNDS:
        if int(osa.min()) == 0:  # already exact: nothing left to find
            break
        order = np.lexsort((l2, osa))
        elites = [pool[i] for i in _distinct(pool, order, len(LIKE_SHARES))]
        fresh: list[SampledPattern] = []
        for elite, share in zip(elites, LIKE_SHARES, strict=False):
            fresh += sample(
                model,
                n=share,
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
    """OSA distance per voice, (N, 9), of each of (N, 32, 9) ``hits`` to ``target_hits``.

    Each voice's distinct rows are scored once against the target's row (candidates near
    one another repeat rows a lot: empty toms, the same hi-hat figure), one rapidfuzz call
    per voice on one thread.
    """
    from rhythmcan_cli.evaluation.distance import osa_to_row, row_codes

    codes = row_codes(hits)
    target_codes = row_codes(target_hits[None])[0]
    out = np.empty(codes.shape, dtype=np.int64)
    for k in range(N_CLASSES):
        distinct, inverse = np.unique(codes[:, k], return_inverse=True)
        out[:, k] = osa_to_row(target_codes[k], distinct)[inverse.reshape(-1)]
    return out


def _level_distances(target_hits: BoolArray, values: FloatArray) -> npt.NDArray[np.int64]:
    """(levels, N, 9): per-voice distances with every voice read at each of FIT_LEVELS."""
    levels = np.asarray(FIT_LEVELS, dtype=np.float32)[:, None, None, None]
    hits = (values[None] > levels).reshape(-1, STEPS, N_CLASSES)
    return voice_distances(target_hits, hits).reshape(len(FIT_LEVELS), len(values), N_CLASSES)


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
    target_hits = target.hits_at(patterns[0].threshold)
    if fit:
        osa = _level_distances(target_hits, values).min(axis=0).sum(axis=1)
    else:
        hits = hits_of(values, [p.threshold for p in patterns])
        osa = voice_distances(target_hits, hits).sum(axis=1)
    diff = values.astype(np.float64) - target.values.astype(np.float64)[None]
    return osa, np.sqrt((diff * diff).sum(axis=(1, 2)))


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
    keep_from: Target | None = None,
) -> SteerResult:
    """``sample`` with --like, --keep, --density, --syncopation and per-voice thresholds.

    With ``target``, the pattern nearest it is found first (:func:`like`) and becomes the
    anchor: ``n == 1`` gives it, more give variations around it (``noise``). ``keep`` needs
    an anchor: the rows are kept from ``keep_from`` when given, else from ``target`` (your
    own groove), else from ``vary``. Selecting draws ``steering.candidates`` patterns
    (variations of the anchor, or plain samples without one) and keeps the ``n`` that fit,
    best first.
    """
    steering = steering or Steering()
    thresholds = thresholds or VoiceThresholds()
    if n < 1:
        raise UsageError(f"-n must be at least 1, got {n}")
    if steering.keep and vary is None and target is None and keep_from is None:
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
    kept_from = keep_from or target
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
