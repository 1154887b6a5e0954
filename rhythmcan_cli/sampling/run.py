"""``rhythmcan sample`` as one library call: where the patterns go, which model makes them,
plain or steered sampling, and writing them chunk by chunk.

The CLI parses the options into a :class:`SampleRequest`, calls :func:`run_sample` and renders
what the :class:`SampleRun` says (grids, one line on stderr, ``--play``). Where the patterns go:

- no ``-o``, stdout a terminal: one drum grid per pattern (``show_grids`` as they come);
- no ``-o``, stdout piped or redirected: JSON lines (``--format mid``: MIDI bytes);
- ``-o FILE.mid`` one MIDI file (patterns one after another); ``-o FILE.json`` JSON lines;
- ``-o DIR/`` (trailing slash or an existing folder): one numbered file per pattern, never
  overwriting without ``force``;
- ``-o -``: MIDI to stdout (``--format json``: JSON lines).

Plain sampling is made and written a chunk at a time (memory stays that of one chunk, for any
``-n``); steering is a search over at most ``--candidates`` patterns. The last pattern is kept
as ``last`` and the anchor of ``--vary last`` apart (anchor.py) *after* the output is written,
best effort: a store that cannot be written costs a warning, never the patterns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final, Literal, TextIO

from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.vocabulary import DEFAULT_BPM

if TYPE_CHECKING:
    from rhythmcan_cli.sampling.feel import Humanize
    from rhythmcan_cli.sampling.patterns import Genre, SampledPattern
    from rhythmcan_cli.sampling.shaping import VoiceThresholds
    from rhythmcan_cli.sampling.steer import Steering, SteerResult
    from rhythmcan_cli.store import StoredModel

FORMATS: Final = ("grid", "json", "mid")
JSON_SUFFIXES: Final = (".json", ".jsonl", ".ndjson")
AUDIO_SUFFIXES: Final = (".wav", ".wave", ".flac", ".mp3", ".ogg", ".aif", ".aiff", ".m4a")
"""-o names refused: MIDI bytes in a file named like audio would not play anywhere."""
Where = Literal["terminal", "stdout", "file", "dir"]


@dataclass(frozen=True)
class Destination:
    """Where a run's patterns go and in which format (grid, json, mid)."""

    where: Where
    form: str
    path: Path | None = None


def destination(output: str | None, fmt: str | None, *, terminal: bool) -> Destination:
    """From ``-o``, ``--format`` and whether stdout is a terminal (UsageError when they clash)."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; use one of {', '.join(FORMATS)}")
    if output is None:
        if fmt == "grid":
            return Destination("terminal", "grid")
        if terminal:
            if fmt == "mid":
                raise UsageError("MIDI is binary: write it with -o FILE.mid, or pipe it with -o -")
            return Destination("terminal", "json" if fmt == "json" else "grid")
        return Destination("stdout", fmt if fmt in ("json", "mid") else "json")
    if output == "-":
        return (
            Destination("terminal", "grid")
            if fmt == "grid"
            else Destination("stdout", fmt or "mid")
        )
    if fmt == "grid":
        raise UsageError("--format grid only prints to the terminal; write mid or json files")
    path = Path(output).expanduser()
    if output.endswith(("/", "\\")) or path.is_dir():
        return Destination("dir", fmt or "mid", path)
    if path.suffix.lower() in AUDIO_SUFFIXES:
        raise UsageError(
            f"sample writes MIDI or pattern JSON, not audio ({path.name}); for a WAV file:"
            f" rhythmcan sample --format json | rhythmcan play - --wav {path}"
        )
    if fmt is None:
        fmt = "json" if path.suffix.lower() in JSON_SUFFIXES else "mid"
    return Destination("file", fmt, path)


def pick_model(model: str | None, genre: str | None, anchor: SampledPattern | None) -> StoredModel:
    """``--model``; else the model of the --vary/--interpolate pattern (unless --genre needs a
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


def check_count(
    count: int, dest: Destination, option: str = "-n", *, humanized: bool = False
) -> None:
    """Refuse, before a pattern is made, the counts an output cannot take (one line each).

    Grids and JSON lines (stdout or a file) stream any count, a chunk in memory at a time.
    ``option`` names where the count came from (``-n``, or ``--steps`` for a walk).
    """
    from rhythmcan_cli.midi.stream import MAX_FILE_PATTERNS
    from rhythmcan_cli.sampling.output import MAX_FOLDER_FILES, MAX_HUMANIZED_FILE_PATTERNS

    one_midi_file = dest.where in ("file", "stdout") and dest.form == "mid"
    if humanized and one_midi_file and count > MAX_HUMANIZED_FILE_PATTERNS:
        raise UsageError(
            f"--humanize writes at most {MAX_HUMANIZED_FILE_PATTERNS:,} patterns into one"
            f" MIDI file ({option} {count:,}); write a folder (-o DIR/), where each file is"
            " humanized alone"
        )
    if dest.where == "dir" and count > MAX_FOLDER_FILES:
        raise UsageError(
            f"{option} {count:,} is more than the {MAX_FOLDER_FILES:,} files sample writes into one"
            " folder; write JSON lines (-o FILE.json or -f json), which stream any count, or"
            " several folders with different --seed values"
        )
    if one_midi_file and count > MAX_FILE_PATTERNS:
        raise UsageError(
            f"{option} {count:,} is more than the {MAX_FILE_PATTERNS:,} patterns one MIDI file"
            " holds (111 hours at 120 bpm); write a folder (-o DIR/) or JSON lines (-f json), which"
            " stream"
        )


@dataclass(frozen=True)
class SteerRequest:
    """Parsed steering options; ``active`` when plain sampling cannot serve them."""

    thresholds: VoiceThresholds
    steering: Steering
    like: str | None = None
    bar: int | None = None
    humanize: Humanize | None = None

    @property
    def active(self) -> bool:
        return self.like is not None or self.steering.selecting or bool(self.thresholds.voices)


def parse_steering(
    *,
    threshold: str | None = None,
    like: str | None = None,
    bar: int | None = None,
    keep: str | None = None,
    density: str | None = None,
    syncopation: str | None = None,
    candidates: int = 2048,
    humanize: str | None = None,
) -> SteerRequest:
    """The steering options as the command line spells them (UsageError on the first bad one)."""
    from rhythmcan_cli.sampling.feel import parse_humanize
    from rhythmcan_cli.sampling.shaping import (
        SYNCOPATION_BANDS,
        VoiceThresholds,
        parse_range,
        parse_thresholds,
        parse_voices,
    )
    from rhythmcan_cli.sampling.steer import Steering

    if bar is not None and like is None:
        raise UsageError("--bar picks the window of --like FILE: add --like")
    steering = Steering(
        keep=parse_voices(keep) if keep is not None else (),
        density=parse_range(density, "--density") if density is not None else None,
        syncopation=(
            parse_range(syncopation, "--syncopation", bands=SYNCOPATION_BANDS)
            if syncopation is not None
            else None
        ),
        candidates=candidates,
    )
    return SteerRequest(
        thresholds=parse_thresholds(threshold) if threshold is not None else VoiceThresholds(),
        steering=steering,
        like=like,
        bar=bar,
        humanize=parse_humanize(humanize) if humanize is not None else None,
    )


def midi_encoder(
    humanize: Humanize | None, *, seed: int, bpm: float
) -> Callable[[int, bytes], bytes] | None:
    """What turns file ``i``'s MIDI bytes into humanized ones (None: leave them)."""
    if humanize is None:
        return None
    from rhythmcan_cli.sampling.feel import humanize_midi

    def encode(index: int, data: bytes) -> bytes:
        return humanize_midi(data, humanize, seed=seed + index, bpm=bpm)

    return encode


@dataclass(frozen=True)
class SampleRequest:
    """Everything ``rhythmcan sample`` was asked for, parsed."""

    steer: SteerRequest
    model: str | None = None
    genre: str | None = None
    ambiguous: bool = False
    n: int = 1
    seed: int | None = None
    z_std: float | None = None
    vary: str | None = None
    noise: float = 0.2
    interpolate: tuple[str, str] | None = None
    steps: int = 8
    bpm: float | None = None
    swing: float = 0.0
    loops: int = 1
    output: str | None = None
    fmt: str | None = None
    force: bool = False
    accent: float = 0.0
    keep_all: bool = False
    """Keep every pattern in memory (``--play``, whose length is bounded before the run)."""
    grids_after_files: int = 0
    """On a terminal, keep the patterns of a file or folder run of at most this many, to show
    them as grids after writing. Otherwise nothing is kept: streams stay bounded for any n."""

    @property
    def count(self) -> int:
        """How many patterns the run makes."""
        return self.steps if self.interpolate is not None else self.n

    @property
    def count_option(self) -> str:
        """The option the count came from: ``--steps`` for an --interpolate walk, else ``-n``."""
        return "--steps" if self.interpolate is not None else "-n"


@dataclass
class SampleRun:
    """What a run made and wrote."""

    dest: Destination
    count: int = 0
    first: SampledPattern | None = None
    last: SampledPattern | None = None
    kept: list[SampledPattern] = field(default_factory=list)
    """Every pattern, when the request's ``keep_count`` allowed it."""
    written: Sequence[Path] = ()
    steered: SteerResult | None = None
    anchor: SampledPattern | None = None
    """The pattern ``--vary last`` varies around from now on (None: leave it)."""
    store_problem: str | None = None
    """Why ``last``/the anchor could not be kept (a warning; the output is whole)."""


def run_sample(
    request: SampleRequest,
    *,
    terminal: bool,
    text_out: TextIO,
    binary_out: BinaryIO,
    show_grids: Callable[[list[SampledPattern]], None] | None = None,
) -> SampleRun:
    """Make the patterns ``request`` asks for and write them where it says.

    ``terminal``: stdout is a terminal; ``text_out``/``binary_out``: stdout's streams (JSON
    lines, MIDI bytes); ``show_grids`` gets every chunk as it is made when the patterns go to
    the terminal as grids (the library never prints).
    A BrokenPipeError from stdout is left to the caller (a reader that stopped is not an error).
    """
    from rhythmcan_cli.sampling import patterns as pj
    from rhythmcan_cli.sampling.anchor import choose_anchor
    from rhythmcan_cli.sampling.sample import parse_genre, sample_chunks

    dest = destination(request.output, request.fmt, terminal=terminal)
    if request.genre is not None and request.ambiguous:
        raise UsageError("use either --genre or --genre-ambiguous, not both")
    steer_req = request.steer
    if steer_req.active and request.interpolate is not None:
        raise UsageError("--interpolate walks between two patterns: it takes no steering")
    if steer_req.like is not None and request.vary is not None:
        raise UsageError("use either --like (your groove) or --vary (a pattern), not both")
    check_count(request.count, dest, request.count_option, humanized=steer_req.humanize is not None)
    anchor, new_anchor = choose_anchor(request.vary) if request.vary is not None else (None, False)
    keep = anchor if new_anchor else None  # --vary FILE: the next --vary last varies it
    ends = None
    if request.interpolate is not None:
        ends = (
            pj.resolve_pattern(request.interpolate[0]),
            pj.resolve_pattern(request.interpolate[1]),
        )
        anchor = ends[0]
    if dest.where == "file" and dest.path is not None and dest.path.exists() and not request.force:
        raise DataError(f"{dest.path} already exists; use --force to replace it")
    stored = pick_model(request.model, request.genre, anchor)
    genre = parse_genre(request.genre) if request.genre is not None else None
    run = SampleRun(dest)
    chunks: Iterable[list[SampledPattern]]
    if steer_req.active:  # a search over at most --candidates (100,000) patterns
        run.steered = _steer(request, stored, genre, anchor)
        chunks, count = [run.steered.patterns], len(run.steered.patterns)
        run_seed = run.steered.patterns[0].seed
    else:  # made and written a chunk at a time: memory stays that of one chunk
        sampled = sample_chunks(
            stored,
            n=request.n,
            seed=request.seed,
            genre=genre,
            ambiguous=request.ambiguous,
            z_std=request.z_std,
            vary=anchor if ends is None else None,
            noise=request.noise,
            interpolate=ends,
            steps=request.steps,
            threshold=steer_req.thresholds.base,
        )
        chunks, count, run_seed = sampled.chunks, sampled.count, sampled.seed
    keep_all = request.keep_all or (
        terminal and dest.where in ("file", "dir") and count <= request.grids_after_files
    )
    live = dest.where == "terminal" and dest.form == "grid"
    stream = _tally(
        run, chunks, accent=request.accent, keep_all=keep_all, on_chunk=show_grids if live else None
    )
    tempo = request.bpm or DEFAULT_BPM
    humanized = midi_encoder(steer_req.humanize, seed=run_seed, bpm=tempo)
    run.written = write_run(
        stream,
        count,
        dest,
        force=request.force,
        bpm=tempo,
        swing=request.swing,
        loops=request.loops,
        humanized=humanized,
        text_out=text_out,
        binary_out=binary_out,
    )
    if request.vary is None:
        keep = run.last  # --vary last leaves the anchor where it is
        if run.steered is not None and run.steered.like is not None:
            keep = run.steered.like.pattern  # --like: the match is the anchor
    run.anchor = keep
    assert run.last is not None  # a run makes at least one pattern
    run.store_problem = keep_last(run.last, run.anchor)
    return run


def _steer(
    request: SampleRequest,
    model: StoredModel,
    genre: Genre,
    anchor: SampledPattern | None,
) -> SteerResult:
    """The steering search behind ``sample --like/--keep/--density/--syncopation``."""
    from rhythmcan_cli.sampling.sample import new_seed
    from rhythmcan_cli.sampling.steer import steer
    from rhythmcan_cli.sampling.target import load_target

    req = request.steer
    target = load_target(req.like, bar=req.bar) if req.like is not None else None
    return steer(
        model,
        n=request.n,
        seed=new_seed() if request.seed is None else request.seed,
        genre=genre,
        ambiguous=request.ambiguous,
        z_std=request.z_std,
        thresholds=req.thresholds,
        vary=anchor,
        noise=request.noise,
        target=target,
        steering=req.steering,
    )


def _tally(
    run: SampleRun,
    chunks: Iterable[list[SampledPattern]],
    *,
    accent: float,
    keep_all: bool,
    on_chunk: Callable[[list[SampledPattern]], None] | None,
) -> Iterator[list[SampledPattern]]:
    """The chunks, accented, counted into ``run`` and shown to ``on_chunk`` as they come."""
    for chunk in chunks:
        if accent:
            from rhythmcan_cli.sampling.feel import accent as accented

            chunk = accented(chunk, accent)
        run.first = run.first or chunk[0]
        run.last = chunk[-1]
        run.count += len(chunk)
        if keep_all:
            run.kept.extend(chunk)
        if on_chunk is not None:
            on_chunk(chunk)
        yield chunk


def write_run(
    stream: Iterator[list[SampledPattern]],
    count: int,
    dest: Destination,
    *,
    force: bool,
    bpm: float,
    swing: float,
    loops: int,
    humanized: Callable[[int, bytes], bytes] | None,
    text_out: TextIO,
    binary_out: BinaryIO,
) -> Sequence[Path]:
    """Write the run where ``dest`` says, chunk by chunk; the files written (none for streams).

    Grids are not written here: the stream is only drained (its ``on_chunk`` shows them).
    """
    from rhythmcan_cli.atomic import atomic_write
    from rhythmcan_cli.sampling import output as so

    if dest.where == "file" and dest.path is not None:
        if dest.form == "json":
            so.write_json_file(stream, dest.path)
        else:
            data = so.midi_file_of(stream, bpm=bpm, swing=swing, loops=loops)
            atomic_write(dest.path, data if humanized is None else humanized(0, data))
        return [dest.path]
    if dest.where == "dir" and dest.path is not None:
        return so.write_pattern_files(
            (pattern for chunk in stream for pattern in chunk),
            dest.path,
            count=count,
            fmt=dest.form,
            force=force,
            bpm=bpm,
            swing=swing,
            loops=loops,
            transform=humanized,
        )
    if dest.where == "stdout" and dest.form == "mid":
        data = so.midi_file_of(stream, bpm=bpm, swing=swing, loops=loops)
        binary_out.write(data if humanized is None else humanized(0, data))
        binary_out.flush()
    elif dest.where == "stdout" or dest.form == "json":
        so.write_json_lines(stream, text_out)
    else:
        for _ in stream:  # grids: shown as each chunk comes (on_chunk)
            pass
    return []


def keep_last(pattern: SampledPattern, anchor: SampledPattern | None) -> str | None:
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
