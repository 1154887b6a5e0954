"""Rhythm descriptors and overlapping areas on patterns whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.evaluation.descriptors import (
    DESCRIPTOR_NAMES,
    balance_evenness,
    compare,
    describe,
    mean_overlap,
    overlap_area,
    syncopation,
)


def line(*steps: int) -> np.ndarray:
    onsets = np.zeros((1, 32), bool)
    onsets[0, list(steps)] = True
    return onsets


def test_four_on_the_floor_is_even_balanced_and_unsyncopated() -> None:
    onsets = line(0, 4, 8, 12, 16, 20, 24, 28)
    balance, evenness = balance_evenness(onsets)
    assert balance[0] == pytest.approx(1.0)
    assert evenness[0] == pytest.approx(1.0)
    assert syncopation(onsets)[0] == 0


def test_longuet_higgins_syncopation_values() -> None:
    # An offbeat sixteenth (weight -4) held over the downbeat of bar 2 (weight 0): 4.
    assert syncopation(line(3))[0] == 4
    # Step 2 (eighth, -3) then step 4 (beat, -2): the rest on 3 is weaker, no syncopation;
    # step 4 is followed by silence through the next downbeat: 0 - (-2) = 2.
    assert syncopation(line(2, 4))[0] == 2
    # Anticipating beat 3 by a sixteenth (step 7, -4) with beat 3 (step 8, -1) silent.
    assert syncopation(line(0, 7, 16, 24))[0] == 3
    assert syncopation(np.zeros((1, 32), bool))[0] == 0


def test_clumped_onsets_are_unbalanced() -> None:
    balance, evenness = balance_evenness(line(0, 1, 2))
    assert balance[0] < 0.05
    assert evenness[0] < 0.5


def test_describe_columns() -> None:
    p = np.zeros((2, 32, 9), np.float32)
    p[0, ::2, 2] = 0.9  # 16 closed hats
    p[0, ::8, 0] = 0.2  # below the 0.25 threshold: not counted
    table = describe(p)
    assert table.shape == (2, len(DESCRIPTOR_NAMES))
    row = dict(zip(DESCRIPTOR_NAMES, table[0], strict=True))
    assert row["density_closed_hat"] == 0.5
    assert row["density_kick"] == 0.0
    assert row["density"] == pytest.approx(16 / 288)
    assert row["evenness"] == pytest.approx(1.0)
    assert table[1, 0] == 0.0


def test_overlap_of_a_set_with_itself_is_one() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=200)
    assert overlap_area(values, values) == pytest.approx(1.0)
    constant = np.full(50, 0.25)
    assert overlap_area(constant, constant) == pytest.approx(1.0)


def test_overlap_falls_as_distributions_separate() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0, 1, 500)
    near = overlap_area(a, rng.normal(0.5, 1, 500))
    far = overlap_area(a, rng.normal(10, 1, 500))
    assert 0.6 < near < 0.95
    assert far < 0.01


def test_compare_a_set_with_itself() -> None:
    rng = np.random.default_rng(2)
    patterns = (rng.random((60, 32, 9)) < 0.2).astype(np.float32)
    result = compare(patterns, patterns)
    assert set(result) == set(DESCRIPTOR_NAMES)
    assert mean_overlap(result) == pytest.approx(1.0)
    assert result["density"]["generated_mean"] == result["density"]["real_mean"]


def test_too_few_values_is_a_data_error() -> None:
    with pytest.raises(DataError, match="at least 2"):
        overlap_area([1.0], [1.0, 2.0])
