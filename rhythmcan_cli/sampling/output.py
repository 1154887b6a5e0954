"""Writing sampled patterns: MIDI bytes, numbered files, and whole runs streamed chunk by chunk.

:func:`rhythmcan_cli.sampling.sample.sample_chunks` makes a run a chunk at a time; the writers here
take such a stream, so a run's memory is that of one chunk whatever ``-n`` (see
``rhythmcan_cli.cli.sample`` for the CLI's output kinds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final, TextIO

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.progress import ProgressCallback, report
from rhythmcan_cli.sampling.patterns import SampledPattern, dumps_patterns
from rhythmcan_cli.vocabulary import DEFAULT_BPM

ENCODE_CHUNK: Final = 1024
"""Patterns encoded together before their files are handed to the writer threads."""
MAX_FOLDER_FILES: Final = 1_000_000
"""Most numbered files one ``sample -o DIR/`` writes (memory does not bound it: the batch
streams; a folder of a million files is already more than file managers and ``ls`` handle
well, and 10^9 would exhaust a disk's inodes). JSON lines stream any count."""
MAX_HUMANIZED_FILE_PATTERNS: Final = 5_000
"""Most patterns in one ``--humanize``d MIDI file: the jitter (sampling.feel.humanize_midi)
holds every note of the file as a mido message, about 40 KB a pattern (10,000 patterns took
436 MB); a folder (``-o DIR/``) humanizes each file alone, in bounded memory."""


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
    bpm: float = DEFAULT_BPM,
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
    patterns: Sequence[SampledPattern] | Iterable[SampledPattern],
    out_dir: Path,
    *,
    count: int | None = None,
    fmt: str = "mid",
    force: bool = False,
    bpm: float = DEFAULT_BPM,
    swing: float = 0.0,
    loops: int = 1,
    progress: ProgressCallback | None = None,
    transform: Callable[[int, bytes], bytes] | None = None,
) -> Sequence[Path]:
    """One numbered file per pattern (MIDI or JSON) in ``out_dir``; never overwrites unless force.

    ``patterns`` may be a stream (``count`` then says how many it yields: a run of
    :func:`sample_chunks` is written as it is made, a chunk in memory at a time).
    ``transform(i, data)``, when given, rewrites MIDI file ``i`` before it is written
    (``--humanize``).

    All or nothing (:func:`rhythmcan_cli.atomic.write_batch`): every name is checked before
    anything is written, the files appear only when all are whole, and an error, Ctrl-C or
    SIGTERM leaves none of them. Patterns are encoded here while threads create the files.
    """
    from rhythmcan_cli.atomic import NumberedNames, write_batch
    from rhythmcan_cli.midi import midi_files
    from rhythmcan_cli.sampling.patterns import to_json_line

    if fmt not in ("mid", "json"):
        raise UsageError(f"cannot write {fmt!r} files; use mid or json")
    if count is None:
        if not isinstance(patterns, Sequence):
            raise ValueError("a stream of patterns needs its count")
        count = len(patterns)
    names = NumberedNames(count, "." + fmt)

    def encode(chunk: Sequence[SampledPattern]) -> list[bytes]:
        if fmt == "mid":
            values, thresholds, pitches = _midi_arrays(chunk)
            return midi_files(
                values, threshold=thresholds, pitches=pitches, bpm=bpm, swing=swing, loops=loops
            )
        return [(to_json_line(p) + "\n").encode("utf-8") for p in chunk]

    def blobs() -> Iterator[bytes]:
        start = 0
        for chunk in _batched(patterns, ENCODE_CHUNK):
            encoded = encode(chunk)
            if transform is not None and fmt == "mid":
                encoded = [transform(start + j, blob) for j, blob in enumerate(encoded)]
            start += len(chunk)
            yield from encoded

    def on_written(done: int) -> None:
        report(progress, "writing", done, len(names))

    return write_batch(out_dir, names, blobs(), force=force, on_written=on_written)


def _batched(items: Iterable[SampledPattern], size: int) -> Iterator[list[SampledPattern]]:
    batch: list[SampledPattern] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# ------------------------------------------------------------------------------ streamed runs


def write_json_lines(chunks: Iterable[Sequence[SampledPattern]], stream: TextIO) -> None:
    """JSON lines to an open text stream, a chunk at a time (flushed after each)."""
    for chunk in chunks:
        stream.write(dumps_patterns(chunk))
        stream.flush()


def write_json_file(chunks: Iterable[Sequence[SampledPattern]], path: Path) -> None:
    """JSON lines into ``path``, a chunk at a time, all or nothing
    (:func:`rhythmcan_cli.atomic.atomic_stream`)."""
    from rhythmcan_cli.atomic import atomic_stream

    with atomic_stream(path) as handle:
        for chunk in chunks:
            handle.write(dumps_patterns(chunk).encode("utf-8"))


def midi_file_of(
    chunks: Iterable[Sequence[SampledPattern]],
    *,
    bpm: float = DEFAULT_BPM,
    swing: float = 0.0,
    loops: int = 1,
) -> bytes:
    """:func:`midi_file_bytes` of a stream of chunks, encoded as they come: only the track's
    bytes are kept (:class:`rhythmcan_cli.midi.stream.MidiFileBuilder`), not the patterns."""
    from rhythmcan_cli.midi.stream import MAX_FILE_PATTERNS, MidiFileBuilder

    builder = MidiFileBuilder(bpm=bpm, swing=swing, loops=loops)
    for chunk in chunks:
        if builder.count + len(chunk) > MAX_FILE_PATTERNS:
            raise UsageError(
                f"more than the {MAX_FILE_PATTERNS:,} patterns one MIDI file holds; write a"
                " folder (-o DIR/) or JSON lines instead"
            )
        builder.add(*_midi_arrays(chunk))
    return builder.finish()


__all__ = [
    "MAX_FOLDER_FILES",
    "MAX_HUMANIZED_FILE_PATTERNS",
    "midi_file_bytes",
    "midi_file_of",
    "write_json_file",
    "write_json_lines",
    "write_pattern_files",
]
