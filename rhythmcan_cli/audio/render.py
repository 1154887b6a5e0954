"""Rendering a score to 16-bit stereo: FluidSynth with a General MIDI SoundFont (offline,
never ``Synth.start()``; drum kit ``program_select(9, sfid, 128, kit)``), else the built-in
numpy synthesizer (synth.py) with a one-line notice; WAV bytes in and out.

The SoundFont comes from ``--soundfont``, then ``RHYTHMCAN_SOUNDFONT``, then the usual Debian,
Homebrew and macOS locations; ``RHYTHMCAN_SYNTH=builtin`` forces the built-in synthesizer.
"""

from __future__ import annotations

import contextlib
import io
import os
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.atomic import atomic_write
from rhythmcan_cli.audio.scores import (
    DRUM_CHANNEL_0,
    SAMPLE_RATE,
    TAIL_S,
    Score,
    check_size,
)
from rhythmcan_cli.errors import AudioError, UsageError
from rhythmcan_cli.vocabulary import DEFAULT_KIT, DRUM_KITS

Int16Audio = npt.NDArray[np.int16]
"""16-bit samples (frames, channels)."""

KITS: Final = DRUM_KITS
"""General MIDI (GS) drum kits: preset numbers in bank 128 (vocabulary.py)."""


SOUNDFONT_PATHS: Final[tuple[str, ...]] = (
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/opt/homebrew/share/soundfonts/default.sf2",
    "/opt/homebrew/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/local/share/soundfonts/default.sf2",
    "/usr/local/share/sounds/sf2/FluidR3_GM.sf2",
    "~/Library/Audio/Sounds/Banks/FluidR3_GM.sf2",
    "~/Library/Audio/Sounds/Banks/default.sf2",
    "/Library/Audio/Sounds/Banks/FluidR3_GM.sf2",
)
"""Where General MIDI SoundFonts usually live (Debian/Ubuntu, Arch, Homebrew, macOS)."""


def find_soundfont(explicit: Path | str | None = None) -> tuple[Path | None, str | None]:
    """The SoundFont to use and, when the asked-for one is missing, a notice saying so."""
    notice = None
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_file():
            return path, None
        notice = f"SoundFont {explicit} not found"
    env = os.environ.get("RHYTHMCAN_SOUNDFONT")
    if env and not explicit:
        path = Path(env).expanduser()
        if path.is_file():
            return path, None
        notice = f"RHYTHMCAN_SOUNDFONT={env} not found"
    if explicit or env:
        return None, notice
    for candidate in SOUNDFONT_PATHS:
        path = Path(candidate).expanduser()
        if path.is_file():
            return path, None
    return None, "no General MIDI SoundFont found (install fluid-soundfont-gm or pass --soundfont)"


@dataclass(frozen=True)
class Rendered:
    """Rendered audio: int16 stereo frames (n, 2), the sample rate, which engine, notices."""

    samples: Int16Audio
    samplerate: int
    engine: str
    soundfont: Path | None = None
    notices: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return float(self.samples.shape[0]) / self.samplerate


def render_builtin(
    score: Score, *, samplerate: int = SAMPLE_RATE, tail_s: float = TAIL_S
) -> Int16Audio:
    """Render the drum channel with the built-in numpy synthesizer."""
    from rhythmcan_cli.audio import synth

    hits = score.hits()
    times = [t for t, _, _ in hits]
    pitches = [p for _, p, _ in hits]
    velocities = [v for _, _, v in hits]
    return synth.render_int16(
        times, pitches, velocities, score.length_s + tail_s, samplerate=samplerate
    )


def render_fluidsynth(
    score: Score,
    soundfont: Path,
    *,
    kit: str = DEFAULT_KIT,
    samplerate: int = SAMPLE_RATE,
    tail_s: float = TAIL_S,
) -> tuple[Int16Audio, list[str]]:
    """Render every channel with FluidSynth (ImportError/OSError when the library is missing)."""
    # pyfluidsynth prints where it found the library when $CI is set; stdout may carry a WAV
    with contextlib.redirect_stdout(io.StringIO()):
        import fluidsynth

    notices: list[str] = []
    settings: dict[str, int] = {"synth.reverb.active": 0, "synth.chorus.active": 0}
    synth = fluidsynth.Synth(gain=0.6, samplerate=float(samplerate), **settings)
    try:
        sfid = synth.sfload(str(soundfont))
        if sfid == -1:
            raise AudioError(f"FluidSynth cannot load SoundFont {soundfont}")
        for channel in range(16):
            if channel != DRUM_CHANNEL_0:
                synth.program_select(channel, sfid, 0, 0)
        if synth.program_select(DRUM_CHANNEL_0, sfid, 128, KITS[kit]) != 0:
            notices.append(f"kit '{kit}' is not in {soundfont.name}: playing the standard kit")
            if synth.program_select(DRUM_CHANNEL_0, sfid, 128, 0) != 0:
                raise AudioError(f"SoundFont {soundfont} has no drum kits (bank 128)")
        total = round((score.length_s + tail_s) * samplerate)
        audio = np.zeros((total, 2), dtype=np.int16)  # filled in place: no copies of the whole
        frame = 0

        def pull(target: int) -> int:
            """Render up to ``target`` into ``audio``, a second at a time."""
            at = frame
            while at < target:
                count = min(target - at, samplerate)
                block = np.asarray(synth.get_samples(count), dtype=np.int16).reshape(-1, 2)
                audio[at : at + block.shape[0]] = block[: target - at]
                at += count
            return max(at, frame)

        for seconds, kind, channel, a, b in sorted(score.events, key=_event_order):
            frame = pull(min(total, round(seconds * samplerate)))
            if kind == "on":
                synth.noteon(channel, a, b)
            elif kind == "off":
                synth.noteoff(channel, a)
            elif channel != DRUM_CHANNEL_0:
                synth.program_select(channel, sfid, 0, a)
        pull(total)
    finally:
        synth.delete()
    return audio, notices


def _event_order(event: tuple[float, str, int, int, int]) -> tuple[float, int]:
    """Time, then offs and program changes before ons at the same instant."""
    return event[0], 1 if event[1] == "on" else 0


def check_kit(kit: str) -> str:
    """Return ``kit`` if it is a known drum kit name, else raise UsageError listing them."""
    if kit not in KITS:
        raise UsageError(f"unknown kit {kit!r}; kits: {', '.join(KITS)}")
    return kit


def render(
    score: Score,
    *,
    soundfont: Path | str | None = None,
    kit: str = DEFAULT_KIT,
    samplerate: int = SAMPLE_RATE,
) -> Rendered:
    """Render with FluidSynth when it and a SoundFont are there, else with the built-in synth.

    Refused (AudioError) before allocating when longer than ``MAX_AUDIO_S`` or with more
    than ``MAX_NOTES`` notes; memory is then the 16-bit output and a small block.
    """
    check_kit(kit)
    check_size(score.length_s, sum(1 for event in score.events if event[1] == "on"))
    notices: list[str] = []
    reason: str | None = None
    if os.environ.get("RHYTHMCAN_SYNTH", "").lower() == "builtin":
        reason = "RHYTHMCAN_SYNTH=builtin"
    else:
        path, reason = find_soundfont(soundfont)
        if path is not None:
            try:
                audio, extra = render_fluidsynth(score, path, kit=kit, samplerate=samplerate)
            except (ImportError, OSError):
                reason = "FluidSynth library not found (install libfluidsynth3 / fluidsynth)"
            else:
                return Rendered(audio, samplerate, "fluidsynth", path, tuple(extra))
    notices.append(f"{reason}: using the built-in drum synth")
    return Rendered(
        render_builtin(score, samplerate=samplerate), samplerate, "builtin", None, tuple(notices)
    )


def wav_bytes(samples: Int16Audio, samplerate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit PCM WAV file (mono or stereo from the array's second axis)."""
    array = np.ascontiguousarray(samples, dtype="<i2")  # no copy of int16 on x86 and ARM
    channels = 1 if array.ndim == 1 else array.shape[1]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(samplerate)
        handle.setnframes(array.shape[0])  # the header is right at once: no seek back
        handle.writeframes(array.data.cast("B"))
    return buffer.getvalue()


def write_wav(path: Path, samples: Int16Audio, samplerate: int = SAMPLE_RATE) -> Path:
    """Write a 16-bit WAV atomically; OutputError when the path cannot be written."""
    atomic_write(Path(path), wav_bytes(samples, samplerate))
    return Path(path)


def read_wav(path: Path) -> tuple[Int16Audio, int]:
    """Read a 16-bit WAV back as (frames, channels) int16 and its sample rate."""
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2:
            raise AudioError(f"{path} is not a 16-bit WAV")
        channels = handle.getnchannels()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
        return data.reshape(-1, channels).astype(np.int16), handle.getframerate()
