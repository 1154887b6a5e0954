"""`rhythmcan sample`'s steering options: --like, --keep, --density, --syncopation,
per-voice --threshold, --humanize and --accent (the library side is rhythmcan_cli.sampling.steer).

Kept apart from cli/sample.py so that command reads as before: it asks
:func:`steer_request` whether any steering was asked for and, if so, calls
:func:`steer_patterns` instead of plain sampling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from rhythmcan_cli.errors import UsageError

if TYPE_CHECKING:
    from rhythmcan_cli.audio import PlayResult
    from rhythmcan_cli.sampling.feel import Humanize
    from rhythmcan_cli.sampling.patterns import Genre, SampledPattern
    from rhythmcan_cli.sampling.shaping import VoiceThresholds
    from rhythmcan_cli.sampling.steer import Steering, SteerResult
    from rhythmcan_cli.store import StoredModel

VoiceThreshold = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--threshold",
        "-t",
        help="Cells above this strength become hits (0-1; default: the model's); per voice too:"
        " 0.2,kick=0.4,hats=0.1 (groups: hats, toms, cymbals).",
        show_default=False,
    ),
]
Like = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--like",
        help="Start from your groove: a MIDI file, a pattern JSON file or 'last'; the nearest"
        " pattern the model makes is found (and varied with -n/--noise).",
        show_default=False,
    ),
]
Bar = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        "--bar",
        help="With --like: the 2-bar window starting at this bar (default: the first with hits).",
        show_default=False,
    ),
]
Keep = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--keep",
        help="Lock voices (kick,snare; groups hats, toms, cymbals) from --vary or --like;"
        " the rest come from the candidate whose locked voices are nearest.",
        show_default=False,
    ),
]
Density = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--density",
        help="Hits per bar, a range such as 8-14 (or 10- for at least 10).",
        show_default=False,
    ),
]
Syncopation = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--syncopation",
        help="low, mid or high (thirds of real grooves), or a range of the Longuet-Higgins"
        " measure summed over voices, such as 20-30.",
        show_default=False,
    ),
]
Candidates = Annotated[
    int,
    typer.Option(
        "--candidates", min=1, max=100_000, help="Patterns drawn to choose from when steering."
    ),
]
HumanizeOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        "--humanize",
        help="Timing jitter in ms, optionally with velocity jitter: 10 or 10,8 (MIDI and sound).",
        show_default=False,
    ),
]
Accent = Annotated[
    float,
    typer.Option(
        "--accent",
        min=-1.0,
        max=2.0,
        help="Widen the model's own dynamics: loud hits louder, soft softer (0 = as generated).",
    ),
]


@dataclass(frozen=True)
class SteerRequest:
    """Parsed steering options; ``active`` when plain sampling cannot serve them."""

    thresholds: VoiceThresholds
    steering: Steering
    like: str | None
    bar: int | None
    humanize: Humanize | None

    @property
    def active(self) -> bool:
        return self.like is not None or self.steering.selecting or bool(self.thresholds.voices)


def steer_request(
    *,
    threshold: str | None,
    like: str | None,
    bar: int | None,
    keep: str | None,
    density: str | None,
    syncopation: str | None,
    candidates: int,
    humanize: str | None,
) -> SteerRequest:
    """Parse the steering options (UsageError on the first bad one)."""
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


def steer_patterns(
    request: SteerRequest,
    model: StoredModel,
    *,
    n: int,
    seed: int | None,
    genre: Genre,
    ambiguous: bool,
    z_std: float | None,
    vary: SampledPattern | None,
    noise: float,
) -> SteerResult:
    """Run the steering search (the library call behind ``sample --like/--keep/...``)."""
    from rhythmcan_cli.sampling.sample import new_seed
    from rhythmcan_cli.sampling.steer import steer
    from rhythmcan_cli.sampling.target import load_target

    target = load_target(request.like, bar=request.bar) if request.like is not None else None
    return steer(
        model,
        n=n,
        seed=new_seed() if seed is None else seed,
        genre=genre,
        ambiguous=ambiguous,
        z_std=z_std,
        thresholds=request.thresholds,
        vary=vary,
        noise=noise,
        target=target,
        steering=request.steering,
    )


def like_line(result: SteerResult) -> str | None:
    """One line on how near --like got, next to plain samples of the model."""
    found = result.like
    if found is None:
        return None
    return (
        f"--like {found.target.label}: nearest pattern at distance {found.distance} "
        f"(random samples of the model: median {found.random_median:g}; "
        f"{found.evaluated:,} patterns searched, seed {result.patterns[0].seed})"
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
    from rhythmcan_cli.audio import DEFAULT_BPM, deliver, midi_score, render
    from rhythmcan_cli.sampling.feel import humanize_midi
    from rhythmcan_cli.sampling.sample import midi_file_bytes

    tempo = bpm or DEFAULT_BPM
    data = midi_file_bytes(patterns, bpm=tempo, swing=swing, loops=loops)
    data = humanize_midi(data, humanize, seed=patterns[0].seed, bpm=tempo)
    rendered = render(midi_score(data, name="humanized patterns"), soundfont=soundfont, kit=kit)
    return deliver(rendered, require_audio=require_audio)
