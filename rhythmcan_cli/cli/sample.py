"""`rhythmcan sample`: Generate drum patterns with a trained model: grid, MIDI, JSON or sound.

Where the patterns go:

- no ``-o``, stdout a terminal: one drum grid per pattern;
- no ``-o``, stdout piped or redirected: JSON lines (``--format mid``: MIDI bytes);
- ``-o FILE.mid`` one MIDI file (patterns one after another); ``-o FILE.json`` JSON lines;
- ``-o DIR/`` (trailing slash or an existing folder): one numbered file per pattern,
  never overwriting without ``--force``;
- ``-o -``: MIDI to stdout (``--format json``: JSON lines).

On a terminal the grids are also shown when writing files, up to 16 patterns. The last
pattern is kept in the store as ``last`` (``--interpolate last``, ``play last``); the anchor
``--vary last`` varies around is kept apart (rhythmcan_cli.sampling.anchor), so variations never
drift. Both are kept after the output is written: a store that cannot be written costs a
warning, never the patterns. Messages go to stderr.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Annotated, Final, Optional

import typer

from rhythmcan_cli.cli.console import err, out, run, stdout_is_terminal
from rhythmcan_cli.cli.options import Bpm, Force, Loops, Model, Quiet, Seed, Swing
from rhythmcan_cli.cli.play import Kit, RequireAudio, SoundFont, report_play
from rhythmcan_cli.cli.steering import (
    Accent,
    Bar,
    Candidates,
    Density,
    HumanizeOpt,
    Keep,
    Like,
    Syncopation,
    VoiceThreshold,
)
from rhythmcan_cli.vocabulary import DEFAULT_KIT

if TYPE_CHECKING:
    from rhythmcan_cli.audio import PlayResult
    from rhythmcan_cli.sampling.patterns import SampledPattern
    from rhythmcan_cli.sampling.run import SampleRun

MAX_GRIDS_WITH_FILES: Final = 16
BROKEN_PIPE_EXIT: Final = 141
"""Exit status when the reader of stdout goes away (128 + SIGPIPE, as `yes | head` gives)."""

GenreOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--genre",
        "-g",
        help="Genre of a conditional model, or a blend such as rock=0.7,funk=0.3.",
        show_default=False,
    ),
]
Ambiguous = Annotated[
    bool,
    typer.Option(
        "--genre-ambiguous",
        help="Patterns of no genre: the Creative-GAN (on a conditional model: all genres blended).",
    ),
]
Count = Annotated[int, typer.Option("-n", "--count", help="How many patterns (1 or more).")]
ZStd = Annotated[
    Optional[float],  # noqa: UP045
    typer.Option("--z-std", help="Spread of z (default: the model's).", show_default=False),
]
Vary = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--vary",
        help=(
            "Variations near a pattern: a pattern JSON file (it becomes the anchor), or 'last':"
            " the anchor, i.e. the last pattern made without --vary."
        ),
        show_default=False,
    ),
]
Noise = Annotated[float, typer.Option("--noise", help="How far --vary strays (0-0.5 is musical).")]
Interpolate = Annotated[
    Optional[tuple[str, str]],  # noqa: UP045
    typer.Option(
        "--interpolate",
        help="Walk from pattern A to pattern B (JSON files or 'last').",
        show_default=False,
    ),
]
Steps = Annotated[int, typer.Option("--steps", help="Patterns in an --interpolate walk (2+).")]
Output = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--output",
        "-o",
        help="FILE.mid, FILE.json, DIR/ (one file per pattern) or - (stdout).",
        show_default=False,
    ),
]
Format = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--format",
        "-f",
        help="grid, json or mid (default: from -o and the terminal).",
        show_default=False,
    ),
]
Play = Annotated[bool, typer.Option("--play", "-p", help="Play the patterns as well.")]


def _drop_stdout() -> None:
    """Point stdout at /dev/null so that the exit's flush cannot fail again."""
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def sample(
    model: Model = None,
    genre: GenreOpt = None,
    genre_ambiguous: Ambiguous = False,
    n: Count = 1,
    seed: Seed = None,
    threshold: VoiceThreshold = None,
    z_std: ZStd = None,
    vary: Vary = None,
    noise: Noise = 0.2,
    interpolate: Interpolate = None,
    steps: Steps = 8,
    bpm: Bpm = None,
    swing: Swing = 0.0,
    loops: Loops = 1,
    output: Output = None,
    fmt: Format = None,
    force: Force = False,
    play: Play = False,
    soundfont: SoundFont = None,
    kit: Kit = DEFAULT_KIT,
    require_audio: RequireAudio = False,
    quiet: Quiet = False,
    like: Like = None,
    bar: Bar = None,
    keep_voices: Keep = None,
    density: Density = None,
    syncopation: Syncopation = None,
    candidates: Candidates = 2048,
    humanize: HumanizeOpt = None,
    accent: Accent = 0.0,
) -> None:
    """Generate drum patterns with a trained model: grid, MIDI, JSON or sound.

    Examples: 'rhythmcan sample --genre-ambiguous --play',
    'rhythmcan sample --genre rock=0.7,funk=0.3 -n 8 -o grooves/',
    'rhythmcan sample --vary last --noise 0.2 -n 4',
    'rhythmcan sample --like groove.mid -n 8 --noise 0.3',
    'rhythmcan sample --vary last --keep kick,snare -n 4 --density 8-14'.
    """
    from rhythmcan_cli.sampling.run import SampleRequest, parse_steering, run_sample

    def show(chunk: list[SampledPattern]) -> None:
        from rhythmcan_cli.cli.render import pattern_panel

        for pattern in chunk:
            out.print(pattern_panel(pattern))

    terminal = stdout_is_terminal()

    def action() -> SampleRun:
        if play:
            from rhythmcan_cli.audio import check_kit

            check_kit(kit)
        request = SampleRequest(
            steer=parse_steering(
                threshold=threshold,
                like=like,
                bar=bar,
                keep=keep_voices,
                density=density,
                syncopation=syncopation,
                candidates=candidates,
                humanize=humanize,
            ),
            model=model,
            genre=genre,
            ambiguous=genre_ambiguous,
            n=n,
            seed=seed,
            z_std=z_std,
            vary=vary,
            noise=noise,
            interpolate=interpolate,
            steps=steps,
            bpm=bpm,
            swing=swing,
            loops=loops,
            output=output,
            fmt=fmt,
            force=force,
            accent=accent,
            keep_all=play,
            grids_after_files=MAX_GRIDS_WITH_FILES,
        )
        if play:
            from rhythmcan_cli.audio import check_play_length

            check_play_length(request.count, loops=loops, bpm=bpm, option=request.count_option)
        try:
            return run_sample(
                request,
                terminal=terminal,
                text_out=sys.stdout,
                binary_out=sys.stdout.buffer,
                show_grids=show,
            )
        except BrokenPipeError:  # the reader stopped (`| head`): stop quietly, as Unix tools do
            _drop_stdout()
            raise typer.Exit(BROKEN_PIPE_EXIT) from None

    made = run(action)
    where, path, written = made.dest.where, made.dest.path, made.written
    live_grids = where == "terminal" and made.dest.form == "grid"
    first = made.first
    assert first is not None  # a run makes at least one pattern
    if made.store_problem:
        err.print(f"warning: {made.store_problem}", highlight=False, markup=False, soft_wrap=True)
    like_line = _like_line(made)
    if like_line is not None and not quiet:
        err.print(like_line, highlight=False, markup=False, soft_wrap=True)
    show_grids = live_grids or (
        where in ("file", "dir") and terminal and made.count <= MAX_GRIDS_WITH_FILES
    )
    if show_grids and not live_grids:
        show(made.kept)
    if not quiet:
        what = f"{made.count} pattern{'s' if made.count != 1 else ''}"
        if written:
            target = str(path) if where == "file" else f"{len(written)} files in {path}"
            err.print(
                f"wrote {what} to {target} (seed {first.seed})",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        elif not show_grids:
            err.print(
                f"{what} from {first.model}, seed {first.seed}", highlight=False, markup=False
            )
    patterns = made.kept
    if play:

        def play_action() -> PlayResult:
            from rhythmcan_cli.audio import play_humanized, play_patterns
            from rhythmcan_cli.sampling.feel import parse_humanize

            if humanize is not None:
                return play_humanized(
                    patterns,
                    parse_humanize(humanize),
                    soundfont=soundfont,
                    kit=kit,
                    loops=loops,
                    bpm=bpm,
                    swing=swing,
                    require_audio=require_audio,
                )
            return play_patterns(
                patterns,
                soundfont=soundfont,
                kit=kit,
                loops=loops,
                bpm=bpm,
                swing=swing,
                require_audio=require_audio,
            )

        report_play(run(play_action), quiet=quiet)


def _like_line(made: SampleRun) -> str | None:
    """One line on how near --like got, next to plain samples of the model."""
    found = made.steered.like if made.steered is not None else None
    if found is None or made.first is None:
        return None
    return (
        f"--like {found.target.label}: nearest pattern at distance {found.distance} "
        f"(random samples of the model: median {found.random_median:g}; "
        f"{found.evaluated:,} patterns searched, seed {made.first.seed})"
    )
