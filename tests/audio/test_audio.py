"""Audio: FluidSynth and the built-in synth put sound where the hits are; WAV files; playback."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli import audio
from rhythmcan_cli.errors import DataError, MidiError
from rhythmcan_cli.grid import CLASS_NAMES, OUTPUT_PITCHES
from rhythmcan_cli.midi import midi_bytes
from rhythmcan_cli.sampling.patterns import SampledPattern, dumps_patterns
from tests.conftest import subprocess_env
from tests.helpers import need_sounddevice

HIT_STEPS = (0, 8, 16, 24)
QUIET_STEPS = tuple(s for s in range(32) if s % 8 >= 4)  # half a beat or more after a hit
STEP_S = 0.125  # a 16th at 120 bpm


def pattern() -> SampledPattern:
    values = np.zeros((32, 9), dtype=np.float32)
    values[[0, 24], 0] = 1.0  # kick
    values[16, 1] = 0.9  # snare
    values[8, 2] = 0.8  # closed hat
    return SampledPattern(
        "m", "can", None, 0, 0, np.zeros(2), 0.2, CLASS_NAMES, OUTPUT_PITCHES, values
    )


def step_rms(samples: np.ndarray, samplerate: int = 44100) -> np.ndarray:
    mono = samples.astype(np.float64).mean(axis=1)
    step = int(STEP_S * samplerate)
    return np.array(
        [np.sqrt(np.mean(mono[i * step : i * step + step // 2] ** 2)) for i in range(32)]
    )


def assert_loud_on_hits_quiet_between(samples: np.ndarray) -> None:
    rms = step_rms(samples)
    loud = rms[list(HIT_STEPS)]
    quiet = rms[list(QUIET_STEPS)]
    assert loud.min() > 300  # clearly audible in 16-bit
    assert loud.min() > 10 * max(quiet.max(), 1.0)


def have_fluidsynth() -> bool:
    try:
        import fluidsynth  # noqa: F401
    except (ImportError, OSError):
        return False
    return audio.find_soundfont()[0] is not None


def test_builtin_synth_is_loud_on_hits_and_quiet_between() -> None:
    score = audio.pattern_score([pattern()], bpm=120)
    samples = audio.render_builtin(score)
    assert samples.dtype == np.int16 and samples.shape[1] == 2
    assert samples.shape[0] == pytest.approx((4.0 + audio.TAIL_S) * 44100, abs=2)
    assert_loud_on_hits_quiet_between(samples)
    assert np.array_equal(samples, audio.render_builtin(score))  # deterministic


@pytest.mark.skipif(not have_fluidsynth(), reason="libfluidsynth or a GM SoundFont missing")
def test_fluidsynth_is_loud_on_hits_and_quiet_between(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RHYTHMCAN_SYNTH", raising=False)
    rendered = audio.render(audio.pattern_score([pattern()], bpm=120))
    assert rendered.engine == "fluidsynth" and rendered.notices == ()
    assert_loud_on_hits_quiet_between(rendered.samples)


@pytest.mark.skipif(not have_fluidsynth(), reason="libfluidsynth or a GM SoundFont missing")
def test_kits_sound_different() -> None:
    score = audio.pattern_score([pattern()], bpm=120)
    standard = audio.render(score, kit="standard")
    electronic = audio.render(score, kit="tr-808")
    assert not np.array_equal(standard.samples, electronic.samples)


def test_missing_soundfont_falls_back_to_the_builtin_synth(tmp_path: Path) -> None:
    rendered = audio.render(audio.pattern_score([pattern()]), soundfont=tmp_path / "no.sf2")
    assert rendered.engine == "builtin"
    assert len(rendered.notices) == 1 and "no.sf2 not found" in rendered.notices[0]
    assert_loud_on_hits_quiet_between(rendered.samples)


def test_env_forces_the_builtin_synth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RHYTHMCAN_SYNTH", "builtin")
    assert audio.render(audio.pattern_score([pattern()])).engine == "builtin"


def test_soundfont_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    font = tmp_path / "mine.sf2"
    font.write_bytes(b"RIFF")
    monkeypatch.setenv("RHYTHMCAN_SOUNDFONT", str(font))
    assert audio.find_soundfont() == (font, None)
    other = tmp_path / "other.sf2"
    other.write_bytes(b"RIFF")
    assert audio.find_soundfont(other) == (other, None)
    monkeypatch.setenv("RHYTHMCAN_SOUNDFONT", str(tmp_path / "gone.sf2"))
    path, notice = audio.find_soundfont()
    assert path is None and notice is not None and "gone.sf2" in notice


def test_midi_score_tempo_and_bpm_override() -> None:
    data = midi_bytes(pattern().values, bpm=60.0)
    own = audio.midi_score(data)
    assert own.length_s == pytest.approx(8.0)
    assert [round(t, 6) for t, _, _ in own.hits()] == [0.0, 2.0, 4.0, 6.0]
    fast = audio.midi_score(data, bpm=240.0)
    assert fast.length_s == pytest.approx(2.0)
    looped = audio.read_sources(["-"], loops=3, stdin=data)
    assert looped.length_s == pytest.approx(24.0) and len(looped.hits()) == 12


def test_sources_json_midi_and_garbage(tmp_path: Path) -> None:
    json_file = tmp_path / "p.json"
    json_file.write_text(dumps_patterns([pattern(), pattern()]))
    assert audio.read_sources([str(json_file)]).length_s == pytest.approx(8.0)
    garbage = tmp_path / "notes.txt"
    garbage.write_text("hello")
    with pytest.raises(MidiError, match=r"notes\.txt: not a MIDI file"):
        audio.read_sources([str(garbage)])
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd\x00\x00")
    with pytest.raises(MidiError, match=r"broken\.mid"):
        audio.read_sources([str(broken)])
    with pytest.raises(DataError, match="line 1"):
        audio.read_sources(["-"], stdin=b'{"format": "nope"}\n')
    with pytest.raises(DataError, match="no such file"):
        audio.read_sources([str(tmp_path / "missing.mid")])


def test_wav_round_trip(tmp_path: Path) -> None:
    samples = (np.arange(2000, dtype=np.int16) - 1000).reshape(-1, 2)
    path = audio.write_wav(tmp_path / "x.wav", samples, 22050)
    with wave.open(str(path)) as handle:
        shape = (handle.getnchannels(), handle.getsampwidth(), handle.getframerate())
    assert shape == (2, 2, 22050)
    back, rate = audio.read_wav(path)
    assert rate == 22050 and np.array_equal(back, samples)


PLAY_PROBE = """
import numpy as np
from rhythmcan_cli import audio
tone = (np.sin(np.arange(22050) / 44100 * 2 * np.pi * 440) * 8000).astype(np.int16)
audio.play_samples(np.stack([tone, tone], axis=1), 44100)
print("PLAYED")
"""


def run_headless(home: Path, asoundrc: str, code: str) -> subprocess.CompletedProcess[str]:
    (home / ".asoundrc").write_text(asoundrc)
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(HOME=str(home)),
        check=False,
    )


def test_sounddevice_plays_into_an_alsa_file_sink(tmp_path: Path) -> None:
    need_sounddevice()
    recorded = tmp_path / "played.raw"
    asoundrc = (
        'pcm.!default { type plug; slave.pcm "rec" }\n'
        f'pcm.rec {{ type file; slave.pcm "null"; file "{recorded}"; format "raw" }}\n'
    )
    done = run_headless(tmp_path, asoundrc, PLAY_PROBE)
    assert "PLAYED" in done.stdout, done.stderr
    raw = np.frombuffer(recorded.read_bytes(), dtype="<i2")
    assert raw.size >= 22050 and np.abs(raw).max() > 4000  # the tone reached the device


def test_no_audio_device_writes_a_wav_or_fails_when_required(tmp_path: Path) -> None:
    need_sounddevice()
    code = (
        "import numpy as np\n"
        "from rhythmcan_cli import audio\n"
        "from rhythmcan_cli.errors import AudioError\n"
        "rendered = audio.Rendered(np.zeros((4410, 2), np.int16), 44100, 'builtin')\n"
        "result = audio.deliver(rendered)\n"
        "print('WAV=' + str(result.wav), 'PLAYED=' + str(result.played))\n"
        "try:\n"
        "    audio.deliver(rendered, require_audio=True)\n"
        "except AudioError as error:\n"
        "    print('REQUIRED=' + str(error))\n"
    )
    done = run_headless(tmp_path, "pcm.!default { type hw; card 99 }\n", code)
    assert "PLAYED=False" in done.stdout, done.stderr
    assert "last-play.wav" in done.stdout
    assert "REQUIRED=" in done.stdout and "--require-audio" in done.stdout
