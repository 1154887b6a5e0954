"""The judge recipe's options (dilated members, onset channels, beat rotation) train, save and
load back in Keras safe mode with the same probabilities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli.errors import DataError
from tests.evaluation.test_evaluate import synthetic_dataset


@pytest.mark.slow
def test_dilated_judge_with_onsets_round_trips_in_safe_mode(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from rhythmcan_cli.training.judge_training import build_member, train_judge

    data = synthetic_dataset()
    genres = list(data.genres)
    result = train_judge(
        data.x,
        data.y,
        data.x[::3],
        data.y[::3],
        genres,
        members=2,
        max_epochs=1,
        architecture="dilated",
        onsets=True,
        rotation=0.3,
    )
    names = {layer.name for layer in result.model.layers[1].layers}
    assert {"onset", "velocity_and_onset", "dilated_8", "residual_8"} <= names
    path = tmp_path / "judge.keras"
    result.model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    p = np.asarray(loaded.predict(data.x, verbose=0))
    assert p.shape == (len(data.x), len(genres))
    np.testing.assert_allclose(p, result.model.predict(data.x, verbose=0), atol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(DataError, match="unknown judge architecture"):
        build_member(len(genres), architecture="transformer")


def test_onset_channel_is_one_wherever_a_hit_is() -> None:
    keras = pytest.importorskip("keras")
    from rhythmcan_cli.training.judge_training import build_member

    member = build_member(3, onsets=True)
    channels = keras.Model(member.input, member.get_layer("velocity_and_onset").output)
    x = np.zeros((1, 32, 9), dtype=np.float32)
    x[0, 0, 0], x[0, 5, 3] = 1 / 127, 0.9
    out = np.asarray(channels.predict(x, verbose=0))[0]
    assert out.shape == (32, 18)
    np.testing.assert_allclose(out[..., :9], x[0])
    assert out[..., 9:].sum() == 2 and out[0, 9] == 1 and out[5, 12] == 1
