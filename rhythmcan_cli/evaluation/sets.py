"""The pattern sets an evaluation compares: a model's samples (spread evenly over its genres),
patterns generated elsewhere (MIDI, pattern JSON lines, stdin), and the paper's two random
baselines; :func:`resolve_source` tells a model from a set of patterns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.evaluation import distance
from rhythmcan_cli.grid import EVAL_THRESHOLD, N_CLASSES, STEPS, check_batch
from rhythmcan_cli.vocabulary import DRUM_CHANNEL

if TYPE_CHECKING:
    from rhythmcan_cli.store import StoredModel

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class GeneratedSet:
    """Patterns made elsewhere (a MIDI folder, pattern JSON lines, an array), by name."""

    name: str
    x: FloatArray
    kind: str = "patterns"


def read_generated(path: Path, *, channel: int = DRUM_CHANNEL) -> GeneratedSet:
    """Already generated patterns: a folder of MIDI files, one MIDI file, or pattern JSON lines.

    MIDI is cut into back-to-back 2-bar windows (hop 32, empty windows kept) because a
    generator's MIDI holds one pattern after another.
    """
    from rhythmcan_cli.errors import MidiError

    path = Path(path)
    if path.is_dir() or path.suffix.lower() in (".mid", ".midi"):
        from rhythmcan_cli.midi import read_midi_windows

        files = (
            sorted(p for p in path.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
            if path.is_dir()
            else [path]
        )
        if not files:
            raise DataError(f"no MIDI files (.mid, .midi) under {path}")
        parts: list[FloatArray] = []
        for file in files:
            try:
                windows = read_midi_windows(file, channel=channel, hop=STEPS, min_onsets=0)
            except MidiError as error:
                raise DataError(f"cannot read generated MIDI {file}: {error}") from None
            parts.append(np.asarray(windows.windows, dtype=np.float32))
        x = np.concatenate(parts) if parts else np.zeros((0, STEPS, N_CLASSES), np.float32)
        return GeneratedSet(name=str(path), x=check_batch(x), kind="midi")
    from rhythmcan_cli.sampling.patterns import read_patterns, stack_values

    return GeneratedSet(name=str(path), x=stack_values(read_patterns(path)), kind="patterns")


def sample_model(model: StoredModel, n: int, seed: int) -> FloatArray:
    """``n`` patterns from a stored generator; conditional models spread evenly over genres."""
    return sample_labelled(model, n, seed)[0]


def sample_labelled(model: StoredModel, n: int, seed: int) -> tuple[FloatArray, list[str] | None]:
    """:func:`sample_model` plus the genre each pattern was asked for (None: not conditional)."""
    from rhythmcan_cli.sampling.patterns import stack_values
    from rhythmcan_cli.sampling.sample import sample

    generator = model.generator()
    if generator.n_genres is None:
        return stack_values(sample(model, n=n, seed=seed)), None
    genres = list(model.card.genres)
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=len(genres))
    parts = []
    labels: list[str] = []
    for i, genre in enumerate(genres):
        count = n // len(genres) + (1 if i < n % len(genres) else 0)
        if count:
            parts.append(stack_values(sample(model, n=count, seed=int(seeds[i]), genre=genre)))
            labels += [genre] * count
    return np.concatenate(parts).astype(np.float32), labels


def random_baselines(
    reference: npt.ArrayLike, n: int, seed: int, *, threshold: float = EVAL_THRESHOLD
) -> tuple[FloatArray, FloatArray]:
    """The paper's two random baselines, fitted to ``reference`` (method.md section 6).

    1. per instrument: an onset count ~ N(mean, std) of that instrument's count in the data,
       placed at uniformly random steps;
    2. one total count ~ N(mean, std), scattered over all 288 cells.
    Counts are rounded and clipped to what fits. Hits get value 1.
    """
    hits = distance._as_hits(reference, threshold, "the reference patterns")
    if len(hits) < 2:
        raise DataError("the random baselines need at least 2 reference patterns")
    rng = np.random.default_rng(seed)
    per = hits.sum(axis=1).astype(np.float64)  # (N, 9)
    counts = np.clip(np.rint(rng.normal(per.mean(0), per.std(0), (n, N_CLASSES))), 0, STEPS)
    scores = rng.random((n, STEPS, N_CLASSES))
    ranks = scores.argsort(axis=1).argsort(axis=1)
    first = (ranks < counts[:, None, :]).astype(np.float32)
    total = hits.sum(axis=(1, 2)).astype(np.float64)
    cells = STEPS * N_CLASSES
    k = np.clip(np.rint(rng.normal(total.mean(), total.std(), n)), 0, cells)
    flat_ranks = rng.random((n, cells)).argsort(axis=1).argsort(axis=1)
    second = (flat_ranks < k[:, None]).astype(np.float32).reshape(n, STEPS, N_CLASSES)
    return first, second


def resolve_source(ref: str, *, channel: int = DRUM_CHANNEL) -> StoredModel | GeneratedSet:
    """What ``evaluate MODEL_OR_PATTERNS`` names: a stored model (a name, or a folder holding
    a card.json) or generated patterns (a MIDI folder or file, pattern JSON lines, ``-`` for
    JSON lines on stdin). A missing file with a pattern suffix is a DataError, not a model name.
    """
    from rhythmcan_cli.store import open_model

    if ref == "-":
        from rhythmcan_cli.sampling.patterns import read_patterns, stack_values

        return GeneratedSet("stdin", stack_values(read_patterns(None)))
    path = Path(ref)
    if path.is_dir() and not (path / "card.json").is_file():
        return read_generated(path, channel=channel)
    if path.is_file():
        return read_generated(path, channel=channel)
    if path.suffix.lower() in (".mid", ".midi", ".json", ".jsonl", ".ndjson"):
        raise DataError(f"no such file: {path}")
    return open_model(ref)
