"""The rules of ``rhythmcan jam``: what each key does, and when it takes effect.

Pure logic, no terminal and no audio (those are in ``rhythmcan_cli/cli/jam.py``), so the
rules are tested directly:

- a key makes the *next* state at once (a new pattern, a variation, a lock, a threshold,
  a tempo, the next genre, undo) and queues it; the player switches to it at the next bar
  line, so the beat never stutters. Keys pressed while a state is queued build on it.
- every pattern comes from a seed (the jam's seed plus a counter), so any of them can be
  made again; saving writes ``jam-NNN.mid`` (never overwriting) and ``jam-NNN.json`` (the
  pattern with its z: ``rhythmcan sample --vary jam-NNN.json`` varies it later).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

import numpy as np

from rhythmcan_cli.atomic import atomic_write
from rhythmcan_cli.errors import DataError
from rhythmcan_cli.grid import N_CLASSES
from rhythmcan_cli.sampling.patterns import SampledPattern, genre_label, to_json_line
from rhythmcan_cli.sampling.shaping import VoiceThresholds
from rhythmcan_cli.sampling.steer import LoadedModel, Steering, steer
from rhythmcan_cli.sampling.target import Target
from rhythmcan_cli.store import StoredModel
from rhythmcan_cli.vocabulary import DEFAULT_BPM

KEYS: Final[dict[str, str]] = {
    "n": "new",
    "v": "vary",
    "g": "genre",
    "u": "undo",
    "s": "save",
    "q": "quit",
    "+": "threshold up",
    "=": "threshold up",
    "-": "threshold down",
    ">": "tempo up",
    ".": "tempo up",
    "<": "tempo down",
    ",": "tempo down",
    **{str(i + 1): f"lock {i + 1}" for i in range(N_CLASSES)},
}
"""Key -> action. Digits 1-9 lock or unlock a voice (rows in grid.py's order)."""
HELP: Final = (
    "n new  v vary  1-9 lock voice  +/- threshold  >/< tempo  g genre  u undo  s save  q quit"
)
THRESHOLD_STEP: Final = 0.05
TEMPO_STEP: Final = 5.0
MIN_BPM: Final = 40.0
MAX_BPM: Final = 300.0
LOCK_CANDIDATES: Final = 256
"""Candidates searched for a new pattern or variation that keeps the locked voices."""
SAVE_PREFIX: Final = "jam"


@dataclass(frozen=True)
class JamState:
    """What plays: the pattern (read at ``threshold``), tempo, locked voices, genre.

    ``version`` numbers states in the order they were made; ``previous`` is what undo
    returns to.
    """

    pattern: SampledPattern
    bpm: float
    threshold: float
    locked: frozenset[int]
    genre: str | None
    version: int
    previous: JamState | None = None

    @property
    def heard(self) -> SampledPattern:
        """The pattern at the jam's threshold (what is drawn, played and saved)."""
        return replace(self.pattern, threshold=self.threshold)


class Jam:
    """The jam session: the playing state, the queued ones, and how keys change them."""

    def __init__(
        self,
        model: StoredModel,
        *,
        seed: int,
        genre: str | None = None,
        bpm: float = DEFAULT_BPM,
        threshold: float | None = None,
        noise: float = 0.3,
    ) -> None:
        self.model = LoadedModel.of(model)
        self.seed = seed
        self.noise = noise
        self.genres: list[str] = list(self.model.card.genres) if self.model.kind == "cgan" else []
        if genre is None and self.genres:
            genre = self.genres[0]
        self.counter = 0
        first = self._make(None, frozenset(), genre, vary=False)
        limit = float(self.model.card.threshold) if threshold is None else threshold
        self.playing = JamState(first, _clamp_bpm(bpm), limit, frozenset(), genre, 0)
        self.pending: dict[int, JamState] = {}
        self.versions = 0
        self.message = f"{HELP}"

    # -------------------------------------------------------------------------- keys

    @property
    def latest(self) -> JamState:
        """The newest state: the last one queued, or the one playing."""
        return self.pending[max(self.pending)] if self.pending else self.playing

    def press(self, key: str) -> str | None:
        """Apply a key: queue the state it makes; return the action's name (None: unknown)."""
        action = KEYS.get(key)
        if action is None or action in ("save", "quit"):
            return action
        base = self.latest
        if action == "new":
            made = self._derive(base, pattern=self._make(base, base.locked, base.genre, False))
        elif action == "vary":
            made = self._derive(base, pattern=self._make(base, base.locked, base.genre, True))
        elif action == "genre":
            if not self.genres:
                self.message = f"model '{self.model.name}' has no genres to step through"
                return action
            index = (self.genres.index(base.genre) + 1) % len(self.genres) if base.genre else 0
            genre = self.genres[index]
            made = self._derive(base, genre=genre, pattern=self._regenre(base, genre))
        elif action == "undo":
            if base.previous is None:
                self.message = "nothing to undo"
                return action
            made = replace(base.previous, version=self._next_version())
        elif action.startswith("lock"):
            row = int(action.split()[1]) - 1
            locked = base.locked ^ {row}
            made = self._derive(base, locked=frozenset(locked))
        elif action.startswith("threshold"):
            step = THRESHOLD_STEP if action.endswith("up") else -THRESHOLD_STEP
            limit = float(np.clip(round(base.threshold + step, 4), 0.0, 0.95))
            made = self._derive(base, threshold=limit)
        else:  # tempo
            step = TEMPO_STEP if action.endswith("up") else -TEMPO_STEP
            made = self._derive(base, bpm=_clamp_bpm(base.bpm + step))
        self.pending[made.version] = made
        self.message = f"{action}: at the next bar"
        return action

    def now_playing(self, version: int) -> bool:
        """The player switched to ``version`` (at a bar line); True when the state changed."""
        if version == self.playing.version:
            return False
        state = self.pending.pop(version, None)
        if state is None:
            return False
        self.pending = {v: s for v, s in self.pending.items() if v > version}
        self.playing = state
        self.message = HELP
        return True

    # ------------------------------------------------------------------------ saving

    def save(self, out_dir: Path) -> tuple[Path, str]:
        """Write the playing pattern as the next free ``jam-NNN.mid`` (+ ``.json``).

        Never overwrites: a number is taken by creating its MIDI file exclusively.
        Returns the MIDI path and a line saying how to make the pattern again.
        """
        from rhythmcan_cli.sampling.sample import midi_file_bytes

        pattern = self.playing.heard
        data = midi_file_bytes([pattern], bpm=self.playing.bpm)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            number = 1 + max(
                (int(p.stem.split("-")[1]) for p in out_dir.glob(f"{SAVE_PREFIX}-*.mid")
                 if p.stem.split("-")[1].isdigit()),
                default=0,
            )  # fmt: skip
            while True:
                path = out_dir / f"{SAVE_PREFIX}-{number:03d}.mid"
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                except FileExistsError:
                    number += 1
                    continue
                break
            os.close(fd)  # the empty file holds the number; the content arrives whole or not
            try:
                atomic_write(path, data)
                atomic_write(path.with_suffix(".json"), to_json_line(pattern) + "\n")
            except BaseException:  # a full disk, Ctrl-C: no empty or half pair left
                for made in (path, path.with_suffix(".json")):
                    with contextlib.suppress(OSError):
                        made.unlink()
                raise
        except OSError as error:
            raise DataError(f"cannot save into {out_dir}: {error.strerror or error}") from None
        z = ",".join(f"{v:.3f}" for v in pattern.z[:4].tolist())
        genre = f" genre {genre_label(pattern.genre)}" if pattern.genre else ""
        line = (
            f"saved {path.name}: model {pattern.model}{genre} seed {pattern.seed} index "
            f"{pattern.index} threshold {pattern.threshold:g} z [{z}, ...] "
            f"(all of z in {path.with_suffix('.json').name})"
        )
        return path, line

    # ---------------------------------------------------------------------- patterns

    def _next_version(self) -> int:
        self.versions += 1
        return self.versions

    def _derive(self, base: JamState, **changes: object) -> JamState:
        return replace(base, version=self._next_version(), previous=base, **changes)  # type: ignore[arg-type]

    def _make(
        self, base: JamState | None, locked: frozenset[int], genre: str | None, vary: bool
    ) -> SampledPattern:
        """A new pattern (or a variation of ``base``'s) keeping the locked voices."""
        seed = self.seed + self.counter
        self.counter += 1
        anchor = base.heard if base is not None else None
        keep = tuple(sorted(locked)) if anchor is not None else ()
        result = steer(
            self.model,
            n=1,
            seed=seed,
            genre=genre,
            vary=anchor if vary else None,
            noise=self.noise,
            thresholds=VoiceThresholds(base=anchor.threshold if anchor is not None else None),
            steering=Steering(keep=keep, candidates=LOCK_CANDIDATES) if keep else None,
            keep_from=(
                Target(np.asarray(anchor.values), anchor.threshold, "the jam")
                if keep and anchor is not None
                else None
            ),
        )
        return result.patterns[0]

    def _regenre(self, base: JamState, genre: str) -> SampledPattern:
        """The same z in another genre (the groove's shape, the genre's feel)."""
        from rhythmcan_cli.sampling.sample import sample

        seed = self.seed + self.counter
        self.counter += 1
        return sample(self.model, n=1, seed=seed, genre=genre, vary=base.heard, noise=0.0)[0]


def _clamp_bpm(bpm: float) -> float:
    return float(min(MAX_BPM, max(MIN_BPM, bpm)))


__all__ = ["HELP", "KEYS", "Jam", "JamState"]
