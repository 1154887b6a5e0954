"""Inputs read with bounded memory and time (issue 17, defects 2, 3, 9 and 11, reading part).

Each reproduction runs the real CLI in a subprocess. Memory bounds are real: the child runs
under ``RLIMIT_AS`` (an address-space cap far below what the unbounded reads needed), so a
read that is not bounded ends in a MemoryError traceback and fails the test. Hangs are bounded
by the subprocess timeout. FIFOs and ``/dev/zero`` links are real files made in the test.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from rhythmcan_cli.dataset import REASON_NOT_REGULAR, build_dataset
from tests.conftest import subprocess_env
from tests.helpers import make_stored_model
from tests.reliability import smf
from tests.reliability.bounds import (
    address_cap,
    fixed_threads_env,
    peak_address_space,
    time_limit,
)
from tests.reliability.procs import assert_clean_failure, cli, write_drum_folder

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="FIFOs, /dev/zero and RLIMIT_AS")

ADDRESS_SPACE = 1536 * 1024 * 1024
"""The child's address-space cap (1.5 GB): importing the CLI needs about 0.4 GB, the reads
these tests reproduce needed 2.4 GB to 1.4 PB."""
TIMEOUT = 60
DEEP = b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"\n"
"""100,000 nested objects: json.loads raised RecursionError on it."""


def capped(
    args: Sequence[str],
    *,
    stdin: bytes | int | None = None,
    timeout: float = TIMEOUT,
    limit: int | None = ADDRESS_SPACE,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``rhythmcan ARGS`` under an address-space cap (``limit`` bytes; None: no cap)."""

    def cap() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    child_env = {**subprocess_env(), "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    feed = stdin if isinstance(stdin, bytes) else None
    return subprocess.run(
        cli(*args),
        env=child_env,
        input=feed.decode("latin-1") if feed is not None else None,
        stdin=stdin if isinstance(stdin, int) else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=cap,
        check=False,
    )


def hostile(tmp_path: Path, kind: str, name: str) -> Path:
    """A FIFO with no writer, or a link to /dev/zero, named ``name``."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    return path


# ---------------------------------------------------------------------- data folders


def test_fifo_and_dev_zero_in_a_data_folder_are_skipped_and_counted(tmp_path: Path) -> None:
    """Defects 2 and 3: `data inspect` on a folder holding a FIFO `.mid` (hung forever) and a
    `.mid` linked to /dev/zero (read until memory ran out) finishes, counting both."""
    data = write_drum_folder(tmp_path / "data")
    hostile(data, "fifo", "funk/pipe.mid")
    hostile(data, "zero", "rock/zero.mid")
    done = capped(["data", "inspect", str(data), "--json", "--no-cache"])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    reasons = {s["path"]: s["reason"] for s in report["skipped"]}
    assert reasons == {"funk/pipe.mid": REASON_NOT_REGULAR, "rock/zero.mid": REASON_NOT_REGULAR}
    assert report["files_found"] == 8 and report["files_read"] == 6


def test_the_builder_never_blocks_on_a_fifo_or_reads_a_device(tmp_path: Path) -> None:
    """The library path `train` and `evaluate` take: the same folder builds within seconds,
    through the worker pool too (48+ files), and the cache key does not read the FIFO."""
    data = write_drum_folder(tmp_path / "data", files=25)
    hostile(data, "fifo", "funk/pipe.mid")
    hostile(data, "zero", "rock/zero.mid")
    with time_limit(30):
        dataset = build_dataset(data, cache_dir=tmp_path / "cache")
    assert dataset.report.skip_reasons() == {REASON_NOT_REGULAR: 2}
    assert dataset.report.files_read == 50


# ---------------------------------------------------------------------- pattern inputs


@pytest.fixture
def model() -> str:
    make_stored_model("tiny-can", kind="can")
    return "tiny-can"


@pytest.mark.parametrize("kind", ["fifo", "zero"])
@pytest.mark.parametrize("option", ["--vary", "--interpolate"])
def test_vary_and_interpolate_refuse_fifos_and_devices(
    tmp_path: Path, model: str, kind: str, option: str
) -> None:
    """Defect 2: `--vary` / `--interpolate` given /dev/zero read it until memory ran out
    (a FIFO hung): now one line naming the file, at once."""
    source = str(hostile(tmp_path, kind, "anchor.json"))
    args = ["sample", "-m", model, option, source] + ([source] if option == "--interpolate" else [])
    line = assert_clean_failure(capped(args))
    assert "not a regular file" in line and "anchor.json" in line


@pytest.mark.parametrize(
    ("kind", "name", "words"),
    [
        ("fifo", "groove.mid", "is a pipe (FIFO), not a regular file"),
        ("fifo", "groove.json", "is a pipe (FIFO), not a regular file"),
        ("zero", "groove.mid", "is a device, not a regular file"),
        ("folder", "groove.mid", "is a folder, not a regular file"),
    ],
)
def test_like_names_the_true_reason_for_a_fifo_device_or_folder(
    tmp_path: Path, model: str, kind: str, name: str, words: str
) -> None:
    """`sample --like FIFO` said "no such file" (a FIFO exists, it is not a file); now the
    reason, from a stat that never opens (so a FIFO without a writer cannot hang it)."""
    if kind == "folder":
        source = tmp_path / name
        source.mkdir()
    else:
        source = hostile(tmp_path, kind, name)
    line = assert_clean_failure(capped(["sample", "-m", model, "--like", str(source)]))
    assert line.startswith("error: --like: ") and words in line and name in line
    assert "no such file" not in line


def test_yes_into_vary_stops_at_the_first_line(model: str) -> None:
    """Defect 2: `yes | rhythmcan sample --vary -` read stdin until memory ran out."""
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        assert yes.stdout is not None
        done = capped(["sample", "-m", model, "--vary", "-"], stdin=yes.stdout.fileno())
    finally:
        yes.kill()
        yes.wait()
    line = assert_clean_failure(done)
    assert "stdin line 1" in line and "invalid JSON" in line


def test_endless_blank_lines_on_stdin_are_bounded(model: str) -> None:
    """`yes ''` feeds only blank lines: reading stops at the input cap with one line."""
    yes = subprocess.Popen(["yes", ""], stdout=subprocess.PIPE)
    try:
        assert yes.stdout is not None
        done = capped(["sample", "-m", model, "--vary", "-"], stdin=yes.stdout.fileno())
    finally:
        yes.kill()
        yes.wait()
    assert "more than the 200,000 lines" in assert_clean_failure(done)


@pytest.mark.parametrize(
    "args",
    [
        ["sample", "-m", "tiny-can", "--vary", "-"],
        ["sample", "-m", "tiny-can", "--interpolate", "-", "last"],
        ["play", "-", "--wav", "-"],
    ],
    ids=["vary", "interpolate", "play"],
)
def test_deeply_nested_json_is_one_line(model: str, args: list[str]) -> None:
    """Defect 9: 100,000 nested objects escaped as a RecursionError traceback."""
    line = assert_clean_failure(capped(args, stdin=DEEP))
    assert "stdin line 1: nested more than 32 levels" in line


def test_deeply_nested_json_into_evaluate_is_one_line(tmp_path: Path) -> None:
    """Defect 9: `evaluate -` with deep JSON (TensorFlow may load: no address-space cap)."""
    data = write_drum_folder(tmp_path / "data")
    done = capped(["evaluate", "-", str(data), "--no-classifier"], stdin=DEEP, limit=None)
    assert "nested more than 32 levels" in assert_clean_failure(done)


# ---------------------------------------------------------------------- play inputs


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (100 * 1024**2, "is 100 MB, larger than the 16 MB a drum MIDI file may have"),
        (4 * 1024**3, "is 4096 MB, larger than the 256 MB a MIDI or pattern JSON file may have"),
    ],
)
def test_play_checks_the_size_before_reading(tmp_path: Path, size: int, message: str) -> None:
    """Defect 2: `play BIG` read all of it before its 16 MB check (sparse files here, the
    4 GB one far over the child's address-space cap)."""
    big = tmp_path / "big.mid"
    with big.open("wb") as handle:
        handle.write(b"MThd")
        handle.truncate(size)
    line = assert_clean_failure(capped(["play", str(big), "--wav", str(tmp_path / "o.wav")]))
    assert message in line


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_play_refuses_fifos_and_devices(tmp_path: Path, kind: str) -> None:
    source = hostile(tmp_path, kind, "beat.mid")
    line = assert_clean_failure(capped(["play", str(source), "--wav", str(tmp_path / "o.wav")]))
    assert "not a regular file" in line


def test_play_reads_dev_zero_on_stdin_only_to_its_bound(tmp_path: Path) -> None:
    """/dev/zero as stdin: not MIDI, not JSON: one line after the first 4 bytes."""
    with open("/dev/zero", "rb") as zero:
        done = capped(["play", "-", "--wav", str(tmp_path / "o.wav")], stdin=zero.fileno())
    assert "not a MIDI file" in assert_clean_failure(done)


def test_play_of_a_header_announcing_40000_tracks_says_so(tmp_path: Path) -> None:
    """Defect 11: mido reads the track count as signed, so `play` said "no notes"."""
    path = tmp_path / "tracks.mid"
    path.write_bytes(smf.header(1, 40_000, 96) + smf.chunk(b"MTrk", b"\x00\x99\x24\x64" + smf.END))
    line = assert_clean_failure(capped(["play", str(path), "--wav", str(tmp_path / "o.wav")]))
    assert "announces 40,000 tracks" in line


LATE_NOTE_OFF = smf.smf([b"\x00\x99\x24\x64" + smf.vlq(6_912_000) + b"\x89\x24\x00" + smf.END])
"""37 bytes: a kick, and its note-off 10 hours later (96 ticks a beat at 120 bpm)."""
SLOWEST = smf.smf(
    [b"\x00\xff\x51\x03\xff\xff\xff\x00\x99\x24\x64" + smf.vlq(0x0FFFFFFF) + b"\x24\x64" + smf.END],
    division=1,
)
"""The slowest tempo and the longest delta: a second kick 142 years after the first."""


def test_a_late_note_off_is_clipped_not_rendered_as_hours_of_silence(tmp_path: Path) -> None:
    """Defect 2: the 37-byte file made `play --wav` allocate 11.8 GiB; now 30 s of silence
    after the last hit at most, well under the child's cap."""
    assert len(LATE_NOTE_OFF) == 37
    source, wav = tmp_path / "late.mid", tmp_path / "late.wav"
    source.write_bytes(LATE_NOTE_OFF)
    done = capped(["play", str(source), "--wav", str(wav)], env={"RHYTHMCAN_SYNTH": "builtin"})
    assert done.returncode == 0, done.stderr
    from rhythmcan_cli.audio import MAX_SILENCE_S, TAIL_S, read_wav

    samples, rate = read_wav(wav)
    assert samples.shape[0] == round((MAX_SILENCE_S + TAIL_S) * rate)


def test_hits_years_apart_are_refused_before_rendering(tmp_path: Path) -> None:
    """Defect 2: with the slowest tempo and the longest delta the render asked for 1.41 PiB."""
    source = tmp_path / "slow.mid"
    source.write_bytes(SLOWEST)
    line = assert_clean_failure(capped(["play", str(source), "--wav", str(tmp_path / "o.wav")]))
    assert "of audio, more than the 60 minutes rendered at once" in line


def test_twenty_thousand_patterns_into_play_stop_at_the_audio_bound(tmp_path: Path) -> None:
    """Defect 2: `sample -n 20000 --format json | play -` tried 26 GiB; now reading stops at
    the hour of audio play renders at once, with one line."""
    from rhythmcan_cli.sampling.patterns import to_json_line
    from rhythmcan_cli.sampling.sample import sample

    [pattern] = sample(make_stored_model("tiny-can", kind="can"), n=1, seed=3)
    feed = ((to_json_line(pattern) + "\n") * 20_000).encode()
    done = capped(["play", "-", "--wav", str(tmp_path / "o.wav")], stdin=feed)
    line = assert_clean_failure(done)
    assert "stdin would make more than 60 minutes of audio" in line
    assert not (tmp_path / "o.wav").exists()


def test_play_of_many_patterns_takes_memory_in_proportion_to_the_audio(tmp_path: Path) -> None:
    """Defect 2: `sample -n 500 --format json | play - --wav` took 2.4 GB (about 7 times the
    audio: float mixes and copies). 40 patterns (160 s, 28 MB of WAV) must now render within
    the address space of a one-pattern render plus 4 times the WAV's size
    (benchmarks/bench_play_memory.py measures the 500: 0.8 GB for 353 MB of audio)."""
    from rhythmcan_cli.sampling.patterns import to_json_line
    from rhythmcan_cli.sampling.sample import sample

    patterns = sample(make_stored_model("tiny-can", kind="can"), n=40, seed=3)
    one = (to_json_line(patterns[0]) + "\n").encode()
    feed = "".join(to_json_line(p) + "\n" for p in patterns).encode()
    args = ["play", "-", "--wav", str(tmp_path / "one.wav"), "--quiet"]
    base = peak_address_space(args, tmp_path / "peak", stdin=one, RHYTHMCAN_SYNTH="builtin")
    wav = tmp_path / "many.wav"
    audio_bytes = 40 * 4 * 44_100 * 2 * 2  # 40 patterns x 4 s, 44.1 kHz, 16-bit stereo
    done = subprocess.run(
        cli("play", "-", "--wav", str(wav), "--quiet"),
        input=feed,
        env=fixed_threads_env(RHYTHMCAN_SYNTH="builtin"),
        capture_output=True,
        timeout=180,
        preexec_fn=address_cap(base + 4 * audio_bytes),
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert wav.stat().st_size > audio_bytes


# ---------------------------------------------------------------------- sample options


@pytest.mark.parametrize("value", ["1e308", "nan", "0"])
def test_an_absurd_z_spread_is_one_line(model: str, value: str) -> None:
    """Defect 9: `--z-std 1e308` overflowed z to infinity and ended in a traceback."""
    line = assert_clean_failure(capped(["sample", "-m", model, "--z-std", value]), code=2)
    assert "--z-std must lie above 0 and at most 100" in line


def test_huge_genre_weights_are_normalised_safely() -> None:
    """Defect 11: rock=1e308,funk=1e308 summed to infinity and sampled with zero weights."""
    make_stored_model("tiny-cgan", kind="cgan", genres=("funk", "rock", "jazz"))
    done = capped(["sample", "-m", "tiny-cgan", "--genre", "rock=1e308,funk=1e308", "-f", "json"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["genre"] == {"funk": 0.5, "rock": 0.5}
    args = ["sample", "-m", "tiny-cgan", "--genre", "rock=1e308,rock=1e308"]
    assert "add up to more than a number can hold" in assert_clean_failure(capped(args), code=2)


@pytest.mark.parametrize("name", ["out.wav", "OUT.FLAC"])
def test_sample_to_an_audio_file_name_is_refused(tmp_path: Path, model: str, name: str) -> None:
    """Defect 11: `sample -o out.wav` wrote MIDI bytes into a .wav file."""
    target = tmp_path / name
    line = assert_clean_failure(capped(["sample", "-m", model, "-o", str(target)]), code=2)
    assert "not audio" in line and "play - --wav" in line
    assert not target.exists()


def test_a_labels_csv_that_is_a_fifo_is_one_error_at_once(tmp_path: Path) -> None:
    """`--labels` naming a FIFO hung the build (and the `--split-by` reader) on open."""
    from rhythmcan_cli.errors import DataError

    data = write_drum_folder(tmp_path / "data")
    labels = hostile(tmp_path, "fifo", "info.csv")
    with time_limit(10), pytest.raises(DataError, match="FIFO"):
        build_dataset(data, labels_csv=labels, cache_dir=False)
