"""`rhythmcan play` and `sample --play`: pipelines, fallbacks, devices, bad input, no TensorFlow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli.audio import read_wav
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.store import StoredModel
from tests.conftest import subprocess_env
from tests.helpers import make_stored_model, need_sounddevice

runner = CliRunner()
CLI = [sys.executable, "-m", "rhythmcan_cli"]
NULL_SINK = 'pcm.!default { type plug; slave.pcm "null" }\n'
NO_DEVICE = "pcm.!default { type hw; card 99 }\n"


@pytest.fixture
def model() -> StoredModel:
    return make_stored_model("tiny-can", kind="can")


def env_with_home(home: Path, asoundrc: str, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / ".asoundrc").write_text(asoundrc)
    return subprocess_env(HOME=str(home), **extra)


def test_sample_json_piped_into_play_writes_a_wav(model: StoredModel, tmp_path: Path) -> None:
    # CI=true: pyfluidsynth then prints where it found the library; stdout must stay clean
    env = env_with_home(tmp_path / "home", NULL_SINK, CI="true")
    wav = tmp_path / "x.wav"
    sampler = subprocess.Popen(
        [
            *CLI,
            "sample",
            "-m",
            "tiny-can",
            "-n",
            "2",
            "--seed",
            "5",
            "--threshold",
            "0.05",
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        env=env,
    )
    player = subprocess.run(
        [*CLI, "play", "-", "--wav", str(wav)],
        stdin=sampler.stdout,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert sampler.stdout is not None
    sampler.stdout.close()
    assert sampler.wait(timeout=60) == 0
    assert player.returncode == 0, player.stderr
    assert player.stdout == ""
    assert f"wrote {wav}" in player.stderr
    samples, rate = read_wav(wav)
    assert rate == 44100
    assert samples.shape[0] / rate == pytest.approx(8.0 + 0.6, abs=0.01)  # 2 patterns + tail
    assert np.abs(samples).max() > 1000


def test_play_writes_a_wav_to_stdout_with_a_dash(model: StoredModel, tmp_path: Path) -> None:
    """`--wav -` puts a WAV file, and nothing else, on stdout (even with pyfluidsynth's CI
    chatter switched on), so it pipes into sox or ffmpeg; the report goes to stderr."""
    import io
    import wave

    target = tmp_path / "x.mid"
    made = runner.invoke(
        app, ["sample", "-m", "tiny-can", "--threshold", "0.05", "-o", str(target)]
    )
    assert made.exit_code == 0, made.stderr
    env = env_with_home(tmp_path / "home", NULL_SINK, CI="true")
    done = subprocess.run(
        [*CLI, "play", str(target), "--wav", "-"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with wave.open(io.BytesIO(done.stdout), "rb") as handle:
        assert (handle.getnchannels(), handle.getsampwidth()) == (2, 2)
        seconds = handle.getnframes() / handle.getframerate()
        frames = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16)
    assert seconds == pytest.approx(4.0 + 0.6, abs=0.01)  # one bar at 120 bpm + tail
    assert np.abs(frames).max() > 1000
    assert b"wrote 4.6 s of WAV to stdout" in done.stderr
    assert not (tmp_path / "home" / "-").exists() and not Path("-").exists()


def test_play_a_midi_file_with_the_builtin_synth(model: StoredModel, tmp_path: Path) -> None:
    target = tmp_path / "x.mid"
    assert (
        runner.invoke(
            app, ["sample", "-m", "tiny-can", "--threshold", "0.05", "-o", str(target)]
        ).exit_code
        == 0
    )
    wav = tmp_path / "x.wav"
    result = runner.invoke(
        app,
        [
            "play",
            str(target),
            "--soundfont",
            str(tmp_path / "no.sf2"),
            "--wav",
            str(wav),
            "--loops",
            "2",
            "--bpm",
            "60",
        ],
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("note: SoundFont") and "built-in drum synth" in lines[0]
    samples, rate = read_wav(wav)
    assert samples.shape[0] / rate == pytest.approx(16.0 + 0.6, abs=0.01)  # 2 loops at 60 bpm


def test_play_refuses_what_is_not_midi(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("kick snare")
    result = runner.invoke(app, ["play", str(text), "--wav", str(tmp_path / "x.wav")])
    assert result.exit_code == 1
    expected = f"error: {text}: not a MIDI file (no 'MThd' header) and not pattern JSON"
    assert result.stderr.strip() == expected
    result = runner.invoke(app, ["play", "--kit", "cowbell", str(text)])
    assert result.exit_code == 2 and "unknown kit" in result.stderr


def test_sample_play_headless_plays_through_sounddevice(model: StoredModel, tmp_path: Path) -> None:
    need_sounddevice()
    env = env_with_home(tmp_path / "home", NULL_SINK, RHYTHMCAN_SYNTH="builtin")
    done = subprocess.run(
        [*CLI, "sample", "-m", "tiny-can", "--seed", "1", "--play", "-o", str(tmp_path / "a.mid")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "played 4.6 s (built-in synth)" in done.stderr


def test_no_device_writes_a_named_wav_and_require_audio_fails(
    model: StoredModel, tmp_path: Path
) -> None:
    need_sounddevice()
    env = env_with_home(tmp_path / "home", NO_DEVICE, RHYTHMCAN_SYNTH="builtin")
    done = subprocess.run(
        [*CLI, "sample", "-m", "tiny-can", "--play", "-q", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == ""
    mid = tmp_path / "a.mid"
    assert runner.invoke(app, ["sample", "-m", "tiny-can", "-o", str(mid)]).exit_code == 0
    done = subprocess.run(
        [*CLI, "play", str(mid)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0
    assert "no audio device" in done.stderr and "last-play.wav instead" in done.stderr
    done = subprocess.run(
        [*CLI, "play", str(mid), "--require-audio"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "--require-audio" in done.stderr


PROBE = """
import sys
from typer.testing import CliRunner
from rhythmcan_cli.cli.app import app
for args in ({sample!r}, {play!r}):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))
print('HEAVY=' + ','.join(heavy))
"""


def test_sample_and_play_never_import_tensorflow(model: StoredModel, tmp_path: Path) -> None:
    mid = str(tmp_path / "x.mid")
    code = PROBE.format(
        sample=["sample", "-m", "tiny-can", "-n", "3", "-o", mid],
        play=["play", mid, "--wav", str(tmp_path / "x.wav")],
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY=\n" in done.stdout
