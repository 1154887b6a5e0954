"""Fuzzing the MIDI reader and the dataset builder with hostile bytes.

Every input must end in a result or a RhythmcanError (MidiError for the reader; the builder
skips and counts), within PER_FILE_SECONDS, without exhausting memory. Hypothesis runs
derandomized with fixed example counts, so CI tries the same inputs every time.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rhythmcan_cli.dataset import REASON_TOO_LARGE, build_dataset
from rhythmcan_cli.dataset import reading as dataset_module
from rhythmcan_cli.errors import DataError, MidiError
from rhythmcan_cli.midi import MidiWindows, read_midi_windows
from rhythmcan_cli.midi import read as midi_read
from tests.conftest import subprocess_env
from tests.reliability import smf
from tests.reliability.bounds import PER_FILE_SECONDS, time_limit

SEEDS = smf.seeds()
MUTATION_NAMES = sorted(smf.MUTATIONS)
FUZZ = settings(
    derandomize=True,
    max_examples=100,
    deadline=None,  # our own timer bounds each call
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def check_windows(found: MidiWindows) -> None:
    """A successful read is well formed: (N, 32, 9) float32 in [0, 1], counts non-negative."""
    assert found.windows.dtype == np.float32
    assert found.windows.ndim == 3 and found.windows.shape[1:] == (32, 9)
    if found.windows.size:
        assert np.isfinite(found.windows).all()
        assert found.windows.min() >= 0.0 and found.windows.max() <= 1.0
    assert found.notes >= 0 and found.steps_44 >= 0 and found.steps_other >= 0


def read_bounded(blob: bytes, **options: int) -> MidiWindows | None:
    """Read ``blob`` under the per-file timer; None when it was refused with MidiError."""
    with time_limit(PER_FILE_SECONDS):
        try:
            found = read_midi_windows(blob, **options)
        except MidiError as error:
            message = str(error)
            assert message and "\n" not in message  # one clear line
            return None
    check_windows(found)
    return found


def test_seeds_are_valid_and_readable() -> None:
    """The starting files are real MIDI: mido reads them strictly and they yield windows."""
    import io

    import mido

    for blob in SEEDS:
        mido.MidiFile(file=io.BytesIO(blob), clip=False)
        assert read_bounded(blob, min_onsets=0) is not None
    assert len(read_midi_windows(SEEDS[0]).windows) > 0


@settings(FUZZ, max_examples=150)
@given(
    seed_index=st.integers(0, len(SEEDS) - 1),
    names=st.lists(st.sampled_from(MUTATION_NAMES), min_size=1, max_size=3),
    rng_seed=st.integers(0, 2**32 - 1),
    min_onsets=st.sampled_from([0, 5]),
)
def test_mutated_files_raise_only_midi_error(
    seed_index: int, names: list[str], rng_seed: int, min_onsets: int
) -> None:
    blob = smf.mutate(SEEDS[seed_index], names, rng_seed)
    read_bounded(blob, min_onsets=min_onsets)


@settings(FUZZ, max_examples=80)
@given(
    bodies=st.lists(st.binary(max_size=200), min_size=1, max_size=3),
    division=st.sampled_from([1, 96, 480, 0x7FFF, 0xE728]),
    fmt=st.sampled_from([0, 1]),
)
def test_random_track_bodies_raise_only_midi_error(
    bodies: list[bytes], division: int, fmt: int
) -> None:
    """Well-formed chunks around random event bytes: the fuzz reaches mido's event parser."""
    read_bounded(smf.smf(bodies, fmt=fmt, division=division), min_onsets=0)


@settings(FUZZ, max_examples=12)
@given(
    picks=st.lists(
        st.tuples(
            st.integers(0, len(SEEDS) - 1),
            st.lists(st.sampled_from(MUTATION_NAMES), min_size=1, max_size=2),
            st.integers(0, 2**32 - 1),
        ),
        min_size=2,
        max_size=6,
    )
)
def test_builder_skips_and_counts_hostile_files(
    picks: list[tuple[int, list[str], int]],
) -> None:
    """A folder of mutated files plus one good file: the build succeeds and counts every file."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "rock").mkdir()
        (root / "funk").mkdir()
        (root / "rock" / "good.mid").write_bytes(SEEDS[0])
        for i, (index, names, rng_seed) in enumerate(picks):
            genre = "rock" if i % 2 else "funk"
            (root / genre / f"bad{i}.mid").write_bytes(smf.mutate(SEEDS[index], names, rng_seed))
        with time_limit(PER_FILE_SECONDS * (len(picks) + 1)):
            built = build_dataset(root, cache_dir=False, workers=1)
        report = built.report
        assert report.files_found == len(picks) + 1
        assert report.files_read + report.files_skipped == report.files_found
        assert "rock/good.mid" in built.files
        assert all(s.reason for s in report.skipped)
        json.dumps(report.to_dict())  # the --json report stays serialisable


def test_builder_with_only_hostile_files_is_one_data_error(tmp_path: Path) -> None:
    (tmp_path / "rock").mkdir()
    for i, name in enumerate(MUTATION_NAMES):
        blob = smf.mutate(smf.header(1, 1, 96), [name], i)  # a header without tracks
        (tmp_path / "rock" / f"{i}.mid").write_bytes(blob[:40])
    (tmp_path / "rock" / "empty.mid").write_bytes(b"")
    (tmp_path / "rock" / "text.mid").write_bytes(b"hello, not midi")
    with pytest.raises(DataError, match="no usable") as caught:
        build_dataset(tmp_path, cache_dir=False, workers=1)
    assert "\n" not in str(caught.value)


def test_parallel_builder_survives_hostile_files_and_caches_them(tmp_path: Path) -> None:
    """Enough files to start worker processes (SERIAL_BELOW); the cached build equals it."""
    data = tmp_path / "data"
    count = dataset_module.SERIAL_BELOW + 4
    for i in range(count):
        genre = ("a", "b")[i % 2]
        (data / genre).mkdir(parents=True, exist_ok=True)
        names = [MUTATION_NAMES[i % len(MUTATION_NAMES)]] if i % 3 else []
        blob = smf.mutate(SEEDS[i % len(SEEDS)], names, i) if names else SEEDS[0]
        (data / genre / f"{i:03d}.mid").write_bytes(blob)
    cache = tmp_path / "cache"
    with time_limit(PER_FILE_SECONDS * count):
        first = build_dataset(data, cache_dir=cache, workers=2)
    assert first.report.files_found == count
    assert first.report.files_read + first.report.files_skipped == count
    assert first.report.cache_file is not None
    second = build_dataset(data, cache_dir=cache, workers=2)
    assert second.report.from_cache
    assert np.array_equal(first.x, second.x) and np.array_equal(first.y, second.y)
    assert first.files == second.files


def test_event_limit_is_a_clear_skip_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the event bound a file is refused as 'too large' and counted, not parsed on."""
    monkeypatch.setattr(midi_read, "MAX_EVENTS", 500)
    (tmp_path / "rock").mkdir()
    (tmp_path / "rock" / "big.mid").write_bytes(smf.smf([smf.drum_body(16)]))
    (tmp_path / "rock" / "small.mid").write_bytes(smf.smf([smf.drum_body(2, seed=5)]))
    built = build_dataset(tmp_path, cache_dir=False, workers=1)
    assert built.files == ("rock/small.mid",)
    (skip,) = built.report.skipped
    assert skip.reason == REASON_TOO_LARGE and "500" in skip.detail


# ------------------------------------------------------------------ bounded time and memory


def event_bomb(events: int) -> bytes:
    """One track of ``events`` running-status drum note-ons (3 bytes each)."""
    body = b"\x00\x99\x24\x64" + b"\x00\x24\x64" * (events - 1) + smf.END
    return smf.smf([body], fmt=0)


def test_an_event_bomb_is_read_or_refused_within_the_time_bound() -> None:
    """600,000 running-status note-ons (1.8 MB; the largest allowed file, 16 MB, takes ~1 s)."""
    read_bounded(event_bomb(600_000))


def signature_storm(changes: int) -> bytes:
    """Alternating 3/4 and 4/4 time signatures every 4 ticks, a drum hit after each."""
    body = bytearray()
    for i in range(changes):
        body += smf.vlq(4) + bytes([0xFF, 0x58, 4, 4 if i % 2 else 3, 2, 24, 8])
        body += b"\x00\x99\x24\x64"
    return smf.smf([bytes(body) + smf.END], fmt=0, division=1)


def test_a_time_signature_storm_is_read_within_the_time_bound() -> None:
    """100,000 alternating 3/4 and 4/4 stretches (1.2 MB), each with a hit."""
    read_bounded(signature_storm(100_000))


MEMORY_PROBE = r"""
import resource, sys
from rhythmcan_cli import midi
from rhythmcan_cli.errors import MidiError
from rhythmcan_cli.midi import read_midi_windows
from tests.reliability import smf

base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
n = (midi.MAX_FILE_BYTES - 100) // 3  # the largest file the reader accepts, all events
bombs = [
    smf.smf([b"\x00\x99\x24\x64" + b"\x00\x24\x64" * (n - 1) + smf.END], fmt=0),
    smf.smf([smf.vlq(0x0FFFFFFF) + b"\x99\x24\x64" + smf.vlq(0) + b"\x24\x64" + smf.END]),
    smf.smf([(smf.vlq(0x0FFFFFFF) + b"\x99\x24\x64") * 200 + smf.END], division=0x7FFF),
    smf.header(1, 0xFFFF, 96) + smf.chunk(b"MTrk", smf.END) * 3000,
    smf.header(1, 1, 96) + smf.chunk(b"MTrk", b"\x00\xf0" + smf.vlq(0x0FFFFFFF) + b"x" * 100),
    smf.header(1, 1, 96) + smf.chunk(b"MTrk", b"\x00\x99\x24\x64", length=0xFFFFFFFF),
    smf.smf([b"".join(smf.vlq(1) + bytes([0xFF, 0x58, 4, 4, 2, 24, 8]) for _ in range(5000))
             + smf.vlq(10**6) + b"\x99\x24\x64" + smf.END]),
]
outcomes = []
for blob in bombs:
    try:
        found = read_midi_windows(blob, min_onsets=0)
        outcomes.append(f"ok:{len(found.windows)}")
    except MidiError as error:
        outcomes.append("MidiError")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((peak - base) // 1024, ",".join(outcomes))
"""


def test_hostile_files_do_not_exhaust_memory() -> None:
    """A 16 MB event bomb, huge deltas, 65535 claimed tracks, 256 MB sysex and 4 GB chunk
    claims: the process grows by less than 300 MB."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    grown_mb, outcomes = done.stdout.split()
    assert int(grown_mb) < 300, outcomes
    assert len(outcomes.split(",")) == 7


def test_header_claims_are_not_trusted() -> None:
    """A header that claims 65535 tracks but holds three reads or fails fast."""
    blob = smf.header(1, 0xFFFF, 96) + smf.chunk(b"MTrk", smf.drum_body(2)) * 3
    read_bounded(blob, min_onsets=0)
    lying = smf.header(1, 1, 96)[:8] + struct.pack(">HHH", 1, 1, 96) + b"MTrk\x7f\xff\xff\xff"
    assert read_bounded(lying) is None


def test_alien_chunks_are_skipped_as_the_smf_spec_says() -> None:
    blob = SEEDS[0]
    alien = smf.chunk(b"XFIH", b"abc")
    found = read_midi_windows(blob[:14] + alien + blob[14:])
    assert np.array_equal(found.windows, read_midi_windows(blob).windows)
