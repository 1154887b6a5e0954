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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError, ModelError, UsageError
from rhythmcan_cli.grid import DEFAULT_THRESHOLD, N_CLASSES, STEPS, check_threshold
from rhythmcan_cli.patterns import Genre, SampledPattern
from rhythmcan_cli.progress import ProgressCallback, report

if TYPE_CHECKING:  # pragma: no cover
    from rhythmcan_cli.store import StoredModel

BATCH: Final = 256
"""Patterns per engine call: small batches keep the LSTM state in cache (measured fastest)."""
GENERATE_THREADS: Final = 4
"""Most threads generating batches at once (at most half the CPUs: on a 2-core machine one
thread was fastest, on 16 cores four)."""
ENCODE_CHUNK: Final = 1024
"""Patterns encoded together before their files are handed to the writer threads."""
WRITE_THREADS: Final = 4
"""Threads writing numbered files while the main thread encodes the next ones."""
Z_DECIMALS: Final = 6
VALUE_DECIMALS: Final = 4


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
    return blend


def _card(model: StoredModel, key: str, default: Any) -> Any:
    return getattr(model.card, key, default)


def _genre_weights(
    genre: Genre, genres: Sequence[str], model_name: str
) -> npt.NDArray[np.float64]:
    """Weights over the model's genres for a name, a blend, or None (uniform)."""
    k = len(genres)
    lookup = {g.lower(): i for i, g in enumerate(genres)}
    weights = np.zeros(k, dtype=np.float64)
    if genre is None:
        weights[:] = 1.0 / k
        return weights
    items = {genre: 1.0} if isinstance(genre, str) else dict(genre)
    for name, weight in items.items():
        index = lookup.get(name.lower())
        if index is None:
            raise UsageError(
                f"unknown genre {name!r} for model '{model_name}'; its genres: {', '.join(genres)}"
            )
        weights[index] += weight
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
    if vary is not None and interpolate is not None:
        raise UsageError("use either --vary or --interpolate, not both")
    if not 0.0 <= noise <= 10.0 or not np.isfinite(noise):
        raise UsageError(f"--noise must lie between 0 and 10, got {noise}")
    if z_std is not None and (not np.isfinite(z_std) or z_std <= 0):
        raise UsageError(f"--z-std must be above 0, got {z_std}")
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
                model=name, kind=kind, genre=record, seed=int(seed), index=i, z=z_row,
                threshold=threshold, class_names=class_names, output_pitches=pitches, values=v,
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
    """Run the engine in batches; clip to [0, 1] and round to 4 decimals."""
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
        clipped = np.clip(np.nan_to_num(raw.astype(np.float64)), 0.0, 1.0)
        result[start:stop] = np.round(clipped, VALUE_DECIMALS)
        return stop

    starts = range(0, n, BATCH)
    workers = min(GENERATE_THREADS, (os.cpu_count() or 1) // 2, len(starts))
    if workers <= 1:
        for start in starts:
            report(progress, "sampling", run(start), n)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, _ in enumerate(pool.map(run, starts), 1):
            report(progress, "sampling", min(n, done * BATCH), n)


def _default_class_names() -> tuple[str, ...]:
    from rhythmcan_cli.grid import CLASS_NAMES

    return CLASS_NAMES


def _default_pitches() -> tuple[int, ...]:
    from rhythmcan_cli.grid import OUTPUT_PITCHES

    return OUTPUT_PITCHES


# ------------------------------------------------------------------------------ output


# The limits and timing of rhythmcan_cli.midi, copied so that writing MIDI does not import
# mido (tests/test_sample.py checks that they stay equal).
_PPQ: Final = 480
_STEP_TICKS: Final = _PPQ // 4
_GATE_TICKS: Final = _PPQ // 8
MIN_BPM: Final = 4.0
MAX_BPM: Final = 1000.0
MAX_SWING: Final = 0.75
MAX_LOOPS: Final = 10_000


def _vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _meta(kind: int, data: bytes) -> bytes:
    return bytes((0xFF, kind)) + _vlq(len(data)) + data


def _chunk(name: bytes, data: bytes) -> bytes:
    return name + len(data).to_bytes(4, "big") + data


def midi_file_bytes(
    patterns: Sequence[SampledPattern],
    *,
    bpm: float = 120.0,
    swing: float = 0.0,
    loops: int = 1,
    track_name: str = "rhythmcan",
) -> bytes:
    """The MIDI file ``midi.midi_bytes`` writes for these patterns, byte for byte, but fast.

    Writing thousands of files through mido costs over a millisecond each; this writer
    emits the same bytes directly (tests compare it with ``midi_bytes`` on random
    patterns and options). Each pattern uses its own threshold and output pitches.
    """
    if not patterns:
        raise DataError("no patterns to write")
    if not (np.isfinite(bpm) and MIN_BPM <= bpm <= MAX_BPM):
        raise UsageError(f"bpm must lie between {MIN_BPM:g} and {MAX_BPM:g}, got {bpm}")
    if not (np.isfinite(swing) and 0.0 <= swing <= MAX_SWING):
        raise UsageError(f"swing must lie between 0 and {MAX_SWING}, got {swing}")
    if not 1 <= loops <= MAX_LOOPS:
        raise UsageError(f"loops must be a whole number between 1 and {MAX_LOOPS}, got {loops}")
    delay = round(swing * _STEP_TICKS)
    gate_odd = min(_GATE_TICKS, _STEP_TICKS - delay) if delay else _GATE_TICKS
    pattern_ticks = STEPS * _STEP_TICKS
    ticks: list[npt.NDArray[np.int64]] = []
    kinds: list[npt.NDArray[np.int64]] = []
    keys: list[npt.NDArray[np.int64]] = []
    vels: list[npt.NDArray[np.int64]] = []
    offset = 0
    for pattern in patterns:
        values = pattern.values
        steps, cells = np.nonzero(values > pattern.threshold)
        velocity = np.minimum(
            127, np.maximum(1, np.floor(values[steps, cells] * 127.0 + 0.5))
        ).astype(np.int64)
        odd = steps % 2 == 1
        on = steps.astype(np.int64) * _STEP_TICKS + np.where(odd, delay, 0)
        off = on + np.where(odd, gate_odd, _GATE_TICKS)
        pitch = np.asarray(pattern.output_pitches, dtype=np.int64)[cells]
        starts = offset + pattern_ticks * np.arange(loops, dtype=np.int64)
        ticks += [(starts[:, None] + on[None, :]).ravel(), (starts[:, None] + off[None, :]).ravel()]
        n = on.size * loops
        kinds += [np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)]
        keys += [np.tile(pitch, loops)] * 2
        vels += [np.tile(velocity, loops), np.zeros(n, dtype=np.int64)]
        offset += pattern_ticks * loops
    all_ticks = np.concatenate(ticks)
    events, _, last = _encode_events(
        np.zeros(all_ticks.size, dtype=np.int64), all_ticks, np.concatenate(kinds),
        np.concatenate(keys), np.concatenate(vels),
    )
    body = events.tobytes() + _vlq(max(0, offset - int(last[0])) if all_ticks.size else offset)
    body += b"\xff\x2f\x00"
    name = _meta(0x03, track_name.encode("latin-1"))
    tempo = round(60 * 1e6 / bpm)
    conductor = (
        b"\x00" + name
        + b"\x00" + _meta(0x51, tempo.to_bytes(3, "big"))
        + b"\x00" + _meta(0x58, bytes((4, 2, 24, 8)))
        + _vlq(offset) + b"\xff\x2f\x00"
    )
    header = _chunk(b"MThd", (1).to_bytes(2, "big") + (2).to_bytes(2, "big")
                    + _PPQ.to_bytes(2, "big"))
    drums = b"\x00" + name + body
    return header + _chunk(b"MTrk", conductor) + _chunk(b"MTrk", drums)


def midi_files_bytes(
    patterns: Sequence[SampledPattern],
    *,
    bpm: float = 120.0,
    swing: float = 0.0,
    loops: int = 1,
    track_name: str = "rhythmcan",
) -> list[bytes]:
    """One MIDI file per pattern, each equal to ``midi_file_bytes([pattern])``, vectorised.

    The whole batch is encoded with a handful of numpy operations, so ten thousand files
    cost milliseconds of encoding rather than seconds.
    """
    if not patterns:
        return []
    head = midi_file_bytes(patterns[:1], bpm=bpm, swing=swing, loops=loops,
                           track_name=track_name)
    # Header and conductor track are the same for every file: cut them from a real one.
    conductor_len = int.from_bytes(head[18:22], "big")
    prefix = head[: 22 + conductor_len]
    name = b"\x00" + _meta(0x03, track_name.encode("latin-1"))
    end_ticks = STEPS * _STEP_TICKS * loops
    delay = round(swing * _STEP_TICKS)
    gate_odd = min(_GATE_TICKS, _STEP_TICKS - delay) if delay else _GATE_TICKS

    values = np.stack([p.values for p in patterns]).astype(np.float32, copy=False)
    thresholds = np.array([p.threshold for p in patterns], dtype=np.float32)
    pitch_map = np.array([p.output_pitches for p in patterns], dtype=np.int64)
    pid, steps, cells = np.nonzero(values > thresholds[:, None, None])
    velocity = np.minimum(
        127, np.maximum(1, np.floor(values[pid, steps, cells] * 127.0 + 0.5))
    ).astype(np.int64)
    odd = steps % 2 == 1
    on = steps.astype(np.int64) * _STEP_TICKS + np.where(odd, delay, 0)
    off = on + np.where(odd, gate_odd, _GATE_TICKS)
    pitch = pitch_map[pid, cells]
    starts = STEPS * _STEP_TICKS * np.arange(loops, dtype=np.int64)
    n_hits = pid.size
    group = np.tile(pid, 2 * loops)
    tick = np.concatenate([(starts[:, None] + on[None, :]).ravel(),
                           (starts[:, None] + off[None, :]).ravel()])
    is_on = np.concatenate([np.ones(n_hits * loops, dtype=np.int64),
                            np.zeros(n_hits * loops, dtype=np.int64)])
    keys = np.tile(pitch, 2 * loops)
    vels = np.concatenate([np.tile(velocity, loops), np.zeros(n_hits * loops, dtype=np.int64)])
    body, event_bounds, last_tick = _encode_events(group, tick, is_on, keys, vels)

    counts = np.bincount(group, minlength=len(patterns))
    first = np.zeros(len(patterns) + 1, dtype=np.int64)
    np.cumsum(counts, out=first[1:])
    raw = body.tobytes()
    files: list[bytes] = []
    for i in range(len(patterns)):
        a, b = int(first[i]), int(first[i + 1])
        lo = int(event_bounds[a])
        hi = int(event_bounds[b])
        tail = _vlq(max(0, end_ticks - int(last_tick[i])) if b > a else end_ticks)
        track = name + raw[lo:hi] + tail + b"\xff\x2f\x00"
        files.append(prefix + b"MTrk" + len(track).to_bytes(4, "big") + track)
    return files


def _encode_events(
    group: npt.NDArray[np.int64], tick: npt.NDArray[np.int64], is_on: npt.NDArray[np.int64],
    pitch: npt.NDArray[np.int64], velocity: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Encode note events of many tracks at once (``group`` = track index).

    Returns the bytes of all tracks one after another (delta times, running status, note
    bytes; events sorted per track like tuples), the byte offset where each event starts
    (plus the total at the end), and the last event tick of each track.
    """
    # One int64 sort key (group, tick, on, pitch, velocity) sorts like the tuples, far
    # faster than a 5-key lexsort; the fields are read back from the sorted keys.
    tick_bits = int(tick.max(initial=0)).bit_length()
    group_shift = 15 + tick_bits
    if group_shift + int(group.max(initial=0)).bit_length() < 63:
        key = np.sort(
            (group << group_shift) | (tick << 15) | (is_on << 14) | (pitch << 7) | velocity
        )
        group = key >> group_shift
        tick = (key >> 15) & ((1 << tick_bits) - 1)
        is_on = (key >> 14) & 1
        pitch = (key >> 7) & 0x7F
        velocity = key & 0x7F
    else:  # pragma: no cover - hours of music in one file
        order = np.lexsort((velocity, pitch, is_on, tick, group))
        group, tick = group[order], tick[order]
        is_on, pitch, velocity = is_on[order], pitch[order], velocity[order]
    n = tick.size
    groups = int(group.max()) + 1 if n else 0
    last_tick = np.zeros(max(groups, 1), dtype=np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.uint8), np.zeros(1, dtype=np.int64), last_tick
    starts_group = np.ones(n, dtype=bool)
    starts_group[1:] = group[1:] != group[:-1]
    delta = np.diff(tick, prepend=0)
    delta[starts_group] = tick[starts_group]
    length = 1 + (delta >= 1 << 7) + (delta >= 1 << 14) + (delta >= 1 << 21)
    status = np.where(is_on == 1, 0x99, 0x89)
    new_status = starts_group.copy()
    new_status[1:] |= status[1:] != status[:-1]
    sizes = length + new_status + 2
    begin = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=begin[1:])
    out = np.empty(int(begin[-1]), dtype=np.uint8)
    for k in range(4):
        has = length > k
        shift = 7 * (length[has] - 1 - k)
        more = np.where(k < length[has] - 1, 0x80, 0)
        out[begin[:-1][has] + k] = ((delta[has] >> shift) & 0x7F) | more
    at = begin[:-1] + length
    out[at[new_status]] = status[new_status]
    at = at + new_status
    out[at] = pitch
    out[at + 1] = velocity
    ends_group = np.ones(n, dtype=bool)
    ends_group[:-1] = group[:-1] != group[1:]
    last_tick[group[ends_group]] = tick[ends_group]
    return out, begin, last_tick


def numbered_paths(out_dir: Path, count: int, suffix: str, prefix: str = "pattern") -> list[Path]:
    """``prefix-001.mid`` ... (at least 3 digits, more for large batches)."""
    width = max(3, len(str(count)))
    return [out_dir / f"{prefix}-{i + 1:0{width}d}{suffix}" for i in range(count)]


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
) -> list[Path]:
    """One numbered file per pattern (MIDI or JSON) in ``out_dir``; never overwrites unless force.

    Every name is checked before anything is written. New files are created exclusively
    (a file appearing meanwhile is not clobbered); with ``force`` they are replaced atomically.
    """
    from rhythmcan_cli.patterns import atomic_write, to_json_line

    if fmt not in ("mid", "json"):
        raise UsageError(f"cannot write {fmt!r} files; use mid or json")
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"{out_dir} exists and is not a folder")
    paths = numbered_paths(out_dir, len(patterns), "." + fmt)
    if not force and out_dir.is_dir():
        present = set(os.listdir(out_dir))
        for path in paths:
            if path.name in present:
                raise DataError(f"{path} already exists; use --force to overwrite it")

    def encode(chunk: Sequence[SampledPattern]) -> list[bytes]:
        if fmt == "mid":
            return midi_files_bytes(chunk, bpm=bpm, swing=swing, loops=loops)
        return [(to_json_line(p) + "\n").encode("utf-8") for p in chunk]

    def write(path: Path, data: bytes) -> None:
        if force:
            atomic_write(path, data)
            return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        # Encoding holds the GIL, file creation does not: encode here while threads write.
        with ThreadPoolExecutor(max_workers=WRITE_THREADS) as pool:
            futures = []
            for start in range(0, len(patterns), ENCODE_CHUNK):
                chunk = patterns[start : start + ENCODE_CHUNK]
                blobs = encode(chunk)
                futures += [
                    pool.submit(write, path, data)
                    for path, data in zip(paths[start : start + len(chunk)], blobs, strict=True)
                ]
            for done, future in enumerate(futures, 1):
                future.result()
                if progress is not None and done % 500 == 0:
                    report(progress, "writing", done, len(paths))
    except FileExistsError as error:
        raise DataError(f"{error.filename} already exists; use --force to overwrite it") from None
    except OSError as error:
        raise DataError(f"cannot write into {out_dir}: {error.strerror or error}") from None
    report(progress, "writing", len(paths), len(paths))
    return paths


__all__ = [
    "SampledPattern",
    "midi_file_bytes",
    "midi_files_bytes",
    "new_seed",
    "numbered_paths",
    "parse_genre",
    "sample",
    "write_pattern_files",
]
