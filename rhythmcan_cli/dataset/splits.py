"""Held-out splits that do not leak: by a label-CSV column, and counting copied windows.

``dataset.split_by_file`` holds out whole files, which is enough when every file is a
different performance (the Groove MIDI Dataset). In style libraries the same groove is
often saved in several files (an intro, a variation, the main groove again): a held-out
window is then an exact copy of a training one and every novelty figure is inflated. So:

* :func:`file_groups` reads a column of the labels CSV (``session``, a style-file group,
  or a ready ``split`` column) for each file of a dataset;
* :func:`split_by_group` holds out whole groups, like ``split_by_file`` holds out files,
  or takes the held-out part straight from a column's values (``train``/``test``...);
* :func:`copies_of` marks the held-out windows that are exact copies of training windows
  (after binarising), so ``evaluate`` can warn with their share and drop them (``--dedupe``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.grid import EVAL_THRESHOLD
from rhythmcan_cli.vocabulary import PATH_COLUMN

if TYPE_CHECKING:
    from rhythmcan_cli.dataset import Dataset

DEFAULT_SHARE: Final = 0.1
"""Share held out when neither the model nor the options say."""
READY_HELD = frozenset({"validation", "valid", "val", "test", "eval", "dev", "held-out"})
"""Values that, beside ``train``, make a column a ready split (see :func:`ready_split`)."""


def file_groups(
    data: Dataset, labels_csv: Path, column: str, *, path_column: str = PATH_COLUMN
) -> list[str]:
    """The value of ``column`` for each of ``data.files`` (in that order).

    DataError names the CSV's columns when ``column`` is not one of them, and counts the
    files the CSV does not list (or lists with an empty value).
    """
    labels_csv = Path(labels_csv)
    from rhythmcan_cli.dataset import MAX_CSV_BYTES
    from rhythmcan_cli.inputs import read_file

    try:  # bounded: a regular file of at most MAX_CSV_BYTES (never a FIFO or a device)
        text = read_file(labels_csv, limit=MAX_CSV_BYTES, kind="a labels CSV").decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{labels_csv} is not UTF-8 text; save it as UTF-8 CSV") from None
    try:
        reader = csv.DictReader(io.StringIO(text))
        columns = [c for c in (reader.fieldnames or []) if c is not None]
        for name, role in ((column, "--split-by"), (path_column, "path")):
            if name not in columns:
                raise DataError(
                    f"{labels_csv.name} has no {role} column {name!r}; its columns are: "
                    + ", ".join(columns)
                )
        values = {
            Path((row.get(path_column) or "").strip()).as_posix(): (row.get(column) or "").strip()
            for row in reader
        }
    except csv.Error as error:
        raise DataError(f"{labels_csv} is not valid CSV: {error}") from None
    groups = [values.get(Path(f).as_posix(), "") for f in data.files]
    missing = sum(1 for g in groups if not g)
    if missing:
        raise DataError(
            f"{missing} of the {len(groups)} files have no {column!r} value in "
            f"{labels_csv.name}: fill it in or split by another column"
        )
    return groups


def split_by_group(
    data: Dataset,
    groups: Sequence[str],
    *,
    validation: float = 0.1,
    seed: int = 0,
    held_values: Sequence[str] = (),
) -> tuple[Dataset, Dataset]:
    """Training and held-out parts that never share a group (``groups[i]`` is file i's).

    With ``held_values`` the held-out part is the files whose group is one of them (a ready
    ``split`` column). Otherwise whole groups are drawn with ``seed`` until about
    ``validation`` of the windows are held out.
    """
    if len(groups) != len(data.files):
        raise DataError(f"{len(groups)} group values for {len(data.files)} files")
    file_group = np.asarray(groups, dtype=object)
    window_group = file_group[data.file_ids] if len(data) else np.zeros(0, dtype=object)
    if held_values:
        held_mask = np.isin(window_group.astype(str), np.asarray(list(held_values), dtype=str))
    else:
        if not 0.0 < validation < 1.0:
            raise DataError(f"the held-out share must lie between 0 and 1, got {validation}")
        names, counts = np.unique(window_group.astype(str), return_counts=True)
        if len(names) < 2:
            raise DataError(
                f"every file has the same value {names[0] if len(names) else ''!r} in the "
                "split column: it needs 2+ groups to hold one out"
            )
        order = np.random.default_rng(seed).permutation(len(names))
        target = validation * counts.sum()
        chosen: list[str] = []
        taken = 0
        for position in order:
            if taken >= target or len(chosen) == len(names) - 1:
                break
            if taken + counts[position] > 1.5 * target:
                continue  # a big group would overshoot: try a smaller one
            chosen.append(str(names[position]))
            taken += int(counts[position])
        if not chosen:  # every group is big: hold out the smallest
            chosen.append(str(names[int(np.argmin(counts))]))
        held_mask = np.isin(window_group.astype(str), np.asarray(chosen, dtype=str))
    return data.subset(~held_mask), data.subset(held_mask)


def held_out_split(
    data: Dataset,
    *,
    card: Any = None,
    seed: int = 0,
    validation: float | None = None,
    split_by: str | None = None,
) -> tuple[Dataset, Dataset, str]:
    """Training part, held-out part, and a sentence saying which files are held out.

    ``split_by`` names a labels-CSV column: a ready split (``train`` and validation/test
    values) holds out everything but ``train``; any other column holds out whole groups
    (about ``validation``, default 0.1, of the windows, drawn with ``seed``). Without it,
    whole files are held out: the model's own validation files when ``card`` says it was
    trained on this very data with a recorded seed and share, else drawn with ``seed``.
    """
    from rhythmcan_cli.dataset import split_by_file

    if validation is not None and not 0.0 < validation < 1.0:
        raise DataError(f"--validation must lie between 0 and 1 (exclusive), got {validation}")
    if split_by is not None:
        labels = data.report.labels_csv
        if not labels:
            raise DataError(
                f"--split-by {split_by} reads a column of the labels CSV: pass --labels CSV"
            )
        path_column = str(data.report.options.get("path_column", PATH_COLUMN))
        groups = file_groups(data, Path(labels), split_by, path_column=path_column)
        ready = ready_split(groups)
        if ready and validation is None:
            train, held = split_by_group(data, groups, held_values=ready)
            return train, held, f"the files whose {split_by!r} is {' or '.join(ready)}"
        share = DEFAULT_SHARE if validation is None else validation
        train, held = split_by_group(data, groups, validation=share, seed=seed)
        return (
            train,
            held,
            f"whole {split_by!r} groups (~{share:.0%} of the windows, seed {seed})",
        )
    if validation is None and card is not None:
        record = card.training
        if (
            card.data_fingerprint == data.fingerprint
            and isinstance(record.get("seed"), int)
            and record.get("validation")
        ):
            share = float(record["validation"])
            train, held = split_by_file(data, validation=share, seed=int(record["seed"]))
            return (
                train,
                held,
                f"the model's own validation files ({share:.0%}, seed {record['seed']})",
            )
    share = DEFAULT_SHARE if validation is None else validation
    train, held = split_by_file(data, validation=share, seed=seed)
    return train, held, f"{share:.0%} of the files, drawn with seed {seed}"


def _keys(x: npt.ArrayLike, threshold: float) -> list[bytes]:
    hits = np.asarray(x) > threshold
    return [np.packbits(p).tobytes() for p in hits]


def copies_of(
    held: npt.ArrayLike, train: npt.ArrayLike, *, threshold: float = EVAL_THRESHOLD
) -> npt.NDArray[np.bool_]:
    """For each held-out pattern: is it (binarised) identical to some training pattern?"""
    known = set(_keys(train, threshold))
    return np.asarray([key in known for key in _keys(held, threshold)], dtype=bool)


def ready_split(groups: Sequence[str]) -> tuple[str, ...]:
    """The held-out values when a column is a ready split, else ().

    A column whose values include ``train`` and otherwise only validation/test names (Groove's
    ``split``) is a ready split: everything that is not ``train`` is held out.
    """
    values = {g.lower() for g in groups}
    held = values - {"train"}
    if "train" in values and held and held <= READY_HELD:
        return tuple(sorted({g for g in groups if g.lower() in held}))
    return ()


__all__ = ["copies_of", "file_groups", "held_out_split", "ready_split", "split_by_group"]
