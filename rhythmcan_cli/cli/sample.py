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

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Optional

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
from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.vocabulary import DEFAULT_KIT

if TYPE_CHECKING:
    from rhythmcan_cli.audio import PlayResult
    from rhythmcan_cli.sampling.patterns import SampledPattern
    from rhythmcan_cli.store import StoredModel

MAX_GRIDS_WITH_FILES: Final = 16
FORMATS: Final = ("grid", "json", "mid")
JSON_SUFFIXES: Final = (".json", ".jsonl", ".ndjson")
AUDIO_SUFFIXES: Final = (".wav", ".wave", ".flac", ".mp3", ".ogg", ".aif", ".aiff", ".m4a")
"""-o names refused: MIDI bytes in a file named like audio would not play anywhere."""

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


def _pick_model(model: str | None, genre: str | None, anchor: SampledPattern | None) -> StoredModel:
    """--model; else the model of the --vary/--interpolate pattern (unless --genre needs a
    conditional one); else the default conditional GAN for --genre; else the Creative-GAN."""
    from rhythmcan_cli.errors import ModelError
    from rhythmcan_cli.store import default_model, open_model

    if model:
        return open_model(model)
    if anchor is not None and (genre is None or anchor.kind == "cgan"):
        try:
            return open_model(anchor.model)
        except ModelError as error:
            raise ModelError(
                f"the pattern was made by model '{anchor.model}', which cannot be opened ({error});"
                " pass --model NAME"
            ) from None
    if genre is not None:
        return default_model("cgan")
    return default_model("can")


def _keep_last(pattern: SampledPattern, anchor: SampledPattern | None) -> str | None:
    """Keep ``last`` (and the new anchor) once the user's output is written; a problem or None.

    Best effort: a read-only, full or missing store must not cost the patterns themselves.
    """
    from rhythmcan_cli.errors import RhythmcanError
    from rhythmcan_cli.sampling.anchor import save_anchor
    from rhythmcan_cli.sampling.patterns import save_last

    try:
        save_last(pattern)
        if anchor is not None:
            save_anchor(anchor)
    except (OSError, RhythmcanError) as error:
        return f"'last' not kept for --vary/--interpolate last ({error})"
    return None


def _destination(output: str | None, fmt: str | None) -> tuple[str, str, Path | None]:
    """(where: terminal|stdout|file|dir, format, path) from -o, --format and the terminal."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; use one of {', '.join(FORMATS)}")
    if output is None:
        if fmt == "grid":
            return "terminal", "grid", None
        if stdout_is_terminal():
            if fmt == "mid":
                raise UsageError("MIDI is binary: write it with -o FILE.mid, or pipe it with -o -")
            return ("terminal", "json", None) if fmt == "json" else ("terminal", "grid", None)
        return "stdout", fmt if fmt in ("json", "mid") else "json", None
    if output == "-":
        if fmt == "grid":
            return "terminal", "grid", None
        return "stdout", fmt or "mid", None
    if fmt == "grid":
        raise UsageError("--format grid only prints to the terminal; write mid or json files")
    path = Path(output).expanduser()
    if output.endswith(("/", "\\")) or path.is_dir():
        return "dir", fmt or "mid", path
    if path.suffix.lower() in AUDIO_SUFFIXES:
        raise UsageError(
            f"sample writes MIDI or pattern JSON, not audio ({path.name}); for a WAV file:"
            f" rhythmcan sample --format json | rhythmcan play - --wav {path}"
        )
    if fmt is None:
        fmt = "json" if path.suffix.lower() in JSON_SUFFIXES else "mid"
    return "file", fmt, path


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
    like_line: str | None = None
    new_anchor_pattern: SampledPattern | None = None

    def action() -> tuple[list[SampledPattern], str, str, Path | None, list[Path]]:
        nonlocal like_line, new_anchor_pattern
        from rhythmcan_cli.cli import steering as st
        from rhythmcan_cli.sampling import patterns as pj
        from rhythmcan_cli.sampling.anchor import choose_anchor
        from rhythmcan_cli.sampling.sample import midi_file_bytes as plain_midi_bytes
        from rhythmcan_cli.sampling.sample import parse_genre, write_pattern_files
        from rhythmcan_cli.sampling.sample import sample as sample_patterns

        where, form, path = _destination(output, fmt)
        if play:
            from rhythmcan_cli.audio import check_kit

            check_kit(kit)
        if genre is not None and genre_ambiguous:
            raise UsageError("use either --genre or --genre-ambiguous, not both")
        request = st.steer_request(
            threshold=threshold,
            like=like,
            bar=bar,
            keep=keep_voices,
            density=density,
            syncopation=syncopation,
            candidates=candidates,
            humanize=humanize,
        )
        if request.active and interpolate is not None:
            raise UsageError("--interpolate walks between two patterns: it takes no steering")
        if like is not None and vary is not None:
            raise UsageError("use either --like (your groove) or --vary (a pattern), not both")
        anchor, new_anchor = choose_anchor(vary) if vary is not None else (None, False)
        keep = anchor if new_anchor else None  # --vary FILE: the next --vary last varies it
        ends = None
        if interpolate is not None:
            ends = (pj.resolve_pattern(interpolate[0]), pj.resolve_pattern(interpolate[1]))
            anchor = ends[0]
        if where == "file" and path is not None and path.exists() and not force:
            raise DataError(f"{path} already exists; use --force to replace it")
        stored = _pick_model(model, genre, anchor)
        if request.active:
            steered = st.steer_patterns(
                request,
                stored,
                n=n,
                seed=seed,
                genre=parse_genre(genre) if genre is not None else None,
                ambiguous=genre_ambiguous,
                z_std=z_std,
                vary=anchor,
                noise=noise,
            )
            patterns = steered.patterns
            like_line = st.like_line(steered)
        else:
            patterns = sample_patterns(
                stored,
                n=n,
                seed=seed,
                genre=parse_genre(genre) if genre is not None else None,
                ambiguous=genre_ambiguous,
                z_std=z_std,
                vary=anchor if ends is None else None,
                noise=noise,
                interpolate=ends,
                steps=steps,
                threshold=request.thresholds.base,
            )
            steered = None
        if accent:
            from rhythmcan_cli.sampling.feel import accent as accented

            patterns = accented(patterns, accent)
        if vary is None:
            keep = patterns[-1]  # --vary last leaves the anchor where it is
            if steered is not None and steered.like is not None:
                keep = steered.like.pattern  # --like: the match is the anchor
        new_anchor_pattern = keep  # kept (with 'last') once the output is written
        written: list[Path] = []
        tempo = bpm or 120.0
        humanized = st.midi_encoder(request.humanize, seed=patterns[0].seed, bpm=tempo)

        def midi_file_bytes(patterns: list[SampledPattern], **options: Any) -> bytes:
            data = plain_midi_bytes(patterns, **options)
            return data if humanized is None else humanized(0, data)

        if where == "file" and path is not None:
            if form == "json":
                pj.write_patterns(patterns, path)
            else:
                data = midi_file_bytes(patterns, bpm=tempo, swing=swing, loops=loops)
                pj.atomic_write(path, data)
            written = [path]
        elif where == "dir" and path is not None:
            written = write_pattern_files(
                patterns,
                path,
                fmt=form,
                force=force,
                bpm=tempo,
                swing=swing,
                loops=loops,
                transform=humanized,
            )
        elif where == "stdout" and form == "mid":
            sys.stdout.buffer.write(midi_file_bytes(patterns, bpm=tempo, swing=swing, loops=loops))
            sys.stdout.buffer.flush()
        elif where == "stdout" or form == "json":
            sys.stdout.write(pj.dumps_patterns(patterns))
            sys.stdout.flush()
        return patterns, where, form, path, written

    patterns, where, form, path, written = run(action)
    problem = _keep_last(patterns[-1], new_anchor_pattern)
    if problem:
        err.print(f"warning: {problem}", highlight=False, markup=False, soft_wrap=True)
    if like_line is not None and not quiet:
        err.print(like_line, highlight=False, markup=False, soft_wrap=True)
    show_grids = (where == "terminal" and form == "grid") or (
        where in ("file", "dir") and stdout_is_terminal() and len(patterns) <= MAX_GRIDS_WITH_FILES
    )
    if show_grids:
        from rhythmcan_cli.cli.render import pattern_panel

        for pattern in patterns:
            out.print(pattern_panel(pattern))
    if not quiet:
        first = patterns[0]
        what = f"{len(patterns)} pattern{'s' if len(patterns) != 1 else ''}"
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
    if play:

        def play_action() -> PlayResult:
            from rhythmcan_cli.audio import play_patterns
            from rhythmcan_cli.sampling.feel import parse_humanize

            if humanize is not None:
                from rhythmcan_cli.cli.steering import play_humanized

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
