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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.errors import AudioError, DataError, MidiError, UsageError
from rhythmcan_cli.grid import STEPS
from rhythmcan_cli.inputs import megabytes, open_regular, read_stream
from rhythmcan_cli.midi import MAX_FILE_BYTES
from rhythmcan_cli.sampling.patterns import (
    MAX_INPUT_BYTES,
    SampledPattern,
    atomic_write,
    parse_line,
    stream_lines,
)

SAMPLE_RATE: Final = 44100
DRUM_CHANNEL: Final = 9
"""0-based MIDI channel of General MIDI drums (channel 10)."""
TAIL_S: Final = 0.6
"""Seconds rendered after the last loop ends, so the last hits ring out."""
DEFAULT_BPM: Final = 120.0
PLAY_WAV: Final = "last-play.wav"
MAX_AUDIO_S: Final = 3600.0
"""Most audio rendered at once (one hour: 635 MB of 16-bit stereo); longer is refused."""
MAX_NOTES: Final = 250_000
"""Most note-ons rendered at once (70 a second for an hour)."""
MAX_SILENCE_S: Final = 30.0
"""Silence rendered after a file's last note-on at most: a late note-off or end of track
(a 37-byte file can hold a note-off 10 hours on) does not make hours of silence."""

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


def check_size(
    seconds: float, notes: int, what: str = "the input", *, so_far: bool = False
) -> None:
    """AudioError when ``seconds`` of audio or ``notes`` note-ons are more than play renders
    at once (``so_far``: the figures of an input not read to its end)."""
    more = "more than " if so_far else ""
    if not seconds <= MAX_AUDIO_S:  # also NaN
        raise AudioError(
            f"{what} would make {more}{_duration(seconds)} of audio, more than the"
            f" {_duration(MAX_AUDIO_S)} rendered at once; play fewer patterns, loops or files"
        )
    if notes > MAX_NOTES:
        raise AudioError(
            f"{what} holds {more}{notes:,} notes, more than the {MAX_NOTES:,} rendered at once;"
            " play fewer patterns, loops or files"
        )


def _duration(seconds: float) -> str:
    if seconds >= 3600 * 48:
        return f"{seconds / (3600 * 24):,.0f} days"
    if seconds >= 5400:
        return f"{seconds / 3600:,.1f} hours"
    if seconds >= 90:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} s"


def concat(scores: Sequence[Score], loops: int = 1, *, what: str = "the input") -> Score:
    """Scores one after another, the whole sequence ``loops`` times.

    Refused (AudioError) before anything is built when the result would be longer than
    ``MAX_AUDIO_S`` or hold more than ``MAX_NOTES`` note-ons.
    """
    check_size(
        sum(score.length_s for score in scores) * loops,
        sum(sum(1 for event in score.events if event[1] == "on") for score in scores) * loops,
        what,
    )
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
    last_on = max((t for t, kind, *_ in events if kind == "on"), default=None)
    if last_on is None:
        raise MidiError(f"{label}: the MIDI file has no notes to play")
    end = min(seconds, last_on + MAX_SILENCE_S)
    if end < seconds:  # a late note-off or end of track: clipped, not hours of silence
        events = [event for event in events if event[0] <= end]
    return Score(tuple(events), end)


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
    whole. Anything else is a MidiError or a DataError naming the source. Every input is
    read with bounds: files must be regular files (a FIFO or ``/dev/zero`` is refused before
    a byte is read), MIDI is read up to its 16 MB limit, pattern JSON line by line, and
    reading stops as soon as the audio would pass ``MAX_AUDIO_S`` or ``MAX_NOTES``.
    """
    if not sources:
        raise UsageError("nothing to play: name MIDI files, or pipe 'rhythmcan sample' into '-'")
    scores: list[Score] = []
    budget = _Budget()
    for source in sources:
        with _source_stream(source, stdin) as (stream, label):
            head = _read_head(stream, label)
            if head == b"MThd":
                _check_midi_size(stream, label)
                data = head + read_stream(
                    stream, limit=MAX_FILE_BYTES, what=label, kind=_MIDI_KIND, already=len(head)
                )
                score = concat([midi_score(data, bpm=bpm, name=label)], loops, what=label)
                budget.add(score.length_s, sum(1 for e in score.events if e[1] == "on"), label)
                scores.append(score)
                continue
            patterns = _pattern_lines(stream, head, label, bpm=bpm, loops=loops, budget=budget)
            scores.append(pattern_score(patterns, bpm=bpm, loops=loops))
    what = "the inputs" if len(sources) > 1 else "stdin" if sources[0] == "-" else sources[0]
    return concat(scores, what=what)


_MIDI_KIND: Final = "a drum MIDI file"


def _check_midi_size(stream: BinaryIO, label: str) -> None:
    """Refuse a MIDI file over ``MAX_FILE_BYTES`` from its size, before reading it."""
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return  # not a file (a pipe, a buffer): read_stream caps the read instead
    if size > MAX_FILE_BYTES:
        raise MidiError(
            f"{label} is {megabytes(size)}, larger than the {megabytes(MAX_FILE_BYTES)}"
            f" {_MIDI_KIND} may have"
        )


class _Budget:
    """Audio seconds and note-ons read so far, against ``MAX_AUDIO_S`` and ``MAX_NOTES``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.notes = 0

    def add(self, seconds: float, notes: int, label: str) -> None:
        self.seconds += seconds
        self.notes += notes
        check_size(self.seconds, self.notes, label, so_far=True)


@contextlib.contextmanager
def _source_stream(source: str, stdin: bytes | None) -> Iterator[tuple[BinaryIO, str]]:
    """A binary stream for one source: stdin for ``-``, else a regular file (never a FIFO
    or a device)."""
    if source == "-":
        yield (io.BytesIO(stdin) if stdin is not None else sys.stdin.buffer), "stdin"
        return
    if not os.path.lexists(source):
        raise DataError(f"no such file: {source}")
    kind = "a MIDI or pattern JSON file"
    with open_regular(Path(source), what=source, limit=MAX_INPUT_BYTES, kind=kind) as stream:
        yield stream, source


def _read_head(stream: BinaryIO, label: str) -> bytes:
    """Up to the first 4 bytes of ``stream`` (fewer only at its end)."""
    head = b""
    try:
        while len(head) < 4:
            more = stream.read(4 - len(head))
            if not more:
                break
            head += more
    except OSError as error:
        raise DataError(f"cannot read {label}: {error.strerror or error}") from None
    return head


def _pattern_lines(
    stream: BinaryIO,
    head: bytes,
    label: str,
    *,
    bpm: float | None,
    loops: int,
    budget: _Budget,
) -> list[SampledPattern]:
    """The patterns of a pattern JSON stream, read line by line, stopping at the budget."""
    start = head.lstrip()[:1]
    if start and start != b"{":
        raise MidiError(f"{label}: not a MIDI file (no 'MThd' header) and not pattern JSON")
    seconds = STEPS / 4 * 60.0 / (bpm or DEFAULT_BPM) * loops  # 2 bars of 16ths
    patterns: list[SampledPattern] = []
    lines = stream_lines(stream, where=label, prefix=head)
    for number, line in enumerate(lines, start=1):
        if not patterns and line.strip() and line.lstrip()[:1] != b"{":
            raise MidiError(f"{label}: not a MIDI file (no 'MThd' header) and not pattern JSON")
        pattern = parse_line(line, where=label, line=number)
        if pattern is not None:
            notes = int(np.count_nonzero(pattern.values > pattern.threshold)) * loops
            budget.add(seconds, notes, label)
            patterns.append(pattern)
    if not patterns:
        raise DataError(f"{label}: empty input; pipe 'rhythmcan sample --format json' into it")
    return patterns


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


def render_builtin(
    score: Score, *, samplerate: int = SAMPLE_RATE, tail_s: float = TAIL_S
) -> Int16Audio:
    """Render the drum channel with the built-in numpy synthesizer."""
    from rhythmcan_cli import synth

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
            elif channel != DRUM_CHANNEL:
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
    kit: str = "standard",
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


# ---------------------------------------------------------------------------------- out


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
        from rhythmcan_cli.sampling.patterns import store_root

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
