"""The evaluation protocol on small synthetic sets whose answers are known, and its CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli.cli.app import app
from rhythmcan_cli.dataset import Dataset, DatasetReport, split_by_file
from rhythmcan_cli.errors import DataError, ModelError
from rhythmcan_cli.evaluation.judges import ArrayClassifier
from rhythmcan_cli.evaluation.protocol import evaluate, normalized_entropy
from rhythmcan_cli.evaluation.report import BASELINE_INSTRUMENT, BASELINE_TOTAL, GENERATED
from rhythmcan_cli.evaluation.sets import GeneratedSet, random_baselines, read_generated
from rhythmcan_cli.midi import write_midi
from tests.conftest import subprocess_env
from tests.helpers import make_stored_model

GENRES = ("funk", "jazz", "rock")
runner = CliRunner()


def genre_patterns(genre: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Genre 0: kick on quarters; 1: ride on 8ths; 2: snare backbeat + hats; plus noise hits."""
    x = np.zeros((n, 32, 9), np.float32)
    if genre == 0:
        x[:, ::4, 0] = 0.9
    elif genre == 1:
        x[:, ::2, 8] = 0.8
    else:
        x[:, 4::8, 1] = 0.9
        x[:, ::2, 2] = 0.7
    for i in range(n):
        for _ in range(3):
            x[i, rng.integers(32), rng.integers(9)] = 1.0
    return x


def synthetic_dataset(files_per_genre: int = 5, windows: int = 8, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    xs: list[np.ndarray] = []
    ys: list[int] = []
    ids: list[int] = []
    files: list[str] = []
    for g, genre in enumerate(GENRES):
        for f in range(files_per_genre):
            xs.append(genre_patterns(g, windows, rng))
            ys += [g] * windows
            ids += [len(files)] * windows
            files.append(f"{genre}/{f}.mid")
    report = DatasetReport(
        data_dir="synthetic",
        labels_csv=None,
        files_found=len(files),
        files_read=len(files),
        skipped=(),
        windows_per_genre={g: files_per_genre * windows for g in GENRES},
        files_per_genre={g: files_per_genre for g in GENRES},
        unmapped={},
        notes=0,
        options={},
    )
    return Dataset(
        x=np.concatenate(xs),
        y=np.asarray(ys, np.int32),
        genres=GENRES,
        file_ids=np.asarray(ids, np.int32),
        files=tuple(files),
        report=report,
        fingerprint=f"synthetic-{seed}",
    )


def uniform(x: np.ndarray) -> np.ndarray:
    return np.ones((len(x), len(GENRES)))


def test_uniform_posterior_has_entropy_one_and_certain_has_zero() -> None:
    assert normalized_entropy(np.full((4, 5), 0.2)) == pytest.approx(np.ones(4))
    assert normalized_entropy(np.eye(3)) == pytest.approx(np.zeros(3))
    with pytest.raises(DataError, match="at least 2 genres"):
        normalized_entropy(np.ones((2, 1)))


def test_training_copies_are_all_exact_copies() -> None:
    data = synthetic_dataset()
    train, _ = split_by_file(data, validation=0.2, seed=3)
    report = evaluate(
        GeneratedSet("copies", train.x),
        data,
        seed=3,
        validation=0.2,
        classifier=ArrayClassifier("uniform", GENRES, uniform),
    )
    assert report.novelty.generated.copy_rate == 1.0
    assert report.novelty.generated.near_rate == 1.0
    assert report.novelty.generated.max == 0
    assert report.novelty.nearest == [0] * len(train.x)
    # Held-out real patterns share each genre's figure but not its noise hits.
    assert report.novelty.real.copy_rate < 1.0
    assert report.novelty.random.mean > report.novelty.real.mean
    assert report.ambiguity is not None
    assert report.ambiguity.generated.entropy_mean == pytest.approx(1.0)
    assert report.ambiguity.generated.max_prob_mean == pytest.approx(1 / 3)


def test_table_rows_and_genre_profiles() -> None:
    data = synthetic_dataset()
    report = evaluate(GeneratedSet("g", data.x[:40]), data, seed=1, classifier=False)
    names = [row.name for row in report.table]
    assert names[:3] == [GENERATED, BASELINE_INSTRUMENT, BASELINE_TOTAL]
    assert names[3:] == [f"real: {g} (held-out)" for g in GENRES]
    for row, genre in zip(report.table[3:], GENRES, strict=True):
        # each held-out genre is closest to its own training genre
        assert min(row.to_genre, key=row.to_genre.__getitem__) == genre
        assert 0 < row.diversity < 20
    # the generated set is funk + part of jazz: closest to funk
    generated = report.table[0]
    assert min(generated.to_genre, key=generated.to_genre.__getitem__) == "funk"
    assert report.ambiguity is None
    assert 0.0 <= report.plausibility.mean_overlap <= 1.0
    json.dumps(report.to_dict(), allow_nan=False)


def test_random_baselines_follow_the_counts() -> None:
    rng = np.random.default_rng(0)
    reference = np.zeros((50, 32, 9), np.float32)
    for x in reference:  # always 4 kicks and 2 snares, anywhere: std 0, so counts are exact
        x[rng.choice(32, 4, replace=False), 0] = 1.0
        x[rng.choice(32, 2, replace=False), 1] = 1.0
    first, second = random_baselines(reference, 200, seed=0)
    assert np.all((first > 0).sum(axis=1) == [4, 2, 0, 0, 0, 0, 0, 0, 0])
    assert np.all((second > 0).sum(axis=(1, 2)) == 6)
    assert (second[:, :, 2:] > 0).any()  # the total is scattered over all instruments
    assert len({(p > 0).tobytes() for p in first}) > 150  # positions are random


def test_conditional_model_is_sampled_evenly() -> None:
    model = make_stored_model("cg", kind="cgan", genres=GENRES)
    data = synthetic_dataset()
    report = evaluate(model, data, n=13, seed=2, classifier=False)
    assert report.n == 13
    assert report.source == "cg" and report.source_kind == "cgan"
    again = evaluate(model, data, n=13, seed=2, classifier=False)
    assert again.table[0].to_genre == report.table[0].to_genre


def test_bad_inputs_are_one_clear_error() -> None:
    data = synthetic_dataset()
    with pytest.raises(DataError, match="pass --labels CSV"):
        evaluate(GeneratedSet("g", data.x[:5]), data, classifier=False, split_by="session")
    with pytest.raises(DataError, match="at least 2"):
        evaluate(GeneratedSet("one", data.x[:1]), data, classifier=False)
    tiny = synthetic_dataset(files_per_genre=1)  # single-file genres stay in training
    with pytest.raises(DataError, match="held-out split has 0"):
        evaluate(GeneratedSet("g", data.x[:5]), tiny, classifier=False)
    wrong = ArrayClassifier("two", ("a", "b"), uniform)
    with pytest.raises(ModelError, match=r"classifier .two.*leave out --classifier"):
        evaluate(GeneratedSet("g", data.x[:5]), data, classifier=wrong)


def test_generated_midi_folder_is_read_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    patterns = genre_patterns(2, 3, rng)
    write_midi(patterns, tmp_path / "a.mid", threshold=0.25)
    write_midi(patterns[:1], tmp_path / "sub" / "b.mid", threshold=0.25)
    generated = read_generated(tmp_path)
    assert generated.x.shape == (4, 32, 9)
    np.testing.assert_array_equal(generated.x[:3] > 0.25, patterns > 0.25)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no MIDI files"):
        read_generated(tmp_path / "empty")


def midi_corpus(root: Path) -> Path:
    rng = np.random.default_rng(4)
    for g, genre in enumerate(GENRES):
        for f in range(4):
            write_midi(genre_patterns(g, 3, rng), root / genre / f"{f}.mid", threshold=0.25)
    return root


def test_cli_end_to_end(tmp_path: Path) -> None:
    data_dir = midi_corpus(tmp_path / "data")
    make_stored_model("tiny", kind="can", genres=GENRES)
    result = runner.invoke(
        app,
        [
            "evaluate",
            "tiny",
            str(data_dir),
            "-n",
            "20",
            "--seed",
            "1",
            "--no-classifier",
            "--validation",
            "0.3",
            "--json",
            "-",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 20 and report["genres"] == list(GENRES)
    assert report["table"][0]["name"] == "generated"
    texture = report["texture"]
    assert list(texture) == ["generated", "held-out real", BASELINE_INSTRUMENT, BASELINE_TOTAL]
    assert texture["held-out real"]["density_ratio"]["kick"] == 1.0
    assert texture["generated"]["n"] == 20

    generated = tmp_path / "gen"
    write_midi(genre_patterns(0, 5, np.random.default_rng(9)), generated / "x.mid")
    out_json = tmp_path / "r.json"
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(generated),
            str(data_dir),
            "--no-classifier",
            "--validation",
            "0.3",
            "--json",
            str(out_json),
            "--quiet",
            "--plot",
            str(tmp_path / "p.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Mean OSA distance" in result.stdout
    assert "Texture" in result.stdout and "rolling drums" in result.stdout
    assert json.loads(out_json.read_text())["source_kind"] == "midi"
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_bad_input_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    data_dir = midi_corpus(tmp_path / "data")
    env = subprocess_env()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rhythmcan_cli",
            "evaluate",
            str(data_dir),
            str(data_dir),
            "--split-by",
            "session",
            "--no-classifier",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--split-by session" in lines[0] and "--labels" in lines[0]
    result = runner.invoke(app, ["evaluate", "no-such-model", str(data_dir), "--quiet"])
    assert result.exit_code != 0


@pytest.mark.slow
def test_classifier_is_trained_on_the_fly_and_cached() -> None:
    from rhythmcan_cli.store import open_model

    data = synthetic_dataset()
    first = evaluate(GeneratedSet("g", data.x[:30]), data, classifier_epochs=1)
    assert first.ambiguity is not None and first.ambiguity.classifier.startswith("classifier-")
    assert any("trained genre judge" in note for note in first.notes)
    assert first.ambiguity.calibration is not None
    assert first.ambiguity.calibration.unseen == "yes"  # trained on the training split only
    cached = open_model(first.ambiguity.classifier)
    assert cached.card.kind == "classifier" and cached.card.genres == list(GENRES)
    for stats in (first.ambiguity.generated, first.ambiguity.real):
        assert 0.0 <= stats.entropy_mean <= 1.0 and 1 / 3 <= stats.max_prob_mean <= 1.0
    again = evaluate(GeneratedSet("g", data.x[:30]), data, classifier=cached.name)
    assert again.ambiguity is not None and not again.notes
    assert again.ambiguity.generated.entropy_mean == pytest.approx(
        first.ambiguity.generated.entropy_mean, abs=1e-5
    )


def test_sampled_pattern_json_lines_are_a_source(tmp_path: Path) -> None:
    from rhythmcan_cli.sampling.patterns import write_patterns
    from rhythmcan_cli.sampling.sample import sample

    model = make_stored_model("js", kind="cgan", genres=GENRES)
    write_patterns(sample(model, n=6, seed=1), tmp_path / "p.jsonl")
    generated = read_generated(tmp_path / "p.jsonl")
    assert generated.x.shape == (6, 32, 9) and generated.kind == "patterns"
    report = evaluate(generated, synthetic_dataset(), classifier=False)
    assert report.n == 6 and report.source_kind == "patterns"


def test_held_out_files_are_the_models_own_validation_files() -> None:
    """A model trained on this data is compared with the files its training never saw."""
    from dataclasses import replace as dc_replace

    from rhythmcan_cli.dataset.splits import held_out_split

    data = synthetic_dataset()
    model = make_stored_model("own-split", kind="can", genres=data.genres)
    card = dc_replace(
        model.card,
        data_fingerprint=data.fingerprint,
        training={"seed": 7, "validation": 0.3},
    )
    _, held, text = held_out_split(data, card=card, seed=0)
    assert "own validation files" in text and "seed 7" in text
    assert set(held.file_ids.tolist()) == set(split_by_file(data, 0.3, 7)[1].file_ids.tolist())
    # another dataset, or an explicit share: files drawn with the evaluation seed
    other = dc_replace(card, data_fingerprint="elsewhere")
    _, held, text = held_out_split(data, card=other, seed=3)
    assert text == "10% of the files, drawn with seed 3"
    assert set(held.file_ids.tolist()) == set(split_by_file(data, 0.1, 3)[1].file_ids.tolist())
    assert held_out_split(data, card=card, seed=3, validation=0.2)[2].startswith("20%")


def test_texture_section_sees_a_set_of_rolls() -> None:
    data = synthetic_dataset()
    rolls = np.zeros((30, 32, 9), np.float32)
    rolls[:, 8:24, 5] = 0.8  # a flat 16-step mid-tom roll, the same grid 30 times
    report = evaluate(GeneratedSet("rolls", rolls), data, seed=0, classifier=False)
    generated, real = report.texture[GENERATED], report.texture["held-out real"]
    assert generated.roll_share == 1.0 and generated.roll_drums == {"mid_tom": 1.0}
    assert generated.median_longest_run == 16
    assert generated.distinct_grids == 1 and generated.top_grid_share == 1.0
    assert generated.run_velocity_change == 0.0
    assert generated.kick_downbeats == 0.0
    assert "kick" in generated.flagged  # no kick at all: 0x the held-out kicks
    assert real.distinct_grids > 1
    json.dumps(report.to_dict(), allow_nan=False)
