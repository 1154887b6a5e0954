"""OSA pattern distances: the vectorised paths agree with a plain reference implementation."""

from __future__ import annotations

import numpy as np
import pytest

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.evaluation.distance import (
    MAX_DISTANCE,
    distance_matrix,
    diversity,
    mean_distance,
    mean_distance_table,
    nearest_distances,
    osa_reference,
    pattern_distance_reference,
    row_codes,
)


def random_patterns(n: int, seed: int, density: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hits = rng.random((n, 32, 9)) < density
    return (hits * rng.uniform(0.3, 1.0, hits.shape)).astype(np.float32)


def levenshtein_reference(a: list[int], b: list[int]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def test_reference_osa_counts_an_adjacent_swap_as_one_edit() -> None:
    a = [0, 1, 1, 0]
    b = [1, 0, 1, 0]
    assert osa_reference(a, b) == 1
    assert levenshtein_reference(a, b) == 2
    # OSA is restricted: 'CA' -> 'ABC' is 3 (unrestricted Damerau-Levenshtein would say 2).
    assert osa_reference([2, 0], [0, 1, 2]) == 3


def test_known_transposition_in_a_pattern() -> None:
    p = np.zeros((32, 9), np.float32)
    p[[0, 8, 16, 24], 0] = 1.0
    q = p.copy()
    q[[8, 9], 0] = q[[9, 8], 0]  # the kick on step 8 moves to step 9: one swap
    assert pattern_distance_reference(p, q) == 1
    assert distance_matrix(p[None], q[None])[0, 0] == 1


def test_threshold_is_strict_at_0_25() -> None:
    p = np.zeros((32, 9), np.float32)
    q = p.copy()
    q[0, 0] = 0.25  # not a hit at the evaluation threshold
    q[1, 1] = 0.26  # a hit
    assert distance_matrix(p, q)[0, 0] == 1


def test_matrix_matches_the_reference_on_random_pairs_with_transpositions() -> None:
    a = random_patterns(40, 1)
    rng = np.random.default_rng(2)
    # b: copies of a with adjacent swaps and flips, plus unrelated patterns.
    b = a.copy()
    for i in range(len(b)):
        for _ in range(rng.integers(1, 5)):
            k, t = rng.integers(9), rng.integers(31)
            b[i, [t, t + 1], k] = b[i, [t + 1, t], k]
        if i % 3 == 0:
            b[i, rng.integers(32), rng.integers(9)] = 1.0
    b = np.concatenate([b, random_patterns(25, 3, 0.1)])
    matrix = distance_matrix(a, b)
    assert matrix.shape == (40, 65)
    for i in range(len(a)):
        for j in rng.choice(len(b), 6, replace=False):
            assert matrix[i, j] == pattern_distance_reference(a[i], b[j]), (i, j)
        assert matrix[i, i] == pattern_distance_reference(a[i], b[i])


def test_boolean_hits_are_taken_as_is() -> None:
    a = random_patterns(5, 4)
    np.testing.assert_array_equal(distance_matrix(a, a), distance_matrix(a > 0.25, a > 0.25))


def test_a_set_against_itself() -> None:
    a = random_patterns(30, 5)
    matrix = distance_matrix(a)
    assert np.all(np.diag(matrix) == 0)
    np.testing.assert_array_equal(matrix, matrix.T)
    best, where = nearest_distances(a, a)
    assert np.all(best == 0)
    np.testing.assert_array_equal(where, np.arange(30))


def test_means_equal_the_matrix_means() -> None:
    a = random_patterns(20, 6)
    b = np.concatenate([random_patterns(30, 7), a[:5]])
    assert mean_distance(a, b) == pytest.approx(float(distance_matrix(a, b).mean()))
    full = distance_matrix(a).astype(float)
    assert diversity(a) == pytest.approx(full.sum() / (20 * 19))


def test_extremes() -> None:
    empty = np.zeros((1, 32, 9), np.float32)
    full = np.ones((1, 32, 9), np.float32)
    assert distance_matrix(empty, full)[0, 0] == MAX_DISTANCE
    copies = np.repeat(random_patterns(1, 8), 4, axis=0)
    assert diversity(copies) == 0.0


def test_nearest_finds_the_closest_reference() -> None:
    refs = random_patterns(50, 9)
    probe = refs[[7, 31]].copy()
    probe[0, 0, 0] = 1.0 - probe[0, 0, 0] if probe[0, 0, 0] > 0.25 else 1.0
    best, where = nearest_distances(probe, refs)
    assert list(where) == [7, 31]
    assert list(best) == [1, 0]


def test_row_codes_pack_steps_as_bits() -> None:
    hits = np.zeros((1, 32, 9), bool)
    hits[0, [0, 31], 2] = True
    assert row_codes(hits)[0, 2] == 1 + 2**31


def test_bad_input_is_one_clear_error() -> None:
    with pytest.raises(DataError, match="N x 32 x 9"):
        distance_matrix(np.zeros((3, 16, 9)))
    with pytest.raises(DataError, match="at least 2"):
        diversity(random_patterns(1, 0))


def test_whole_table_matches_cell_by_cell() -> None:
    rows = [random_patterns(12, 20), random_patterns(7, 21, 0.1), random_patterns(9, 22)]
    columns = [random_patterns(15, 23), rows[1][:3], random_patterns(1, 24)]
    means, div = mean_distance_table(rows, columns)
    for i, r in enumerate(rows):
        assert div[i] == pytest.approx(diversity(r))
        for j, c in enumerate(columns):
            assert means[i, j] == pytest.approx(float(distance_matrix(r, c).mean()))
