"""Reading user inputs with bounded memory and time: regular files only, capped reads.

Every file a user names (MIDI, pattern JSON, a labels CSV, the files of a data folder) is
read through :func:`read_file`: it opens without blocking (a FIFO with no writer would hang a
plain ``open``), refuses anything that is not a regular file (FIFOs, devices such as
``/dev/zero``, sockets, folders) *after* opening, from the open descriptor, so a file swapped
meanwhile cannot slip through, checks the size before reading a byte and reads at most the
cap (a file growing while read is refused too). Standard input (``-``) is the one stream
that may be a pipe; :func:`read_stream` caps it the same way, and :func:`iter_lines` reads
text line by line with a cap per line and in total, so ``yes | rhythmcan ...`` ends at the
first bad line instead of filling memory.

Failures are :class:`InputError` (a :class:`DataError`, so the CLI prints one line) carrying
a short ``reason`` that dataset builds count as a skip reason.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from rhythmcan_cli.errors import DataError

READ_CHUNK: Final = 1 << 20
"""Bytes asked of the OS per read call."""

NOT_REGULAR: Final = "not a regular file"
TOO_LARGE: Final = "too large"
UNREADABLE: Final = "cannot be opened"
ANY_INPUT: Final = "such an input"


class InputError(DataError):
    """An input file or stream was refused: ``reason`` is one of the short reasons above."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def megabytes(size: int) -> str:
    """``size`` bytes as a short human figure ('16 MB', '0.5 MB')."""
    value = size / (1024 * 1024)
    return f"{value:.0f} MB" if value >= 10 or value == int(value) else f"{value:.1f} MB"


def check_regular(
    path: Path, *, limit: int | None = None, what: str = "", kind: str = ANY_INPUT
) -> int:
    """The size of ``path`` (symlinks followed) if it is a regular file within ``limit``.

    Only ``stat``: nothing is opened, so this never blocks. Raises InputError otherwise.
    """
    label = what or str(path)
    try:
        info = os.stat(path)
    except OSError as error:
        raise InputError(f"cannot read {label}: {error.strerror or error}", UNREADABLE) from None
    return _checked_size(info, label, limit, kind)


def _too_large(what: str, limit: int, kind: str) -> InputError:
    return InputError(f"{what} holds more than the {megabytes(limit)} {kind} may have", TOO_LARGE)


def _checked_size(info: os.stat_result, label: str, limit: int | None, kind: str) -> int:
    if not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"{label} is {file_kind(info.st_mode)}, not a regular file: refused", NOT_REGULAR
        )
    if limit is not None and info.st_size > limit:
        raise InputError(
            f"{label} is {megabytes(info.st_size)}, larger than the {megabytes(limit)}"
            f" {kind} may have",
            TOO_LARGE,
        )
    return info.st_size


def open_regular(
    path: Path, *, limit: int | None = None, what: str = "", kind: str = ANY_INPUT
) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (within ``limit`` bytes).

    Opened with ``O_NONBLOCK`` (a FIFO without a writer cannot hang the call), then checked
    with ``fstat`` on the descriptor itself. The caller closes the returned stream.
    """
    label = what or str(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        raise InputError(f"cannot read {label}: {error.strerror or error}", UNREADABLE) from None
    try:
        _checked_size(os.fstat(fd), label, limit, kind)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_stream(
    stream: BinaryIO, *, limit: int, what: str, kind: str = ANY_INPUT, already: int = 0
) -> bytes:
    """Everything left in ``stream``, refused once it passes ``limit`` bytes (``already``
    counts bytes the caller read before)."""
    parts: list[bytes] = []
    total = already
    while True:
        try:
            chunk = stream.read(min(READ_CHUNK, limit - total + 1))
        except OSError as error:
            raise InputError(f"cannot read {what}: {error.strerror or error}", UNREADABLE) from None
        if not chunk:
            return b"".join(parts)
        total += len(chunk)
        if total > limit:
            raise _too_large(what, limit, kind)
        parts.append(chunk)


def read_file(path: Path, *, limit: int, what: str = "", kind: str = ANY_INPUT) -> bytes:
    """The bytes of regular file ``path``, at most ``limit`` of them (else InputError)."""
    label = what or str(path)
    with open_regular(path, limit=limit, what=label, kind=kind) as stream:
        return read_stream(stream, limit=limit, what=label, kind=kind)


def iter_lines(
    stream: BinaryIO,
    *,
    what: str,
    max_line: int,
    max_total: int,
    max_lines: int | None = None,
    kind: str = ANY_INPUT,
    prefix: bytes = b"",
) -> Iterator[bytes]:
    """The lines of ``stream`` (``prefix`` first), each without its newline.

    Never holds more than one line: a line longer than ``max_line`` bytes, more than
    ``max_total`` bytes in all or more than ``max_lines`` lines (blank ones too: an endless
    stream of newlines is bounded in time as well) is an InputError as soon as it is seen.
    """
    total = 0
    lines = 0
    pending = prefix
    while True:
        cut = pending.find(b"\n")
        if cut < 0 and len(pending) <= max_line:
            try:
                more = stream.readline(max_line + 1 - len(pending))
            except OSError as error:
                raise InputError(
                    f"cannot read {what}: {error.strerror or error}", UNREADABLE
                ) from None
            if more:
                total += len(more)
                if total > max_total:
                    raise _too_large(what, max_total, kind)
                pending += more
                continue
        if cut < 0:
            if len(pending) > max_line:
                raise InputError(
                    f"{what}: a line longer than {megabytes(max_line)}: refused", TOO_LARGE
                )
            if pending:
                _count_line(lines, max_lines, what, kind)
                yield pending
            return
        if cut > max_line:
            raise InputError(
                f"{what}: a line longer than {megabytes(max_line)}: refused", TOO_LARGE
            )
        line, pending = pending[:cut], pending[cut + 1 :]
        lines = _count_line(lines, max_lines, what, kind)
        yield line


def _count_line(lines: int, max_lines: int | None, what: str, kind: str) -> int:
    """``lines + 1``, or InputError when that passes ``max_lines``."""
    if max_lines is not None and lines >= max_lines:
        message = f"{what} holds more than the {max_lines:,} lines {kind} may have"
        raise InputError(message, TOO_LARGE)
    return lines + 1


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in JSON text ``raw`` (brackets in strings ignored).

    Vectorised (numpy), so a megabyte of brackets is measured in milliseconds before any
    parser recurses into it.
    """
    import numpy as np

    data = np.frombuffer(raw, dtype=np.uint8)
    if data.size == 0:
        return 0
    positions = np.arange(data.size)
    quote = data == 0x22
    if quote.any():
        # a quote is escaped when an odd run of backslashes precedes it
        not_backslash = np.where(data != 0x5C, positions, -1)
        last_plain = np.maximum.accumulate(not_backslash)
        before = np.concatenate(([-1], last_plain[:-1]))
        run = positions - 1 - before
        quote &= run % 2 == 0
        inside = np.cumsum(quote) % 2 == 1  # a quote opens (odd count) or closes a string
        outside = ~inside & ~quote
    else:
        outside = np.ones(data.size, dtype=bool)
    opens = ((data == 0x5B) | (data == 0x7B)) & outside
    closes = ((data == 0x5D) | (data == 0x7D)) & outside
    steps = opens.astype(np.int64) - closes.astype(np.int64)
    return int(np.cumsum(steps).max(initial=0))


__all__ = [
    "NOT_REGULAR",
    "TOO_LARGE",
    "UNREADABLE",
    "InputError",
    "check_regular",
    "iter_lines",
    "json_depth",
    "megabytes",
    "open_regular",
    "read_file",
    "read_stream",
]
