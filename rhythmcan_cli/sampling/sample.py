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
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
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
"""Most patterns one call makes: they are held in memory (about 9 KB each with their output,
so 0.9 GB); ``-n 1000000000`` is refused with one line instead of allocating 745 GiB."""
MAX_Z_STD: Final = MAX_Z_SIGMA
"""Largest z spread accepted, as for a card's z sigmas (models are trained at 0.5-1;
``--z-std 1e308`` overflowed z to infinity)."""
BATCH: Final = 256
"""Patterns per engine call: small batches keep the LSTM state in cache (measured fastest)."""
GENERATE_THREADS: Final = 4
"""Most threads generating batches at once (at most half the CPUs: on a 2-core machine one
thread was fastest, on 16 cores four)."""
ENCODE_CHUNK: Final = 1024
"""Patterns encoded together before their files are handed to the writer threads."""
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
    """Generate patterns with ``model`` (see the module docstring for every option)."""
    if interpolate is not None:
        if steps < 2:
            raise UsageError(f"--steps must be at least 2 to interpolate, got {steps}")
        if n not in (1, steps):
            raise UsageError("--interpolate makes --steps patterns; leave -n out")
        n = steps
    if n < 1:
        raise UsageError(f"-n must be at least 1, got {n}")
    if n > MAX_COUNT:
        raise UsageError(
            f"-n {n:,} is more than the {MAX_COUNT:,} patterns one run makes (about 9 KB of"
            " memory each); run it in batches with different --seed values"
        )
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
    rng = np.random.default_rng(seed)

    # z, one row per pattern.
    if interpolate is not None:
        a, b = interpolate
        for end in (a, b):
            if end.z.shape != (z_dim,):
                raise DataError(
                    f"pattern from model '{end.model}' has a z of {end.z.size} numbers; "
                    f"model '{name}' takes {z_dim}"
                )
        ts = np.linspace(0.0, 1.0, steps)
        z = np.stack([_slerp(a.z, b.z, float(t)) for t in ts])
    elif vary is not None:
        if vary.z.shape != (z_dim,):
            raise DataError(
                f"pattern from model '{vary.model}' has a z of {vary.z.size} numbers; "
                f"model '{name}' takes {z_dim}"
            )
        z = vary.z[None, :] + noise * rng.standard_normal((n, z_dim))
    else:
        z = z_sigma * rng.standard_normal((n, z_dim))
    z = np.round(z, Z_DECIMALS)

    # Genre weights, one row per pattern (conditional models only).
    weights: npt.NDArray[np.float64] | None = None
    if conditional:
        k = len(genres)
        if interpolate is not None:
            a, b = interpolate
            ga = genre if genre is not None else _known(a.genre, genres)
            gb = genre if genre is not None else _known(b.genre, genres)
            wa = _genre_weights(ga, genres, name)
            wb = _genre_weights(gb, genres, name)
            ts = np.linspace(0.0, 1.0, steps)[:, None]
            weights = (1.0 - ts) * wa[None, :] + ts * wb[None, :]
        elif genre is not None or ambiguous:
            weights = np.tile(_genre_weights(genre, genres, name), (n, 1))
        elif vary is not None:
            weights = np.tile(_genre_weights(_known(vary.genre, genres), genres, name), (n, 1))
        else:
            picks = rng.integers(0, k, size=n)
            weights = np.eye(k, dtype=np.float64)[picks]

    values = _generate(generator, z, weights, progress)
    class_names = tuple(_card(model, "class_names", ()) or ()) or _default_class_names()
    pitches = tuple(int(p) for p in (_card(model, "output_pitches", ()) or ()))
    pitches = pitches or _default_pitches()
    out: list[SampledPattern] = []
    for i in range(n):
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
                seed=int(seed),
                index=i,
                z=z_row,
                threshold=threshold,
                class_names=class_names,
                output_pitches=pitches,
                values=v,
            )
        )
    return out


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


# ------------------------------------------------------------------------------ output


def _midi_arrays(
    patterns: Sequence[SampledPattern],
) -> tuple[npt.NDArray[np.float32], list[float], list[tuple[int, ...]]]:
    """Values, thresholds and pitch maps of ``patterns``, as ``rhythmcan_cli.midi`` takes them."""
    if not patterns:
        raise DataError("no patterns to write")
    values = np.stack([p.values for p in patterns]).astype(np.float32, copy=False)
    return values, [p.threshold for p in patterns], [p.output_pitches for p in patterns]


def midi_file_bytes(
    patterns: Sequence[SampledPattern],
    *,
    bpm: float = 120.0,
    swing: float = 0.0,
    loops: int = 1,
    track_name: str = "rhythmcan",
) -> bytes:
    """One MIDI file with ``patterns`` one after another (:func:`rhythmcan_cli.midi.midi_bytes`).

    Each pattern is written at its own threshold and output pitches.
    """
    from rhythmcan_cli.midi import midi_bytes

    values, thresholds, pitches = _midi_arrays(patterns)
    return midi_bytes(
        values,
        threshold=thresholds,
        pitches=pitches,
        bpm=bpm,
        swing=swing,
        loops=loops,
        track_name=track_name,
    )


def write_pattern_files(
    patterns: Sequence[SampledPattern],
    out_dir: Path,
    *,
    fmt: str = "mid",
    force: bool = False,
    bpm: float = 120.0,
    swing: float = 0.0,
    loops: int = 1,
    progress: ProgressCallback | None = None,
    transform: Callable[[int, bytes], bytes] | None = None,
) -> list[Path]:
    """One numbered file per pattern (MIDI or JSON) in ``out_dir``; never overwrites unless force.

    ``transform(i, data)``, when given, rewrites MIDI file ``i`` before it is written
    (``--humanize``).

    All or nothing (:func:`rhythmcan_cli.atomic.write_batch`): every name is checked before
    anything is written, the files appear only when all are whole, and an error, Ctrl-C or
    SIGTERM leaves none of them. Patterns are encoded here while threads create the files.
    """
    from rhythmcan_cli.atomic import numbered_names, write_batch
    from rhythmcan_cli.midi import midi_files
    from rhythmcan_cli.sampling.patterns import to_json_line

    if fmt not in ("mid", "json"):
        raise UsageError(f"cannot write {fmt!r} files; use mid or json")
    names = numbered_names(len(patterns), "." + fmt)

    def encode(chunk: Sequence[SampledPattern]) -> list[bytes]:
        if fmt == "mid":
            values, thresholds, pitches = _midi_arrays(chunk)
            return midi_files(
                values, threshold=thresholds, pitches=pitches, bpm=bpm, swing=swing, loops=loops
            )
        return [(to_json_line(p) + "\n").encode("utf-8") for p in chunk]

    def blobs() -> Iterator[bytes]:
        for start in range(0, len(patterns), ENCODE_CHUNK):
            encoded = encode(patterns[start : start + ENCODE_CHUNK])
            if transform is not None and fmt == "mid":
                encoded = [transform(start + j, blob) for j, blob in enumerate(encoded)]
            yield from encoded

    def on_written(done: int) -> None:
        report(progress, "writing", done, len(names))

    return write_batch(out_dir, names, blobs(), force=force, on_written=on_written)


__all__ = [
    "SampledPattern",
    "midi_file_bytes",
    "new_seed",
    "parse_genre",
    "sample",
    "write_pattern_files",
]
