"""Labelled datasets of 2-bar drum windows from MIDI folders, with an npz cache and a report.

Two layouts: ``DATA_DIR/<genre>/**/*.mid`` (the genre is the first sub-folder), or
``DATA_DIR`` plus a labels CSV naming each file's path and genre (the Groove MIDI Dataset's
``info.csv`` works as it is). Files that cannot be used are skipped and counted with a reason;
they never abort a build. A build is cached under a key made of every input file's bytes, the
CSV's bytes and every option, so a second build with the same inputs loads in a blink.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rhythmcan_cli.dataset.cache import (
    default_cache_dir,
    fingerprint_of,
    hash_file,
    load_cache,
    save_cache,
)
from rhythmcan_cli.dataset.reading import read_all
from rhythmcan_cli.dataset.records import (
    Dataset,
    DatasetReport,
    SkippedFile,
    select_genres,
)
from rhythmcan_cli.dataset.sources import (
    MAX_CSV_BYTES,
    Entry,
    csv_entries,
    folder_entries,
)
from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.grid import N_CLASSES, STEPS, FloatArray
from rhythmcan_cli.inputs import read_file
from rhythmcan_cli.progress import ProgressCallback, report
from rhythmcan_cli.vocabulary import DRUM_CHANNEL, HOP, LABEL_COLUMN, MIN_ONSETS, PATH_COLUMN


def build_dataset(
    data_dir: Path,
    *,
    labels_csv: Path | None = None,
    path_column: str = PATH_COLUMN,
    label_column: str = LABEL_COLUMN,
    primary_label: bool = True,
    where: Sequence[tuple[str, str]] = (),
    channel: int = DRUM_CHANNEL,
    hop: int = HOP,
    min_onsets: int = MIN_ONSETS,
    cache_dir: Path | bool | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    genres: Sequence[str] | None = None,
    min_genre_windows: int = 0,
) -> Dataset:
    """Build (or load from the cache) the labelled windows of a MIDI folder.

    Layout (a) ``data_dir/<genre>/**/*.mid``; layout (b) ``labels_csv`` names each file's
    path (relative to ``data_dir``) and label, ``primary_label`` keeps the part before '/',
    ``where`` keeps rows whose columns hold the given values. ``cache_dir``: None for the
    user cache folder, False for no cache, or a folder. Unusable files are skipped and
    counted in ``report``; a DataError means nothing usable was found. ``genres`` and
    ``min_genre_windows`` then keep only some genres (see :func:`select_genres`); they do not
    change the cache key, so choosing genres never re-reads the files.
    """
    started = time.perf_counter()
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise DataError(f"data folder {data_dir} does not exist")
    if not data_dir.is_dir():
        raise DataError(f"{data_dir} is not a folder")
    if not 1 <= channel <= 16:
        raise UsageError(f"MIDI channel must be between 1 and 16, got {channel}")
    if not 1 <= hop <= STEPS:
        raise UsageError(f"hop must be between 1 and {STEPS} steps, got {hop}")
    if not 0 <= min_onsets <= STEPS * N_CLASSES:
        raise UsageError(f"min onsets must be between 0 and {STEPS * N_CLASSES}, got {min_onsets}")
    if workers is not None and workers < 1:
        raise UsageError(f"workers must be at least 1, got {workers}")
    where = tuple((str(c), str(v)) for c, v in where)

    csv_bytes = b""
    if labels_csv is not None:
        labels_csv = Path(labels_csv)
        if not labels_csv.exists():
            raise DataError(f"labels file {labels_csv} does not exist")
        csv_bytes = read_file(labels_csv, limit=MAX_CSV_BYTES, kind="a labels CSV")
        entries, pre_skipped = csv_entries(
            data_dir, labels_csv, csv_bytes, path_column, label_column, primary_label, where
        )
        options: dict[str, Any] = {
            "layout": "csv",
            "path_column": path_column,
            "label_column": label_column,
            "primary_label": primary_label,
            "where": [list(pair) for pair in sorted(where)],
        }
    else:
        if where:
            raise UsageError("--where filters rows of a labels CSV: pass --labels too")
        entries, pre_skipped = folder_entries(data_dir)
        options = {"layout": "folders"}
    options.update({"channel": channel, "hop": hop, "min_onsets": min_onsets})

    hashes: list[str] = []
    for done, entry in enumerate(entries, 1):
        hashes.append(hash_file(entry.path))
        report(progress, "checking files", done, len(entries))
    fingerprint = fingerprint_of(entries, hashes, csv_bytes, options)

    cache_path: Path | None = None
    if cache_dir is not False:
        root = default_cache_dir() if cache_dir is None or cache_dir is True else Path(cache_dir)
        cache_path = root / "datasets" / f"dataset-{fingerprint}.npz"
        cached = load_cache(cache_path) if cache_path.is_file() else None
        if cached is not None and cached.fingerprint == fingerprint:
            seconds = time.perf_counter() - started
            new_report = replace(
                cached.report, from_cache=True, cache_file=str(cache_path), seconds=seconds
            )
            return select_genres(replace(cached, report=new_report), genres, min_genre_windows)

    jobs = [(str(e.path), channel, hop, min_onsets) for e in entries]
    results = read_all(jobs, workers, progress)

    skipped = list(pre_skipped)
    unmapped: Counter[int] = Counter()
    notes = 0
    kept: list[tuple[Entry, FloatArray]] = []
    for entry, result in zip(entries, results, strict=True):
        unmapped.update(result.unmapped)
        notes += result.notes
        if result.windows is None:
            skipped.append(SkippedFile(entry.relative, result.reason, result.detail))
        else:
            kept.append((entry, result.windows))

    files_found = len(entries) + len(pre_skipped)
    if not kept:
        reasons = Counter(s.reason for s in skipped).most_common(3)
        summary = ", ".join(f"{n} {reason}" for reason, n in reasons)
        raise DataError(
            f"no usable 2-bar 4/4 windows in the {files_found} files of {data_dir}"
            f" ({summary}); check --channel, --min-onsets or the folder"
        )

    found_genres = tuple(sorted({entry.label for entry, _ in kept}))
    genre_index = {g: i for i, g in enumerate(found_genres)}
    x = np.concatenate([w for _, w in kept]).astype(np.float32, copy=False)
    y = np.concatenate([np.full(len(w), genre_index[e.label], np.int32) for e, w in kept])
    file_ids = np.concatenate([np.full(len(w), i, np.int32) for i, (_, w) in enumerate(kept)])
    windows_per_genre = {g: int((y == i).sum()) for i, g in enumerate(found_genres)}
    files_per_genre = dict(sorted(Counter(e.label for e, _ in kept).items()))

    result_report = DatasetReport(
        data_dir=str(data_dir),
        labels_csv=None if labels_csv is None else str(labels_csv),
        files_found=files_found,
        files_read=len(kept),
        skipped=tuple(sorted(skipped, key=lambda s: (s.reason, s.path))),
        windows_per_genre=windows_per_genre,
        files_per_genre=files_per_genre,
        unmapped=dict(sorted(unmapped.items())),
        notes=notes,
        options=options,
        fingerprint=fingerprint,
    )
    dataset = Dataset(
        x=x,
        y=y,
        genres=found_genres,
        file_ids=file_ids,
        files=tuple(e.relative for e, _ in kept),
        report=result_report,
        fingerprint=fingerprint,
        file_genres=tuple(e.label for e, _ in kept),
    )
    cache_file: str | None = None
    if cache_path is not None and save_cache(cache_path, dataset):
        cache_file = str(cache_path)
    final_report = replace(
        result_report, cache_file=cache_file, seconds=time.perf_counter() - started
    )
    return select_genres(replace(dataset, report=final_report), genres, min_genre_windows)
