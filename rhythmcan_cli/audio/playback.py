"""Playing rendered audio through sounddevice. Without PortAudio or an audio device the
audio is written to ``<store root>/last-play.wav`` and the result says so; ``require_audio``
makes that an AudioError. ``wav=`` writes a 16-bit WAV instead of playing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from rhythmcan_cli.audio.render import (
    Int16Audio,
    Rendered,
    check_kit,
    render,
    wav_bytes,
    write_wav,
)
from rhythmcan_cli.audio.scores import (
    DEFAULT_BPM,
    MAX_AUDIO_S,
    SAMPLE_RATE,
    pattern_score,
    read_sources,
)
from rhythmcan_cli.errors import AudioError, UsageError
from rhythmcan_cli.grid import STEPS
from rhythmcan_cli.sampling.patterns import (
    SampledPattern,
)
from rhythmcan_cli.vocabulary import DEFAULT_KIT

if TYPE_CHECKING:
    from rhythmcan_cli.sampling.feel import Humanize

PLAY_WAV: Final = "last-play.wav"


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
    kit: str = DEFAULT_KIT,
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
    kit: str = DEFAULT_KIT,
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


def check_play_length(
    count: int, *, loops: int = 1, bpm: float | None = None, option: str = "-n"
) -> None:
    """Refuse, before anything is made, a ``--play`` of ``count`` patterns longer than
    :data:`MAX_AUDIO_S` (UsageError, one line)."""
    tempo = bpm or DEFAULT_BPM
    seconds = count * loops * (STEPS / 4) * 60.0 / tempo
    if seconds > MAX_AUDIO_S:
        raise UsageError(
            f"--play renders at most {MAX_AUDIO_S / 60:.0f} minutes; {option} {count:,} with"
            f" --loops {loops} at {tempo:g} bpm would be {seconds / 60:,.0f} minutes"
        )


def play_humanized(
    patterns: Sequence[SampledPattern],
    humanize: Humanize,
    *,
    soundfont: Path | None,
    kit: str,
    loops: int,
    bpm: float | None,
    swing: float,
    require_audio: bool,
) -> PlayResult:
    """``sample --play --humanize``: render the humanized MIDI, as ``-o FILE.mid`` writes it."""
    from rhythmcan_cli.audio.scores import midi_score
    from rhythmcan_cli.sampling.feel import humanize_midi
    from rhythmcan_cli.sampling.sample import midi_file_bytes

    tempo = bpm or DEFAULT_BPM
    data = midi_file_bytes(patterns, bpm=tempo, swing=swing, loops=loops)
    data = humanize_midi(data, humanize, seed=patterns[0].seed, bpm=tempo)
    rendered = render(midi_score(data, name="humanized patterns"), soundfont=soundfont, kit=kit)
    return deliver(rendered, require_audio=require_audio)
