"""Texture figures on synthetic sets whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.evaluation.texture import (
    ROLL_LENGTH,
    compare,
    longest_runs,
    run_velocity_change,
    texture_stats,
)
from rhythmcan_cli.grid import CLASS_NAMES

KICK, SNARE, HAT, MID_TOM = (
    CLASS_NAMES.index(c) for c in ("kick", "snare", "closed_hat", "mid_tom")
)


def rock_beat(n: int, rng: np.random.Generator) -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4, accented 8th hats (loud/soft): all different."""
    x = np.zeros((n, 32, 9), np.float32)
    x[:, ::8, KICK] = 0.9
    x[:, 4::8, SNARE] = 0.9
    x[:, ::2, HAT] = np.where(np.arange(16) % 2 == 0, 0.9, 0.5)
    for i in range(n):  # make every grid distinct: one ghost kick at a pattern-specific step
        x[i, 1 + 2 * (i % 16), KICK] = 0.6
        x[i, 3 + 2 * ((i // 16) % 14), SNARE] = 0.4
    return x


def test_a_set_of_rolls_is_all_rolls_on_the_rolling_drum() -> None:
    x = np.zeros((10, 32, 9), np.float32)
    x[:5, 3 : 3 + ROLL_LENGTH, MID_TOM] = 0.7  # exactly a roll
    x[5:, 3 : 3 + ROLL_LENGTH - 1, MID_TOM] = 0.7  # one step short: no roll
    stats = texture_stats(x)
    assert stats.roll_share == 0.5
    assert stats.roll_drums == {"mid_tom": 0.5}
    assert stats.median_longest_run == pytest.approx((ROLL_LENGTH + ROLL_LENGTH - 1) / 2)
    assert stats.distinct_grids == 2
    assert stats.top_grid_share == 0.5
    assert stats.run_velocity_change == 0.0  # flat rolls
    assert longest_runs(x)[:, MID_TOM].tolist() == [8] * 5 + [7] * 5


def test_copies_are_one_grid_and_rock_beats_are_all_distinct() -> None:
    rng = np.random.default_rng(0)
    beats = rock_beat(64, rng)
    copies = np.repeat(beats[:1], 20, axis=0)
    assert texture_stats(copies).distinct_grids == 1
    assert texture_stats(copies).top_grid_share == 1.0
    stats = texture_stats(beats)
    assert stats.distinct_grids == 64
    assert stats.top_grid_share == pytest.approx(1 / 64)
    assert stats.kick_downbeats == 1.0
    assert stats.backbeat == 1.0
    assert stats.roll_share == 0.0
    # accented 8th hats are not consecutive steps; the ghost notes sit beside main hits
    assert stats.density["closed_hat"] == pytest.approx(0.5)


def test_downbeat_and_backbeat_need_both_bars() -> None:
    x = np.zeros((4, 32, 9), np.float32)
    x[0, [0, 16], KICK] = 1.0  # both bars
    x[1, [0], KICK] = 1.0  # first bar only
    x[2, [4, 12, 20, 28], SNARE] = 1.0  # backbeat in both bars
    x[3, [4, 12], SNARE] = 1.0  # first bar only
    stats = texture_stats(x)
    assert stats.kick_downbeats == 0.25
    assert stats.backbeat == 0.25


def test_accented_runs_change_velocity_and_values_below_threshold_are_no_hits() -> None:
    x = np.zeros((1, 32, 9), np.float32)
    x[0, :4, HAT] = [1.0, 0.5, 1.0, 0.5]
    assert run_velocity_change(x) == pytest.approx(0.5)
    quiet = np.full((2, 32, 9), 0.2, np.float32)  # all below the 0.25 evaluation threshold
    assert run_velocity_change(quiet) is None
    assert texture_stats(quiet).roll_share == 0.0
    assert texture_stats(quiet, threshold=0.1).roll_share == 1.0


def test_density_ratio_flags_drums_far_from_real() -> None:
    rng = np.random.default_rng(1)
    real = rock_beat(32, rng)
    generated = real.copy()
    generated[:, :, SNARE] = 0.0  # snare never plays: ratio 0
    generated[:, 1::2, HAT] = 0.8  # hats on every step: twice real's 8ths
    generated[:, 5, MID_TOM] = 0.8  # a drum real never plays: no ratio
    report = compare({"generated": generated, "real": real}, real="real")
    gen = report["generated"]
    assert gen.density_ratio["snare"] == 0.0
    assert gen.density_ratio["closed_hat"] == pytest.approx(2.0)
    assert gen.density_ratio["kick"] == pytest.approx(1.0)
    assert gen.density_ratio["mid_tom"] is None
    assert gen.flagged == ["snare"]  # exactly 2x is in range; 0x is not
    assert report["real"].flagged == []
    assert gen.roll_drums == {"closed_hat": 1.0}
    with pytest.raises(DataError, match="no set named"):
        compare({"generated": generated}, real="real")
