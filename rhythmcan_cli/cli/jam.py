"""`rhythmcan jam`: a live loop in the terminal (keys in, grid and playhead out, sound).

The rules live in :mod:`rhythmcan_cli.sampling.jam`; this module is the terminal and the player:

- the **player** (:class:`Loop`) holds the rendered 2-bar loop and swaps in a queued one
  only at a bar line. With sound, the sounddevice callback drives it (it is the clock);
  with ``--no-audio`` the wall clock does.
- the **terminal** is put in cbreak mode on the alternate screen with the cursor hidden,
  and restored on every way out (q, Ctrl-C, SIGTERM, an error).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Optional

import numpy as np
import numpy.typing as npt
import typer

from rhythmcan_cli.cli.console import err, run
from rhythmcan_cli.cli.options import Model, Seed
from rhythmcan_cli.cli.play import Kit, SoundFont
from rhythmcan_cli.errors import AudioError, RhythmcanError, UsageError
from rhythmcan_cli.vocabulary import DEFAULT_KIT

if TYPE_CHECKING:
    from rhythmcan_cli.sampling.jam import Jam, JamState

SAMPLE_RATE: Final = 44100
STEPS: Final = 32
FRAME_S: Final = 0.02
"""How often the screen and the keys are looked at."""


class Loop:
    """The looping player: a 2-bar buffer, a position, and a swap at the next bar line.

    ``advance(frames, out)`` moves the position (writing the audio into ``out`` when given);
    a buffer queued with :meth:`queue` starts from its beginning at the next bar line.
    """

    def __init__(self, buffer: npt.NDArray[np.int16], version: int) -> None:
        self.buffer = buffer
        self.version = version
        self.position = 0
        self.pending: tuple[npt.NDArray[np.int16], int] | None = None
        self.underruns = 0
        self.lock = threading.Lock()

    @property
    def step(self) -> int:
        return min(STEPS - 1, int(self.position * STEPS / len(self.buffer)))

    def queue(self, buffer: npt.NDArray[np.int16], version: int) -> None:
        with self.lock:
            self.pending = (buffer, version)

    def advance(self, frames: int, out: npt.NDArray[np.int16] | None = None) -> None:
        with self.lock:
            done = 0
            while done < frames:
                bar = len(self.buffer) // 2
                if self.position % bar == 0 and self.pending is not None:
                    self.buffer, self.version = self.pending
                    self.pending = None
                    self.position = 0
                    bar = len(self.buffer) // 2
                to_bar = bar - self.position % bar
                take = min(frames - done, to_bar, len(self.buffer) - self.position)
                if out is not None:
                    out[done : done + take] = self.buffer[self.position : self.position + take]
                self.position = (self.position + take) % (2 * bar)
                done += take


def loop_audio(state: JamState, *, soundfont: Path | None, kit: str) -> npt.NDArray[np.int16]:
    """The state's pattern rendered as a seamless 2-bar loop (the tail wraps to the start)."""
    from rhythmcan_cli.audio import pattern_score, render

    rendered = render(pattern_score([state.heard], bpm=state.bpm), soundfont=soundfont, kit=kit)
    samples = rendered.samples.reshape(len(rendered.samples), -1)
    length = 2 * round(STEPS / 2 * 60.0 / state.bpm / 4 * rendered.samplerate)
    loop = np.zeros((length, samples.shape[1]), dtype=np.int32)
    head = samples[:length]
    loop[: len(head)] += head
    tail = samples[length:]
    loop[: len(tail)] += tail[:length]
    return np.clip(loop, -32768, 32767).astype(np.int16)


def silent_loop(state: JamState) -> npt.NDArray[np.int16]:
    """A silent buffer of the loop's length (the clock of ``--no-audio``)."""
    length = 2 * round(STEPS / 2 * 60.0 / state.bpm / 4 * SAMPLE_RATE)
    return np.zeros((length, 2), dtype=np.int16)


def grid_lines(state: JamState, step: int, width: int = 80) -> list[str]:
    """The pattern as text rows with the playhead column marked ``^`` under it."""
    from rhythmcan_cli.cli.render import GLYPHS, levels

    pattern = state.heard
    bands = levels(pattern.values, pattern.threshold)
    names = list(pattern.class_names)
    lines = []
    for row, name in enumerate(names):
        lock = "*" if row in state.locked else " "
        cells = ""
        for t in range(STEPS):
            cells += (" | " if t == 16 else " " if t % 4 == 0 and t else "") + (
                GLYPHS[bands[t, row]] if bands[t, row] >= 0 else "."
            )
        lines.append(f"{row + 1}{lock}{name[:10]:<11}{cells}"[:width])
    offset = 13 + step + step // 4 + (2 if step >= 16 else 0)
    lines.append((" " * offset + "^")[:width])
    return lines


def screen(jam: Jam, step: int, audio: str, width: int) -> list[str]:
    from rhythmcan_cli.sampling.patterns import genre_label

    state = jam.playing
    p = state.heard
    locked = ",".join(p.class_names[i] for i in sorted(state.locked)) or "none"
    genre = f" · {genre_label(state.genre)}" if state.genre else ""
    head = (
        f"rhythmcan jam · {p.model}{genre} · seed {p.seed} · {state.bpm:g} bpm · "
        f"threshold {state.threshold:.2f} · locked: {locked}"
    )
    queued = " · next bar: change queued" if jam.pending else ""
    return [
        head[:width],
        f"bar {step // 16 + 1} step {step % 16 + 1:2d} · {audio}{queued}"[:width],
        "",
        *grid_lines(state, step, width),
        "",
        jam.message[:width],
    ]


@contextlib.contextmanager
def terminal() -> Iterator[None]:
    """cbreak mode, alternate screen, hidden cursor; everything put back on the way out."""
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        tty.setcbreak(fd)
        sys.stdout.write("\x1b[?1049h\x1b[?25l\x1b[2J")
        sys.stdout.flush()
        yield
    finally:
        sys.stdout.write("\x1b[?25h\x1b[?1049l")
        sys.stdout.flush()
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        signal.signal(signal.SIGTERM, previous)


def read_keys() -> str:
    """Keys typed since the last look (never blocks)."""
    keys = ""
    fd = sys.stdin.fileno()
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 64)
        if not chunk:
            break
        keys += chunk.decode("utf-8", "replace")
    return keys


def jam_loop(jam: Jam, loop: Loop, render_state: Any, audio: str, out_dir: Path) -> list[str]:
    """Run until q: keys, bar-line switches, drawing. Returns the lines of saved patterns."""
    saved: list[str] = []
    last = time.monotonic()
    drawn: list[str] = []
    while True:
        if audio == "no audio":
            now = time.monotonic()
            loop.advance(int((now - last) * SAMPLE_RATE))
            last = now
        jam.now_playing(loop.version)
        for key in read_keys():
            try:
                action = jam.press(key)
                if action == "quit":
                    return saved
                if action == "save":
                    _, line = jam.save(out_dir)
                    saved.append(line)
                    jam.message = line
                elif action is not None and jam.pending:
                    newest = jam.latest
                    loop.queue(render_state(newest), newest.version)
            except RhythmcanError as error:  # a failed save or render: say so, keep playing
                jam.message = f"error: {error}"
        width = os.get_terminal_size(sys.stdout.fileno()).columns if sys.stdout.isatty() else 100
        lines = screen(jam, loop.step, audio + _underruns(loop), width)
        if lines != drawn:
            sys.stdout.write("\x1b[H" + "".join(f"{line}\x1b[K\r\n" for line in lines))
            sys.stdout.flush()
            drawn = lines
        time.sleep(FRAME_S)


def _underruns(loop: Loop) -> str:
    return f" ({loop.underruns} underruns)" if loop.underruns else ""


def jam(
    model: Model = None,
    genre: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--genre", "-g", help="Start genre of a conditional model.", show_default=False
        ),
    ] = None,
    seed: Seed = None,
    bpm: Annotated[float, typer.Option("--bpm", min=40.0, max=300.0, help="Start tempo.")] = 120.0,
    threshold: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            "--threshold", "-t", min=0.0, max=1.0, help="Start threshold.", show_default=False
        ),
    ] = None,
    noise: Annotated[float, typer.Option("--noise", help="How far 'v' (vary) strays.")] = 0.3,
    out_dir: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for saved jam-NNN.mid files.")
    ] = Path("."),
    no_audio: Annotated[bool, typer.Option("--no-audio", help="Show the grid only.")] = False,
    soundfont: SoundFont = None,
    kit: Kit = DEFAULT_KIT,
) -> None:
    """Jam live: a pattern loops while keys make new ones, vary, lock voices, save.

    Keys: n new, v vary, 1-9 lock/unlock a voice, +/- threshold, >/< tempo, g next genre,
    u undo, s save (jam-NNN.mid, never overwriting), q quit. Changes start at the next bar.
    """

    def setup() -> tuple[Jam, Loop, Any, str, Any]:
        from rhythmcan_cli.sampling.jam import Jam
        from rhythmcan_cli.sampling.sample import new_seed
        from rhythmcan_cli.store import default_model, open_model

        if not sys.stdin.isatty() or not sys.stdout.isatty():
            raise UsageError("jam is interactive: run it in a terminal (stdin and stdout)")
        stored = open_model(model) if model else default_model("cgan" if genre else "can")
        session = Jam(
            stored,
            seed=new_seed() if seed is None else seed,
            genre=genre,
            bpm=bpm,
            threshold=threshold,
            noise=noise,
        )
        if no_audio:
            return session, Loop(silent_loop(session.playing), 0), silent_loop, "no audio", None

        def render_state(state: JamState) -> npt.NDArray[np.int16]:
            return loop_audio(state, soundfont=soundfont, kit=kit)

        loop = Loop(render_state(session.playing), 0)
        stream = open_stream(loop)
        return session, loop, render_state, "sound: sounddevice", stream

    session, loop, render_state, audio, stream = run(setup)
    saved: list[str] = []
    interrupted = False
    try:
        with terminal():
            try:
                saved = jam_loop(session, loop, render_state, audio, out_dir)
            except KeyboardInterrupt:
                interrupted = True
    finally:
        if stream is not None:
            stream.stop()
            stream.close()
    for line in saved:
        err.print(line, highlight=False, markup=False, soft_wrap=True)
    last = session.playing.heard
    err.print(
        f"jam over: last pattern seed {last.seed} ({len(saved)} saved); "
        f"{audio.removeprefix('sound: ')}: {loop.underruns} audio underruns",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if interrupted:
        raise typer.Exit(130)


def open_stream(loop: Loop) -> Any:
    """Start a sounddevice stream whose callback plays ``loop`` (AudioError: no device)."""
    try:
        import sounddevice as sd
    except (OSError, ImportError) as error:
        raise AudioError(
            f"no audio output: PortAudio is missing ({error}); try --no-audio"
        ) from None

    def callback(outdata: Any, frames: int, _time: Any, status: Any) -> None:
        if status.output_underflow:
            loop.underruns += 1
        loop.advance(frames, outdata)

    try:
        stream = sd.OutputStream(
            samplerate=SAMPLE_RATE, channels=loop.buffer.shape[1], dtype="int16",
            callback=callback, latency="high",
        )  # fmt: skip
        stream.start()
    except (sd.PortAudioError, ValueError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise AudioError(f"no audio device ({detail}); try --no-audio") from None
    return stream
