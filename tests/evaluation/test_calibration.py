"""The judge's own figures (accuracy, recall, ECE, temperature), genre-following and splits,
on arrays whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from rhythmcan_cli.dataset.splits import copies_of, ready_split, split_by_group
from rhythmcan_cli.errors import DataError
from rhythmcan_cli.evaluation.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    judge_quality,
)
from rhythmcan_cli.evaluation.judging import genre_following
from tests.evaluation.test_evaluate import synthetic_dataset

GENRES = ("funk", "jazz", "rock")


def half_right(n: int, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """A judge right on exactly half the patterns, always with the given top probability."""
    labels = np.arange(n) % 3
    predicted = np.where(np.arange(n) % 2 == 0, labels, (labels + 1) % 3)
    probs = np.full((n, 3), (1 - confidence) / 2)
    probs[np.arange(n), predicted] = confidence
    return probs, labels


def test_a_judge_right_half_the_time() -> None:
    probs, labels = half_right(600, confidence=0.5)
    quality = judge_quality(probs, labels, GENRES)
    assert quality.accuracy == 0.5
    assert quality.ece == pytest.approx(0.0)  # says 0.5, is right half the time
    assert sum(map(sum, quality.confusion)) == 600
    over, _ = half_right(600, confidence=0.9)
    assert judge_quality(over, labels, GENRES).ece == pytest.approx(0.4)
    assert quality.macro_recall == pytest.approx(np.mean(list(quality.recall.values())))


def test_recall_per_genre_and_absent_genres_left_out() -> None:
    labels = np.array([0, 0, 0, 0, 1, 1])
    predicted = np.array([0, 0, 0, 1, 1, 1])
    quality = judge_quality(np.eye(3)[predicted], labels, GENRES)
    assert quality.recall == {"funk": 0.75, "jazz": 1.0}  # no rock window: no rock recall
    assert quality.macro_recall == pytest.approx(0.875)
    assert quality.confusion[0] == [3, 1, 0]
    with pytest.raises(DataError, match="probability rows"):
        judge_quality(np.eye(3), labels, GENRES)


def test_temperature_fixes_an_over_confident_judge() -> None:
    over, labels = half_right(900, confidence=0.95)
    temperature = fit_temperature(over, labels)
    assert temperature > 1.5
    fixed = apply_temperature(over, temperature)
    assert (
        expected_calibration_error(fixed, labels) < 0.02 < expected_calibration_error(over, labels)
    )
    assert np.allclose(fixed.sum(axis=1), 1.0)
    assert (fixed.argmax(axis=1) == over.argmax(axis=1)).all()  # ranking unchanged


def test_genre_following_matches_names_and_counts_confusion() -> None:
    judge_genres = ["Funk", "jazz", "rock"]
    asked = ["funk"] * 4 + ["house"] * 3 + ["jazz"] * 2
    says = [0, 0, 0, 2, 1, 1, 1, 1, 0]  # funk: 3 of 4; house: unknown; jazz: 1 of 2
    result = genre_following(np.eye(3)[says], asked, judge_genres, "j", {"Funk": 0.9})
    assert result.genres == ["funk", "jazz"]
    assert result.skipped == ["house"]
    assert result.precision == {"funk": 0.75, "jazz": 0.5}
    assert result.mean_precision == pytest.approx(0.625)
    assert result.confusion == [[3, 0, 1], [1, 1, 0]]
    assert result.judge_recall == {"funk": 0.9}
    with pytest.raises(DataError, match="shared genre names"):
        genre_following(np.eye(3)[[0]], ["house"], judge_genres, "j")


def test_groups_never_straddle_the_split_and_copies_are_found() -> None:
    data = synthetic_dataset(files_per_genre=6)
    sessions = [f"s{i // 2}" for i in range(len(data.files))]  # two files per session
    train, held = split_by_group(data, sessions, validation=0.2, seed=1)
    train_sessions = {sessions[i] for i in np.unique(train.file_ids)}
    held_sessions = {sessions[i] for i in np.unique(held.file_ids)}
    assert held_sessions and not train_sessions & held_sessions
    assert len(train) + len(held) == len(data)
    ready = ["train"] * 10 + ["test"] * 4 + ["validation"] * 4
    assert ready_split(ready) == ("test", "validation")
    assert ready_split(sessions) == ()
    _, held = split_by_group(data, ready, held_values=("test",))
    assert set(np.unique(held.file_ids)) == set(range(10, 14))
    flags = copies_of(np.concatenate([train.x[:3], np.zeros((2, 32, 9))]), train.x)
    assert flags.tolist() == [True, True, True, False, False]
    with pytest.raises(DataError, match="2\\+ groups"):
        split_by_group(data, ["one"] * len(data.files), validation=0.2)


def test_judge_augmentation_keeps_the_grid_and_balances_classes() -> None:
    from rhythmcan_cli.training.judge_training import DROP_HITS, augment, class_weights

    data = synthetic_dataset()
    copy = augment(data.x, np.random.default_rng(0))
    hits, kept = data.x > 0, copy > 0
    assert not (kept & ~hits).any()  # never a hit where there was none
    dropped = (hits & ~kept).sum() / hits.sum()
    assert 0.5 * DROP_HITS < dropped < 1.5 * DROP_HITS
    assert copy.max() <= 1.0 and not np.array_equal(copy[kept], data.x[kept])
    weights = class_weights([0] * 6 + [1] * 2 + [2] * 2, 4)
    assert weights == {0: pytest.approx(10 / 18), 1: 10 / 6, 2: 10 / 6, 3: 0.0}


def test_beat_rotation_moves_whole_beats_and_keeps_every_hit() -> None:
    from rhythmcan_cli.training.judge_training import rotate_beats

    data = synthetic_dataset()
    rotated = rotate_beats(data.x, np.random.default_rng(0), 0.5)
    moved = [i for i in range(len(data.x)) if not np.array_equal(rotated[i], data.x[i])]
    assert 0.2 * len(data.x) < len(moved) < 0.8 * len(data.x)
    for i in moved:
        shifts = [
            s for s in range(4, 32, 4) if np.array_equal(np.roll(data.x[i], s, axis=0), rotated[i])
        ]
        assert shifts  # a whole number of beats, nothing added or lost
    assert np.array_equal(rotate_beats(data.x, np.random.default_rng(0), 0.0), data.x)
