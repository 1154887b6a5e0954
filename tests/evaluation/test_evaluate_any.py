"""`evaluate` for any model against any corpus, the judge beside its figures, and splits
that do not leak: small synthetic sets whose answers are known."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli.dataset import Dataset
from rhythmcan_cli.evaluation.judges import ArrayClassifier
from rhythmcan_cli.evaluation.protocol import evaluate
from rhythmcan_cli.evaluation.sets import GeneratedSet
from tests.evaluation.test_evaluate import GENRES, synthetic_dataset
from tests.helpers import make_stored_model


def feature_judge(x: np.ndarray) -> np.ndarray:
    """Knows the synthetic genres by their figure (kick quarters, ride 8ths, snare backbeat);
    always 80 % sure of its pick."""
    scores = np.stack(
        [x[:, ::4, 0].mean(axis=1), x[:, ::2, 8].mean(axis=1), x[:, 4::8, 1].mean(axis=1)], 1
    )
    probs = np.full((len(x), 3), 0.1)
    probs[np.arange(len(x)), scores.argmax(axis=1)] = 0.8
    return probs


JUDGE = ArrayClassifier("features", GENRES, feature_judge)


def test_the_judge_is_measured_beside_its_entropy() -> None:
    data = synthetic_dataset()
    report = evaluate(GeneratedSet("g", data.x[:30]), data, seed=2, classifier=JUDGE)
    assert report.ambiguity is not None and report.ambiguity.calibration is not None
    calibration = report.ambiguity.calibration
    assert calibration.quality.accuracy == 1.0  # the figures are unmistakable
    assert calibration.quality.recall == {g: 1.0 for g in GENRES}
    assert calibration.quality.ece == pytest.approx(0.2)  # right always, says 0.8
    assert calibration.unseen == "unknown"  # a bare function has no training record
    # every posterior is (0.8, 0.1, 0.1): one entropy for every set
    expected = -(0.8 * np.log(0.8) + 0.2 * np.log(0.1)) / np.log(3)
    assert calibration.entropy_real == pytest.approx(expected)
    assert calibration.entropy_random_instrument == pytest.approx(expected)
    json.dumps(report.to_dict(), allow_nan=False)


def test_any_model_against_any_corpus() -> None:
    data = synthetic_dataset()
    other = make_stored_model("other", kind="cgan", genres=("funk", "house"))
    report = evaluate(other, data, n=20, seed=0, classifier=JUDGE)
    assert [row.name for row in report.table][:1] == ["generated"]
    assert set(report.table[0].to_genre) == set(GENRES)  # distances to the data's genres
    assert report.texture["generated"].n == 20
    assert any("not in the data: house" in note for note in report.notes)
    following = report.genre_following
    assert following is not None
    assert following.genres == ["funk"] and following.skipped == ["house"]
    assert sum(following.confusion[0]) == 10  # 20 patterns over 2 genres, funk's half
    blank = make_stored_model("blank", kind="can", genres=())
    report = evaluate(blank, data, n=10, seed=0, classifier=JUDGE)
    assert report.genre_following is None and report.ambiguity is not None
    assert any("lists no genres" in note for note in report.notes)


def with_sessions(data: Dataset, tmp_path: Path, sessions: list[str]) -> Dataset:
    """The dataset with a labels CSV that gives each file a session."""
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["midi_filename", "style", "session"])
        for file, session in zip(data.files, sessions, strict=True):
            writer.writerow([file, file.split("/")[0], session])
    report = dataclasses.replace(
        data.report, labels_csv=str(labels), options={"path_column": "midi_filename"}
    )
    return dataclasses.replace(data, report=report)


def copied_dataset() -> Dataset:
    """Files come in pairs holding the same windows (an intro and its main groove)."""
    data = synthetic_dataset(files_per_genre=8)
    x = data.x.copy()
    for file in range(1, len(data.files), 2):
        x[data.file_ids == file] = x[data.file_ids == file - 1]
    return dataclasses.replace(data, x=x)


def test_copies_are_counted_dropped_and_avoided_by_group(tmp_path: Path) -> None:
    data = copied_dataset()
    generated = GeneratedSet("g", data.x[:20])
    leaky = evaluate(generated, data, seed=0, classifier=False, validation=0.3)
    assert leaky.held_out_copies > 0.3
    assert any("exact copies of training windows" in n for n in leaky.notes)
    deduped = evaluate(generated, data, seed=0, classifier=False, validation=0.3, dedupe=True)
    assert deduped.held_out_size < leaky.held_out_size
    assert deduped.novelty.real.copy_rate == 0.0 < leaky.novelty.real.copy_rate
    sessions = [f"s{i // 2}" for i in range(len(data.files))]  # a pair is one session
    grouped_data = with_sessions(data, tmp_path, sessions)
    grouped = evaluate(
        generated, grouped_data, seed=0, classifier=False, validation=0.3, split_by="session"
    )
    assert grouped.held_out_copies == 0.0
    assert "session" in grouped.held_out
    assert not any("exact copies" in n for n in grouped.notes)


def test_ready_split_column_and_a_judge_that_saw_the_held_out_files(tmp_path: Path) -> None:
    data = synthetic_dataset(files_per_genre=6)
    split = ["test" if i % 6 == 0 else "train" for i in range(len(data.files))]
    data = with_sessions(data, tmp_path, split)
    report = evaluate(GeneratedSet("g", data.x[:10]), data, classifier=False, split_by="session")
    assert report.held_out == "the files whose 'session' is test"
    assert report.held_out_size == 3 * 8  # one file of 8 windows per genre
    # a judge whose card says it trained on every file: its quality is flagged
    card = make_stored_model("c", kind="can").card
    card = dataclasses.replace(
        card,
        data_fingerprint=data.fingerprint,
        training={"split_column": "session", "train_values": ["train", "test"]},
    )
    seen = ArrayClassifier("seen", GENRES, feature_judge, card=card)
    report = evaluate(GeneratedSet("g", data.x[:10]), data, classifier=seen, split_by="session")
    assert report.ambiguity is not None and report.ambiguity.calibration is not None
    assert report.ambiguity.calibration.unseen.startswith("no:")
    assert any("inflated" in n for n in report.notes)
    honest = dataclasses.replace(
        card, training={"split_column": "session", "train_values": ["train"]}
    )
    report = evaluate(
        GeneratedSet("g", data.x[:10]),
        data,
        classifier=ArrayClassifier("honest", GENRES, feature_judge, card=honest),
        split_by="session",
    )
    assert report.ambiguity is not None and report.ambiguity.calibration is not None
    assert report.ambiguity.calibration.unseen == "yes"


def test_windows_a_judge_trained_on_are_left_out_of_its_figures(tmp_path: Path) -> None:
    data = synthetic_dataset(files_per_genre=6)
    split = ["test" if i % 2 == 0 else "train" for i in range(len(data.files))]
    data = with_sessions(data, tmp_path, split)
    card = make_stored_model("c", kind="can").card
    card = dataclasses.replace(
        card,
        data_fingerprint=data.fingerprint,
        training={"split_column": "session", "train_values": ["train"]},
    )
    judge = ArrayClassifier("half-seen", GENRES, feature_judge, card=card)
    report = evaluate(GeneratedSet("g", data.x[:10]), data, classifier=judge, validation=0.5)
    # held out by file with a seed: some held-out files were the judge's training files
    assert report.ambiguity is not None and report.ambiguity.calibration is not None
    calibration = report.ambiguity.calibration
    assert calibration.unseen.endswith("seen windows left out")
    left_out = int(calibration.unseen.split()[0])
    judged = report.n  # the held-out references are subsampled to the generated set's size
    assert 0 < left_out < judged
    assert calibration.quality.n == report.ambiguity.real.n == judged - left_out


def test_the_headline_reads_entropy_against_real_and_random() -> None:
    from rhythmcan_cli.cli.evaluate_tables import ambiguity_line

    data = synthetic_dataset()
    report = evaluate(GeneratedSet("g", data.x[:30]), data, seed=2, classifier=JUDGE)
    assert report.ambiguity is not None and report.ambiguity.calibration is not None
    value = f"{report.ambiguity.generated.entropy_mean:.2f}"
    assert ambiguity_line(report) == (
        f"entropy {value} (held-out real {value}, random {value} per-instrument / {value} total)"
    )  # this judge gives every pattern the same posterior
    assert ambiguity_line(evaluate(GeneratedSet("g", data.x[:30]), data, classifier=False)) is None
