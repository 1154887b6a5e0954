"""Hearing patterns: MIDI or pattern JSON -> notes -> audio (FluidSynth or built-in) -> out.

Rendering is offline (never ``Synth.start()``): notes go into a FluidSynth instance with a
General MIDI SoundFont, drum kit ``program_select(9, sfid, 128, kit)`` (without it FluidSynth
is silent), and ``get_samples`` pulls 16-bit stereo between events. The SoundFont comes from
``--soundfont``, then ``RHYTHMCAN_SOUNDFONT``, then the usual Debian, Homebrew and macOS
locations. When libfluidsynth or a SoundFont is missing (or ``RHYTHMCAN_SYNTH=builtin``),
the built-in numpy synthesizer (:mod:`rhythmcan_cli.synth`) renders instead and the result
carries a one-line notice.

Playing goes through sounddevice. Without PortAudio or an audio device the audio is written
to ``<store root>/last-play.wav`` and the result says so; ``require_audio`` makes that an
AudioError. ``wav=`` writes a 16-bit WAV instead of playing.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import AudioError, DataError, MidiError, UsageError
from rhythmcan_cli.patterns import SampledPattern, atomic_write, loads_patterns

SAMPLE_RATE: Final = 44100
DRUM_CHANNEL: Final = 9
"""0-based MIDI channel of General MIDI drums (channel 10)."""
TAIL_S: Final = 0.6
"""Seconds rendered after the last loop ends, so the last hits ring out."""
DEFAULT_BPM: Final = 120.0
PLAY_WAV: Final = "last-play.wav"

KITS: Final[dict[str, int]] = {
    "standard": 0,
    "room": 8,
    "power": 16,
    "electronic": 24,
    "tr-808": 25,
    "jazz": 32,
    "brush": 40,
    "orchestra": 48,
}
"""General MIDI (GS) drum kits: preset numbers in bank 128."""

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

Int16Audio = npt.NDArray[np.int16]


# ---------------------------------------------------------------------------------- notes


@dataclass(frozen=True)
class Score:
    """Timed MIDI events ready to render: ``(seconds, kind, channel, a, b)`` and a length.

    ``kind`` is ``"on"`` (a = pitch, b = velocity), ``"off"`` (a = pitch) or ``"program"``
    (a = program). ``length_s`` is where the music ends (the file's end of track).
    """

    events: tuple[tuple[float, str, int, int, int], ...]
    length_s: float

    def hits(self, channel: int = DRUM_CHANNEL) -> list[tuple[float, int, int]]:
        """``(seconds, pitch, velocity)`` of the note-ons on ``channel``."""
        return [(t, a, b) for t, kind, ch, a, b in self.events if kind == "on" and ch == channel]


def concat(scores: Sequence[Score], loops: int = 1) -> Score:
    """Scores one after another, the whole sequence ``loops`` times."""
    events: list[tuple[float, str, int, int, int]] = []
    offset = 0.0
    for _ in range(loops):
        for score in scores:
            events.extend((t + offset, k, ch, a, b) for t, k, ch, a, b in score.events)
            offset += score.length_s
    return Score(tuple(events), offset)


def midi_score(source: Path | bytes, *, bpm: float | None = None, name: str = "") -> Score:
    """Notes of a MIDI file (all channels), in seconds; ``bpm`` replaces the file's tempo map."""
    import mido

    from rhythmcan_cli.midi import parse_midi

    label = name or (str(source) if isinstance(source, Path) else "MIDI input")
    try:
        midi = parse_midi(source)
    except MidiError as error:
        raise MidiError(f"{label}: {error}") from None
    tpb = midi.ticks_per_beat
    tempo = mido.bpm2tempo(bpm) if bpm else 500_000
    seconds = 0.0
    events: list[tuple[float, str, int, int, int]] = []
    for message in mido.merge_tracks(midi.tracks):
        seconds += message.time * tempo / (tpb * 1_000_000)
        if message.type == "set_tempo" and not bpm:
            tempo = message.tempo
        elif message.type == "note_on" and message.velocity > 0:
            events.append((seconds, "on", message.channel, message.note, message.velocity))
        elif message.type in ("note_on", "note_off"):
            events.append((seconds, "off", message.channel, message.note, 0))
        elif message.type == "program_change":
            events.append((seconds, "program", message.channel, message.program, 0))
    if not any(kind == "on" for _, kind, *_ in events):
        raise MidiError(f"{label}: the MIDI file has no notes to play")
    return Score(tuple(events), seconds)


def pattern_score(
    patterns: Sequence[SampledPattern],
    *,
    bpm: float | None = None,
    swing: float = 0.0,
    loops: int = 1,
) -> Score:
    """Notes of sampled patterns, written through the same MIDI writer as ``sample -o``."""
    from rhythmcan_cli.midi import midi_bytes

    scores = []
    for pattern in patterns:
        data = midi_bytes(
            pattern.values,
            threshold=pattern.threshold,
            bpm=bpm or DEFAULT_BPM,
            swing=swing,
            loops=loops,
            pitches=pattern.output_pitches,
        )
        scores.append(midi_score(data, name=f"pattern {pattern.index}"))
    return concat(scores)


def read_sources(
    sources: Sequence[str],
    *,
    bpm: float | None = None,
    loops: int = 1,
    stdin: bytes | None = None,
) -> Score:
    """MIDI files, pattern JSON files, or ``-`` (stdin: pattern JSON or MIDI bytes) -> one Score.

    Pattern JSON loops pattern by pattern (like ``sample --loops``); a MIDI file loops as a
    whole. Anything else is a MidiError or a DataError naming the source.
    """
    if not sources:
        raise UsageError("nothing to play: name MIDI files, or pipe 'rhythmcan sample' into '-'")
    scores: list[Score] = []
    for source in sources:
        if source == "-":
            data = stdin if stdin is not None else sys.stdin.buffer.read()
            label = "stdin"
        else:
            path = Path(source)
            if not path.is_file():
                raise DataError(f"no such file: {source}")
            try:
                data = path.read_bytes()
            except OSError as error:
                raise DataError(f"cannot read {source}: {error.strerror or error}") from None
            label = source
        if data.startswith(b"MThd"):
            scores.append(concat([midi_score(data, bpm=bpm, name=label)], loops))
        elif data.lstrip()[:1] == b"{":
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"{label}: not UTF-8 text, not pattern JSON") from None
            patterns = loads_patterns(text, where=label)
            scores.append(pattern_score(patterns, bpm=bpm, loops=loops))
        elif not data.strip():
            raise DataError(f"{label}: empty input; pipe 'rhythmcan sample --format json' into it")
        else:
            raise MidiError(f"{label}: not a MIDI file (no 'MThd' header) and not pattern JSON")
    return concat(scores)


# ---------------------------------------------------------------------------------- sound


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


def _to_int16(audio: npt.NDArray[np.float32]) -> Int16Audio:
    clipped = np.clip(audio, -1.0, 1.0) * 32767.0
    result: Int16Audio = np.round(clipped).astype(np.int16)
    return result


def render_builtin(
    score: Score, *, samplerate: int = SAMPLE_RATE, tail_s: float = TAIL_S
) -> Int16Audio:
    """Render the drum channel with the built-in numpy synthesizer."""
    from rhythmcan_cli import synth

    hits = score.hits()
    times = [t for t, _, _ in hits]
    pitches = [p for _, p, _ in hits]
    velocities = [v for _, _, v in hits]
    mix = synth.render(times, pitches, velocities, score.length_s + tail_s, samplerate=samplerate)
    return _to_int16(mix)


def render_fluidsynth(
    score: Score,
    soundfont: Path,
    *,
    kit: str = "standard",
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
            if channel != DRUM_CHANNEL:
                synth.program_select(channel, sfid, 0, 0)
        if synth.program_select(DRUM_CHANNEL, sfid, 128, KITS[kit]) != 0:
            notices.append(f"kit '{kit}' is not in {soundfont.name}: playing the standard kit")
            if synth.program_select(DRUM_CHANNEL, sfid, 128, 0) != 0:
                raise AudioError(f"SoundFont {soundfont} has no drum kits (bank 128)")
        total = round((score.length_s + tail_s) * samplerate)
        chunks: list[npt.NDArray[np.int16]] = []
        frame = 0
        for seconds, kind, channel, a, b in sorted(score.events, key=_event_order):
            target = min(total, round(seconds * samplerate))
            if target > frame:
                chunks.append(np.asarray(synth.get_samples(target - frame), dtype=np.int16))
                frame = target
            if kind == "on":
                synth.noteon(channel, a, b)
            elif kind == "off":
                synth.noteoff(channel, a)
            elif channel != DRUM_CHANNEL:
                synth.program_select(channel, sfid, 0, a)
        if total > frame:
            chunks.append(np.asarray(synth.get_samples(total - frame), dtype=np.int16))
    finally:
        synth.delete()
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    return audio.reshape(-1, 2), notices


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
    kit: str = "standard",
    samplerate: int = SAMPLE_RATE,
) -> Rendered:
    """Render with FluidSynth when it and a SoundFont are there, else with the built-in synth."""
    check_kit(kit)
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


# ---------------------------------------------------------------------------------- out


def wav_bytes(samples: Int16Audio, samplerate: int = SAMPLE_RATE) -> bytes:
    """A 16-bit PCM WAV file (mono or stereo from the array's second axis)."""
    array = np.asarray(samples, dtype=np.int16)
    channels = 1 if array.ndim == 1 else array.shape[1]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(samplerate)
        handle.writeframes(array.astype("<i2").tobytes())
    return buffer.getvalue()


def write_wav(path: Path, samples: Int16Audio, samplerate: int = SAMPLE_RATE) -> Path:
    """Write a 16-bit WAV atomically; AudioError when the path cannot be written."""
    try:
        atomic_write(Path(path), wav_bytes(samples, samplerate))
    except OSError as error:
        raise AudioError(f"cannot write {path}: {error.strerror or error}") from None
    return Path(path)


def read_wav(path: Path) -> tuple[Int16Audio, int]:
    """Read a 16-bit WAV back as (frames, channels) int16 and its sample rate."""
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2:
            raise AudioError(f"{path} is not a 16-bit WAV")
        channels = handle.getnchannels()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
        return data.reshape(-1, channels).astype(np.int16), handle.getframerate()


def play_samples(samples: Int16Audio, samplerate: int = SAMPLE_RATE) -> None:
    """Play through the default audio device and wait; AudioError when there is none."""
    try:
        import sounddevice as sd
    except (OSError, ImportError) as error:
        raise AudioError(f"no audio output: PortAudio is missing ({error})") from None
    try:
        sd.play(samples, samplerate)
        sd.wait()
    except KeyboardInterrupt:
        sd.stop()
        raise
    except (sd.PortAudioError, ValueError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AudioError(f"no audio device ({detail})") from None


@dataclass(frozen=True)
class PlayResult:
    """What happened: rendered by which engine, played or written where, and notices.

    ``no_device`` holds why playing failed when the WAV was written instead; ``wav_data``
    holds the WAV file's bytes when it was asked for on stdout (``wav='-'``).
    """

    engine: str
    seconds: float
    played: bool
    wav: Path | None
    soundfont: Path | None
    notices: tuple[str, ...] = field(default_factory=tuple)
    no_device: str | None = None
    wav_data: bytes | None = None


def deliver(
    rendered: Rendered,
    *,
    wav: Path | None = None,
    require_audio: bool = False,
) -> PlayResult:
    """Write ``rendered`` to ``wav``, or play it; with no device, write a WAV and say where.

    ``wav='-'`` writes nothing: the WAV bytes come back in ``PlayResult.wav_data``.
    """
    notices = list(rendered.notices)
    if wav is not None and str(wav) == "-":
        data = wav_bytes(rendered.samples, rendered.samplerate)
        return PlayResult(
            rendered.engine,
            rendered.seconds,
            False,
            None,
            rendered.soundfont,
            tuple(notices),
            wav_data=data,
        )
    if wav is not None:
        path = write_wav(wav, rendered.samples, rendered.samplerate)
        return PlayResult(
            rendered.engine, rendered.seconds, False, path, rendered.soundfont, tuple(notices)
        )
    try:
        play_samples(rendered.samples, rendered.samplerate)
    except AudioError as error:
        if require_audio:
            raise AudioError(f"{error}; drop --require-audio to write a WAV file instead") from None
        from rhythmcan_cli.patterns import store_root

        path = write_wav(store_root() / PLAY_WAV, rendered.samples, rendered.samplerate)
        return PlayResult(
            rendered.engine,
            rendered.seconds,
            False,
            path,
            rendered.soundfont,
            tuple(notices),
            no_device=str(error),
        )
    return PlayResult(
        rendered.engine, rendered.seconds, True, None, rendered.soundfont, tuple(notices)
    )


def play(
    sources: Sequence[str],
    *,
    wav: Path | None = None,
    soundfont: Path | str | None = None,
    kit: str = "standard",
    loops: int = 1,
    bpm: float | None = None,
    require_audio: bool = False,
    stdin: bytes | None = None,
) -> PlayResult:
    """``rhythmcan play``: read MIDI or pattern JSON, render, then play or write a WAV."""
    if loops < 1:
        raise UsageError(f"--loops must be at least 1, got {loops}")
    check_kit(kit)
    score = read_sources(sources, bpm=bpm, loops=loops, stdin=stdin)
    rendered = render(score, soundfont=soundfont, kit=kit)
    return deliver(rendered, wav=wav, require_audio=require_audio)


def play_patterns(
    patterns: Sequence[SampledPattern],
    *,
    wav: Path | None = None,
    soundfont: Path | str | None = None,
    kit: str = "standard",
    loops: int = 1,
    bpm: float | None = None,
    swing: float = 0.0,
    require_audio: bool = False,
) -> PlayResult:
    """``sample --play``: the same path as ``play`` for patterns in memory."""
    check_kit(kit)
    score = pattern_score(patterns, bpm=bpm, swing=swing, loops=loops)
    rendered = render(score, soundfont=soundfont, kit=kit)
    return deliver(rendered, wav=wav, require_audio=require_audio)


__all__ = [
    "KITS",
    "PlayResult",
    "Rendered",
    "Score",
    "check_kit",
    "concat",
    "deliver",
    "find_soundfont",
    "midi_score",
    "pattern_score",
    "play",
    "play_patterns",
    "play_samples",
    "read_sources",
    "read_wav",
    "render",
    "render_builtin",
    "render_fluidsynth",
    "wav_bytes",
    "write_wav",
]
