"""Progress for long work (training, dataset builds, evaluation), readable wherever it goes.

- On a terminal: one live status line per task that always fits the width. The counts and
  the time remaining come first; the task name, epoch, elapsed time and losses are added while
  they fit, and the bar only takes what is left (at 80 columns a training line still shows
  ``56/120`` and ``eta 0:00:40``).
- Anywhere else (a log file, nohup, CI): plain lines, one when a task starts, one per epoch,
  one at least every :data:`PLAIN_EVERY_S` seconds and one when it ends, each with the
  counts, elapsed time, ETA and the live numbers, flushed at once, so a log shows progress
  long before the run ends.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

from rhythmcan_cli.progress import ProgressEvent

PLAIN_EVERY_S: Final = 15.0
"""Seconds between plain progress lines within one epoch (when stderr is not a terminal)."""
BAR_MIN: Final = 10
BAR_MAX: Final = 40
_LEAD: Final = ("epoch",)  # info shown right after the task name


def clock(seconds: float | None) -> str:
    """``H:MM:SS`` (``-:--:--`` when unknown)."""
    if seconds is None or seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "-:--:--"
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _number(key: str, value: float | str) -> str:
    if isinstance(value, float):
        return f"{key} {value:.4g}"
    return f"{key} {value}"


@dataclass
class TaskClock:
    """Elapsed time and a rate-based ETA for one task (counting from its first report)."""

    started: float = field(default_factory=lambda: time.monotonic())
    first_done: int | None = None

    def times(self, done: int, total: int | None) -> tuple[float, float | None]:
        """(elapsed, remaining) seconds; remaining is None until there is a rate."""
        if self.first_done is None:
            self.first_done = done
        elapsed = time.monotonic() - self.started
        progressed = done - self.first_done
        if total is None or progressed <= 0 or elapsed <= 0:
            return elapsed, None if total is None or done < total else 0.0
        return elapsed, max(0.0, (total - done) * elapsed / progressed)


def status_line(
    task: str,
    done: int,
    total: int | None,
    info: Mapping[str, float | str],
    elapsed: float,
    remaining: float | None,
    width: int | None = None,
    *,
    ascii_only: bool = False,
) -> str:
    """One status line; with ``width``, the most important parts that fit.

    Priority: counts, ETA, task name, epoch, elapsed, then the other numbers in order; the
    bar is decoration, drawn only when everything else fits.
    """
    counts = f"{done}/{total}" if total is not None else str(done)
    parts: list[tuple[int, int, str]] = [(0, 40, counts)]  # (priority, position, text)
    if total is not None:
        parts.append((1, 60, f"eta {clock(remaining)}"))
    parts.append((2, 0, task))
    position = 10
    for key in _LEAD:
        if key in info:
            parts.append((3, position, _number(key, info[key])))
            position += 1
    parts.append((4, 50, clock(elapsed)))
    rest = [(k, v) for k, v in info.items() if k not in _LEAD]
    parts += [(5 + i, 70 + i, _number(k, v)) for i, (k, v) in enumerate(rest)]
    if width is None:
        return "  ".join(text for _, _, text in sorted(parts, key=lambda p: p[1]))
    chosen: list[tuple[int, int, str]] = []
    used = 0
    for part in sorted(parts):
        cost = len(part[2]) + (2 if chosen else 0)
        if used + cost > width - 1:
            break  # lower priorities are dropped whole, never cut mid-word
        chosen.append(part)
        used += cost
    room = width - 1 - used - 2
    if total and room >= BAR_MIN and len(chosen) == len(parts):
        size = min(room, BAR_MAX)
        filled = int(size * min(done, total) / total)
        full, empty = ("#", "-") if ascii_only else ("━", "╺")
        chosen.append((99, 30, full * filled + empty * (size - filled)))
    return "  ".join(text for _, _, text in sorted(chosen, key=lambda p: p[1]))


class PlainProgress:
    """Progress as plain, periodic lines on a stream that is not a terminal."""

    def __init__(
        self, description: str = "", stream: TextIO | None = None, every_s: float = PLAIN_EVERY_S
    ) -> None:
        self.description = description
        self.stream = stream
        self.every_s = every_s
        self.clocks: dict[str, TaskClock] = {}
        self.last_line: dict[str, float] = {}
        self.last_epoch: dict[str, object] = {}
        self.finished: set[str] = set()

    def __call__(self, event: ProgressEvent) -> None:
        task = event.task
        clock_ = self.clocks.setdefault(task, TaskClock())
        elapsed, remaining = clock_.times(event.done, event.total)
        now = time.monotonic()
        epoch = event.info.get("epoch")
        ended = event.total is not None and event.done >= event.total
        due = (
            task not in self.last_line
            or now - self.last_line[task] >= self.every_s
            or epoch != self.last_epoch.get(task)
            or (ended and task not in self.finished)
        )
        if not due:
            return
        self.last_line[task] = now
        self.last_epoch[task] = epoch
        if ended:
            self.finished.add(task)
        line = status_line(
            task or self.description, event.done, event.total, event.info, elapsed, remaining
        )
        stream = self.stream or sys.stderr
        stream.write(line + "\n")
        stream.flush()


@contextmanager
def live_progress(console: Any, description: str) -> Iterator[Callable[[ProgressEvent], None]]:
    """A live display on a terminal ``console``: one status line per task, fitted to width."""
    from rich.live import Live
    from rich.text import Text

    lines: dict[str, tuple[ProgressEvent, TaskClock]] = {}

    def render() -> Text:
        width = console.width
        ascii_only = not str(console.encoding).lower().startswith("utf")
        text = Text(no_wrap=True, overflow="crop")
        for i, (event, clock_) in enumerate(lines.values()):
            elapsed, remaining = clock_.times(event.done, event.total)
            task = event.task or description
            if i:
                text.append("\n")
            text.append(
                status_line(
                    task,
                    event.done,
                    event.total,
                    event.info,
                    elapsed,
                    remaining,
                    width,
                    ascii_only=ascii_only,
                )
            )
        return text

    with Live(render(), console=console, refresh_per_second=4, transient=False) as live:

        def callback(event: ProgressEvent) -> None:
            clock_ = lines[event.task][1] if event.task in lines else TaskClock()
            lines[event.task] = (event, clock_)
            live.update(render())

        yield callback


__all__ = ["PLAIN_EVERY_S", "PlainProgress", "TaskClock", "clock", "live_progress", "status_line"]
