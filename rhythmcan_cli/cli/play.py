"""`rhythmcan play`: Play MIDI files or sampled patterns through a General MIDI drum kit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from rhythmcan_cli.cli.console import err, run
from rhythmcan_cli.cli.options import Quiet
from rhythmcan_cli.vocabulary import DEFAULT_KIT, DRUM_KITS

if TYPE_CHECKING:
    from rhythmcan_cli.audio import PlayResult


Sources = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Argument(
        help="MIDI files or pattern JSON files; '-' (or nothing, when piped) reads stdin.",
        show_default=False,
    ),
]
Wav = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--wav",
        help="Write a 16-bit WAV file instead of playing ('-': stdout).",
        show_default=False,
    ),
]
SoundFont = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--soundfont",
        help="General MIDI SoundFont (.sf2); default: $RHYTHMCAN_SOUNDFONT, then system paths.",
        show_default=False,
    ),
]
Kit = Annotated[
    str,
    typer.Option("--kit", help=f"Drum kit of the SoundFont: {', '.join(DRUM_KITS)}."),
]
RequireAudio = Annotated[
    bool,
    typer.Option(
        "--require-audio",
        help="Fail when there is no audio device, instead of writing a WAV file.",
    ),
]
PlayLoops = Annotated[
    int, typer.Option("--loops", min=1, max=64, help="Repeat what is played this many times.")
]
PlayBpm = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option(
        "--bpm",
        min=20.0,
        max=400.0,
        help="Tempo in beats per minute (default: the file's own; 120 for patterns).",
        show_default=False,
    ),
]


def report_play(result: PlayResult, *, quiet: bool) -> None:
    """Notices, then what was played or written, on stderr (nothing with --quiet)."""
    if quiet:
        return
    for notice in result.notices:
        err.print(f"note: {notice}", highlight=False, markup=False, soft_wrap=True)
    engine = "FluidSynth" if result.engine == "fluidsynth" else "built-in synth"
    if result.wav_data is not None:
        err.print(f"wrote {result.seconds:.1f} s of WAV to stdout ({engine})", highlight=False)
    elif result.played:
        err.print(f"played {result.seconds:.1f} s ({engine})", highlight=False)
    elif result.no_device is not None:
        err.print(
            f"{result.no_device}: wrote {result.wav} instead ({result.seconds:.1f} s, {engine})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    else:
        err.print(
            f"wrote {result.wav} ({result.seconds:.1f} s, {engine})",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def play(
    sources: Sources = None,
    wav: Wav = None,
    soundfont: SoundFont = None,
    kit: Kit = DEFAULT_KIT,
    loops: PlayLoops = 1,
    bpm: PlayBpm = None,
    require_audio: RequireAudio = False,
    quiet: Quiet = False,
) -> None:
    """Play MIDI files or sampled patterns through a General MIDI drum kit.

    Examples: 'rhythmcan play groove.mid --kit tr-808',
    'rhythmcan sample -n 4 --format json | rhythmcan play - --wav four.wav',
    'rhythmcan play groove.mid --wav - | sox -t wav - groove.flac'.
    """
    names = list(sources or [])
    if not names and not sys.stdin.isatty():
        names = ["-"]

    def action() -> PlayResult:
        from rhythmcan_cli.audio import play as play_sources

        return play_sources(
            names,
            wav=wav,
            soundfont=soundfont,
            kit=kit,
            loops=loops,
            bpm=bpm,
            require_audio=require_audio,
        )

    result = run(action)
    if result.wav_data is not None:
        sys.stdout.buffer.write(result.wav_data)
        sys.stdout.buffer.flush()
    report_play(result, quiet=quiet)
