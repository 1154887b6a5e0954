"""Finding a dataset's files and their genres: genre sub-folders, or a labels CSV with
``--where`` filters (the Groove MIDI Dataset's ``info.csv`` works as it is).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from rhythmcan_cli.dataset.records import (
    REASON_DUPLICATE,
    REASON_MISSING,
    REASON_NO_GENRE,
    REASON_NO_LABEL,
    SkippedFile,
)
from rhythmcan_cli.errors import DataError, UsageError

MIDI_SUFFIXES: Final = (".mid", ".midi")


MAX_CSV_BYTES: Final = 64 * 1024 * 1024
"""Largest labels CSV read (the Groove MIDI Dataset's info.csv is 0.2 MB)."""


@dataclass(frozen=True)
class Entry:
    relative: str
    path: Path
    label: str


def _is_midi(name: str) -> bool:
    return name.lower().endswith(MIDI_SUFFIXES)


def folder_entries(data_dir: Path) -> tuple[list[Entry], list[SkippedFile]]:
    """Files of ``data_dir/<genre>/**`` (hidden files and folders are ignored)."""
    entries: list[Entry] = []
    skipped: list[SkippedFile] = []
    for root, dirs, names in os.walk(data_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or not _is_midi(name):
                continue
            path = Path(root) / name
            relative = path.relative_to(data_dir).as_posix()
            parts = relative.split("/")
            if len(parts) < 2:
                skipped.append(SkippedFile(relative, REASON_NO_GENRE))
                continue
            entries.append(Entry(relative, path, parts[0]))
    if not entries and not skipped:
        raise DataError(
            f"no MIDI files (.mid, .midi) under {data_dir}; put them in one sub-folder per genre"
            " or pass --labels"
        )
    if not entries:
        raise DataError(
            f"the MIDI files in {data_dir} are not inside genre sub-folders;"
            " put them in one sub-folder per genre or pass --labels"
        )
    return entries, skipped


def parse_where(items: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Turn ``["beat_type=beat", ...]`` into pairs; UsageError on a missing ``=`` or column."""
    pairs: list[tuple[str, str]] = []
    for item in items:
        column, sep, value = item.partition("=")
        if not sep or not column.strip():
            raise UsageError(f"--where needs COLUMN=VALUE (e.g. beat_type=beat), got {item!r}")
        pairs.append((column.strip(), value.strip()))
    return tuple(pairs)


def csv_entries(
    data_dir: Path,
    labels_csv: Path,
    csv_bytes: bytes,
    path_column: str,
    label_column: str,
    primary_label: bool,
    where: Sequence[tuple[str, str]],
) -> tuple[list[Entry], list[SkippedFile]]:
    """Rows of the labels CSV that pass the filters, resolved against ``data_dir``."""
    try:
        text = csv_bytes.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{labels_csv} is not UTF-8 text; save it as UTF-8 CSV") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = [c for c in (reader.fieldnames or []) if c is not None]
    if not columns:
        raise DataError(f"{labels_csv} is empty: it needs a header row")
    shown = ", ".join(columns)
    for name, role in ((path_column, "path"), (label_column, "label")):
        if name not in columns:
            raise DataError(f"{labels_csv} has no {role} column {name!r}; its columns are: {shown}")
    wanted: dict[str, set[str]] = {}
    for column, value in where:
        if column not in columns:
            raise DataError(
                f"--where names the column {column!r}, which {labels_csv.name} does not have;"
                f" its columns are: {shown}"
            )
        wanted.setdefault(column, set()).add(value)

    entries: list[Entry] = []
    skipped: list[SkippedFile] = []
    seen: set[str] = set()
    rows = 0
    try:
        for row in reader:
            # the same column repeated means any of its values; different columns must all match
            if any((row.get(c) or "").strip() not in values for c, values in wanted.items()):
                continue
            rows += 1
            raw_path = (row.get(path_column) or "").strip()
            if not raw_path:
                continue
            label = (row.get(label_column) or "").strip()
            if primary_label:
                label = label.split("/", 1)[0].strip()
            relative = Path(raw_path).as_posix()
            if relative in seen:
                skipped.append(SkippedFile(relative, REASON_DUPLICATE))
                continue
            seen.add(relative)
            if not label:
                skipped.append(SkippedFile(relative, REASON_NO_LABEL))
                continue
            path = Path(raw_path) if Path(raw_path).is_absolute() else data_dir / raw_path
            if not path.exists():  # a FIFO or a device is refused when read, and counted
                skipped.append(SkippedFile(relative, REASON_MISSING))
                continue
            entries.append(Entry(relative, path, label))
    except csv.Error as error:
        raise DataError(f"{labels_csv} is not valid CSV: {error}") from None
    if rows == 0:
        condition = " and ".join(f"{c}={v}" for c, v in where) or "(no filter)"
        raise DataError(f"no rows of {labels_csv} match {condition}")
    if not entries:
        raise DataError(
            f"none of the {rows} files listed in {labels_csv} exist under {data_dir}"
            " (paths in the CSV are relative to DATA_DIR)"
        )
    return entries, skipped
