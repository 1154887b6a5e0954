"""The dataset cache: one npz per build, keyed by every input file's bytes, the CSV and the
options; written atomically, a damaged or stale one rebuilt, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import stat
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from rhythmcan_cli.atomic import atomic_write, pid_alive
from rhythmcan_cli.dataset.records import (
    Dataset,
    DatasetReport,
)
from rhythmcan_cli.errors import OutputError
from rhythmcan_cli.grid import N_CLASSES, PITCH_TO_CLASS, STEPS
from rhythmcan_cli.inputs import InputError, open_regular
from rhythmcan_cli.midi import MAX_FILE_BYTES

if TYPE_CHECKING:
    from rhythmcan_cli.dataset.sources import Entry

CACHE_FORMAT: Final = 4
"""Bump when the reader or the cache layout changes: old cache files are then ignored."""


def default_cache_dir() -> Path:
    """``$RHYTHMCAN_CACHE`` or the platform's user cache folder for rhythmcan."""
    env = os.environ.get("RHYTHMCAN_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("rhythmcan"))


def hash_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, or a marker saying why it cannot be read.

    Opened through ``inputs.open_regular``: a FIFO or a device (a ``.mid`` linked to
    ``/dev/zero``) is never read, and nothing past ``MAX_FILE_BYTES`` is.
    """
    digest = hashlib.sha256()
    try:
        with open_regular(path, limit=MAX_FILE_BYTES) as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except InputError as error:
        return f"{error.reason}:{error}"
    except OSError as error:
        return f"unreadable:{error.errno}"
    return digest.hexdigest()


def fingerprint_of(
    entries: Sequence[Entry], hashes: Sequence[str], csv_bytes: bytes, options: dict[str, Any]
) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": CACHE_FORMAT, "options": options}, sort_keys=True).encode())
    digest.update(json.dumps(sorted(PITCH_TO_CLASS.items())).encode())
    digest.update(hashlib.sha256(csv_bytes).digest())
    for entry, content in zip(entries, hashes, strict=True):
        digest.update(f"{entry.relative}\0{entry.label}\0{content}\n".encode())
    return digest.hexdigest()[:24]


def load_cache(path: Path) -> Dataset | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"][()]))
            x = np.asarray(data["x"], dtype=np.float32)
            y = np.asarray(data["y"], dtype=np.int32)
            file_ids = np.asarray(data["file_ids"], dtype=np.int32)
        if meta.get("format") != CACHE_FORMAT or x.shape[1:] != (STEPS, N_CLASSES):
            return None
        return Dataset(
            x=x,
            y=y,
            genres=tuple(meta["genres"]),
            file_ids=file_ids,
            files=tuple(meta["files"]),
            report=DatasetReport.from_dict(meta["report"]),
            fingerprint=str(meta["fingerprint"]),
            file_genres=tuple(meta["file_genres"]),
        )
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError):
        return None  # a damaged cache file is rebuilt, never trusted


_STALE_TEMP_S: Final = 600.0  # a cache temp file this old is a killed writer's leftover


def clean_stale_temps(folder: Path, now: float | None = None) -> list[Path]:
    """Remove cache temp files (``.dataset-*.tmp``) that killed builds left in ``folder``.

    One is stale when its writer (the pid in its name) is dead or it is older than
    ``_STALE_TEMP_S`` (a pid can be reused; names from older versions carry no pid).
    Best effort: errors are ignored (another build may be cleaning at the same time).
    """
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        temps = list(folder.glob(".dataset-*.tmp"))
    except OSError:
        return removed
    for temp in temps:
        parts = temp.name.split(".")  # '', 'dataset-FP', ['npz',] PID, RANDOM, 'tmp'
        pid = int(parts[-3]) if len(parts) >= 5 and parts[-3].isdigit() else None
        try:
            info = temp.lstat()
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        fresh = now - info.st_mtime < _STALE_TEMP_S
        if fresh and (pid is None or pid_alive(pid)):
            continue
        with contextlib.suppress(OSError):
            temp.unlink()
            removed.append(temp)
    return removed


def save_cache(path: Path, dataset: Dataset) -> bool:
    """Write the cache atomically (:func:`~rhythmcan_cli.atomic.atomic_write`); False when
    the folder is not writable or the disk is full (a build never fails for its cache)."""
    meta = {
        "format": CACHE_FORMAT,
        "genres": list(dataset.genres),
        "files": list(dataset.files),
        "file_genres": list(dataset.file_genres),
        "fingerprint": dataset.fingerprint,
        "report": dataset.report.to_dict(),
    }
    buffer = io.BytesIO()
    np.savez(
        buffer,
        x=dataset.x,
        y=dataset.y,
        file_ids=dataset.file_ids,
        meta=np.array(json.dumps(meta)),
    )
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(path.parent)
    try:
        atomic_write(path, buffer.getvalue())
    except OutputError:
        return False
    return True
