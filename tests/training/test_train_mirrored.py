"""MirroredStrategy over two logical CPU devices gives the single-device losses (subprocess).

Plain-GAN mode keeps it quick; the distributed code path (per-replica steps, global-batch
loss averaging, SUM reduction, mirrored optimizer updates) is the same for every mode.
"""

from __future__ import annotations

import pytest

from tests.conftest import subprocess_env
from tests.training.tiny_trainer_probe import run_probe


@pytest.mark.slow
def test_two_steps_under_mirrored_strategy_match_single_device() -> None:
    result = run_probe("mirrored", subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"), timeout=300)
    assert result["replicas"] == [1, 2]
    single, mirrored = result["single"], result["mirrored"]
    for a, b in zip(single, mirrored, strict=True):
        for x, y in zip(a, b, strict=True):
            # The generator's BatchNorm sees 4 patterns per replica instead of 8, so the
            # fakes (and the losses) differ slightly; everything else is the same arithmetic.
            assert abs(x - y) <= 2e-3 * max(1.0, abs(x)), (single, mirrored)
