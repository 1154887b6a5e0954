"""Labelled datasets of 2-bar drum windows from MIDI folders: finding the files and their
genres (sources.py), reading them (reading.py), the npz cache (cache.py), the build
(build.py), what it returns (records.py) and held-out splits (splits.py).

The package names the stage's public API; the modules hold it.
"""

from rhythmcan_cli.dataset.build import build_dataset
from rhythmcan_cli.dataset.cache import default_cache_dir
from rhythmcan_cli.dataset.records import (
    REASON_CORRUPT,
    REASON_DUPLICATE,
    REASON_EMPTY,
    REASON_FEW_ONSETS,
    REASON_MISSING,
    REASON_NO_44,
    REASON_NO_DRUMS,
    REASON_NO_GENRE,
    REASON_NO_LABEL,
    REASON_NOT_REGULAR,
    REASON_ONLY_UNMAPPED,
    REASON_TOO_LARGE,
    REASON_UNREADABLE,
    Dataset,
    DatasetReport,
    SkippedFile,
    select_genres,
    split_by_file,
)
from rhythmcan_cli.dataset.sources import MAX_CSV_BYTES, MIDI_SUFFIXES, parse_where

__all__ = [
    "MAX_CSV_BYTES",
    "MIDI_SUFFIXES",
    "REASON_CORRUPT",
    "REASON_DUPLICATE",
    "REASON_EMPTY",
    "REASON_FEW_ONSETS",
    "REASON_MISSING",
    "REASON_NOT_REGULAR",
    "REASON_NO_44",
    "REASON_NO_DRUMS",
    "REASON_NO_GENRE",
    "REASON_NO_LABEL",
    "REASON_ONLY_UNMAPPED",
    "REASON_TOO_LARGE",
    "REASON_UNREADABLE",
    "Dataset",
    "DatasetReport",
    "SkippedFile",
    "build_dataset",
    "default_cache_dir",
    "parse_where",
    "select_genres",
    "split_by_file",
]
