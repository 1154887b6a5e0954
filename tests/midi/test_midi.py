"""MIDI reading and writing: round trips, odd files written here, hostile bytes, options."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mido
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rhythmcan_cli import midi
from rhythmcan_cli.errors import DataError, MidiError, UsageError
from rhythmcan_cli.grid import OUTPUT_PITCHES, PITCH_TO_CLASS
from rhythmcan_cli.midi import (
    midi_bytes,
    read_midi_windows,
    write_midi,
    write_midi_files,
)
from rhythmcan_cli.midi import read as midi_read
from tests.conftest import subprocess_env
from tests.helpers import MidiTiming

KICK, SNARE, CHH = 0, 1, 2


def random_patterns(n: int, seed: int = 0, density: float = 0.25) -> np.ndarray:
    """Patterns whose values are exact velocities / 127 (what reading gives back)."""
    rng = np.random.default_rng(seed)
    hits = rng.random((n, 32, 9)) < density
    velocities = rng.integers(1, 128, size=(n, 32, 9))
    return (hits * velocities / 127.0).astype(np.float32)


def note_ons(data: bytes) -> list[tuple[int, int, int, int]]:
    """(absolute tick, channel, pitch, velocity) of every note-on with velocity > 0, via mido."""
    found = []
    for track in mido.MidiFile(file=io.BytesIO(data)).tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                found.append((tick, msg.channel, msg.note, msg.velocity))
    return sorted(found)


# -- files in odd shapes, built message by message ---------------------------------------


def make_file(
    tracks: Sequence[Sequence[tuple[int, mido.Message | mido.MetaMessage]]],
    *,
    kind: int = 1,
    tpb: int = 480,
) -> bytes:
    """A MIDI file from tracks of (absolute tick, message)."""
    out = mido.MidiFile(type=kind, ticks_per_beat=tpb)
    for events in tracks:
        track = mido.MidiTrack()
        now = 0
        for tick, message in sorted(events, key=lambda e: e[0]):
            track.append(message.copy(time=tick - now))
            now = tick
        out.tracks.append(track)
    buffer = io.BytesIO()
    out.save(file=buffer)
    return buffer.getvalue()


def hit(
    tick: int, pitch: int, velocity: int = 100, channel: int = 9
) -> list[tuple[int, mido.Message]]:
    return [
        (tick, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)),
        (tick + 30, mido.Message("note_off", channel=channel, note=pitch, velocity=0)),
    ]


def ts(tick: int, numerator: int, denominator: int) -> tuple[int, mido.MetaMessage]:
    return (tick, mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator))


def every_16th(
    start_step: int, steps: int, pitch: int = 42, tpb: int = 480, velocity: int = 80
) -> list[mido.Message]:
    events = []
    for s in range(start_step, start_step + steps):
        events += hit(s * tpb // 4, pitch, velocity)
    return events


# -- writing -------------------------------------------------------------------------------


def test_round_trip_exact_cells_and_velocities() -> None:
    patterns = random_patterns(3)
    data = midi_bytes(patterns, threshold=0.0)
    read = read_midi_windows(data, hop=32, min_onsets=0)
    assert read.windows.shape == (3, 32, 9)
    np.testing.assert_array_equal(read.windows, patterns)
    assert read.notes == int((patterns > 0).sum())
    assert not read.unmapped


def test_written_notes_read_by_mido_and_pretty_midi() -> None:
    import pretty_midi

    pattern = random_patterns(1, seed=3)[0]
    data = midi_bytes(pattern, threshold=0.2, bpm=100.0)
    expected = sorted(
        (step * 120, 9, OUTPUT_PITCHES[cls], max(1, round(float(pattern[step, cls]) * 127)))
        for step, cls in zip(*np.nonzero(pattern > 0.2), strict=True)
    )
    assert note_ons(data) == expected

    # pretty_midi: an independent parser; times in seconds at 100 bpm (a 16th = 0.15 s)
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    drums = [i for i in pm.instruments if i.is_drum]
    assert len(drums) == 1
    got = sorted((round(n.start / 0.15), n.pitch, n.velocity) for n in drums[0].notes)
    assert got == [(tick // 120, pitch, vel) for tick, _, pitch, vel in expected]
    assert all(abs(n.end - n.start - 0.075) < 1e-6 for n in drums[0].notes)  # 32nd gate
    assert pm.get_tempo_changes()[1][0] == pytest.approx(100.0)


def test_file_layout_tempo_time_signature_names() -> None:
    data = midi_bytes(random_patterns(2), bpm=93.5, track_name="my groove", loops=2)
    parsed = mido.MidiFile(file=io.BytesIO(data))
    assert parsed.type == 1 and parsed.ticks_per_beat == 480 and len(parsed.tracks) == 2
    conductor = {m.type: m for m in parsed.tracks[0]}
    assert conductor["set_tempo"].tempo == mido.bpm2tempo(93.5)
    assert (conductor["time_signature"].numerator, conductor["time_signature"].denominator) == (
        4,
        4,
    )
    assert conductor["track_name"].name == "my groove"
    notes = [m for m in parsed.tracks[1] if m.type in ("note_on", "note_off")]
    assert notes and all(m.channel == 9 for m in notes)
    # two patterns x two loops x 2 bars: both tracks end at the same tick, 8 bars in
    for track in parsed.tracks:
        assert sum(m.time for m in track) == 4 * 32 * 120


def test_threshold_is_strict_and_velocity_at_least_one() -> None:
    pattern = np.zeros((32, 9), np.float32)
    pattern[0, KICK] = 0.2  # equal to the threshold: not a hit
    pattern[1, KICK] = 0.2001
    pattern[2, SNARE] = 0.001  # above threshold 0: velocity rounds to 0 -> 1
    pattern[3, SNARE] = 1.0
    pattern[4, SNARE] = 64.5 / 127  # rounds half up
    ons = note_ons(midi_bytes(pattern, threshold=0.2))
    assert [(t // 120, v) for t, _, _, v in ons] == [(1, 25), (3, 127), (4, 65)]
    ons = note_ons(midi_bytes(pattern, threshold=0.0))
    assert (2 * 120, 9, 38, 1) in ons


def test_swing_delays_every_second_16th() -> None:
    pattern = np.zeros((32, 9), np.float32)
    pattern[:4, CHH] = 1.0
    ticks = [t for t, *_ in note_ons(midi_bytes(pattern, swing=0.5))]
    assert ticks == [0, 120 + 60, 240, 360 + 60]
    ticks = [t for t, *_ in note_ons(midi_bytes(pattern, swing=0.75))]
    assert ticks == [0, 120 + 90, 240, 360 + 90]
    # heavy swing shortens the gate so a note ends before the next 16th starts
    parsed = mido.MidiFile(file=io.BytesIO(midi_bytes(pattern, swing=0.75)))
    tick, open_at = 0, {}
    for msg in parsed.tracks[1]:
        tick += msg.time
        if msg.type == "note_on":
            open_at[msg.note] = tick
        elif msg.type == "note_off":
            assert tick - open_at[msg.note] <= 60
            assert tick <= (open_at[msg.note] // 120 + 2) * 120


def test_swung_file_reads_back_on_the_grid_below_half_swing() -> None:
    patterns = random_patterns(2, seed=5)
    data = midi_bytes(patterns, threshold=0.0, swing=0.4)
    np.testing.assert_array_equal(read_midi_windows(data, hop=32, min_onsets=0).windows, patterns)


def test_several_patterns_and_loops_follow_each_other() -> None:
    patterns = random_patterns(2, seed=7)
    read = read_midi_windows(midi_bytes(patterns, threshold=0.0, loops=3), hop=32, min_onsets=0)
    np.testing.assert_array_equal(read.windows, patterns[[0, 0, 0, 1, 1, 1]])


def test_custom_pitch_map() -> None:
    pattern = np.zeros((32, 9), np.float32)
    pattern[0, :] = 1.0
    pitches = (35, 40, 44, 46, 41, 48, 50, 57, 59)
    assert [p for _, _, p, _ in note_ons(midi_bytes(pattern, pitches=pitches))] == sorted(pitches)


def test_write_to_path_and_stream(tmp_path: Path) -> None:
    pattern = random_patterns(1)[0]
    target = tmp_path / "deep" / "one.mid"
    write_midi(pattern, target)
    stream = io.BytesIO()
    write_midi([pattern], stream)
    assert target.read_bytes() == stream.getvalue() == midi_bytes(pattern)
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind


def test_write_midi_files_numbers_and_refuses_to_overwrite(tmp_path: Path) -> None:
    patterns = random_patterns(3, seed=1)
    paths = write_midi_files(patterns, tmp_path / "out", prefix="groove", bpm=100.0)
    assert [p.name for p in paths] == ["groove-001.mid", "groove-002.mid", "groove-003.mid"]
    for path, pattern in zip(paths, patterns, strict=True):
        assert path.read_bytes() == midi_bytes(pattern, bpm=100.0)
    with pytest.raises(DataError, match=r"groove-001\.mid"):
        write_midi_files(patterns, tmp_path / "out", prefix="groove")
    stamp = paths[2].read_bytes()
    again = write_midi_files(patterns[:1], tmp_path / "out", prefix="groove", force=True, bpm=90.0)
    assert again == paths[:1] and paths[2].read_bytes() == stamp


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"threshold": 1.5}, UsageError),
        ({"threshold": float("nan")}, UsageError),
        ({"swing": 0.8}, UsageError),
        ({"swing": -0.1}, UsageError),
        ({"bpm": 0.0}, UsageError),
        ({"bpm": -120.0}, UsageError),
        ({"loops": 0}, UsageError),
        ({"pitches": (36, 38)}, UsageError),
        ({"pitches": (36, 38, 42, 46, 45, 47, 50, 49, 128)}, UsageError),
    ],
)
def test_bad_write_options(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        midi_bytes(random_patterns(1)[0], **options)


@pytest.mark.parametrize("shape", [(32, 8), (16, 9), (2, 2, 32, 9), (0, 32, 9)])
def test_bad_pattern_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(DataError):
        midi_bytes(np.zeros(shape, np.float32))


def test_values_out_of_range_are_refused() -> None:
    pattern = np.zeros((32, 9), np.float32)
    pattern[0, 0] = 1.5
    with pytest.raises(DataError):
        midi_bytes(pattern)


# -- the byte-level writer: mido's bytes, one file or a batch ----------------------------


def mido_written(
    patterns: np.ndarray,
    thresholds: Sequence[float],
    pitch_maps: Sequence[Sequence[int]],
    *,
    bpm: float,
    swing: float,
    loops: int,
    track_name: str,
) -> bytes:
    """The file as mido writes it (how midi_bytes was written before its byte encoder)."""
    step, gate = midi.WRITE_PPQ // 4, midi.WRITE_PPQ // 8
    delay = round(swing * step)
    gate_odd = min(gate, step - delay) if delay else gate
    events: list[tuple[int, int, int, int]] = []
    offset = 0
    for pattern, threshold, pitches in zip(patterns, thresholds, pitch_maps, strict=True):
        steps, cells = np.nonzero(pattern > np.float32(threshold))
        velocities = np.maximum(1, np.floor(pattern[steps, cells] * 127.0 + 0.5)).astype(int)
        for _ in range(loops):
            for s, c, v in zip(steps.tolist(), cells.tolist(), velocities.tolist(), strict=True):
                on = offset + s * step + (delay if s % 2 else 0)
                events.append((on, 1, pitches[c], min(127, v)))
                events.append((on + (gate_odd if s % 2 else gate), 0, pitches[c], 0))
            offset += 32 * step
    events.sort()
    meta = mido.MetaMessage
    conductor = mido.MidiTrack([
        meta("track_name", name=track_name),
        meta("set_tempo", tempo=mido.bpm2tempo(bpm)),
        meta("time_signature", numerator=4, denominator=4, clocks_per_click=24,
             notated_32nd_notes_per_beat=8),
        meta("end_of_track", time=offset),
    ])  # fmt: skip
    drums = mido.MidiTrack([meta("track_name", name=track_name)])
    now = 0
    for tick, is_on, pitch, velocity in events:
        kind = "note_on" if is_on else "note_off"
        drums.append(mido.Message(kind, channel=9, note=pitch, velocity=velocity, time=tick - now))
        now = tick
    drums.append(meta("end_of_track", time=max(0, offset - now)))
    out = io.BytesIO()
    mido.MidiFile(type=1, ticks_per_beat=midi.WRITE_PPQ, tracks=[conductor, drums]).save(file=out)
    return out.getvalue()


class MidiOptions(MidiTiming):
    """Every option of ``midi_bytes`` but the per-pattern ones (threshold, pitches)."""

    track_name: str


def random_write_case(rng: np.random.Generator, n: int) -> tuple[np.ndarray, MidiOptions]:
    values = np.round(rng.random((n, 32, 9)) ** float(rng.choice([1, 3, 8])), 4).astype(np.float32)
    values[rng.random(n) < 0.2] = 0.0  # silent patterns too
    values[values > 0.9] = np.float32(0.2)  # cells exactly at the default threshold
    options: MidiOptions = {
        "bpm": float(rng.choice([4.0, 97.3, 120.0, 1000.0])),
        "swing": float(rng.choice([0.0, 0.3, 0.5, 0.75])),
        "loops": int(rng.choice([1, 2, 3])),
        "track_name": str(rng.choice(["rhythmcan", "", "groove é" * 20])),
    }
    return values, options


def test_written_bytes_are_what_mido_writes() -> None:
    rng = np.random.default_rng(0)
    for trial in range(40):
        n = int(rng.integers(1, 4))
        values, options = random_write_case(rng, n)
        threshold = float(rng.choice([0.0, 0.2, 0.5, 1.0]))
        pitches = OUTPUT_PITCHES if trial % 2 else tuple(int(p) for p in rng.integers(0, 128, 9))
        expected = mido_written(values, [threshold] * n, [pitches] * n, **options)
        got = midi_bytes(values, threshold=threshold, pitches=pitches, **options)
        assert got == expected, trial
        # per-pattern thresholds and pitch maps (what `rhythmcan sample` writes)
        thresholds = [float(t) for t in rng.choice([0.0, 0.2, 0.6, 1.0], n)]
        maps = [OUTPUT_PITCHES if i % 2 else tuple(range(60, 69)) for i in range(n)]
        expected = mido_written(values, thresholds, maps, **options)
        got = midi_bytes(values, threshold=thresholds, pitches=maps, **options)
        assert got == expected, trial


def test_batch_writer_equals_the_single_file_writer_byte_for_byte() -> None:
    rng = np.random.default_rng(1)
    for trial in range(15):
        values, options = random_write_case(rng, 6)
        thresholds = [float(t) for t in rng.choice([0.0, 0.2, 0.6, 1.0], 6)]
        maps = np.array([OUTPUT_PITCHES if i % 2 else tuple(range(30, 39)) for i in range(6)])
        files = midi.midi_files(values, threshold=thresholds, pitches=maps, **options)
        assert len(files) == 6
        for i, data in enumerate(files):
            single = midi_bytes(values[i], threshold=thresholds[i], pitches=maps[i], **options)
            assert data == single, (trial, i)
    same = midi.midi_files(values, threshold=0.2, bpm=90.0)
    assert same == [midi_bytes(v, threshold=0.2, bpm=90.0) for v in values]


def test_long_silences_take_a_fifth_delta_byte_like_mido() -> None:
    values = np.zeros((80, 32, 9), np.float32)
    values[0, 0, 0] = values[-1, 5, 3] = 1.0  # 78 x 1000 silent bars apart: > 2**28 ticks
    options: MidiOptions = {"bpm": 120.0, "swing": 0.0, "loops": 1000, "track_name": "x"}
    expected = mido_written(values, [0.2] * 80, [OUTPUT_PITCHES] * 80, **options)
    assert midi_bytes(values, loops=1000, track_name="x") == expected


@pytest.mark.parametrize(
    "options",
    [
        {"threshold": [0.2]},
        {"threshold": [0.2, 1.5]},
        {"threshold": [0.2, float("nan")]},
        {"threshold": "high"},
        {"pitches": [OUTPUT_PITCHES] * 3},
        {"pitches": [OUTPUT_PITCHES, (36, 38)]},
        {"pitches": np.full((2, 9), 128)},
        {"pitches": np.full((2, 9), 36.0)},
        {"track_name": "euro \u20ac"},
    ],
)
def test_bad_per_pattern_options(options: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        midi.midi_files(random_patterns(2), **options)


def test_importing_and_writing_midi_does_not_import_mido() -> None:
    code = (
        "import io, sys, numpy as np\n"
        "from rhythmcan_cli import midi\n"
        "midi.midi_files(np.zeros((2, 32, 9), np.float32))\n"
        "midi.write_midi(np.ones((32, 9), np.float32), io.BytesIO())\n"
        "midi.read_midi_windows(midi.midi_bytes(np.ones((32, 9), np.float32)))\n"
        "print('mido' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        check=True,
    )
    assert done.stdout.strip() == "False"


# -- reading odd files -----------------------------------------------------------------


def test_type_0_file_other_channels_and_unmapped_pitches() -> None:
    events = every_16th(0, 32, pitch=36)  # kick on every 16th, channel 10
    events += hit(0, 38, channel=0)  # a piano note on channel 1: ignored
    events += hit(240, 22) + hit(360, 26)  # TD-11 hat edges: mapped
    events += hit(480, 99) + hit(600, 99) + hit(720, 13)  # outside the vocabulary
    read = read_midi_windows(make_file([events], kind=0), min_onsets=1)
    assert read.windows.shape == (1, 32, 9)
    assert read.windows[:, :, KICK].min() == pytest.approx(80 / 127)
    assert read.windows[0, 2, CHH] > 0 and read.windows[0, 3, 3] > 0
    assert dict(read.unmapped) == {99: 2, 13: 1}
    assert read.notes == 32 + 2 + 3


def test_channel_option_reads_another_channel() -> None:
    events = [e for s in range(32) for e in hit(s * 120, 36, channel=3)]
    data = make_file([events])
    assert read_midi_windows(data, min_onsets=1).windows.shape[0] == 0
    assert read_midi_windows(data, channel=4, min_onsets=1).windows.shape[0] == 1
    with pytest.raises(UsageError):
        read_midi_windows(data, channel=17)


def test_several_tracks_merge_and_louder_hit_wins() -> None:
    conductor = [(0, mido.MetaMessage("set_tempo", tempo=500000)), ts(0, 4, 4)]
    kicks = every_16th(0, 32, pitch=36, velocity=40)
    snares = hit(0, 38, velocity=90) + hit(0, 40, velocity=120)  # two snare pitches, one cell
    louder_kick = hit(0, 35, velocity=127)
    read = read_midi_windows(make_file([conductor, kicks, snares + louder_kick]), min_onsets=1)
    assert read.windows.shape == (1, 32, 9)
    assert read.windows[0, 0, SNARE] == pytest.approx(120 / 127)
    assert read.windows[0, 0, KICK] == pytest.approx(1.0)
    assert read.windows[0, 1, KICK] == pytest.approx(40 / 127)


def test_velocity_zero_note_on_is_a_note_off() -> None:
    events = every_16th(0, 32, pitch=42)
    events += [(5, mido.Message("note_on", channel=9, note=36, velocity=0))]
    read = read_midi_windows(make_file([events]), min_onsets=1)
    assert read.windows[0, :, KICK].max() == 0.0
    assert read.notes == 32


def test_tempo_changes_do_not_move_the_grid() -> None:
    tempo = [(0, mido.MetaMessage("set_tempo", tempo=400000))]
    tempo += [(tick, mido.MetaMessage("set_tempo", tempo=300000 + tick)) for tick in (1000, 5000)]
    events = every_16th(0, 64, pitch=42)
    read = read_midi_windows(make_file([tempo, events]), hop=16, min_onsets=1)
    assert read.windows.shape == (3, 32, 9)
    assert (read.windows[:, :, CHH] > 0).all()


def test_snaps_to_the_files_own_16th_grid() -> None:
    tpb = 96  # a 16th is 24 ticks
    events = []
    for step in range(32):
        jitter = (-11, 0, 11, 5)[step % 4]  # less than half a 16th either way
        events += hit(max(0, step * 24 + jitter), 36)
    read = read_midi_windows(make_file([events], tpb=tpb), min_onsets=1)
    assert read.windows.shape == (1, 32, 9)
    assert (read.windows[0, :, KICK] > 0).all()


def test_three_four_passage_is_skipped_and_four_four_restarts_the_grid() -> None:
    bar44, bar34 = 1920, 1440
    conductor = [ts(0, 4, 4), ts(2 * bar44, 3, 4), ts(2 * bar44 + 2 * bar34, 4, 4)]
    # 2 bars of 4/4, 2 bars of 3/4, 3 bars of 4/4; hats on every 16th throughout
    total_16ths = (2 * bar44 + 2 * bar34 + 3 * bar44) // 120
    hats = every_16th(0, total_16ths, pitch=42)
    # mark the first downbeat of the second 4/4 stretch with a kick
    second = 2 * bar44 + 2 * bar34
    kick = hit(second, 36)
    read = read_midi_windows(make_file([conductor, hats + kick]), hop=16, min_onsets=1)
    # first stretch: 1 window; second stretch (3 bars): 2 windows; none across the 3/4
    assert read.windows.shape == (3, 32, 9)
    assert read.windows[:, :, KICK].sum(axis=1).tolist() == [0, pytest.approx(100 / 127), 0]
    assert read.windows[1, 0, KICK] > 0  # the grid restarts on the 4/4 meta
    assert read.steps_other == 2 * 12


def test_only_three_four_gives_no_windows() -> None:
    events = [ts(0, 3, 4), *every_16th(0, 96, pitch=42)]
    read = read_midi_windows(make_file([events]), min_onsets=1)
    assert read.windows.shape == (0, 32, 9) and read.notes == 96


def test_hop_and_min_onsets() -> None:
    events = every_16th(0, 64, pitch=42)  # 4 bars of 16ths
    data = make_file([events])
    assert read_midi_windows(data, hop=16, min_onsets=1).windows.shape[0] == 3
    assert read_midi_windows(data, hop=32, min_onsets=1).windows.shape[0] == 2
    assert read_midi_windows(data, hop=8, min_onsets=1).windows.shape[0] == 5
    sparse = make_file([hit(0, 36) + hit(120 * 40, 36) + hit(120 * 63, 36)])
    assert read_midi_windows(sparse, hop=16, min_onsets=2).windows.shape[0] == 1
    assert read_midi_windows(sparse, hop=16, min_onsets=1).windows.shape[0] == 3
    assert read_midi_windows(sparse, hop=16, min_onsets=5).windows.shape[0] == 0


def test_file_ending_mid_bar_pads_the_last_bar() -> None:
    events = every_16th(0, 40, pitch=42)  # 2.5 bars: the last bar is padded with silence
    read = read_midi_windows(make_file([events]), hop=16, min_onsets=1)
    assert read.windows.shape[0] == 2
    assert read.windows[1, 24:, CHH].max() == 0.0


def test_trailing_silence_counts_up_to_the_end_of_track() -> None:
    pattern = np.zeros((32, 9), np.float32)
    pattern[:16:4, KICK] = 1.0  # hits in the first bar only: the second bar rests
    read = read_midi_windows(midi_bytes(pattern), hop=16, min_onsets=1)
    np.testing.assert_array_equal(read.windows, pattern[None])
    # a silent tail longer than a window adds no windows of pure silence
    events = [*every_16th(0, 32, pitch=42), (120 * 32 * 50, mido.MetaMessage("marker", text="x"))]
    assert read_midi_windows(make_file([events]), hop=16, min_onsets=0).windows.shape[0] == 3


def test_reads_a_path(tmp_path: Path) -> None:
    path = tmp_path / "a.mid"
    path.write_bytes(midi_bytes(random_patterns(1)[0], threshold=0.0))
    assert read_midi_windows(path, min_onsets=1).windows.shape == (1, 32, 9)


# -- hostile input -------------------------------------------------------------------


def test_empty_garbage_truncated_and_missing(tmp_path: Path) -> None:
    good = midi_bytes(random_patterns(1)[0])
    with pytest.raises(MidiError, match="empty"):
        read_midi_windows(b"")
    with pytest.raises(MidiError, match="not a MIDI file"):
        read_midi_windows(b"hello, this is not MIDI at all" * 10)
    with pytest.raises(MidiError, match="truncated"):
        read_midi_windows(good[: len(good) - 20])
    with pytest.raises(MidiError):
        read_midi_windows(good[:10])
    with pytest.raises(MidiError, match="cannot read"):
        read_midi_windows(tmp_path / "missing.mid")


def test_header_variants_are_refused() -> None:
    good = midi_bytes(random_patterns(1)[0])
    smpte = good[:12] + bytes([0xE7, 0x28]) + good[14:]  # -25 fps, 40 ticks per frame
    with pytest.raises(MidiError, match="SMPTE"):
        read_midi_windows(smpte)
    type2 = good[:8] + bytes([0, 2]) + good[10:]
    with pytest.raises(MidiError, match="type-2"):
        read_midi_windows(type2)
    bad_status = good.replace(b"\xff\x2f\x00", b"\xf4\x2f\x00", 1)
    with pytest.raises(MidiError):
        read_midi_windows(bad_status)


def test_work_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_file([every_16th(0, 200, pitch=42)])
    monkeypatch.setattr(midi_read, "MAX_EVENTS", 100)
    with pytest.raises(MidiError, match="events"):
        read_midi_windows(data)
    monkeypatch.setattr(midi_read, "MAX_EVENTS", 2_000_000)
    monkeypatch.setattr(midi_read, "MAX_FILE_BYTES", 100)
    with pytest.raises(MidiError, match="MB"):
        read_midi_windows(data)


def test_absurd_tick_positions_are_refused() -> None:
    far = hit(0, 36) + hit(2**27, 36)  # a hit ~280,000 bars later
    with pytest.raises(MidiError, match="longer"):
        read_midi_windows(make_file([far], tpb=1), min_onsets=1)


def test_window_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(midi_read, "MAX_WINDOWS", 3)
    with pytest.raises(MidiError, match="windows"):
        read_midi_windows(make_file([every_16th(0, 128, pitch=42)]), hop=16, min_onsets=1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_midi_error(data: bytes) -> None:
    for blob in (data, b"MThd" + data):
        with contextlib.suppress(MidiError):
            read_midi_windows(blob, min_onsets=0)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8))
def test_corrupted_files_raise_only_midi_error(edits: list[tuple[int, int]]) -> None:
    blob = bytearray(midi_bytes(random_patterns(1, seed=2)[0]))
    for position, value in edits:
        blob[position % len(blob)] = value
    try:
        read = read_midi_windows(bytes(blob), min_onsets=0)
    except MidiError:
        return
    assert read.windows.dtype == np.float32 and read.windows.shape[1:] == (32, 9)
    assert read.windows.min(initial=0) >= 0 and read.windows.max(initial=0) <= 1


def test_td11_pitches_are_in_the_vocabulary() -> None:
    for pitch in (22, 26, 58, 43, 59, 53):
        assert pitch in PITCH_TO_CLASS


# -- the fast reader agrees with mido ------------------------------------------------------


def mido_reference(
    data: bytes, channel0: int
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]], int]:
    """Drum note-ons, time signatures and end tick as mido sees them (the reference parser)."""
    parsed = mido.MidiFile(file=io.BytesIO(data))
    notes, signatures, end = [], [], 0
    for track in parsed.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "note_on" and msg.channel == channel0 and msg.velocity > 0:
                notes.append((tick, msg.note, msg.velocity))
            elif msg.type == "time_signature":
                signatures.append((tick, msg.numerator, msg.denominator))
        end = max(end, tick)
    return sorted(notes), sorted(signatures), end


def fast_scan(
    data: bytes, channel0: int
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]], int]:
    scan = midi_read._scan_smf(data, channel0)
    return sorted(scan.notes), sorted((t, n, d) for t, _, n, d in scan.signatures), scan.end


MESSAGES = st.one_of(
    st.builds(
        lambda ch, n, v: mido.Message("note_on", channel=ch, note=n, velocity=v),
        st.sampled_from([9, 9, 9, 0, 3]),
        st.integers(0, 127),
        st.integers(0, 127),
    ),
    st.builds(lambda n: mido.Message("note_off", channel=9, note=n), st.integers(0, 127)),
    st.builds(
        lambda c, v: mido.Message("control_change", channel=9, control=c, value=v),
        st.integers(0, 127),
        st.integers(0, 127),
    ),
    st.builds(lambda p: mido.Message("program_change", channel=9, program=p), st.integers(0, 127)),
    st.builds(lambda v: mido.Message("pitchwheel", channel=2, pitch=v), st.integers(-8192, 8191)),
    st.builds(lambda v: mido.Message("aftertouch", channel=9, value=v), st.integers(0, 127)),
    st.builds(lambda d: mido.Message("sysex", data=d), st.lists(st.integers(0, 127), max_size=300)),
    st.builds(
        lambda n, e: mido.MetaMessage("time_signature", numerator=n, denominator=2**e),
        st.integers(1, 12),
        st.integers(0, 4),
    ),
    st.builds(lambda t: mido.MetaMessage("set_tempo", tempo=t), st.integers(1, 0xFFFFFF)),
    st.builds(lambda t: mido.MetaMessage("text", text=t), st.text("abc xyz", max_size=200)),
)


@settings(max_examples=60, deadline=None)
@given(
    tracks=st.lists(
        st.lists(st.tuples(st.integers(0, 2**27), MESSAGES), max_size=30), min_size=1, max_size=3
    ),
    kind=st.sampled_from([0, 1]),
    tpb=st.sampled_from([1, 96, 480, 32767]),
)
def test_fast_reader_agrees_with_mido(
    tracks: list[list[tuple[int, mido.Message]]], kind: int, tpb: int
) -> None:
    if kind == 0:
        tracks = [[e for t in tracks for e in t]]
    data = make_file(tracks, kind=kind, tpb=tpb)
    assert fast_scan(data, 9) == mido_reference(data, 9)
    assert midi_read._scan_smf(data, 9).ticks_per_beat == tpb


def test_running_status_and_system_messages_agree_with_mido() -> None:
    body = (
        b"\x00\x99\x24\x64"  # note-on kick
        b"\x10\x26\x50"  # running status: note-on snare
        b"\x10\x2a\x00"  # running status, velocity 0: a note-off
        b"\x00\xff\x58\x04\x03\x02\x18\x08"  # meta keeps running status in mido's reading
        b"\x81\x00\x2a\x40"  # two-byte delta, running status hat
        b"\x00\xf0\x03\x01\x02\xf7"  # sysex
        b"\x00\x89\x24\x00"  # note-off
        b"\x00\xc9\x05\x00\xd9\x10"  # program change, channel pressure
        b"\x00\xff\x2f\x00"
    )
    data = b"MThd" + (6).to_bytes(4, "big") + b"\x00\x00\x00\x01\x00\x60"
    data += b"MTrk" + len(body).to_bytes(4, "big") + body
    assert fast_scan(data, 9) == mido_reference(data, 9)
    assert fast_scan(data, 9)[0] == [(0, 36, 100), (16, 38, 80), (160, 42, 64)]


def _split_chunks(data: bytes) -> list[bytes]:
    chunks, pos = [], 0
    while pos < len(data):
        end = pos + 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
        chunks.append(data[pos:end])
        pos = end
    return chunks


def test_alien_chunks_before_and_between_tracks_are_skipped() -> None:
    """SMF 1.0: readers skip chunks that are not 'MTrk' (both the reader and parse_midi)."""
    conductor = [(0, mido.MetaMessage("set_tempo", tempo=500000)), ts(0, 4, 4)]
    data = make_file([conductor, every_16th(0, 32, pitch=36, velocity=40)])
    header, first, second = _split_chunks(data)
    alien = b"XFIH\x00\x00\x00\x03abc"
    empty_alien = b"ZZZZ\x00\x00\x00\x00"
    with_aliens = header + alien + first + empty_alien + second + alien
    expected = read_midi_windows(data, min_onsets=1)
    found = read_midi_windows(with_aliens, min_onsets=1)
    np.testing.assert_array_equal(found.windows, expected.windows)
    assert found.notes == expected.notes == 32
    assert [len(t) for t in midi.parse_midi(with_aliens).tracks] == [
        len(t) for t in midi.parse_midi(data).tracks
    ]


def test_an_alien_chunk_is_still_bounded_by_the_file_size() -> None:
    data = make_file([every_16th(0, 32, pitch=36)])
    header, track = _split_chunks(data)
    for liar in (b"XFIH\x7f\xff\xff\xff" + track, b"XFIH\x00\x00\x00\x03ab"):
        with pytest.raises(MidiError, match="not a track runs past the end"):
            read_midi_windows(header + liar)
    with pytest.raises(MidiError, match="fewer tracks"):
        read_midi_windows(header + b"XFIH\x00\x00\x00\x00")  # no MTrk left at all
