"""Pattern distances of the paper's evaluation (method.md section 6), vectorised.

The distance between two drum patterns is the sum over the 9 instruments of the
optimal-string-alignment (restricted Damerau-Levenshtein) distance between their
32-step binary rows, binarised at 0.25: an integer in 0..288.

Why it is fast: an instrument row is 32 bits, and real or generated sets repeat rows a
lot (empty toms, the same hi-hat figure), so each instrument's distances are computed once
per pair of *distinct* rows with rapidfuzz's bit-parallel OSA (``process.cdist``, all
cores) and then gathered into the pattern x pattern matrix. Means over two sets need only
the distinct rows and their counts, never the full matrix.

rapidfuzz is imported inside the functions that need it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.grid import EVAL_THRESHOLD, N_CLASSES, STEPS, binarize
from rhythmcan_cli.progress import ProgressCallback, report

IntArray = npt.NDArray[np.int64]
MAX_DISTANCE = STEPS * N_CLASSES
"""Largest possible pattern distance (288)."""

_ROW_CHUNK = 64
"""Rows per gathered block: small blocks stay in cache (3x faster than 512 here)."""


def osa_reference(a: Sequence[int], b: Sequence[int]) -> int:
    """Optimal string alignment distance by the textbook dynamic programme (slow; for tests).

    Insertions, deletions and substitutions cost 1; swapping two adjacent symbols costs 1,
    but no substring is edited twice (unlike unrestricted Damerau-Levenshtein).
    """
    n, m = len(a), len(b)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, d[i - 2][j - 2] + 1)
            d[i][j] = best
    return d[n][m]


def pattern_distance_reference(
    p: npt.ArrayLike, q: npt.ArrayLike, threshold: float = EVAL_THRESHOLD
) -> int:
    """The original approach: one Python-level OSA call per instrument (for tests, benchmarks)."""
    hp = binarize(p, threshold)
    hq = binarize(q, threshold)
    return sum(
        osa_reference(hp[:, k].astype(int).tolist(), hq[:, k].astype(int).tolist())
        for k in range(N_CLASSES)
    )


def _as_hits(patterns: npt.ArrayLike, threshold: float, what: str) -> npt.NDArray[np.bool_]:
    """Boolean (N, 32, 9) hits from float patterns (or already boolean hits)."""
    array = np.asarray(patterns)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (STEPS, N_CLASSES):
        raise DataError(
            f"{what} must be N x {STEPS} x {N_CLASSES} patterns, got shape {array.shape}"
        )
    if array.dtype == np.bool_:
        return array
    return binarize(array, threshold)


def row_codes(hits: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint32]:
    """Each instrument row as a 32-bit code: (N, 32, 9) bool -> (N, 9) uint32 (bit t = step t)."""
    packed = np.packbits(np.ascontiguousarray(hits.transpose(0, 2, 1)), axis=2, bitorder="little")
    codes: npt.NDArray[np.uint32] = packed.view("<u4")[:, :, 0].astype(np.uint32)
    return codes


def _code_strings(codes: npt.NDArray[np.uint32]) -> list[bytes]:
    """32-byte strings of b'0'/b'1' for rapidfuzz, one per code."""
    bits = (codes[:, None] >> np.arange(STEPS, dtype=np.uint32)) & 1
    chars = (bits.astype(np.uint8) + ord("0")).tobytes()  # bytes: 25 % faster than str
    return [chars[i * STEPS : (i + 1) * STEPS] for i in range(len(codes))]


def _osa_table(
    left: npt.NDArray[np.uint32], right: npt.NDArray[np.uint32], workers: int
) -> npt.NDArray[np.uint8]:
    """OSA distances between every pair of distinct row codes (rapidfuzz, all cores)."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    table: npt.NDArray[np.uint8] = process.cdist(
        _code_strings(left),
        _code_strings(right),
        scorer=OSA.distance,
        dtype=np.uint8,
        workers=workers,
    )
    return table


def osa_to_row(row: np.uint32, codes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
    """OSA distance of one row code to each of ``codes`` (one thread: the small searches of
    ``sample --like`` call it many times, where a thread pool costs more than it saves)."""
    distances: npt.NDArray[np.uint8] = _osa_table(np.asarray([row], dtype=np.uint32), codes, 1)[0]
    return distances


@dataclass(frozen=True)
class _Instrument:
    """One instrument's distinct rows on both sides, the inverse indices and their table."""

    left_index: IntArray
    right_index: IntArray
    left_counts: IntArray
    right_counts: IntArray
    table: npt.NDArray[np.uint8]


def _instruments(
    a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_], workers: int
) -> list[_Instrument]:
    codes_a, codes_b = row_codes(a), row_codes(b)
    result = []
    for k in range(N_CLASSES):
        ua, ia, ca = np.unique(codes_a[:, k], return_inverse=True, return_counts=True)
        ub, ib, cb = np.unique(codes_b[:, k], return_inverse=True, return_counts=True)
        result.append(
            _Instrument(
                ia.reshape(-1).astype(np.int64),
                ib.reshape(-1).astype(np.int64),
                ca.astype(np.int64),
                cb.astype(np.int64),
                _osa_table(ua, ub, workers),
            )
        )
    return result


def distance_matrix(
    a: npt.ArrayLike,
    b: npt.ArrayLike | None = None,
    *,
    threshold: float = EVAL_THRESHOLD,
    workers: int = -1,
    progress: ProgressCallback | None = None,
) -> npt.NDArray[np.uint16]:
    """All pattern distances, shape (len(a), len(b)), uint16 in 0..288 (b defaults to a).

    Memory is 2 bytes per pair (1,000 x 20,000 = 40 MB); for nearest neighbours or means
    over large sets use :func:`nearest_distances` / :func:`mean_distance` instead.
    """
    ha = _as_hits(a, threshold, "the first pattern set")
    hb = ha if b is None else _as_hits(b, threshold, "the second pattern set")
    result = np.zeros((len(ha), len(hb)), dtype=np.uint16)
    for start, stop, block in _blocks(ha, hb, workers, progress, "distances"):
        result[start:stop] = block
    return result


def _blocks(
    ha: npt.NDArray[np.bool_],
    hb: npt.NDArray[np.bool_],
    workers: int,
    progress: ProgressCallback | None,
    task: str,
) -> Iterator[tuple[int, int, npt.NDArray[np.uint16]]]:
    """Yield (start, stop, distances of rows start:stop of ``ha`` against all of ``hb``)."""
    n, m = len(ha), len(hb)
    if not n or not m:
        return
    instruments = _instruments(ha, hb, workers)
    report(progress, task, 0, n)
    buffer = np.empty((_ROW_CHUNK, m), dtype=np.uint8)
    for start in range(0, n, _ROW_CHUNK):
        stop = min(start + _ROW_CHUNK, n)
        block = np.zeros((stop - start, m), dtype=np.uint16)
        part = buffer[: stop - start]
        for inst in instruments:
            np.take(inst.table[inst.left_index[start:stop]], inst.right_index, axis=1, out=part)
            block += part
        if stop % (16 * _ROW_CHUNK) == 0 or stop == n:
            report(progress, task, stop, n)
        yield start, stop, block


def nearest_distances(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    threshold: float = EVAL_THRESHOLD,
    workers: int = -1,
    progress: ProgressCallback | None = None,
) -> tuple[npt.NDArray[np.uint16], IntArray]:
    """For each pattern of ``a``: its smallest distance to ``b`` and the index of that neighbour."""
    ha = _as_hits(a, threshold, "the generated patterns")
    hb = _as_hits(b, threshold, "the reference patterns")
    if not len(hb):
        raise DataError("no reference patterns to find nearest neighbours in")
    best = np.zeros(len(ha), dtype=np.uint16)
    where = np.zeros(len(ha), dtype=np.int64)
    for start, stop, block in _blocks(ha, hb, workers, progress, "nearest neighbours"):
        index = block.argmin(axis=1)
        where[start:stop] = index
        best[start:stop] = block[np.arange(stop - start), index]
    return best, where


def mean_distance(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    threshold: float = EVAL_THRESHOLD,
    workers: int = -1,
) -> float:
    """Mean distance over all pairs (x in a, y in b): the paper's table cell.

    Exact, and computed from distinct rows and their counts only, so it costs the same
    for 20,000 reference patterns as for a few hundred distinct ones.
    """
    ha = _as_hits(a, threshold, "the first pattern set")
    hb = _as_hits(b, threshold, "the second pattern set")
    if not len(ha) or not len(hb):
        raise DataError("a mean distance needs at least one pattern on each side")
    total = 0.0
    for inst in _instruments(ha, hb, workers):
        # float32 is exact here: a row sum is at most 32 x len(b) < 2**24 for len(b) < 500k.
        per_left = inst.table.astype(np.float32) @ inst.right_counts.astype(np.float32)
        total += float(inst.left_counts.astype(np.float64) @ per_left.astype(np.float64))
    return total / (len(ha) * len(hb))


def diversity(a: npt.ArrayLike, *, threshold: float = EVAL_THRESHOLD, workers: int = -1) -> float:
    """Mean distance over all pairs of different patterns within one set (i != j).

    Self-pairs (distance 0) are left out, so a set of distinct copies of one pattern
    scores 0 and two different patterns score their distance.
    """
    ha = _as_hits(a, threshold, "the pattern set")
    n = len(ha)
    if n < 2:
        raise DataError(f"diversity needs at least 2 patterns, got {n}")
    # The diagonal contributes 0 to the all-pairs sum, so divide by n(n-1) instead of n^2.
    return mean_distance(ha, ha, workers=workers) * n * n / (n * (n - 1))


def mean_distance_table(
    rows: Sequence[npt.ArrayLike],
    columns: Sequence[npt.ArrayLike],
    *,
    threshold: float = EVAL_THRESHOLD,
    workers: int = -1,
    progress: ProgressCallback | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The paper's whole table: mean distance of every row set to every column set, and the
    diversity (mean distance over pairs i != j) within every row set.

    Returns ``(means (len(rows), len(columns)), diversity (len(rows),))``. The row sets and
    the column sets are each pooled, so each instrument needs one OSA table over their
    distinct rows instead of one per cell; the cells are count-weighted sums of that table.
    """
    hr = [_as_hits(r, threshold, "a row set") for r in rows]
    hc = [_as_hits(c, threshold, "a column set") for c in columns]
    sizes_r = np.array([len(h) for h in hr])
    sizes_c = np.array([len(h) for h in hc])
    if not len(hr) or not len(hc) or sizes_r.min() < 2 or sizes_c.min() < 1:
        raise DataError(
            "a distance table needs at least 2 patterns in every row set and 1 in every column"
        )
    left = np.concatenate(hr)
    right = np.concatenate(hc)
    left_group = np.repeat(np.arange(len(hr)), sizes_r)
    right_group = np.repeat(np.arange(len(hc)), sizes_c)
    codes_l, codes_r = row_codes(left), row_codes(right)
    n_right = len(hc)
    sums = np.zeros((len(hr), n_right), dtype=np.float64)
    report(progress, "distance table", 0, N_CLASSES)
    for k in range(N_CLASSES):
        ul, il = np.unique(codes_l[:, k], return_inverse=True)
        ur, ir = np.unique(codes_r[:, k], return_inverse=True)
        count_l = np.zeros((len(hr), len(ul)), dtype=np.float64)
        np.add.at(count_l, (left_group, il.reshape(-1)), 1.0)
        count_r = np.zeros((len(ur), n_right), dtype=np.float64)
        np.add.at(count_r, (ir.reshape(-1), right_group), 1.0)
        table = _osa_table(ul, ur, workers)
        for start in range(0, len(ul), 1024):
            part = table[start : start + 1024].astype(np.float64) @ count_r
            sums += count_l[:, start : start + 1024] @ part
        report(progress, "distance table", k + 1, N_CLASSES)
    means = sums / np.outer(sizes_r, sizes_c)
    # Within-set pairs: per set, far fewer distinct pairs than pooling all rows with all rows.
    within = np.array([diversity(h, workers=workers) for h in hr], dtype=np.float64)
    return means, within
