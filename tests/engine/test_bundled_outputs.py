"""The bundled generators still produce their stored patterns (tests/bundled_outputs.py).

A failure means a shipped model, or the numpy engine that runs it, changed. If a model was
re-bundled on purpose, regenerate the stored outputs (``python -m tests.bundled_outputs``)
and commit them with it.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.bundled_outputs import TOLERANCE, UPDATE, bundled_generators, read, run

pytestmark = pytest.mark.bundled


def test_every_bundled_generator_has_stored_outputs() -> None:
    names = {model.name for model in bundled_generators()}
    assert {"default-can", "default-cgan"} <= names
    assert set(read()) == names, f"stored outputs are out of date; run {UPDATE}"


@pytest.mark.parametrize("name", sorted(read()))
def test_a_bundled_generator_gives_its_stored_patterns(name: str) -> None:
    stored = read()[name]
    [model] = [m for m in bundled_generators() if m.name == name]
    rebundled = dict(model.card.files) != stored["files"]
    assert not rebundled, f"{name} was re-bundled: check it, then run {UPDATE}"
    got = run(model, np.asarray(stored["z"], np.float32), stored["genres"])
    expected = np.asarray(stored["values"])
    assert got.shape == expected.shape == (len(stored["z"]), 32, 9)
    assert expected.std() > 0.01  # real patterns, not a constant
    worst = float(np.abs(got - expected).max())
    assert worst <= TOLERANCE, f"{name} output moved by {worst:.2e}: the engine changed"
