"""Pattern JSON: the machine-readable form of sampled patterns (one JSON object per line).

Every line is one pattern with everything needed to reproduce, vary or play it::

    {"format": "rhythmcan.pattern/1", "model": "...", "kind": "can", "genre": null,
     "seed": 1234, "index": 0, "z": [...], "threshold": 0.2, "class_names": [...],
     "output_pitches": [...], "values": [[... 9 floats ...] x 32]}

``genre`` is a genre name, a ``{name: weight}`` blend (weights sum to 1) or null.
``z`` is rounded to 6 decimals when sampled, so it is written exactly and a pattern read back
varies the same. ``values`` are the generator's raw strengths in memory (hits are decided on
those) and are written with 4 decimals for reading; a cell the rounding would carry across the
pattern's own threshold is written one unit of the 4th decimal on its side, so a pattern read
back has the same hits as the one sampled.

``last.json`` under the store root keeps the last pattern sampled (``--vary last``).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, TextIO

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.atomic import atomic_write
from rhythmcan_cli.errors import DataError
from rhythmcan_cli.grid import N_CLASSES, STEPS, check_pattern
from rhythmcan_cli.inputs import iter_lines, json_depth, open_regular

FORMAT: Final = "rhythmcan.pattern/1"
VALUE_DECIMALS: Final = 4
LAST_FILE: Final = "last.json"
MAX_LINE_BYTES: Final = 1024 * 1024
"""Longest JSON line read (a pattern's line is about 4 KB)."""
MAX_INPUT_BYTES: Final = 256 * 1024 * 1024
"""Most pattern JSON read from one file or stdin (about 60,000 patterns)."""
MAX_LINES: Final = 200_000
"""Most lines read from one file or stdin, blank ones included."""
MAX_JSON_DEPTH: Final = 32
"""Deepest nesting of a line accepted (a pattern nests 3 levels)."""
MAX_Z: Final = 1e6
"""Largest |z| accepted in a pattern (sampled z lie within a few units of 0)."""

Genre = str | dict[str, float] | None


@dataclass(frozen=True)
class SampledPattern:
    """One generated pattern and how it was made (model, genre, seed, index in the batch, z)."""

    model: str
    kind: str
    genre: Genre
    seed: int
    index: int
    z: npt.NDArray[np.float64]
    threshold: float
    class_names: tuple[str, ...]
    output_pitches: tuple[int, ...]
    values: npt.NDArray[np.float32]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this pattern (values shown with 4 decimals, hits kept)."""
        genre: Genre = dict(self.genre) if isinstance(self.genre, dict) else self.genre
        return {
            "format": FORMAT,
            "model": self.model,
            "kind": self.kind,
            "genre": genre,
            "seed": int(self.seed),
            "index": int(self.index),
            "z": [float(v) for v in self.z.tolist()],
            "threshold": float(self.threshold),
            "class_names": list(self.class_names),
            "output_pitches": [int(p) for p in self.output_pitches],
            "values": display_values(self.values, self.threshold).tolist(),
        }


def display_values(values: npt.ArrayLike, threshold: float) -> npt.NDArray[np.float64]:
    """``values`` rounded to 4 decimals without moving any cell across ``threshold``.

    Hits are ``values > threshold`` compared in float32 (how the MIDI writer and the grid
    compare a pattern's float32 values with a Python float), before and after the values are
    read back from JSON as float32; a cell whose rounding would flip that is moved one unit of
    the last decimal back to its side.
    """
    raw = np.asarray(values, dtype=np.float32)
    limit = np.float32(threshold)
    shown = np.round(raw.astype(np.float64), VALUE_DECIMALS)
    unit = 10.0**-VALUE_DECIMALS
    hit = raw > limit
    after = shown.astype(np.float32) > limit
    shown = np.where(hit & ~after, np.round(shown + unit, VALUE_DECIMALS), shown)
    shown = np.where(~hit & after, np.round(shown - unit, VALUE_DECIMALS), shown)
    return np.clip(shown, 0.0, 1.0)


def genre_label(genre: Genre) -> str:
    """A short human label: 'rock', 'rock 70% + funk 30%', or '' for no genre."""
    if genre is None:
        return ""
    if isinstance(genre, str):
        return genre
    parts = sorted(genre.items(), key=lambda item: (-item[1], item[0]))
    return " + ".join(f"{name} {weight * 100:.0f}%" for name, weight in parts)


def to_json_line(pattern: SampledPattern) -> str:
    """One pattern as one line of compact JSON (no trailing newline)."""
    return json.dumps(pattern.to_dict(), separators=(",", ":"), allow_nan=False)


def dumps_patterns(patterns: Iterable[SampledPattern]) -> str:
    """Patterns as JSON lines, each ending with a newline."""
    return "".join(to_json_line(p) + "\n" for p in patterns)


def write_patterns(patterns: Iterable[SampledPattern], dest: Path | TextIO) -> None:
    """Write patterns as JSON lines to a file path (atomically) or an open text stream."""
    text = dumps_patterns(patterns)
    if isinstance(dest, Path):
        atomic_write(dest, text.encode("utf-8"))
    else:
        dest.write(text)


def _fail(where: str, line: int, what: str) -> DataError:
    return DataError(f"{where} line {line}: {what}")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def pattern_from_dict(obj: object, *, where: str = "pattern", line: int = 1) -> SampledPattern:
    """Validate one decoded JSON object and build a SampledPattern, or raise DataError."""
    if not isinstance(obj, dict):
        raise _fail(where, line, "not a rhythmcan pattern (expected a JSON object)")
    if obj.get("format") != FORMAT:
        raise _fail(where, line, f"not a rhythmcan pattern (format is not {FORMAT!r})")
    missing = [
        key
        for key in (
            "model",
            "kind",
            "genre",
            "seed",
            "index",
            "z",
            "threshold",
            "class_names",
            "output_pitches",
            "values",
        )
        if key not in obj
    ]
    if missing:
        raise _fail(where, line, f"pattern lacks {', '.join(missing)}")
    model, kind, seed, index = obj["model"], obj["kind"], obj["seed"], obj["index"]
    if not isinstance(model, str) or not isinstance(kind, str):
        raise _fail(where, line, "'model' and 'kind' must be strings")
    for key, value in (("seed", seed), ("index", index)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _fail(where, line, f"'{key}' must be a non-negative integer")
    genre = _genre(obj["genre"], where, line)
    z = obj["z"]
    if not isinstance(z, list) or not z or not all(_number(v) and abs(v) <= MAX_Z for v in z):
        raise _fail(where, line, f"'z' must be a non-empty list of numbers within +-{MAX_Z:g}")
    threshold = obj["threshold"]
    if not _number(threshold) or not 0.0 <= float(threshold) <= 1.0:
        raise _fail(where, line, "'threshold' must be a number between 0 and 1")
    names = obj["class_names"]
    if (
        not isinstance(names, list)
        or len(names) != N_CLASSES
        or not all(isinstance(n, str) for n in names)
    ):
        raise _fail(where, line, f"'class_names' must be {N_CLASSES} strings")
    pitches = obj["output_pitches"]
    if (
        not isinstance(pitches, list)
        or len(pitches) != N_CLASSES
        or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 127 for p in pitches
        )
    ):
        raise _fail(where, line, f"'output_pitches' must be {N_CLASSES} MIDI pitches (0-127)")
    values = obj["values"]
    if (
        not isinstance(values, list)
        or len(values) != STEPS
        or not all(
            isinstance(row, list) and len(row) == N_CLASSES and all(_number(v) for v in row)
            for row in values
        )
    ):
        raise _fail(where, line, f"'values' must be {STEPS} rows of {N_CLASSES} numbers")
    try:
        array = check_pattern(values)
    except DataError as error:
        raise _fail(where, line, str(error)) from None
    return SampledPattern(
        model=model,
        kind=kind,
        genre=genre,
        seed=seed,
        index=index,
        z=np.asarray(z, dtype=np.float64),
        threshold=float(threshold),
        class_names=tuple(names),
        output_pitches=tuple(pitches),
        values=array,
    )


def _genre(value: object, where: str, line: int) -> Genre:
    if value is None or isinstance(value, str):
        return value
    if (
        isinstance(value, dict)
        and value
        and all(isinstance(k, str) and _number(v) and v >= 0 for k, v in value.items())
    ):
        return {str(k): float(v) for k, v in value.items()}
    raise _fail(where, line, "'genre' must be a name, a {name: weight} blend or null")


def _decode(raw: bytes, where: str, line: int) -> object:
    """One JSON line, bounded: its size and nesting are checked before it is parsed."""
    if len(raw) > MAX_LINE_BYTES:
        raise _fail(where, line, f"longer than {MAX_LINE_BYTES // 1024:,} KB: not a pattern")
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise _fail(
            where, line, f"nested more than {MAX_JSON_DEPTH} levels deep: not a rhythmcan pattern"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(where, line, "not UTF-8 text, not a rhythmcan pattern") from None
    try:
        return json.loads(text)
    except RecursionError:  # pragma: no cover - json_depth refused it first
        raise _fail(where, line, "nested too deeply: not a rhythmcan pattern") from None
    except ValueError:
        raise _fail(where, line, "not a rhythmcan pattern (invalid JSON)") from None


def iter_patterns(lines: Iterable[bytes], *, where: str = "input") -> Iterator[SampledPattern]:
    """Patterns of JSON lines (blank lines skipped), one at a time: a caller that needs only
    the first stops the reading there. Any line that is not a pattern raises DataError."""
    for number, raw in enumerate(lines, start=1):
        pattern = parse_line(raw, where=where, line=number)
        if pattern is not None:
            yield pattern


def parse_line(raw: bytes, *, where: str = "input", line: int = 1) -> SampledPattern | None:
    """The pattern of one JSON line (None for a blank line), or DataError naming the line."""
    if not raw.strip():
        return None
    return pattern_from_dict(_decode(raw, where, line), where=where, line=line)


def stream_lines(stream: BinaryIO, *, where: str, prefix: bytes = b"") -> Iterator[bytes]:
    """The lines of a binary stream, bounded per line and in total (see ``inputs``)."""
    return iter_lines(
        stream,
        what=where,
        max_line=MAX_LINE_BYTES,
        max_total=MAX_INPUT_BYTES,
        max_lines=MAX_LINES,
        kind="pattern JSON input",
        prefix=prefix,
    )


def _collect(patterns: Iterable[SampledPattern], where: str) -> list[SampledPattern]:
    found = list(patterns)
    if not found:
        raise DataError(
            f"{where}: no patterns found (expected the JSON lines of 'rhythmcan sample')"
        )
    return found


def loads_patterns(text: str, *, where: str = "input") -> list[SampledPattern]:
    """Parse JSON lines (blank lines skipped); any line that is not a pattern raises DataError."""
    lines = text.encode("utf-8", errors="surrogatepass").split(b"\n")
    return _collect(iter_patterns(lines, where=where), where)


@contextmanager
def _opened(source: Path | None) -> Iterator[tuple[BinaryIO, str]]:
    """A binary stream of pattern JSON and its name: stdin, or a regular file (never a FIFO
    or a device: see ``inputs.open_regular``)."""
    if source is None:
        yield sys.stdin.buffer, "stdin"
        return
    if not os.path.lexists(source):
        raise DataError(f"no such pattern file: {source}")
    with open_regular(source, what=str(source)) as stream:
        yield stream, str(source)


def first_pattern(source: Path | None) -> SampledPattern:
    """The first pattern of a JSON lines file or stdin (None), reading no further than it."""
    with _opened(source) as (stream, where):
        for pattern in iter_patterns(stream_lines(stream, where=where), where=where):
            return pattern
    raise DataError(f"{where}: no patterns found (expected the JSON lines of 'rhythmcan sample')")


def read_patterns(source: str | Path | TextIO | None = None) -> list[SampledPattern]:
    """Read pattern JSON lines from text (str), a file (Path), a stream, or stdin (None).

    Files and stdin are read line by line with a size cap per line and in total, so memory
    follows the patterns found, whatever is fed in.
    """
    if isinstance(source, str):
        return loads_patterns(source)
    if source is None or isinstance(source, Path):
        with _opened(source) as (stream, where):
            return _collect(iter_patterns(stream_lines(stream, where=where), where=where), where)
    where = getattr(source, "name", "input")
    binary = getattr(source, "buffer", None)
    if binary is not None:
        return _collect(iter_patterns(stream_lines(binary, where=where), where=where), where)
    text = source.read(MAX_INPUT_BYTES + 1)
    if len(text) > MAX_INPUT_BYTES:
        raise DataError(f"{where}: more than {MAX_INPUT_BYTES // (1024 * 1024)} MB of pattern JSON")
    return loads_patterns(text, where=where)


def store_root() -> Path:
    """The store root (``RHYTHMCAN_HOME`` or the platform's user data folder)."""
    from rhythmcan_cli import store

    return store.store_root()


def last_path() -> Path:
    """Where the last sampled pattern is kept."""
    return store_root() / LAST_FILE


def save_last(pattern: SampledPattern) -> Path:
    """Keep ``pattern`` as the last one sampled (atomic write); returns the file."""
    path = last_path()
    atomic_write(path, (to_json_line(pattern) + "\n").encode("utf-8"))
    return path


def load_last() -> SampledPattern:
    """The last pattern sampled, or DataError saying how to make one."""
    path = last_path()
    if not path.is_file():
        raise DataError("no pattern sampled yet: run 'rhythmcan sample' first, then use 'last'")
    return read_patterns(path)[-1]


def resolve_patterns(ref: str | Path) -> list[SampledPattern]:
    """Patterns named on the command line: ``last``, ``-`` (stdin) or a JSON lines file."""
    if str(ref) == "last":
        return [load_last()]
    if str(ref) == "-":
        return read_patterns(None)
    return read_patterns(Path(ref))


def resolve_pattern(ref: str | Path) -> SampledPattern:
    """The one pattern named on the command line (``--vary``, ``--interpolate``): ``last``,
    or the first pattern of ``-`` (stdin) or of a JSON lines file, read no further."""
    if str(ref) == "last":
        return load_last()
    return first_pattern(None if str(ref) == "-" else Path(ref))


def stack_values(patterns: Sequence[SampledPattern]) -> npt.NDArray[np.float32]:
    """The (N, 32, 9) float32 batch of the patterns' values."""
    if not patterns:
        return np.zeros((0, STEPS, N_CLASSES), dtype=np.float32)
    return np.stack([p.values for p in patterns]).astype(np.float32, copy=False)


def describe(pattern: SampledPattern) -> Mapping[str, object]:
    """Model, genre and seed for titles and messages."""
    return {
        "model": pattern.model,
        "genre": genre_label(pattern.genre),
        "seed": pattern.seed,
        "index": pattern.index,
    }


__all__ = [
    "FORMAT",
    "Genre",
    "SampledPattern",
    "atomic_write",
    "display_values",
    "dumps_patterns",
    "first_pattern",
    "genre_label",
    "iter_patterns",
    "last_path",
    "load_last",
    "loads_patterns",
    "parse_line",
    "pattern_from_dict",
    "read_patterns",
    "resolve_pattern",
    "resolve_patterns",
    "save_last",
    "stack_values",
    "store_root",
    "to_json_line",
    "write_patterns",
]
