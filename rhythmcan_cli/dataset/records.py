"""What a dataset build returns: :class:`Dataset` (windows, genre ids, files), its
:class:`DatasetReport` (files read and skipped, with the reasons), genre selection and the
split by file.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.grid import FloatArray

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
