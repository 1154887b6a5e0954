"""`rhythmcan sample`: seeds, genres and blends, variations, interpolation, outputs, bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import mido
import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli.cli.app import app
from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.grid import OUTPUT_PITCHES
from rhythmcan_cli.midi import midi_bytes, read_midi_windows
from rhythmcan_cli.sampling.patterns import SampledPattern, dumps_patterns, loads_patterns
from rhythmcan_cli.sampling.sample import (
    midi_file_bytes,
    parse_genre,
    sample,
    write_pattern_files,
)
from rhythmcan_cli.store import StoredModel
from tests.helpers import MidiTiming, make_stored_model

runner = CliRunner()
GENRES = ("funk", "rock", "jazz")


@pytest.fixture
def can() -> StoredModel:
    return make_stored_model("tiny-can", kind="can")


@pytest.fixture
def cgan() -> StoredModel:
    return make_stored_model("tiny-cgan", kind="cgan", genres=GENRES)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------------------------------------ library


def test_same_seed_same_patterns_byte_for_byte(can: StoredModel) -> None:
    a = sample(can, n=5, seed=11)
    b = sample(can, n=5, seed=11)
    assert dumps_patterns(a) == dumps_patterns(b)
    assert midi_file_bytes(a) == midi_file_bytes(b)
    c = sample(can, n=5, seed=12)
    assert dumps_patterns(c) != dumps_patterns(a)
    assert [p.index for p in a] == [0, 1, 2, 3, 4]


def test_an_unseeded_sample_records_a_seed_that_reproduces_it(can: StoredModel) -> None:
    first = sample(can, n=3, seed=None)
    again = sample(can, n=3, seed=first[0].seed)
    assert dumps_patterns(first) == dumps_patterns(again)


def test_z_spread_follows_the_card_and_the_option(can: StoredModel) -> None:
    card_std = float(np.std([p.z for p in sample(can, n=400, seed=1)]))
    assert card_std == pytest.approx(can.card.z_sigma_sample, rel=0.05)
    half = float(np.std([p.z for p in sample(can, n=400, seed=1, z_std=0.5)]))
    assert half == pytest.approx(0.5, rel=0.05)


def test_values_are_the_engines_raw_output(cgan: StoredModel) -> None:
    patterns = sample(cgan, n=3, seed=4, genre="rock")
    z = np.stack([p.z for p in patterns]).astype(np.float32)
    expected = cgan.generator().generate(z, genres=[1, 1, 1])
    got = np.stack([p.values for p in patterns])
    assert np.array_equal(got, np.clip(expected, 0.0, 1.0))
    assert all(p.genre == "rock" for p in patterns)


def test_hits_are_decided_on_raw_values_even_where_rounding_would_flip_them(
    can: StoredModel, tmp_path: Path
) -> None:
    """A cell just above the threshold whose 4-decimal rounding is the threshold stays a hit,
    in the MIDI file and in the JSON read back."""
    z = sample(can, n=1, seed=3)[0].z
    raw = np.clip(can.generator().generate(z[None].astype(np.float32))[0], 0.0, 1.0)
    exact = raw.astype(np.float64)
    rounded = np.round(exact, 4)
    flips = np.argwhere((exact - rounded > 1e-6) & (rounded > 0.05) & (rounded < 0.95))
    assert len(flips), "the tiny model has no cell that rounds down"
    step, cell = (int(i) for i in flips[0])
    threshold = float(rounded[step, cell])  # raw > threshold, round(raw, 4) == threshold
    hits = raw > np.float32(threshold)
    assert hits[step, cell]

    args = ["sample", "-m", "tiny-can", "--seed", "3", "-t", repr(threshold)]
    assert invoke(*args, "-o", str(tmp_path / "x.mid"))[0] == 0
    windows = read_midi_windows(tmp_path / "x.mid", hop=32, min_onsets=0).windows
    assert np.array_equal(windows[0] > 0, hits)

    assert invoke(*args, "-o", str(tmp_path / "x.json"))[0] == 0
    [back] = loads_patterns((tmp_path / "x.json").read_text())
    assert back.threshold == threshold
    assert np.array_equal(back.values > back.threshold, hits)
    assert np.abs(back.values - raw).max() <= 1.5e-4  # shown with 4 decimals


def test_a_blend_mixes_genre_embeddings(cgan: StoredModel) -> None:
    patterns = sample(cgan, n=2, seed=4, genre={"rock": 7, "funk": 3})
    assert patterns[0].genre == {"funk": 0.3, "rock": 0.7}
    z = np.stack([p.z for p in patterns]).astype(np.float32)
    weights = np.array([[0.3, 0.7, 0.0]] * 2, dtype=np.float32)
    expected = cgan.generator().generate(z, genre_weights=weights)
    assert np.abs(np.stack([p.values for p in patterns]) - expected).max() <= 5e-5
    pure = sample(cgan, n=2, seed=4, genre="rock")
    assert not np.array_equal(pure[0].values, patterns[0].values)


def test_ambiguous_on_a_conditional_model_is_the_uniform_blend(cgan: StoredModel) -> None:
    [pattern] = sample(cgan, n=1, seed=2, ambiguous=True)
    assert isinstance(pattern.genre, dict)
    assert sorted(pattern.genre) == sorted(GENRES)
    assert sum(pattern.genre.values()) == pytest.approx(1.0, abs=1e-5)


def test_no_genre_on_a_conditional_model_picks_one_per_pattern(cgan: StoredModel) -> None:
    genres = {p.genre for p in sample(cgan, n=30, seed=2)}
    assert genres == set(GENRES)


def test_genre_errors(can: StoredModel, cgan: StoredModel) -> None:
    with pytest.raises(UsageError, match="its genres: funk, rock, jazz"):
        sample(cgan, n=1, seed=1, genre="polka")
    with pytest.raises(UsageError, match="no genre input"):
        sample(can, n=1, seed=1, genre="rock")
    with pytest.raises(UsageError, match="at least 1"):
        sample(can, n=0, seed=1)
    with pytest.raises(UsageError, match="between 0 and 1"):
        sample(can, n=1, seed=1, threshold=1.5)


def test_parse_genre() -> None:
    assert parse_genre("rock") == "rock"
    assert parse_genre("rock=0.7, funk=0.3") == {"rock": 0.7, "funk": 0.3}
    for bad in ("", "rock=x", "rock=-1", "=0.3"):
        with pytest.raises(UsageError):
            parse_genre(bad)


def test_vary_stays_near_the_anchor(can: StoredModel) -> None:
    [anchor] = sample(can, n=1, seed=5)
    same = sample(can, n=2, seed=6, vary=anchor, noise=0.0)
    assert np.array_equal(same[0].z, anchor.z)
    # the same z, one batch row over: the same values up to float32 summation order
    assert np.abs(same[1].values - anchor.values).max() < 1e-6
    near = sample(can, n=200, seed=6, vary=anchor, noise=0.2)
    offsets = np.stack([p.z for p in near]) - anchor.z
    assert float(offsets.std()) == pytest.approx(0.2, rel=0.1)
    assert abs(float(offsets.mean())) < 0.03


def test_vary_keeps_the_anchor_genre(cgan: StoredModel) -> None:
    [anchor] = sample(cgan, n=1, seed=5, genre="jazz")
    assert {p.genre for p in sample(cgan, n=4, seed=1, vary=anchor)} == {"jazz"}


def test_interpolation_walks_from_a_to_b_on_the_sphere(cgan: StoredModel) -> None:
    [a] = sample(cgan, n=1, seed=1, genre="rock")
    [b] = sample(cgan, n=1, seed=2, genre="funk")
    walk = sample(cgan, n=1, seed=3, interpolate=(a, b), steps=5)
    assert len(walk) == 5
    assert np.allclose(walk[0].z, a.z, atol=1e-6) and np.allclose(walk[-1].z, b.z, atol=1e-6)
    assert np.abs(walk[0].values - a.values).max() <= 1e-4
    assert walk[0].genre == "rock" and walk[-1].genre == "funk"
    assert walk[2].genre == {"funk": 0.5, "rock": 0.5}
    norms = [float(np.linalg.norm(p.z)) for p in walk]
    low = min(norms[0], norms[-1]) - 1e-3
    assert all(n >= low for n in norms)  # slerp does not dip towards 0 like a straight line
    with pytest.raises(UsageError, match="--steps"):
        sample(cgan, n=1, seed=3, interpolate=(a, b), steps=1)


# ------------------------------------------------------------------------------ MIDI out


def test_sampled_patterns_are_written_at_their_own_threshold_and_pitches(tmp_path: Path) -> None:
    """sample.py writes through rhythmcan_cli.midi with each pattern's threshold and pitches
    (the writer itself, its batch form and its bytes are tested in tests/midi/test_midi.py)."""
    rng = np.random.default_rng(1)
    patterns = [
        SampledPattern(
            "m",
            "can",
            None,
            0,
            i,
            np.zeros(2),
            (0.0, 0.2, 0.6)[i % 3],
            ("x",) * 9,
            OUTPUT_PITCHES if i % 2 else tuple(range(60, 69)),
            np.round(rng.random((32, 9)) ** 4, 4).astype(np.float32),
        )
        for i in range(5)
    ]
    options: MidiTiming = {"bpm": 97.3, "swing": 0.3, "loops": 2}
    singles = [
        midi_bytes(p.values, threshold=p.threshold, pitches=p.output_pitches, **options)
        for p in patterns
    ]
    paths = write_pattern_files(patterns, tmp_path / "out", **options)
    assert [path.read_bytes() for path in paths] == singles
    whole = midi_file_bytes(patterns, **options)
    assert whole == midi_bytes(
        np.stack([p.values for p in patterns]),
        threshold=[p.threshold for p in patterns],
        pitches=[p.output_pitches for p in patterns],
        **options,
    )
    ons = {
        m.note
        for t in mido.MidiFile(file=io.BytesIO(whole)).tracks
        for m in t
        if m.type == "note_on" and m.velocity
    }
    assert ons & set(range(60, 69)) and ons & set(OUTPUT_PITCHES)
    with pytest.raises(Exception, match="no patterns"):
        midi_file_bytes([])


def test_numbered_files_never_overwrite(can: StoredModel, tmp_path: Path) -> None:
    patterns = sample(can, n=3, seed=1)
    paths = write_pattern_files(patterns, tmp_path / "out")
    assert [p.name for p in paths] == ["pattern-001.mid", "pattern-002.mid", "pattern-003.mid"]
    with pytest.raises(Exception, match="already exists; use --force"):
        write_pattern_files(patterns, tmp_path / "out")
    assert write_pattern_files(patterns, tmp_path / "out", force=True) == paths
    jsons = write_pattern_files(patterns, tmp_path / "js", fmt="json")
    assert loads_patterns(jsons[1].read_text())[0].index == 1


# ------------------------------------------------------------------------------ CLI


def test_cli_midi_file_read_back_by_mido_and_pretty_midi(can: StoredModel, tmp_path: Path) -> None:
    import pretty_midi

    target = tmp_path / "x.mid"
    code, _, _ = invoke(
        "sample",
        "-m",
        "tiny-can",
        "-n",
        "2",
        "--seed",
        "3",
        "--threshold",
        "0.1",
        "--bpm",
        "90",
        "-o",
        str(target),
    )
    assert code == 0
    patterns = sample(can, n=2, seed=3, threshold=0.1)
    expected_hits = sum(int((p.values > 0.1).sum()) for p in patterns)
    assert expected_hits > 0

    midi = mido.MidiFile(target)
    ons = [m for t in midi.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert len(ons) == expected_hits
    assert {m.channel for m in ons} == {9}
    tempos = [m.tempo for t in midi.tracks for m in t if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(90)]

    pm = pretty_midi.PrettyMIDI(str(target))
    drums = [i for i in pm.instruments if i.is_drum]
    assert len(drums) == 1 and len(drums[0].notes) == expected_hits
    assert {n.pitch for n in drums[0].notes} <= set(OUTPUT_PITCHES)
    assert pm.get_tempo_changes()[1][0] == pytest.approx(90.0, abs=1e-3)
    assert max(n.start for n in drums[0].notes) < 2 * 8 * 60 / 90  # 2 patterns of 8 beats


def test_cli_outputs_are_deterministic(can: StoredModel, tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            invoke(
                "sample",
                "-m",
                "tiny-can",
                "-n",
                "3",
                "--seed",
                "8",
                "-o",
                str(tmp_path / f"{name}.mid"),
            )[0]
            == 0
        )
        assert (
            invoke(
                "sample",
                "-m",
                "tiny-can",
                "-n",
                "3",
                "--seed",
                "8",
                "-o",
                str(tmp_path / f"{name}.json"),
            )[0]
            == 0
        )
    assert (tmp_path / "a.mid").read_bytes() == (tmp_path / "b.mid").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    _, piped, _ = invoke("sample", "-m", "tiny-can", "-n", "3", "--seed", "8")
    assert piped == (tmp_path / "a.json").read_text()  # not a terminal: JSON lines


def test_cli_midi_to_stdout_and_folders(can: StoredModel, tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", "-m", "tiny-can", "--seed", "1", "-o", "-"])
    assert result.exit_code == 0
    assert result.stdout_bytes.startswith(b"MThd")
    assert mido.MidiFile(file=io.BytesIO(result.stdout_bytes)).type == 1
    code, out, err = invoke("sample", "-m", "tiny-can", "-n", "4", "-o", f"{tmp_path}/d/")
    assert code == 0 and out == ""
    assert len(list((tmp_path / "d").glob("pattern-*.mid"))) == 4
    assert "wrote 4 patterns" in err
    code, _, err = invoke("sample", "-m", "tiny-can", "-n", "4", "-o", f"{tmp_path}/d/")
    assert code == 1 and "already exists" in err
    assert invoke("sample", "-m", "tiny-can", "-n", "4", "--force", "-o", f"{tmp_path}/d/")[0] == 0
    code, out, err = invoke("sample", "-m", "tiny-can", "-q", "-n", "2", "-o", f"{tmp_path}/q.mid")
    assert code == 0 and out == "" and err == ""


def test_cli_vary_last_and_interpolate(cgan: StoredModel, tmp_path: Path) -> None:
    code, out, _ = invoke("sample", "-m", "tiny-cgan", "--genre", "jazz", "--seed", "4")
    assert code == 0
    [anchor] = loads_patterns(out)
    code, out, _ = invoke("sample", "--vary", "last", "--noise", "0", "-n", "2", "--seed", "9")
    assert code == 0
    varied = loads_patterns(out)
    assert varied[0].model == "tiny-cgan" and varied[0].genre == "jazz"
    assert np.array_equal(varied[1].z, anchor.z)
    (tmp_path / "a.json").write_text(json.dumps(anchor.to_dict()))
    code, out, _ = invoke(
        "sample", "--interpolate", str(tmp_path / "a.json"), "last", "--steps", "3"
    )
    assert code == 0 and len(loads_patterns(out)) == 3


def test_cli_vary_last_keeps_the_anchor(can: StoredModel, tmp_path: Path) -> None:
    """Three '--vary last' calls with one seed land on the same variation: no drift."""
    code, out, _ = invoke("sample", "-m", "tiny-can", "--seed", "4", "-o", "-", "-f", "json")
    assert code == 0
    [anchor] = loads_patterns(out)
    distances = []
    for _ in range(3):
        code, out, _ = invoke("sample", "--vary", "last", "--seed", "9", "-f", "json", "-o", "-")
        assert code == 0
        [varied] = loads_patterns(out)
        distances.append(float(np.linalg.norm(varied.z - anchor.z)))
    assert distances[0] > 0
    assert max(distances) <= distances[0] + 1e-9
    # --vary FILE makes that pattern the anchor for the next --vary last
    other = tmp_path / "other.json"
    code, out, _ = invoke("sample", "-m", "tiny-can", "--seed", "5", "-o", str(other))
    [chosen] = loads_patterns(other.read_text())
    assert invoke("sample", "--vary", str(other), "--seed", "1", "-o", "-", "-f", "json")[0] == 0
    code, out, _ = invoke("sample", "--vary", "last", "--noise", "0", "-o", "-", "-f", "json")
    assert code == 0 and np.array_equal(loads_patterns(out)[0].z, chosen.z)
    # a plain sample becomes the anchor again
    code, out, _ = invoke("sample", "-m", "tiny-can", "--seed", "6", "-o", "-", "-f", "json")
    [plain] = loads_patterns(out)
    code, out, _ = invoke("sample", "--vary", "last", "--noise", "0", "-o", "-", "-f", "json")
    assert np.array_equal(loads_patterns(out)[0].z, plain.z)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-m", "tiny-can", "-n", "0"], 2, "-n must be at least 1"),
        (["-m", "tiny-can", "--threshold", "1.5"], 2, "between 0 and 1"),
        (["-m", "tiny-can", "--genre", "rock"], 2, "no genre input"),
        (["-m", "tiny-cgan", "--genre", "polka"], 2, "its genres: funk, rock, jazz"),
        (["-m", "tiny-can", "--format", "wav"], 2, "unknown --format"),
        (["--genre-ambiguous"], 1, "no default can model"),
        (["--vary", "last"], 1, "run 'rhythmcan sample' first"),
        (["-m", "no-such-model"], 1, "no-such-model"),
    ],
)
def test_cli_bad_input_is_one_clear_line(
    can: StoredModel, cgan: StoredModel, args: list[str], code: int, message: str
) -> None:
    exit_code, out, err = invoke("sample", *args)
    assert exit_code == code
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_cli_corrupt_model_folder(can: StoredModel) -> None:
    folder = can.path
    weights = next(folder.glob("generator/*.bin"))
    weights.write_bytes(weights.read_bytes()[:-8])
    exit_code, out, err = invoke("sample", "-m", "tiny-can")
    assert exit_code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "tiny-can" in err


def test_cli_on_a_terminal_prints_grids(can: StoredModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rhythmcan_cli.cli.sample.stdout_is_terminal", lambda: True)
    code, out, _ = invoke("sample", "-m", "tiny-can", "-n", "2", "--seed", "5")
    assert code == 0
    assert "tiny-can · genre-ambiguous · seed 5 #0" in out
    assert "seed 5 #1" in out and out.count("Kick") == 2
    assert "{" not in out  # no JSON on a terminal
    code, _, err = invoke("sample", "-m", "tiny-can", "--format", "mid")
    assert code == 2 and "-o FILE.mid" in err


@pytest.mark.integration
def test_the_2020_release_model_samples_and_plays(tokui_model: Path, tmp_path: Path) -> None:
    from rhythmcan_cli.tfjs.exchange import import_model

    import_model(tokui_model, name="tokui-2020")
    code, out, _ = invoke("sample", "-m", "tokui-2020", "-n", "4", "--seed", "1")
    assert code == 0
    patterns = loads_patterns(out)
    assert [p.kind for p in patterns] == ["can"] * 4 and patterns[0].z.shape == (100,)
    hits = [int((p.values > p.threshold).sum()) for p in patterns]
    assert all(0 < h < 288 for h in hits)  # a trained model: neither silence nor noise
    wav = tmp_path / "t.wav"
    result = runner.invoke(app, ["play", "--wav", str(wav)], input=out)
    assert result.exit_code == 0, result.stderr
    assert wav.stat().st_size > 44100 * 4 * 16  # 16 s of 44.1 kHz stereo 16-bit


def test_sampling_restores_the_blas_thread_count(can: StoredModel) -> None:
    from rhythmcan_cli.sampling.sample import _openblas_thread_control

    control = _openblas_thread_control()
    if control is None:
        pytest.skip("numpy is not linked with a bundled OpenBLAS")
    setter, getter = control
    before = int(getter())
    setter(2)
    try:
        sample(can, n=2, seed=1)
        assert int(getter()) == 2
    finally:
        setter(before)
