"""Steering: --like search, --keep, --density/--syncopation selection, per-voice thresholds,
--humanize and --accent, through the library and the CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli.cli.app import app
from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.evaluation.distance import osa_reference
from rhythmcan_cli.grid import CLASS_NAMES, VOICE_GROUPS, voice_indices
from rhythmcan_cli.midi import WRITE_PPQ, midi_bytes
from rhythmcan_cli.sampling.feel import Humanize, accent, humanize_midi, parse_humanize
from rhythmcan_cli.sampling.patterns import loads_patterns
from rhythmcan_cli.sampling.sample import midi_file_bytes, sample
from rhythmcan_cli.sampling.shaping import (
    apply_thresholds,
    distances_to,
    hits_of,
    onsets_per_bar,
    parse_range,
    parse_thresholds,
    parse_voices,
    pattern_syncopation,
)
from rhythmcan_cli.sampling.steer import LoadedModel, Steering, like, steer, voice_distances
from rhythmcan_cli.sampling.target import Target, load_target
from tests.conftest import subprocess_env
from tests.helpers import make_stored_model, need_sounddevice

runner = CliRunner()


@pytest.fixture
def can() -> LoadedModel:
    return LoadedModel.of(make_stored_model("tiny-can", kind="can"))


@pytest.fixture
def cgan() -> LoadedModel:
    return LoadedModel.of(make_stored_model("tiny-cgan", kind="cgan"))


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def groove_pattern() -> np.ndarray:
    """A plain rock beat: kick 1/3, snare 2/4, 8th hats (values as velocities)."""
    values = np.zeros((32, 9), dtype=np.float32)
    values[::8, 0] = 0.9
    values[4::8, 1] = 0.8
    values[::2, 2] = 0.5
    return values


# ------------------------------------------------------------------------------ parsing


def test_voice_names_and_groups_come_from_the_grid_vocabulary() -> None:
    assert parse_voices("kick,snare") == (0, 1)
    assert parse_voices("HATS") == tuple(CLASS_NAMES.index(v) for v in VOICE_GROUPS["hats"])
    assert parse_voices("toms,ride") == (4, 5, 6, 8)
    assert voice_indices("closed-hat") == (2,)
    with pytest.raises(UsageError, match=r"unknown drum voice 'cowbell'.*kick.*hats"):
        parse_voices("kick,cowbell")


def test_per_voice_thresholds_thin_and_fill_single_voices() -> None:
    spec = parse_thresholds("0.2,kick=0.6,hats=0.05")
    assert spec.base == 0.2 and spec.voices == {0: 0.6, 2: 0.05, 3: 0.05}
    values = np.zeros((32, 9), dtype=np.float32)
    values[0, 0], values[8, 0] = 0.5, 0.7  # kick: 0.5 is thinned away at 0.6
    values[2, 2] = 0.1  # a soft hat: filled in at 0.05
    values[4, 1] = 0.15  # snare under the base 0.2: stays out
    shaped, threshold = apply_thresholds(values, spec.vector(0.2))
    assert threshold == pytest.approx(0.05)
    hits = hits_of(shaped, threshold)
    assert hits[:, 0].nonzero()[0].tolist() == [8]
    assert hits[2, 2] and not hits[4, 1]
    assert shaped[8, 0] == values[8, 0] and shaped[2, 2] == values[2, 2]  # velocities kept
    for bad in ("kick=2", "0.2,kick=x", "snare=0.3,foo=0.1"):
        with pytest.raises(UsageError):
            parse_thresholds(bad)


def test_ranges_and_bands() -> None:
    assert parse_range("4-12", "--density") == (4.0, 12.0)
    assert parse_range("8", "--density") == (8.0, 8.0)
    assert parse_range("10-", "--density")[1] == float("inf")
    assert parse_range("low", "--syncopation", bands={"low": (0.0, 20.0)}) == (0.0, 20.0)
    for bad in ("12-4", "a-b", "-3-"):
        with pytest.raises(UsageError):
            parse_range(bad, "--density")


def test_density_and_syncopation_measures() -> None:
    hits = groove_pattern()[None] > 0.2
    assert onsets_per_bar(hits)[0] == (4 + 4 + 16) / 2
    on = np.zeros((1, 32, 9), dtype=bool)
    on[0, ::4, 0] = True  # four on the floor: every hit on a beat
    off = np.zeros((1, 32, 9), dtype=bool)
    off[0, 3::8, 0] = True  # kicks on the 'a' of beats, rests on the beats after
    assert pattern_syncopation(on)[0] == 0 < pattern_syncopation(off)[0]


# ------------------------------------------------------------------------------- --like


def test_like_finds_a_pattern_much_nearer_than_random(can: LoadedModel) -> None:
    own = sample(can, n=1, seed=99)[0]  # a pattern the model can make exactly
    target = Target(np.asarray(own.values), own.threshold, "own", own.threshold)
    found = like(can, target, seed=1)
    assert found.distance < found.random_median / 2
    hits = hits_of(found.pattern.values, found.pattern.threshold)[None]
    osa, _ = distances_to(target.hits, target.values, hits, found.pattern.values[None])
    assert int(osa[0]) == found.distance  # the reported distance is the pattern's own
    again = like(can, target, seed=1)
    assert np.array_equal(again.pattern.z, found.pattern.z)  # seeded


def test_voice_distances_match_the_textbook_osa_per_voice() -> None:
    rng = np.random.default_rng(5)
    target = rng.random((32, 9)) < 0.3
    hits = rng.random((40, 32, 9)) < rng.uniform(0.0, 0.6, size=(40, 1, 9))
    hits[:20, :, 4:] = False  # repeated (empty) rows are scored once and shared
    hits[30] = target  # an exact match
    got = voice_distances(target, hits)
    want = [
        [osa_reference(target[:, k].tolist(), h[:, k].tolist()) for k in range(9)] for h in hits
    ]
    assert got.tolist() == want
    assert got[30].sum() == 0


def test_like_on_a_conditional_model_keeps_the_requested_genre(cgan: LoadedModel) -> None:
    target = Target(groove_pattern(), 0.0, "rock beat")
    found = like(cgan, target, seed=3, genre="rock")
    assert found.pattern.genre == "rock"
    assert found.distance <= found.random_median


def test_like_reads_a_midi_bar(tmp_path: Path) -> None:
    other = np.zeros((32, 9), dtype=np.float32)
    other[::4, 8] = 0.6
    path = tmp_path / "groove.mid"
    path.write_bytes(midi_bytes(np.stack([other, groove_pattern()]), threshold=0.0))
    first = load_target(str(path))
    assert first.label == "groove.mid bar 1" and np.array_equal(first.values > 0, other > 0)
    third = load_target(str(path), bar=3)
    assert np.array_equal(third.values > 0, groove_pattern() > 0)
    with pytest.raises(UsageError, match=r"--bar 9: groove\.mid has drum hits in 2-bar windows"):
        load_target(str(path), bar=9)


def test_like_refuses_what_has_no_drum_bar(tmp_path: Path) -> None:
    waltz = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0))
    for i in range(24):
        track.append(
            mido.Message("note_on", channel=9, note=36, velocity=90, time=0 if i == 0 else 240)
        )
        track.append(mido.Message("note_off", channel=9, note=36, velocity=0, time=240))
    waltz.tracks.append(track)
    waltz.save(tmp_path / "waltz.mid")
    with pytest.raises(DataError, match="no 2-bar 4/4 drum window"):
        load_target(str(tmp_path / "waltz.mid"))
    (tmp_path / "junk.txt").write_text("hello\n")
    with pytest.raises(DataError, match="neither a MIDI file nor rhythmcan pattern JSON"):
        load_target(str(tmp_path / "junk.txt"))
    (tmp_path / "bad.mid").write_bytes(b"MThd garbage")
    with pytest.raises(DataError, match=r"cannot read bad\.mid as MIDI"):
        load_target(str(tmp_path / "bad.mid"))


# -------------------------------------------------------------------- --keep and shaping


def test_keep_copies_rows_exactly_and_picks_the_nearest_candidates(can: LoadedModel) -> None:
    anchor = sample(can, n=1, seed=5)[0]
    result = steer(
        can, n=3, seed=11, vary=anchor, noise=1.0, steering=Steering(keep=(0, 1), candidates=256)
    )
    assert len(result.patterns) == 3
    for pattern in result.patterns:
        assert np.array_equal(pattern.values[:, :2], anchor.values[:, :2])
    # The same seed draws the same candidates: the chosen ones have the nearest own kick/snare.
    pool = sample(can, n=256, seed=11, vary=anchor, noise=1.0)
    values = np.stack([p.values for p in pool])
    osa, l2 = distances_to(
        anchor.values > anchor.threshold, anchor.values, values > 0.2, values, (0, 1)
    )
    ranked = np.lexsort((l2, osa))[:3]
    assert [p.index for p in result.patterns] == ranked.tolist()


def test_density_and_syncopation_select_and_say_what_is_reachable(can: LoadedModel) -> None:
    pool = sample(can, n=512, seed=2, threshold=0.3)
    hits = np.stack([hits_of(p.values, p.threshold) for p in pool])
    low, high = np.percentile(onsets_per_bar(hits), [40, 60]).tolist()
    result = steer(
        can,
        n=4,
        seed=2,
        thresholds=parse_thresholds("0.3"),
        steering=Steering(density=(low, high), candidates=512),
    )
    chosen = np.stack([hits_of(p.values, p.threshold) for p in result.patterns])
    assert np.all((onsets_per_bar(chosen) >= low) & (onsets_per_bar(chosen) <= high))
    cut = float(np.percentile(pattern_syncopation(hits), 30))
    calm = steer(
        can,
        n=2,
        seed=2,
        thresholds=parse_thresholds("0.3"),
        steering=Steering(syncopation=(0, cut), candidates=512),
    )
    chosen = np.stack([hits_of(p.values, p.threshold) for p in calm.patterns])
    assert np.all(pattern_syncopation(chosen) <= cut)
    with pytest.raises(UsageError, match=r"--density 300-400: 0 of 64.*nearest reached .*try"):
        steer(can, seed=2, steering=Steering(density=(300, 400), candidates=64))


# ------------------------------------------------------------------------------- feel


def test_humanize_moves_notes_within_their_step_seeded(can: LoadedModel) -> None:
    patterns = sample(can, n=2, seed=4, threshold=0.1)
    plain = midi_file_bytes(patterns, bpm=100.0)
    human = humanize_midi(plain, Humanize(20.0, 10), seed=7, bpm=100.0)
    assert human == humanize_midi(plain, Humanize(20.0, 10), seed=7, bpm=100.0)
    assert human != humanize_midi(plain, Humanize(20.0, 10), seed=8, bpm=100.0)

    def notes(data: bytes) -> list[tuple[int, int, int]]:
        midi = mido.MidiFile(file=io.BytesIO(data))
        out, tick = [], 0
        for message in midi.tracks[1]:
            tick += message.time
            if message.type == "note_on" and message.velocity > 0:
                out.append((tick, message.note, message.velocity))
        return sorted(out)

    before, after = notes(plain), notes(human)
    assert len(before) == len(after) > 0
    step = WRITE_PPQ // 4
    # every humanized note lies inside its own step's quarter, and some moved
    grid_after = sorted((round(t / step), n) for t, n, _ in after)
    assert grid_after == sorted((t // step, n) for t, n, _ in before)
    assert all(abs(t - round(t / step) * step) < step / 4 for t, _, _ in after)
    assert any(t % step for t, _, _ in after)
    assert all(1 <= v <= 127 for _, _, v in after)
    assert mido.MidiFile(file=io.BytesIO(human)).tracks[1][-1].type == "end_of_track"
    assert parse_humanize("12") == Humanize(12.0, 8)
    with pytest.raises(UsageError):
        parse_humanize("500")


def test_accent_widens_the_models_dynamics_and_keeps_every_hit(can: LoadedModel) -> None:
    pattern = sample(can, n=1, seed=6, threshold=0.1)[0]
    (loud,) = accent([pattern], 1.0)
    before = pattern.values > pattern.threshold
    assert np.array_equal(loud.values > loud.threshold, before)
    assert np.std(loud.values[before]) > np.std(pattern.values[before])
    assert np.array_equal(loud.values[~before], pattern.values[~before])


# -------------------------------------------------------------------------------- CLI


def test_cli_impossible_requests_are_one_line(can: LoadedModel, tmp_path: Path) -> None:
    cases = [
        (["--keep", "kick"], "--keep needs an anchor"),
        (["--like", str(tmp_path / "nothere.mid")], "--like: no such file"),
        (["--bar", "2"], "--bar picks the window of --like"),
        (["--density", "300-", "--candidates", "64"], "nearest reached"),
        (["--keep", "cowbell", "--vary", "last"], "unknown drum voice"),
    ]
    for args, message in cases:
        code, _, err = invoke("sample", "-m", "tiny-can", "--seed", "1", *args)
        assert code in (1, 2), (args, err)  # usage 2, unreadable input 1
        assert message in err and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err


def test_cli_like_keep_humanize_end_to_end(can: LoadedModel, tmp_path: Path) -> None:
    groove = tmp_path / "groove.mid"
    groove.write_bytes(midi_bytes(groove_pattern(), threshold=0.0))
    code, out, err = invoke(
        "sample", "-m", "tiny-can", "--like", str(groove), "--seed", "3", "-n", "3",
        "--keep", "kick,snare", "-f", "json",
    )  # fmt: skip
    assert code == 0, err
    assert "--like groove.mid bar 1: nearest pattern at distance" in err
    patterns = loads_patterns(out)
    assert len(patterns) == 3
    heard = load_target(str(groove)).values  # velocities / 127, as read from the file
    for pattern in patterns:  # the user's own kick and snare, every note (threshold 0)
        assert np.allclose(pattern.values[:, :2], heard[:, :2], atol=5e-5)  # JSON: 4 decimals
        assert np.array_equal(
            hits_of(pattern.values, pattern.threshold)[:, :2], groove_pattern()[:, :2] > 0
        )
    code, _, err = invoke(
        "sample", "-m", "tiny-can", "--seed", "3", "-t", "0.1", "--humanize", "15,6",
        "--accent", "0.5", "-o", str(tmp_path / "h.mid"),
    )  # fmt: skip
    assert code == 0, err
    ticks = [m.time for m in mido.MidiFile(tmp_path / "h.mid").tracks[1]]
    assert sum(ticks) > 0
    code, _, err = invoke(
        "sample", "-m", "tiny-can", "--seed", "3", "-n", "2", "--humanize", "15",
        "-o", f"{tmp_path}/d/",
    )  # fmt: skip
    assert code == 0 and sorted(p.name for p in (tmp_path / "d").iterdir()) == [
        "pattern-001.mid",
        "pattern-002.mid",
    ]


@pytest.mark.bundled
def test_steering_on_the_bundled_models(tmp_path: Path) -> None:
    groove = tmp_path / "rock.mid"
    groove.write_bytes(midi_bytes(groove_pattern(), threshold=0.0, bpm=100.0))
    code, out, err = invoke(
        "sample", "--like", str(groove), "--genre", "rock", "-n", "2", "--noise", "0.3",
        "--seed", "1", "-f", "json",
    )  # fmt: skip
    assert code == 0, err
    first = json.loads(out.splitlines()[0])
    assert first["model"] == "default-cgan" and first["genre"] == "rock"
    distance = int(err.split("distance ")[1].split()[0])
    median = float(err.split("median ")[1].split(";")[0])
    assert distance <= median / 2
    code, out, err = invoke(
        "sample", "--vary", "last", "--keep", "kick,snare", "--density", "4-", "--seed", "2",
        "-f", "json", "-t", "0.2,hats=0.1", "--candidates", "512",
    )  # fmt: skip
    assert code == 0, err
    anchor = loads_patterns((Path(os.environ["RHYTHMCAN_HOME"]) / "anchor.json").read_text())[0]
    kept = loads_patterns(out)[0]
    assert kept.model == "default-cgan"
    assert np.array_equal(kept.values[:, :2], anchor.values[:, :2])


def test_sample_play_humanized_through_a_null_sink(can: LoadedModel, tmp_path: Path) -> None:
    need_sounddevice()
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text('pcm.!default { type plug; slave.pcm "null" }\n')
    done = subprocess.run(
        [sys.executable, "-m", "rhythmcan_cli", "sample", "-m", "tiny-can", "--seed", "1",
         "-t", "0.05", "--humanize", "10", "--play", "--require-audio",
         "-o", str(tmp_path / "a.mid")],
        capture_output=True, text=True, timeout=120, check=False,
        env=subprocess_env(HOME=str(home), RHYTHMCAN_SYNTH="builtin"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "played" in done.stderr and "built-in synth" in done.stderr
