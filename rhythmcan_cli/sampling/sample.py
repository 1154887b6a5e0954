"""Sampling patterns from a stored generator: z, genres and blends, variations, interpolation.

Everything here is numpy (the engine's forward pass): no TensorFlow, so sampling is instant.

- **Seeds.** One seed drives one ``numpy.random.Generator``; the same seed and options give
  the same patterns, byte for byte. Without a seed, one is drawn from the OS and recorded in
  every pattern (``seed``, ``index``), so any pattern can be made again.
- **z.** ``z ~ N(0, z_std^2)`` with ``z_std`` defaulting to the model card's
  ``z_sigma_sample``; z is rounded to 6 decimals so its JSON is exact.
- **Genres.** A conditional model multiplies z by a genre embedding. A name picks one row,
  a blend ``{name: weight}`` (normalised) mixes rows; ``ambiguous`` on a conditional model
  is the uniform blend over all its genres; no genre picks one at random per pattern.
  Models without a genre input refuse a genre.
- **Variations.** ``vary``: ``z = z_anchor + noise * N(0, 1)`` (the Max for Live device's
  "generate with last z"); the anchor does not move. The anchor's genre is kept unless a
  genre is given.
- **Interpolation.** ``interpolate=(a, b)`` walks ``steps`` patterns from a to b (both
  included) along the great circle between the two z (spherical interpolation: a straight
  line would pass through low-norm z that a Gaussian generator rarely saw, giving weak,
  washed-out patterns mid-way); genre weights move linearly.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError, ModelError, UsageError
from rhythmcan_cli.formats.card_schema import MAX_Z_SIGMA
from rhythmcan_cli.grid import DEFAULT_THRESHOLD, N_CLASSES, STEPS, check_threshold
from rhythmcan_cli.progress import ProgressCallback, report
from rhythmcan_cli.sampling.patterns import Genre, SampledPattern
from rhythmcan_cli.signals import deferred_interrupts

if TYPE_CHECKING:  # pragma: no cover
    from rhythmcan_cli.store import StoredModel

MAX_COUNT: Final = 100_000
"""Most patterns :func:`sample` returns as one list (about 2.5 KB each in memory);
:func:`sample_chunks` streams any count."""
CHUNK: Final = 1024
"""Patterns made at a time by :func:`sample_chunks` (whole engine batches): a run's memory is
that of one chunk, whatever ``-n``."""
MAX_Z_STD: Final = MAX_Z_SIGMA
"""Largest z spread accepted, as for a card's z sigmas (models are trained at 0.5-1;
``--z-std 1e308`` overflowed z to infinity)."""
BATCH: Final = 256
"""Patterns per engine call: small batches keep the LSTM state in cache (measured fastest)."""
GENERATE_THREADS: Final = 4
"""Most threads generating batches at once (at most half the CPUs: on a 2-core machine one
thread was fastest, on 16 cores four)."""
Z_DECIMALS: Final = 6


class _Generator(Protocol):
    z_dim: int
    n_genres: int | None

    def generate(
        self,
        z: npt.NDArray[np.floating[Any]],
        genres: npt.NDArray[np.integer[Any]] | None = None,
        genre_weights: npt.NDArray[np.floating[Any]] | None = None,
    ) -> npt.NDArray[np.float32]: ...


def new_seed() -> int:
    """A fresh seed from the OS (32 bits: short enough to type back)."""
    return secrets.randbits(32)


def parse_genre(text: str) -> str | dict[str, float]:
    """Parse ``rock`` or a blend ``rock=0.7,funk=0.3`` (weights need not sum to 1)."""
    text = text.strip()
    if not text:
        raise UsageError("--genre needs a name or a blend like rock=0.7,funk=0.3")
    if "=" not in text and "," not in text:
        return text
    blend: dict[str, float] = {}
    for part in text.split(","):
        name, sep, weight = part.partition("=")
        name = name.strip()
        if not name:
            raise UsageError(f"bad genre blend {text!r}: write it like rock=0.7,funk=0.3")
        try:
            value = float(weight) if sep else 1.0
        except ValueError:
            raise UsageError(
                f"bad weight {weight.strip()!r} for genre {name!r}: write it like rock=0.7"
            ) from None
        if not np.isfinite(value) or value < 0:
            raise UsageError(f"genre weight for {name!r} must be a number >= 0, got {weight}")
        blend[name] = blend.get(name, 0.0) + value
        if not np.isfinite(blend[name]):  # rock=1e308,rock=1e308
            raise UsageError(f"genre weights for {name!r} add up to more than a number can hold")
    return blend


def _card(model: StoredModel, key: str, default: Any) -> Any:
    return getattr(model.card, key, default)


def _genre_weights(genre: Genre, genres: Sequence[str], model_name: str) -> npt.NDArray[np.float64]:
    """Weights over the model's genres for a name, a blend, or None (uniform)."""
    k = len(genres)
    lookup = {g.lower(): i for i, g in enumerate(genres)}
    weights = np.zeros(k, dtype=np.float64)
    if genre is None:
        weights[:] = 1.0 / k
        return weights
    items = {genre: 1.0} if isinstance(genre, str) else dict(genre)
    # scaled by the largest weight first: rock=1e308,funk=1e308 must not sum to infinity
    peak = max((float(w) for w in items.values() if np.isfinite(w)), default=0.0)
    if any(not np.isfinite(w) or w < 0 for w in items.values()):
        raise UsageError("genre weights must be finite numbers >= 0")
    for name, weight in items.items():
        index = lookup.get(name.lower())
        if index is None:
            raise UsageError(
                f"unknown genre {name!r} for model '{model_name}'; its genres: {', '.join(genres)}"
            )
        weights[index] += weight / peak if peak > 0 else 0.0
    total = weights.sum()
    if total <= 0:
        raise UsageError("a genre blend needs at least one weight above 0")
    result: npt.NDArray[np.float64] = weights / total
    return result


def _weights_to_genre(weights: npt.NDArray[np.float64], genres: Sequence[str]) -> Genre:
    """A genre record: the name when one genre has all the weight, else the blend."""
    nonzero = np.flatnonzero(weights > 1e-9)
    if len(nonzero) == 1:
        return genres[int(nonzero[0])]
    return {genres[int(i)]: round(float(weights[i]), 6) for i in nonzero}


def _slerp(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], t: float
) -> npt.NDArray[np.float64]:
    """Spherical interpolation from a (t=0) to b (t=1); linear when they are (anti)parallel."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return (1.0 - t) * a + t * b
    cos = float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))
    omega = float(np.arccos(cos))
    if abs(np.sin(omega)) < 1e-6:
        return (1.0 - t) * a + t * b
    s = float(np.sin(omega))
    out: npt.NDArray[np.float64] = (np.sin((1.0 - t) * omega) / s) * a + (np.sin(t * omega) / s) * b
    return out


def sample(
    model: StoredModel,
    *,
    n: int = 1,
    seed: int | None = None,
    genre: Genre = None,
    ambiguous: bool = False,
    z_std: float | None = None,
    vary: SampledPattern | None = None,
    noise: float = 0.2,
    interpolate: tuple[SampledPattern, SampledPattern] | None = None,
    steps: int = 8,
    threshold: float | None = None,
    progress: ProgressCallback | None = None,
) -> list[SampledPattern]:
    """Generate patterns with ``model`` (see the module docstring for every option), as a list.

    A list holds every pattern at once (about 2.5 KB each), so it is capped at
    :data:`MAX_COUNT`; :func:`sample_chunks` streams any count.
    """
    count = n if interpolate is None else steps
    if count > MAX_COUNT:
        raise UsageError(
            f"-n {count:,} is more than the {MAX_COUNT:,} patterns held in memory at once;"
            " stream them in chunks instead (sample_chunks)"
        )
    chunks = sample_chunks(
        model,
        n=n,
        seed=seed,
        genre=genre,
        ambiguous=ambiguous,
        z_std=z_std,
        vary=vary,
        noise=noise,
        interpolate=interpolate,
        steps=steps,
        threshold=threshold,
        progress=progress,
    )
    return [pattern for chunk in chunks.chunks for pattern in chunk]


@dataclass(frozen=True)
class Chunks:
    """A sampling run checked and ready: ``count`` patterns, ``chunks`` yields them in lists of
    at most :data:`CHUNK`, made only when asked for (memory stays that of one chunk)."""

    count: int
    seed: int
    model: str
    chunks: Iterator[list[SampledPattern]]


def sample_chunks(
    model: StoredModel,
    *,
    n: int = 1,
    seed: int | None = None,
    genre: Genre = None,
    ambiguous: bool = False,
    z_std: float | None = None,
    vary: SampledPattern | None = None,
    noise: float = 0.2,
    interpolate: tuple[SampledPattern, SampledPattern] | None = None,
    steps: int = 8,
    threshold: float | None = None,
    progress: ProgressCallback | None = None,
    chunk: int | None = None,
) -> Chunks:
    """:func:`sample`, streamed: every option is checked now (errors raise here, before any
    pattern is made); the patterns come ``chunk`` (default :data:`CHUNK`) at a time.

    The patterns equal :func:`sample`'s byte for byte: z comes from one random stream in
    order; only a conditional model's random genre picks are drawn per chunk (after that
    chunk's z), which changes nothing for ``n`` up to :data:`CHUNK`.
    """
    chunk = CHUNK if chunk is None else chunk
    if chunk < 1 or chunk % BATCH:  # whole batches: the same patterns as one big run
        raise ValueError(f"chunk must be a multiple of {BATCH}, got {chunk}")
    if interpolate is not None:
        if steps < 2:
            raise UsageError(f"--steps must be at least 2 to interpolate, got {steps}")
        if n not in (1, steps):
            raise UsageError("--interpolate makes --steps patterns; leave -n out")
        n = steps
    if n < 1:
        raise UsageError(f"-n must be at least 1, got {n}")
    if vary is not None and interpolate is not None:
        raise UsageError("use either --vary or --interpolate, not both")
    if not 0.0 <= noise <= 10.0 or not np.isfinite(noise):
        raise UsageError(f"--noise must lie between 0 and 10, got {noise}")
    if z_std is not None and not 0.0 < z_std <= MAX_Z_STD:  # NaN fails too
        raise UsageError(
            f"--z-std must lie above 0 and at most {MAX_Z_STD:g} (models are trained at 0.5-1),"
            f" got {z_std:g}"
        )
    card_threshold = float(_card(model, "threshold", DEFAULT_THRESHOLD) or DEFAULT_THRESHOLD)
    try:
        threshold = check_threshold(card_threshold if threshold is None else threshold)
    except DataError as error:
        raise UsageError(str(error)) from None

    name = str(_card(model, "name", "") or getattr(model, "path", "model"))
    kind = str(_card(model, "kind", "gan"))
    if kind == "classifier":
        raise ModelError(f"model '{name}' is a genre classifier, not a generator: pick a GAN")
    generator: _Generator = model.generator()
    z_dim = int(generator.z_dim)
    conditional = generator.n_genres is not None
    genres: list[str] = list(_card(model, "genres", []) or [])
    if conditional and len(genres) != generator.n_genres:
        raise ModelError(
            f"model '{name}' is corrupt: its card lists {len(genres)} genres but the generator "
            f"has {generator.n_genres}; re-import or retrain it"
        )
    if not conditional and genre is not None:
        raise UsageError(
            f"model '{name}' ({kind}) has no genre input: drop --genre, or pick a conditional "
            "model (kind cgan) with --model"
        )
    z_sigma = float(_card(model, "z_sigma_sample", 1.0) or 1.0) if z_std is None else z_std
    if seed is None:
        seed = new_seed()
    if seed < 0:
        raise UsageError(f"--seed must be >= 0, got {seed}")
    for end in interpolate or (() if vary is None else (vary,)):
        if end.z.shape != (z_dim,):
            raise DataError(
                f"pattern from model '{end.model}' has a z of {end.z.size} numbers; "
                f"model '{name}' takes {z_dim}"
            )

    # Genre weights: one fixed row, a walk between two rows, or random picks per pattern.
    fixed: npt.NDArray[np.float64] | None = None
    walk: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None
    if conditional:
        if interpolate is not None:
            a, b = interpolate
            ga = genre if genre is not None else _known(a.genre, genres)
            gb = genre if genre is not None else _known(b.genre, genres)
            walk = (_genre_weights(ga, genres, name), _genre_weights(gb, genres, name))
        elif genre is not None or ambiguous:
            fixed = _genre_weights(genre, genres, name)
        elif vary is not None:
            fixed = _genre_weights(_known(vary.genre, genres), genres, name)
    class_names = tuple(_card(model, "class_names", ()) or ()) or _default_class_names()
    pitches = tuple(int(p) for p in (_card(model, "output_pitches", ()) or ()))
    pitches = pitches or _default_pitches()
    rng = np.random.default_rng(seed)
    step = 1.0 / (n - 1) if n > 1 else 0.0  # as np.linspace(0, 1, n) computes it
    total = n
    run_seed = int(seed)

    def make(start: int, stop: int) -> list[SampledPattern]:
        size = stop - start
        ts = np.arange(start, stop, dtype=np.float64) * step
        if stop == total and total > 1:
            ts[-1] = 1.0
        if interpolate is not None:
            z = np.stack([_slerp(interpolate[0].z, interpolate[1].z, float(t)) for t in ts])
        elif vary is not None:
            z = vary.z[None, :] + noise * rng.standard_normal((size, z_dim))
        else:
            z = z_sigma * rng.standard_normal((size, z_dim))
        z = np.round(z, Z_DECIMALS)
        weights: npt.NDArray[np.float64] | None = None
        if walk is not None:
            column = ts[:, None]
            weights = (1.0 - column) * walk[0][None, :] + column * walk[1][None, :]
        elif fixed is not None:
            weights = np.tile(fixed, (size, 1))
        elif conditional:
            weights = np.eye(len(genres), dtype=np.float64)[rng.integers(0, len(genres), size)]
        values = _generate(generator, z, weights, None)
        out: list[SampledPattern] = []
        for i in range(size):
            record: Genre = _weights_to_genre(weights[i], genres) if weights is not None else None
            z_row = z[i].copy()
            z_row.setflags(write=False)
            v = values[i]
            v.setflags(write=False)
            out.append(
                SampledPattern(
                    model=name,
                    kind=kind,
                    genre=record,
                    seed=run_seed,
                    index=start + i,
                    z=z_row,
                    threshold=threshold,
                    class_names=class_names,
                    output_pitches=pitches,
                    values=v,
                )
            )
        return out

    def chunks() -> Iterator[list[SampledPattern]]:
        for start in range(0, total, chunk):
            stop = min(total, start + chunk)
            made = make(start, stop)
            report(progress, "sampling", stop, total)
            yield made

    return Chunks(count=total, seed=run_seed, model=name, chunks=chunks())


def _known(genre: Genre, genres: Sequence[str]) -> Genre:
    """An anchor's genre if this model knows it, else None (uniform)."""
    if genre is None:
        return None
    names = {g.lower() for g in genres}
    items = [genre] if isinstance(genre, str) else list(genre)
    return genre if all(g.lower() in names for g in items) else None


_BLAS_PREFIXES: Final = ("scipy_openblas_", "openblas_")
_BLAS_SUFFIXES: Final = ("64_", "")


def _openblas_thread_control() -> tuple[Any, Any] | None:
    """(set, get) of numpy's bundled OpenBLAS thread count, or None when not found."""
    import ctypes
    import glob

    here = os.path.dirname(np.__file__)
    candidates = [
        *glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*openblas*")),
        *glob.glob(os.path.join(here, ".dylibs", "*openblas*")),
    ]
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in _BLAS_PREFIXES:
            for suffix in _BLAS_SUFFIXES:
                setter = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    return setter, getter
    return None


class _SingleThreadBlas:
    """Run BLAS on one thread inside the block, then restore the previous count.

    The generator's matrix products are small (batch x 128 by 128 x 512): OpenBLAS threads
    cost more in hand-offs and spin-waiting than they save. Measured on a shared 2-core
    machine: 2,100-2,600 patterns/s on one thread against 260-530 on two. Best effort: a numpy
    built without OpenBLAS is left alone.
    """

    def __enter__(self) -> None:
        self._control = _openblas_thread_control() if os.name != "nt" else None
        self._before = 0
        if self._control is not None:
            setter, getter = self._control
            self._before = int(getter())
            setter(1)

    def __exit__(self, *_: object) -> None:
        if self._control is not None and self._before > 0:
            self._control[0](self._before)


def _generate(
    generator: _Generator,
    z: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64] | None,
    progress: ProgressCallback | None,
) -> npt.NDArray[np.float32]:
    """Run the engine in batches and clip to [0, 1]; values stay raw (hits are decided on
    them; only their JSON is rounded, see patterns.display_values)."""
    n = z.shape[0]
    result = np.empty((n, STEPS, N_CLASSES), dtype=np.float32)
    one_hot = weights is not None and bool(np.all(np.isin(weights, (0.0, 1.0))))
    with _SingleThreadBlas():
        _generate_batches(generator, z, weights, one_hot, result, progress)
    return result


def _generate_batches(
    generator: _Generator,
    z: npt.NDArray[np.float64],
    weights: npt.NDArray[np.float64] | None,
    one_hot: bool,
    result: npt.NDArray[np.float32],
    progress: ProgressCallback | None,
) -> None:
    """Fill ``result`` batch by batch, on a few threads for large requests.

    numpy releases the GIL inside its matrix products and element-wise loops, so batches
    run in parallel on several cores without BLAS's own (here wasteful) threading.
    """
    n = int(z.shape[0])

    def run(start: int) -> int:
        stop = min(n, start + BATCH)
        zb = z[start:stop].astype(np.float32)
        if weights is None:
            raw = generator.generate(zb)
        elif one_hot:
            raw = generator.generate(zb, genres=np.argmax(weights[start:stop], axis=1))
        else:
            raw = generator.generate(zb, genre_weights=weights[start:stop].astype(np.float32))
        raw = np.asarray(raw)
        if raw.shape != (stop - start, STEPS, N_CLASSES):
            raise ModelError(
                f"the generator returned shape {raw.shape}, not (N, {STEPS}, {N_CLASSES})"
            )
        result[start:stop] = np.clip(np.nan_to_num(raw.astype(np.float32)), 0.0, 1.0)
        return stop

    starts = range(0, n, BATCH)
    workers = min(GENERATE_THREADS, (os.cpu_count() or 1) // 2, len(starts))
    if workers <= 1:
        for start in starts:
            report(progress, "sampling", run(start), n)
        return
    # Ctrl-C/SIGTERM only set a flag here (an exception inside the pool's locks could hang
    # the exit); the batches not started are cancelled and the signal is raised afterwards.
    with deferred_interrupts() as deferred, ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(run, starts), 1):
            if deferred.stop.is_set():
                pool.shutdown(wait=True, cancel_futures=True)
                return
            report(progress, "sampling", min(n, done * BATCH), n)


def _default_class_names() -> tuple[str, ...]:
    from rhythmcan_cli.grid import CLASS_NAMES

    return CLASS_NAMES


def _default_pitches() -> tuple[int, ...]:
    from rhythmcan_cli.grid import OUTPUT_PITCHES

    return OUTPUT_PITCHES


# Output lives in rhythmcan_cli.sampling.output; these names stay importable from here.
from rhythmcan_cli.sampling.output import (  # noqa: E402
    midi_file_bytes,
    write_pattern_files,
)

__all__ = [
    "CHUNK",
    "Chunks",
    "SampledPattern",
    "midi_file_bytes",
    "new_seed",
    "parse_genre",
    "sample",
    "sample_chunks",
    "write_pattern_files",
]
