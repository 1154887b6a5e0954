"""The loss-ratio pause rule (training/loop.py), as a pure function: method.md section 4."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rhythmcan_cli.training.loop import pauses


def test_the_winning_side_pauses_when_the_other_loss_is_ratio_times_larger() -> None:
    # D is winning (small loss): D sits out its next step so G catches up.
    assert pauses(d_loss=0.1, g_loss=0.6, ratio=5.0) == (True, False)
    # G is winning: G sits out.
    assert pauses(d_loss=0.6, g_loss=0.1, ratio=5.0) == (False, True)


def test_no_pause_within_the_ratio_or_at_it() -> None:
    assert pauses(d_loss=0.5, g_loss=0.5, ratio=5.0) == (False, False)
    assert pauses(d_loss=0.1, g_loss=0.5, ratio=5.0) == (False, False)  # exactly 5x: not above


@given(
    d=st.floats(min_value=1e-6, max_value=1e3),
    g=st.floats(min_value=1e-6, max_value=1e3),
    ratio=st.floats(min_value=1.01, max_value=100.0),
)
def test_never_both_sides_pause(d: float, g: float, ratio: float) -> None:
    pause_d, pause_g = pauses(d, g, ratio)
    assert not (pause_d and pause_g)
    assert pause_d == (g > ratio * d)


@pytest.mark.parametrize("ratio", [2.0, 5.0])
def test_pausing_is_symmetric(ratio: float) -> None:
    assert pauses(0.2, 1.0, ratio) == tuple(reversed(pauses(1.0, 0.2, ratio)))
