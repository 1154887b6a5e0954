"""atomic.py's batch writer and signals.py's deferral, in-process (the CLI-level failures and
real signals are in tests/reliability/test_write_failures.py and test_stopping_writes.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rhythmcan_cli import signals
from rhythmcan_cli.atomic import PARTIAL_PREFIX, atomic_write, write_batch
from rhythmcan_cli.errors import DataError, OutputError

NAMES = [f"p-{i:04d}.bin" for i in range(1, 1201)]


def blobs(count: int = len(NAMES), fail_at: int | None = None) -> Iterator[bytes]:
    for i in range(count):
        if i == fail_at:
            raise RuntimeError("encoder broke")
        yield f"pattern {i}".encode()


def everything(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_a_batch_is_written_whole_with_nothing_hidden(tmp_path: Path) -> None:
    out = tmp_path / "new" / "out"
    seen: list[int] = []
    paths = write_batch(out, NAMES, blobs(), on_written=seen.append)
    assert paths == [out / name for name in NAMES]
    assert everything(out) == NAMES
    assert paths[7].read_bytes() == b"pattern 7"
    assert seen[-1] == len(NAMES) and seen == sorted(seen)


def test_existing_names_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / NAMES[500]).write_bytes(b"mine")
    with pytest.raises(DataError, match=r"p-0501\.bin already exists; use --force"):
        write_batch(out, NAMES, blobs())
    assert everything(out) == [NAMES[500]] and (out / NAMES[500]).read_bytes() == b"mine"
    write_batch(out, NAMES, blobs(), force=True)
    assert (out / NAMES[500]).read_bytes() == b"pattern 500" and everything(out) == NAMES


@pytest.mark.parametrize(("count", "fail_at"), [(len(NAMES), 700), (900, None)])
def test_a_failing_producer_leaves_nothing(tmp_path: Path, count: int, fail_at: int | None) -> None:
    out = tmp_path / "out"
    with pytest.raises((RuntimeError, ValueError)):
        write_batch(out, NAMES, blobs(count, fail_at))
    assert not out.exists()  # it created the folder, so it removed it
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "song.mid").write_bytes(b"x")
    with pytest.raises((RuntimeError, ValueError)):
        write_batch(kept, NAMES, blobs(count, fail_at))
    assert everything(kept) == ["song.mid"]


def test_a_file_in_the_way_is_one_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "notes"
    blocker.write_text("mine")
    with pytest.raises(OutputError, match="not a folder"):
        write_batch(blocker, NAMES[:2], blobs(2))
    with pytest.raises(OutputError, match=r"notes is not a folder"):
        atomic_write(blocker / "x.json", "{}")
    with pytest.raises(OutputError, match=r"is a folder"):
        atomic_write(tmp_path, "{}")
    assert blocker.read_text() == "mine"


def test_a_dead_writers_partial_folder_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    stale = out / f"{PARTIAL_PREFIX}{dead.stdout.strip()}-0000"
    stale.mkdir()
    (stale / NAMES[0]).write_bytes(b"half")
    live = out / f"{PARTIAL_PREFIX}1-0000"  # pid 1 is alive
    live.mkdir()
    write_batch(out, NAMES[:3], blobs(3))
    assert everything(out) == sorted([*NAMES[:3], live.name])


def test_a_signal_during_a_batch_stops_it_and_is_raised_after(tmp_path: Path) -> None:
    """Ctrl-C while producing: the batch stops at once, leaves nothing, then raises."""
    out = tmp_path / "out"
    produced = []

    def interrupted() -> Iterator[bytes]:
        for i, blob in enumerate(blobs()):
            if i == 300:
                signal.raise_signal(signal.SIGINT)  # deferred: only sets the stop flag
            produced.append(i)
            yield blob

    # Start from Python's own Ctrl-C handler, whatever an earlier test in this process left
    # (the suite once saw this batch run to the end after the full run's in-process commands).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            write_batch(out, NAMES, interrupted())
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not out.exists()
    assert len(produced) < 310  # stopped producing, did not write the queued rest


def test_sigterm_is_a_keyboard_interrupt_with_its_own_code() -> None:
    stop = signals.Terminated(signal.SIGTERM)
    assert isinstance(stop, KeyboardInterrupt)
    assert signals.exit_code(stop) == 143 and signals.stop_message(stop) == "terminated (SIGTERM)"
    assert signals.exit_code(KeyboardInterrupt()) == 130
    assert signals.stop_message(KeyboardInterrupt()) == "interrupted"


def test_text_that_ascii_cannot_encode_gets_look_alikes() -> None:
    from rhythmcan_cli.cli.guard import ERROR_HANDLER, make_streams_safe

    make_streams_safe()  # registers the handler (pytest's streams encode UTF-8: untouched)
    text = "default-can · forró … música 日本 \udcff"
    assert text.encode("ascii", ERROR_HANDLER) == b"default-can - forro ... musica ?? \xff"
