"""Labelled datasets of 2-bar drum windows from MIDI folders, with an npz cache and a report.

Two layouts: ``DATA_DIR/<genre>/**/*.mid`` (the genre is the first sub-folder), or
``DATA_DIR`` plus a labels CSV naming each file's path and genre (the Groove MIDI Dataset's
``info.csv`` works as it is). Files that cannot be used are skipped and counted with a reason;
they never abort a build. A build is cached under a key made of every input file's bytes, the
CSV's bytes and every option, so a second build with the same inputs loads in a blink.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import hashlib
import io
import json
import multiprocessing
import os
import signal
import stat
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.atomic import pid_alive
from rhythmcan_cli.errors import DataError, MidiError, UsageError
from rhythmcan_cli.grid import N_CLASSES, PITCH_TO_CLASS, STEPS, FloatArray
from rhythmcan_cli.inputs import InputError, check_regular, open_regular, read_file
from rhythmcan_cli.midi import MAX_FILE_BYTES, read_midi_windows
from rhythmcan_cli.progress import ProgressCallback, report

CACHE_FORMAT: Final = 4
"""Bump when the reader or the cache layout changes: old cache files are then ignored."""
MIDI_SUFFIXES: Final = (".mid", ".midi")
MAX_CSV_BYTES: Final = 64 * 1024 * 1024
"""Largest labels CSV read (the Groove MIDI Dataset's info.csv is 0.2 MB)."""
SERIAL_BELOW: Final = 48
"""Fewer files than this are parsed in this process: starting workers would cost more."""

# Skip reasons (the short categories counted in reports)
REASON_CORRUPT: Final = "corrupt or unreadable MIDI"
REASON_EMPTY: Final = "empty file"
REASON_TOO_LARGE: Final = "too large"
REASON_UNREADABLE: Final = "cannot be opened"
REASON_NOT_REGULAR: Final = "not a regular file (a FIFO or a device)"
REASON_NO_DRUMS: Final = "no drum notes on the channel"
REASON_NO_44: Final = "no 4/4 stretch of 2 bars"
REASON_FEW_ONSETS: Final = "no window with enough hits"
REASON_ONLY_UNMAPPED: Final = "only pitches outside the 9 drum classes"
REASON_MISSING: Final = "listed in the CSV but missing"
REASON_NO_LABEL: Final = "no label"
REASON_NO_GENRE: Final = "not inside a genre folder"
REASON_DUPLICATE: Final = "listed twice in the CSV"


@dataclass(frozen=True)
class SkippedFile:
    """A file left out of a dataset: its path (relative to the data folder) and why."""

    path: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class DatasetReport:
    """What a build read, skipped and found; ``to_dict()`` is what ``--json`` prints."""

    data_dir: str
    labels_csv: str | None
    files_found: int
    files_read: int
    skipped: tuple[SkippedFile, ...]
    windows_per_genre: dict[str, int]
    files_per_genre: dict[str, int]
    unmapped: dict[int, int]
    notes: int
    options: dict[str, Any]
    fingerprint: str = ""
    from_cache: bool = False
    cache_file: str | None = None
    seconds: float = 0.0

    @property
    def files_skipped(self) -> int:
        """Number of files left out."""
        return len(self.skipped)

    @property
    def windows(self) -> int:
        """Total number of windows."""
        return sum(self.windows_per_genre.values())

    def skip_reasons(self) -> dict[str, int]:
        """Skipped files per reason, most frequent first."""
        return dict(Counter(s.reason for s in self.skipped).most_common())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (pitches become string keys)."""
        return {
            "data_dir": self.data_dir,
            "labels_csv": self.labels_csv,
            "files_found": self.files_found,
            "files_read": self.files_read,
            "files_skipped": self.files_skipped,
            "skip_reasons": self.skip_reasons(),
            "skipped": [
                {"path": s.path, "reason": s.reason, "detail": s.detail} for s in self.skipped
            ],
            "windows": self.windows,
            "windows_per_genre": dict(self.windows_per_genre),
            "files_per_genre": dict(self.files_per_genre),
            "unmapped_pitches": {str(p): n for p, n in sorted(self.unmapped.items())},
            "notes": self.notes,
            "options": dict(self.options),
            "fingerprint": self.fingerprint,
            "from_cache": self.from_cache,
            "cache_file": self.cache_file,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetReport:
        """Inverse of :meth:`to_dict` (used by the cache)."""
        return cls(
            data_dir=str(data["data_dir"]),
            labels_csv=data["labels_csv"],
            files_found=int(data["files_found"]),
            files_read=int(data["files_read"]),
            skipped=tuple(
                SkippedFile(str(s["path"]), str(s["reason"]), str(s["detail"]))
                for s in data["skipped"]
            ),
            windows_per_genre={str(k): int(v) for k, v in data["windows_per_genre"].items()},
            files_per_genre={str(k): int(v) for k, v in data["files_per_genre"].items()},
            unmapped={int(k): int(v) for k, v in data["unmapped_pitches"].items()},
            notes=int(data["notes"]),
            options=dict(data["options"]),
            fingerprint=str(data["fingerprint"]),
            from_cache=bool(data["from_cache"]),
            cache_file=data["cache_file"],
            seconds=float(data["seconds"]),
        )


@dataclass(frozen=True)
class Dataset:
    """Windows ``x (N, 32, 9)``, genre ids ``y (N,)`` into ``genres``, and their source files.

    ``file_ids`` index into ``files`` (paths relative to the data folder). ``fingerprint``
    identifies the inputs and options (the cache key); a subset gets a derived fingerprint.
    """

    x: FloatArray
    y: npt.NDArray[np.int32]
    genres: tuple[str, ...]
    file_ids: npt.NDArray[np.int32]
    files: tuple[str, ...]
    report: DatasetReport
    fingerprint: str
    file_genres: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, mask_or_indices: npt.ArrayLike) -> Dataset:
        """The windows selected by a boolean mask or an index array (files and genres kept)."""
        selector = np.asarray(mask_or_indices)
        if selector.dtype == np.bool_:
            if selector.shape != (len(self),):
                raise DataError(f"a mask must have {len(self)} entries, got {selector.shape}")
            indices = np.flatnonzero(selector)
        else:
            indices = selector.astype(np.int64).ravel()
            if indices.size and (indices.min() < -len(self) or indices.max() >= len(self)):
                raise DataError(f"subset index out of range for {len(self)} windows")
        digest = hashlib.sha256(self.fingerprint.encode() + indices.tobytes()).hexdigest()[:12]
        return replace(
            self,
            x=self.x[indices],
            y=self.y[indices],
            file_ids=self.file_ids[indices],
            fingerprint=f"{self.fingerprint}-{digest}",
        )


# ----------------------------------------------------------------------------------------
# Finding the files and their labels


@dataclass(frozen=True)
class _Entry:
    relative: str
    path: Path
    label: str


def _is_midi(name: str) -> bool:
    return name.lower().endswith(MIDI_SUFFIXES)


def _folder_entries(data_dir: Path) -> tuple[list[_Entry], list[SkippedFile]]:
    """Files of ``data_dir/<genre>/**`` (hidden files and folders are ignored)."""
    entries: list[_Entry] = []
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
            entries.append(_Entry(relative, path, parts[0]))
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


def _csv_entries(
    data_dir: Path,
    labels_csv: Path,
    csv_bytes: bytes,
    path_column: str,
    label_column: str,
    primary_label: bool,
    where: Sequence[tuple[str, str]],
) -> tuple[list[_Entry], list[SkippedFile]]:
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

    entries: list[_Entry] = []
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
            entries.append(_Entry(relative, path, label))
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


# ----------------------------------------------------------------------------------------
# The cache


def default_cache_dir() -> Path:
    """``$RHYTHMCAN_CACHE`` or the platform's user cache folder for rhythmcan."""
    env = os.environ.get("RHYTHMCAN_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("rhythmcan"))


def _hash_file(path: Path) -> str:
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


def _fingerprint(
    entries: Sequence[_Entry], hashes: Sequence[str], csv_bytes: bytes, options: dict[str, Any]
) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"format": CACHE_FORMAT, "options": options}, sort_keys=True).encode())
    digest.update(json.dumps(sorted(PITCH_TO_CLASS.items())).encode())
    digest.update(hashlib.sha256(csv_bytes).digest())
    for entry, content in zip(entries, hashes, strict=True):
        digest.update(f"{entry.relative}\0{entry.label}\0{content}\n".encode())
    return digest.hexdigest()[:24]


def _load_cache(path: Path) -> Dataset | None:
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


def _clean_stale_temps(folder: Path, now: float | None = None) -> list[Path]:
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
        parts = temp.name.split(".")  # '', 'dataset-FP', PID, RANDOM, 'tmp'
        pid = int(parts[2]) if len(parts) == 5 and parts[2].isdigit() else None
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


def _save_cache(path: Path, dataset: Dataset) -> bool:
    """Write the cache atomically (temp file + rename); False when the folder is not writable."""
    meta = {
        "format": CACHE_FORMAT,
        "genres": list(dataset.genres),
        "files": list(dataset.files),
        "file_genres": list(dataset.file_genres),
        "fingerprint": dataset.fingerprint,
        "report": dataset.report.to_dict(),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _clean_stale_temps(path.parent)
        handle, temp = tempfile.mkstemp(
            prefix=f".{path.stem}.{os.getpid()}.", suffix=".tmp", dir=path.parent
        )
    except OSError:
        return False
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(
                stream,
                x=dataset.x,
                y=dataset.y,
                file_ids=dataset.file_ids,
                meta=np.array(json.dumps(meta)),
            )
        os.replace(temp, path)
        return True
    except OSError:
        Path(temp).unlink(missing_ok=True)
        return False
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class _FileResult:
    windows: FloatArray | None
    unmapped: dict[int, int]
    notes: int
    reason: str = ""
    detail: str = ""


def _read_one(job: tuple[str, int, int, int]) -> _FileResult:
    """Read one file in a worker; every failure becomes a skip reason, never an exception."""
    path_text, channel, hop, min_onsets = job
    path = Path(path_text)
    if _stopping:
        return _FileResult(None, {}, 0, REASON_UNREADABLE, "interrupted")
    try:
        size = os.stat(path).st_size
    except OSError as error:
        return _FileResult(None, {}, 0, REASON_UNREADABLE, error.strerror or str(error))
    try:
        check_regular(path)  # a FIFO would hang the read, a device never end
    except InputError as error:
        return _FileResult(None, {}, 0, REASON_NOT_REGULAR, str(error))
    if size == 0:
        return _FileResult(None, {}, 0, REASON_EMPTY)
    if size > MAX_FILE_BYTES:
        return _FileResult(None, {}, 0, REASON_TOO_LARGE, f"{size / 1e6:.1f} MB")
    try:
        found = read_midi_windows(path, channel=channel, hop=hop, min_onsets=min_onsets)
    except MidiError as error:
        reason = REASON_TOO_LARGE if "too large" in str(error) else REASON_CORRUPT
        return _FileResult(None, {}, 0, reason, str(error))
    except (MemoryError, RecursionError) as error:
        return _FileResult(None, {}, 0, REASON_CORRUPT, type(error).__name__)
    unmapped = dict(found.unmapped)
    if len(found.windows):
        return _FileResult(found.windows, unmapped, found.notes)
    if found.notes == 0:
        reason, detail = REASON_NO_DRUMS, f"channel {channel}"
    elif sum(unmapped.values()) == found.notes:
        pitches = ", ".join(str(p) for p in sorted(unmapped)[:8])
        reason, detail = REASON_ONLY_UNMAPPED, f"pitches {pitches}"
    elif found.steps_44 < STEPS:
        reason, detail = REASON_NO_44, f"{found.steps_44 / 16:g} bars of 4/4"
    else:
        reason, detail = REASON_FEW_ONSETS, f"fewer than {min_onsets} hits in every window"
    return _FileResult(None, unmapped, found.notes, reason, detail)


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork on Linux (fast, no re-import of the caller's script); spawn elsewhere.

    The forked workers only parse MIDI with mido and numpy; they never touch TensorFlow,
    the console or locks the parent may hold.
    """
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows
        return os.cpu_count() or 1


_stopping = False  # set in a pool worker by SIGTERM: skip the rest of its chunk


def _stop_soon(signum: int, frame: object) -> None:
    """SIGTERM in a pool worker: finish the current chunk at once (remaining files skipped).

    Ending a worker outright could cut a result message in half and leave the executor's
    manager thread (which the interpreter joins at exit) waiting on the pipe forever.
    """
    global _stopping
    _stopping = True


_PR_SET_PDEATHSIG: Final = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Make this pool worker end when ``parent`` dies, even by SIGKILL (best effort).

    A forked worker holds its own end of the call-queue pipe, so it never sees EOF and would
    otherwise wait forever. On Linux the kernel sends SIGKILL (prctl PR_SET_PDEATHSIG);
    elsewhere, or if that fails, a daemon thread watches ``os.getppid()``.
    """
    armed = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
        except (OSError, AttributeError, TypeError):
            armed = False
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    if armed:
        return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="rhythmcan-parent-watch", daemon=True).start()


def _worker_init(parent: int | None = None) -> None:
    """Pool worker start: die with the parent (``parent``: its pid), ignore Ctrl-C (SIGINT
    goes to the whole process group; the parent alone handles it and stops the workers), then
    take back the signals the parent blocked while forking."""
    if parent is not None:
        _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_soon)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _end_pool(pool: concurrent.futures.ProcessPoolExecutor, grace: float = 2.0) -> None:
    """Stop ``pool`` now (on Ctrl-C or any error) without waiting for its queued work.

    Queued chunks are cancelled and the workers get SIGTERM (they skip the rest of their
    chunk and exit); any still running after ``grace`` seconds are killed.
    ``shutdown(wait=True)`` (what ``with`` does) would read every queued file first.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError, AttributeError):
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()  # SIGKILL cannot be ignored: wait for it to land, even loaded
                process.join(timeout=30)


def _read_all(
    jobs: list[tuple[str, int, int, int]],
    workers: int | None,
    progress: ProgressCallback | None,
) -> list[_FileResult]:
    total = len(jobs)
    count = _available_cores() if workers is None else workers
    count = max(1, min(count, total))
    results: list[_FileResult] = []
    if count == 1 or total < SERIAL_BELOW:
        for done, job in enumerate(jobs, 1):
            results.append(_read_one(job))
            report(progress, "reading MIDI", done, total)
        return results
    chunksize = max(1, min(32, total // (count * 8)))
    masking = hasattr(signal, "pthread_sigmask")
    pool: concurrent.futures.ProcessPoolExecutor | None = None
    try:
        pool = concurrent.futures.ProcessPoolExecutor(
            count,
            mp_context=_pool_context(),
            initializer=_worker_init,
            initargs=(os.getpid(),),
        )
        # the workers are forked here: with SIGINT blocked, a Ctrl-C that lands before their
        # initializer ran waits (then is ignored) instead of killing them with a traceback
        if masking:
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            mapped = pool.map(_read_one, jobs, chunksize=chunksize)
        finally:
            if masking:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for done, result in enumerate(mapped, 1):
            results.append(result)
            report(progress, "reading MIDI", done, total)
        pool.shutdown(wait=True)
    except (concurrent.futures.process.BrokenProcessPool, OSError):
        if pool is not None:
            _end_pool(pool)
        # workers could not start or died (no /dev/shm, an unguarded __main__ under spawn,
        # a killed worker): finish the remaining files in this process
        for done, job in enumerate(jobs[len(results) :], len(results) + 1):
            results.append(_read_one(job))
            report(progress, "reading MIDI", done, total)
    except BaseException:  # Ctrl-C and the rest: end the workers now, never wait on them
        if pool is not None:
            _end_pool(pool)
        raise
    return results


def build_dataset(
    data_dir: Path,
    *,
    labels_csv: Path | None = None,
    path_column: str = "midi_filename",
    label_column: str = "style",
    primary_label: bool = True,
    where: Sequence[tuple[str, str]] = (),
    channel: int = 10,
    hop: int = 16,
    min_onsets: int = 5,
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
        entries, pre_skipped = _csv_entries(
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
        entries, pre_skipped = _folder_entries(data_dir)
        options = {"layout": "folders"}
    options.update({"channel": channel, "hop": hop, "min_onsets": min_onsets})

    hashes: list[str] = []
    for done, entry in enumerate(entries, 1):
        hashes.append(_hash_file(entry.path))
        report(progress, "checking files", done, len(entries))
    fingerprint = _fingerprint(entries, hashes, csv_bytes, options)

    cache_path: Path | None = None
    if cache_dir is not False:
        root = default_cache_dir() if cache_dir is None or cache_dir is True else Path(cache_dir)
        cache_path = root / "datasets" / f"dataset-{fingerprint}.npz"
        cached = _load_cache(cache_path) if cache_path.is_file() else None
        if cached is not None and cached.fingerprint == fingerprint:
            seconds = time.perf_counter() - started
            new_report = replace(
                cached.report, from_cache=True, cache_file=str(cache_path), seconds=seconds
            )
            return select_genres(replace(cached, report=new_report), genres, min_genre_windows)

    jobs = [(str(e.path), channel, hop, min_onsets) for e in entries]
    results = _read_all(jobs, workers, progress)

    skipped = list(pre_skipped)
    unmapped: Counter[int] = Counter()
    notes = 0
    kept: list[tuple[_Entry, FloatArray]] = []
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
    if cache_path is not None and _save_cache(cache_path, dataset):
        cache_file = str(cache_path)
    final_report = replace(
        result_report, cache_file=cache_file, seconds=time.perf_counter() - started
    )
    return select_genres(replace(dataset, report=final_report), genres, min_genre_windows)


def select_genres(
    dataset: Dataset, genres: Sequence[str] | None = None, min_windows: int = 0
) -> Dataset:
    """Keep the windows of ``genres`` (all when None) that have at least ``min_windows``.

    Genre ids are renumbered over the kept genres in sorted order, so a model trained on the
    result has exactly these genres. A requested genre that is absent raises DataError
    naming the genres that exist; so does a selection that leaves fewer than one genre.
    """
    if genres is None and min_windows <= 0:
        return dataset
    if min_windows < 0:
        raise UsageError(f"--min-genre-windows must be 0 or more, got {min_windows}")
    wanted = set(dataset.genres) if genres is None else {g.strip() for g in genres if g.strip()}
    unknown = sorted(wanted - set(dataset.genres))
    if unknown:
        raise DataError(
            f"no windows for genre(s) {', '.join(unknown)}; this data has: "
            + ", ".join(dataset.genres)
        )
    counts = {g: int((dataset.y == i).sum()) for i, g in enumerate(dataset.genres)}
    kept = tuple(sorted(g for g in wanted if counts[g] >= min_windows))
    if not kept:
        raise DataError(
            f"no genre has {min_windows} windows or more (largest: "
            f"{max(counts.values(), default=0)}); lower --min-genre-windows"
        )
    if kept == dataset.genres:
        return dataset
    old_ids = np.asarray([dataset.genres.index(g) for g in kept], dtype=np.int32)
    mask = np.isin(dataset.y, old_ids)
    remap = np.full(len(dataset.genres), -1, dtype=np.int32)
    remap[old_ids] = np.arange(len(kept), dtype=np.int32)
    chosen = dataset.subset(mask)
    new_report = replace(
        chosen.report,
        windows_per_genre={g: counts[g] for g in kept},
        files_per_genre={g: n for g, n in chosen.report.files_per_genre.items() if g in kept},
        options={**chosen.report.options, "genres": list(kept)},
    )
    return replace(chosen, y=remap[chosen.y], genres=kept, report=new_report)


def split_by_file(
    dataset: Dataset, validation: float = 0.1, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """Hold out whole files (about ``validation`` of each genre's windows) for validation.

    Windows of one file overlap, so a random window split would leak; files are drawn per
    genre with ``seed``. A genre with a single file stays entirely in training.
    """
    if not 0.0 <= validation < 1.0:
        raise UsageError(f"validation share must lie in [0, 1), got {validation}")
    rng = np.random.default_rng(seed)
    held: list[int] = []
    if validation > 0 and len(dataset):
        for genre in range(len(dataset.genres)):
            in_genre = dataset.y == genre
            ids, counts = np.unique(dataset.file_ids[in_genre], return_counts=True)
            if len(ids) < 2:
                continue
            order = rng.permutation(len(ids))
            target = validation * counts.sum()
            taken = 0
            kept_for_training = len(ids)
            for position in order:
                if taken >= target or kept_for_training == 1:  # one file stays for training
                    break
                size = int(counts[position])
                if taken and taken + size > 1.5 * target:
                    continue  # a long file would overshoot: try a shorter one
                held.append(int(ids[position]))
                taken += size
                kept_for_training -= 1
    mask = np.isin(dataset.file_ids, np.asarray(held, dtype=np.int32))
    return dataset.subset(~mask), dataset.subset(mask)
