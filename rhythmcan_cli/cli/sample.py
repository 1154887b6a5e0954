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
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
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
from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.vocabulary import DEFAULT_KIT

if TYPE_CHECKING:
    from rhythmcan_cli.audio import PlayResult
    from rhythmcan_cli.sampling.patterns import SampledPattern
    from rhythmcan_cli.store import StoredModel

MAX_GRIDS_WITH_FILES: Final = 16
BROKEN_PIPE_EXIT: Final = 141
"""Exit status when the reader of stdout goes away (128 + SIGPIPE, as `yes | head` gives)."""
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


class _Made:
    """What a streamed run has made so far: the count, the first and last pattern, every
    pattern only when asked (a bounded few: grids after files, --play)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: SampledPattern | None = None
        self.last: SampledPattern | None = None
        self.kept: list[SampledPattern] = []

    def track(
        self,
        chunks: Iterable[list[SampledPattern]],
        *,
        accent: float,
        keep_all: bool,
        show: bool,
    ) -> Iterator[list[SampledPattern]]:
        """The chunks, accented, counted and (``show``) printed as grids as they come."""
        for chunk in chunks:
            if accent:
                from rhythmcan_cli.sampling.feel import accent as accented

                chunk = accented(chunk, accent)
            self.first = self.first or chunk[0]
            self.last = chunk[-1]
            self.count += len(chunk)
            if keep_all:
                self.kept.extend(chunk)
            if show:
                from rhythmcan_cli.cli.render import pattern_panel

                for pattern in chunk:
                    out.print(pattern_panel(pattern))
            yield chunk


def _check_count(
    count: int,
    where: str,
    form: str,
    play: bool,
    loops: int,
    bpm: float | None,
    option: str,
    humanized: bool,
) -> None:
    """Refuse, before a pattern is made, the counts an output cannot take (one line each).

    Grids, JSON lines (stdout or a file) stream any count, a chunk in memory at a time.
    """
    from rhythmcan_cli.midi.stream import MAX_FILE_PATTERNS
    from rhythmcan_cli.sampling.output import MAX_FOLDER_FILES, MAX_HUMANIZED_FILE_PATTERNS

    one_midi_file = where in ("file", "stdout") and form == "mid"
    if humanized and one_midi_file and count > MAX_HUMANIZED_FILE_PATTERNS:
        raise UsageError(
            f"--humanize writes at most {MAX_HUMANIZED_FILE_PATTERNS:,} patterns into one"
            f" MIDI file ({option} {count:,}); write a folder (-o DIR/), where each file is"
            " humanized alone"
        )
    if where == "dir" and count > MAX_FOLDER_FILES:
        raise UsageError(
            f"{option} {count:,} is more than the {MAX_FOLDER_FILES:,} files sample writes into one"
            " folder; write JSON lines (-o FILE.json or -f json), which stream any count, or"
            " several folders with different --seed values"
        )
    if one_midi_file and count > MAX_FILE_PATTERNS:
        raise UsageError(
            f"{option} {count:,} is more than the {MAX_FILE_PATTERNS:,} patterns one MIDI file"
            " holds (111 hours at 120 bpm); write a folder (-o DIR/) or JSON lines (-f json),"
            " which stream"
        )
    if play:
        from rhythmcan_cli.audio import DEFAULT_BPM, MAX_AUDIO_S
        from rhythmcan_cli.grid import STEPS

        tempo = bpm or DEFAULT_BPM
        seconds = count * loops * (STEPS / 4) * 60.0 / tempo
        if seconds > MAX_AUDIO_S:
            raise UsageError(
                f"--play renders at most {MAX_AUDIO_S / 60:.0f} minutes; {option} {count:,} with"
                f" --loops {loops} at {tempo:g} bpm would be {seconds / 60:,.0f} minutes"
            )


def _write(
    stream: Iterator[list[SampledPattern]],
    count: int,
    where: str,
    form: str,
    path: Path | None,
    force: bool,
    tempo: float,
    swing: float,
    loops: int,
    humanized: Callable[[int, bytes], bytes] | None,
) -> Sequence[Path]:
    """Write the run where it goes, chunk by chunk; the files written (none for streams)."""
    from rhythmcan_cli.atomic import atomic_write
    from rhythmcan_cli.sampling import output as so

    if where == "file" and path is not None:
        if form == "json":
            so.write_json_file(stream, path)
        else:
            data = so.midi_file_of(stream, bpm=tempo, swing=swing, loops=loops)
            atomic_write(path, data if humanized is None else humanized(0, data))
        return [path]
    if where == "dir" and path is not None:
        patterns = (pattern for chunk in stream for pattern in chunk)
        return so.write_pattern_files(
            patterns,
            path,
            count=count,
            fmt=form,
            force=force,
            bpm=tempo,
            swing=swing,
            loops=loops,
            transform=humanized,
        )
    try:
        if where == "stdout" and form == "mid":
            data = so.midi_file_of(stream, bpm=tempo, swing=swing, loops=loops)
            sys.stdout.buffer.write(data if humanized is None else humanized(0, data))
            sys.stdout.buffer.flush()
        elif where == "stdout" or form == "json":
            so.write_json_lines(stream, sys.stdout)
        else:
            for _ in stream:  # grids: printed as each chunk comes (_Made.track)
                pass
    except BrokenPipeError:  # the reader stopped (`| head`): stop quietly, as Unix tools do
        _drop_stdout()
        raise typer.Exit(BROKEN_PIPE_EXIT) from None
    return []


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
    like_line: str | None = None
    new_anchor_pattern: SampledPattern | None = None
    made = _Made()
    live_grids = False

    def action() -> tuple[str, str, Path | None, Sequence[Path]]:
        nonlocal like_line, new_anchor_pattern, live_grids
        from rhythmcan_cli.cli import steering as st
        from rhythmcan_cli.sampling import patterns as pj
        from rhythmcan_cli.sampling.anchor import choose_anchor
        from rhythmcan_cli.sampling.sample import parse_genre, sample_chunks

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
        counted = ("--steps", steps) if interpolate is not None else ("-n", n)
        _check_count(
            counted[1], where, form, play, loops, bpm, counted[0], request.humanize is not None
        )
        anchor, new_anchor = choose_anchor(vary) if vary is not None else (None, False)
        keep = anchor if new_anchor else None  # --vary FILE: the next --vary last varies it
        ends = None
        if interpolate is not None:
            ends = (pj.resolve_pattern(interpolate[0]), pj.resolve_pattern(interpolate[1]))
            anchor = ends[0]
        if where == "file" and path is not None and path.exists() and not force:
            raise DataError(f"{path} already exists; use --force to replace it")
        stored = _pick_model(model, genre, anchor)
        chunks: Iterable[list[SampledPattern]]
        if request.active:  # a search over at most --candidates (100,000) patterns
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
            chunks, count = [steered.patterns], len(steered.patterns)
            run_seed = steered.patterns[0].seed
            like_line = st.like_line(steered)
        else:  # made and written a chunk at a time: memory stays that of one chunk
            sampled = sample_chunks(
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
            chunks, count, run_seed = sampled.chunks, sampled.count, sampled.seed
            steered = None
        live_grids = where == "terminal" and form == "grid"
        keep_all = play or (
            where in ("file", "dir") and stdout_is_terminal() and count <= MAX_GRIDS_WITH_FILES
        )
        stream = made.track(chunks, accent=accent, keep_all=keep_all, show=live_grids)
        tempo = bpm or 120.0
        humanized = st.midi_encoder(request.humanize, seed=run_seed, bpm=tempo)
        written = _write(stream, count, where, form, path, force, tempo, swing, loops, humanized)
        if vary is None:
            keep = made.last  # --vary last leaves the anchor where it is
            if steered is not None and steered.like is not None:
                keep = steered.like.pattern  # --like: the match is the anchor
        new_anchor_pattern = keep  # kept (with 'last') once the output is written
        return where, form, path, written

    where, _, path, written = run(action)
    first, last = made.first, made.last
    assert first is not None and last is not None  # a run makes at least one pattern
    problem = _keep_last(last, new_anchor_pattern)
    if problem:
        err.print(f"warning: {problem}", highlight=False, markup=False, soft_wrap=True)
    if like_line is not None and not quiet:
        err.print(like_line, highlight=False, markup=False, soft_wrap=True)
    show_grids = live_grids or (
        where in ("file", "dir") and stdout_is_terminal() and made.count <= MAX_GRIDS_WITH_FILES
    )
    if show_grids and not live_grids:
        from rhythmcan_cli.cli.render import pattern_panel

        for pattern in made.kept:
            out.print(pattern_panel(pattern))
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
