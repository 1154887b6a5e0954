"""`sample -n` of any size, made and written a chunk at a time (issue 17, defect 2).

`sample -n 1000000000` allocated every pattern up front (745 GiB); a cap of 100,000 replaced
that. Now runs are streamed: memory stays that of one chunk (1,024 patterns) whatever ``-n``.
Memory bounds are real: the child runs under ``RLIMIT_AS`` set to what one chunk's run needs
plus a margin far below what holding the patterns took (about 8 KB a pattern), so a run that
accumulates ends in a MemoryError and fails. Outputs a folder or one MIDI file cannot
sensibly take (a billion files; a MIDI file of 111+ hours) are one line before any work.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli.atomic import NumberedNames, write_batch
from rhythmcan_cli.midi import midi_bytes
from rhythmcan_cli.midi.stream import MidiFileBuilder
from rhythmcan_cli.sampling.output import midi_file_bytes
from rhythmcan_cli.sampling.patterns import SampledPattern, to_json_line
from rhythmcan_cli.sampling.sample import CHUNK, Chunks, sample, sample_chunks
from rhythmcan_cli.vocabulary import ModelKind
from tests.helpers import make_stored_model
from tests.reliability.bounds import address_cap as capped
from tests.reliability.bounds import fixed_threads_env as child_env
from tests.reliability.bounds import peak_address_space
from tests.reliability.procs import assert_clean_failure, cli, wait_for

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc")

BILLION = "1000000000"
MARGIN = 96 * 1024 * 1024
"""Address space a streamed run may use beyond one chunk's run: holding 20,000 patterns took
about 160 MB more (8 KB each, measured VmPeak 147 -> 309 MB before streaming)."""


@pytest.fixture
def model() -> str:
    make_stored_model("tiny-can", kind="can")
    return "tiny-can"


def test_a_billion_patterns_stream_to_a_pipe_in_one_chunks_memory(
    tmp_path: Path, model: str
) -> None:
    """`sample -n 1000000000 -f json | head -n 20000` under the address space of a one-chunk
    run plus 96 MB: every line arrives in order, and the early reader's exit ends the run
    quietly (141, as `yes | head`), without a BrokenPipeError traceback."""
    args = ["sample", "-m", model, "-n", str(CHUNK), "-f", "json"]
    limit = peak_address_space(args, tmp_path / "peak") + MARGIN
    proc = subprocess.Popen(
        cli("sample", "-m", model, "-n", BILLION, "-f", "json", "--seed", "5"),
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=capped(limit),
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        for expected in range(20_000):
            line = proc.stdout.readline()
            assert line, proc.stderr.read().decode()
            record = json.loads(line)
            assert (record["index"], record["seed"]) == (expected, 5)
        proc.stdout.close()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read().decode()
    assert code == 141, stderr
    assert stderr == ""


@pytest.mark.parametrize("target", ["many.json", "many.mid", "many/"])
def test_large_runs_into_files_stay_within_one_chunks_memory(
    tmp_path: Path, model: str, target: str
) -> None:
    """A JSON lines file, one MIDI file and a folder of 12,000 patterns, each under its own
    one-chunk run's address space plus 96 MB (before: 1.2 GB for the MIDI file)."""
    small = peak_address_space(
        ["sample", "-m", model, "-n", str(CHUNK), "-o", f"{tmp_path}/s-{target}"], tmp_path / "peak"
    )
    out = tmp_path / target
    done = subprocess.run(
        cli("sample", "-m", model, "-n", "12000", "--seed", "2", "-o", f"{tmp_path}/{target}"),
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=capped(small + MARGIN),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if target.endswith("/"):
        assert len(os.listdir(out)) == 12_000
    elif target.endswith(".json"):
        assert out.read_text().count("\n") == 12_000
    else:
        assert out.read_bytes()[:4] == b"MThd"


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["-o", "{tmp}/dir/"], "more than the 1,000,000 files sample writes into one folder"),
        (["-o", "{tmp}/one.mid"], "more than the 100,000 patterns one MIDI file holds"),
        (["-o", "-"], "more than the 100,000 patterns one MIDI file holds"),
        (["-f", "json", "--play"], "--play renders at most 60 minutes"),
        (["-o", "-", "--humanize", "10"], "--humanize writes at most 5,000 patterns"),
        (["-o", "{tmp}/h.mid", "--humanize", "10"], "--humanize writes at most 5,000 patterns"),
    ],
)
def test_outputs_that_cannot_take_a_billion_are_one_line_before_any_work(
    tmp_path: Path, model: str, extra: list[str], words: str
) -> None:
    """What has no streamed form is refused at once, naming what streams instead. A humanized
    MIDI file holds every note as a mido message (10,000 patterns took 436 MB): 5,000 at most."""
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in extra]
    started = time.monotonic()
    done = subprocess.run(
        cli("sample", "-m", model, "-n", BILLION, *args),
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    line = assert_clean_failure(done, code=2)
    assert words in line
    assert time.monotonic() - started < 30
    assert sorted(os.listdir(tmp_path)) == []


def test_sigterm_while_streaming_into_a_json_file_leaves_nothing(
    tmp_path: Path, model: str
) -> None:
    """A streamed `-o big.json` is written to a hidden temp file renamed at the end: stopping
    it leaves neither the file nor the temp file."""
    out = tmp_path / "big.json"
    proc = subprocess.Popen(
        cli("sample", "-m", model, "-n", BILLION, "-o", str(out)),
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: any(p.stat().st_size > 100_000 for p in tmp_path.iterdir()),
            60,
            "the temp file to fill",
            proc,
        )
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    assert code == 143, stderr
    assert "Traceback" not in stderr
    assert os.listdir(tmp_path) == []


def test_every_output_of_a_streamed_run_holds_the_same_patterns(tmp_path: Path, model: str) -> None:
    """Three chunks (2,100 patterns) through every output kind: the same patterns in the same
    order as the library's list, across chunk boundaries."""
    from rhythmcan_cli.store import open_model

    expected = sample(open_model(model), n=2100, seed=11)
    lines = [to_json_line(p) + "\n" for p in expected]

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            cli("sample", "-m", model, "-n", "2100", "--seed", "11", *args),
            env=child_env(),
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done

    assert run("-f", "json").stdout.decode() == "".join(lines)
    run("-o", str(tmp_path / "all.json"))
    assert (tmp_path / "all.json").read_text() == "".join(lines)
    run("-o", str(tmp_path / "dir") + "/", "-f", "json")
    files = sorted((tmp_path / "dir").iterdir())
    assert [f.name for f in files[:2]] == ["pattern-0001.json", "pattern-0002.json"]
    assert [f.read_text() for f in files] == lines
    run("-o", str(tmp_path / "all.mid"))
    assert (tmp_path / "all.mid").read_bytes() == midi_file_bytes(expected)
    assert run("-o", "-").stdout == midi_file_bytes(expected)


@pytest.mark.parametrize("kind", ["can", "cgan"])
def test_chunks_are_the_list_cut_in_pieces(kind: ModelKind) -> None:
    """sample_chunks gives sample()'s patterns byte for byte (z from one stream, whole engine
    batches), for plain runs, fixed genres, variations and long interpolations."""
    stored = make_stored_model(f"tiny-{kind}", kind=kind)
    anchors = sample(stored, n=2, seed=1)
    genre = "rock" if kind == "cgan" else None
    ends = (anchors[0], anchors[1])
    cases: list[tuple[list[SampledPattern], Callable[[int], Chunks]]] = [
        (
            sample(stored, n=1100, seed=3, genre=genre),
            lambda size: sample_chunks(stored, n=1100, seed=3, genre=genre, chunk=size),
        ),
        (
            sample(stored, n=1100, seed=4, vary=anchors[0]),
            lambda size: sample_chunks(stored, n=1100, seed=4, vary=anchors[0], chunk=size),
        ),
        (
            sample(stored, interpolate=ends, steps=1100, seed=5),
            lambda size: sample_chunks(stored, interpolate=ends, steps=1100, seed=5, chunk=size),
        ),
    ]
    for listed, chunked in cases:
        whole = [to_json_line(p) for p in listed]
        for size in (256, CHUNK):
            run = chunked(size)
            chunks = list(run.chunks)
            assert max(len(c) for c in chunks) <= size
            assert [to_json_line(p) for c in chunks for p in c] == whole
            assert run.count == len(whole)


def test_a_run_is_checked_before_its_first_chunk() -> None:
    """Errors come from sample_chunks itself, not from the first chunk pulled later."""
    from rhythmcan_cli.errors import UsageError

    stored = make_stored_model("tiny-can", kind="can")
    with pytest.raises(UsageError, match="--z-std"):
        sample_chunks(stored, n=10**12, z_std=1e308)
    run = sample_chunks(stored, n=10**12, seed=1)  # nothing is made until asked for
    assert run.count == 10**12 and len(next(run.chunks)) == CHUNK


def test_one_midi_file_built_chunk_by_chunk_equals_the_whole() -> None:
    """MidiFileBuilder re-times each chunk's first event: the bytes equal midi_bytes of every
    pattern at once, with silent chunks, per-pattern thresholds and pitches, loops and swing."""
    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(1, 40))
        values = (rng.random((n, 32, 9)) ** 3).astype(np.float32)
        if trial % 3 == 0:
            values[: n // 2] = 0.0
        thresholds = [float(t) for t in rng.uniform(0.1, 0.5, n)]
        pitches = [tuple(int(p) for p in rng.integers(30, 60, 9)) for _ in range(n)]
        bpm = float(rng.choice([60.0, 120.0, 200.0]))
        swing = float(rng.choice([0.0, 0.3, 0.6]))
        loops = int(rng.integers(1, 4))
        builder = MidiFileBuilder(bpm=bpm, swing=swing, loops=loops)
        size = int(rng.integers(1, 8))
        for start in range(0, n, size):
            stop = start + size
            builder.add(values[start:stop], thresholds[start:stop], pitches[start:stop])
        whole = midi_bytes(
            values, threshold=thresholds, pitches=pitches, bpm=bpm, swing=swing, loops=loops
        )
        assert builder.finish() == whole, trial


def test_a_batch_of_lazy_names_returns_lazy_paths(tmp_path: Path) -> None:
    """write_batch takes NumberedNames (no list of a million names) and returns paths made
    on demand; refusing an existing name still names it."""
    names = NumberedNames(1500, ".txt")
    assert len(names) == 1500 and names[0] == "pattern-0001.txt" and names[-1] == "pattern-1500.txt"
    paths = write_batch(tmp_path / "out", names, (b"x" for _ in range(1500)))
    assert len(paths) == 1500 and paths[1499] == tmp_path / "out" / "pattern-1500.txt"
    assert sorted(os.listdir(tmp_path / "out")) == list(names)
    from rhythmcan_cli.errors import DataError

    with pytest.raises(DataError, match=r"pattern-0001\.txt already exists"):
        write_batch(tmp_path / "out", names, (b"y" for _ in range(1500)))
