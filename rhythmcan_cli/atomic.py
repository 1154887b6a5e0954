"""Writing files so that readers, crashes, full disks and Ctrl-C never see half of them.

- :func:`atomic_write`: one file through a uniquely named temp file beside it and a rename.
- :func:`replace_folder`: a whole folder (a stored model) swapped into place in one step.
- :func:`write_batch`: many files into one folder, all or nothing: they are written into a
  hidden ``.rhythmcan-partial-PID-TOKEN`` folder inside it and moved in only when every one
  is whole; on any error, Ctrl-C or SIGTERM the partial folder is removed. A lock on the
  folder keeps two writers from mixing their files.

Both stop on Ctrl-C/SIGTERM only at safe points (:func:`rhythmcan_cli.signals.
deferred_interrupts`) and raise :class:`~rhythmcan_cli.errors.OutputError` naming the path
the caller asked for and the cause ("No space left on device"), never a temp file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Final, overload

from rhythmcan_cli.errors import DataError, OutputError
from rhythmcan_cli.signals import Deferred, deferred_interrupts

PARTIAL_PREFIX: Final = ".rhythmcan-partial-"
"""Hidden folder a batch is written into before its files are moved into place."""
WRITE_THREADS: Final = 4
"""Threads creating files (file creation releases the GIL; encoding does not)."""
LOCK_WAIT_S: Final = 60.0
"""How long a batch waits for another rhythmcan writing into the same folder."""
_QUEUE_PER_THREAD: Final = 512


def cause(error: OSError, path: Path | None = None) -> str:
    """The reason an OSError gives, in words a user can act on."""
    if error.errno == errno.EISDIR and path is not None:
        return f"{path} is a folder"
    if error.errno in (errno.ENOTDIR, errno.EEXIST) and path is not None:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return f"{blocker} is not a folder"
    return error.strerror or str(error) or type(error).__name__


def output_error(path: Path, error: OSError) -> OutputError:
    """``cannot write PATH: CAUSE`` as the one-line error every writer raises."""
    return OutputError(f"cannot write {path}: {cause(error, path)}")


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise output_error(path, error) from None


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A killed process leaves either the old file or the new one, never a mix; the temporary
    file is a hidden ``.NAME.PID.*.tmp`` beside it (a unique name per writer; the pid lets a
    cleaner tell a killed writer's leftover from a live one) and is removed on
    any error, Ctrl-C or SIGTERM. Raises :class:`OutputError` naming ``path``.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    _make_parent(path)
    with deferred_interrupts() as deferred:
        temp: str | None = None
        try:
            fd, temp = _temp_beside(path)
            try:
                _write_all(fd, payload)
            finally:
                os.close(fd)
            if not deferred.stop.is_set():
                os.replace(temp, path)
                temp = None
        except OSError as error:
            raise output_error(path, error) from None
        finally:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)


@contextlib.contextmanager
def atomic_stream(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write piece by piece (a run streamed in chunks), with
    :func:`atomic_write`'s guarantees: the pieces go into a unique hidden temp file beside
    ``path``, renamed into place when the block ends without an error; an error, Ctrl-C or
    SIGTERM (which stop the block itself: a long stream must stop when asked) removes it.
    Raises :class:`OutputError` naming ``path``.
    """
    path = Path(path)
    _make_parent(path)
    temp: str | None = None
    try:
        fd, temp = _temp_beside(path)
        with os.fdopen(fd, "wb") as handle:
            yield handle
        with deferred_interrupts() as deferred:
            if not deferred.stop.is_set():
                os.replace(temp, path)
                temp = None
    except OSError as error:
        raise output_error(path, error) from None
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _temp_beside(path: Path) -> tuple[int, str]:
    """A new hidden temp file ``.NAME.PID.*.tmp`` beside ``path`` (fd, name), with the mode a
    plain file gets (mkstemp makes 0600). The pid lets a cleaner tell a killed writer's
    leftover from a live one's."""
    fd, temp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent
    )
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError:
        os.close(fd)
        os.unlink(temp)
        raise
    return fd, temp


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# ------------------------------------------------------------------------------ batches


class NumberedNames(Sequence[str]):
    """``prefix-001.mid`` ... ``prefix-NNN.mid``, made when asked for (at least 3 digits, more
    for large batches): a folder of a million patterns needs no list of a million names."""

    def __init__(self, count: int, suffix: str, prefix: str = "pattern") -> None:
        self._count, self.suffix, self.prefix = count, suffix, prefix
        self.width = max(3, len(str(count)))

    def __len__(self) -> int:
        return self._count

    def _name(self, i: int) -> str:
        return f"{self.prefix}-{i + 1:0{self.width}d}{self.suffix}"

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self._name(i) for i in range(*index.indices(self._count))]
        if not -self._count <= index < self._count:
            raise IndexError(index)
        return self._name(index % self._count)

    def __iter__(self) -> Iterator[str]:
        return (self._name(i) for i in range(self._count))


def numbered_names(count: int, suffix: str, prefix: str = "pattern") -> list[str]:
    """``prefix-001.mid`` ...: the names of a numbered batch as a list (:class:`NumberedNames`
    makes them on demand), shared by every writer of numbered pattern files."""
    return list(NumberedNames(count, suffix, prefix))


def write_batch(
    out_dir: Path,
    names: Sequence[str],
    blobs: Iterable[bytes],
    *,
    force: bool = False,
    on_written: Callable[[int], None] | None = None,
) -> Sequence[Path]:
    """Write ``blobs`` (one per name, produced lazily) as ``out_dir/NAME``, all or nothing.

    ``names`` may be a lazy sequence (:class:`rhythmcan_cli.sample.NumberedNames`) and the
    paths returned are one (:class:`Paths`): a million files cost no list of a million names.

    Without ``force`` no existing file is replaced (checked for every name before anything
    is written, and again by each move: a file appearing meanwhile is kept, the batch fails).
    A second writer into the same folder waits for the first. Errors: ``DataError`` for an
    existing name, :class:`OutputError` for anything the disk refuses; either way no file
    of the batch is left (with ``force``, files already moved in when the final move fails
    stay: each is whole). ``on_written(count)`` reports progress now and then.
    """
    out_dir = Path(out_dir)
    for name in names:
        if not name or name != os.path.basename(name) or name in (".", ".."):
            raise ValueError(f"not a plain file name: {name!r}")
    paths = Paths(out_dir, names)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"cannot write into {out_dir}: it is a file, not a folder")
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot write into {out_dir}: {cause(error, out_dir)}") from None
    partial: Path | None = None
    done = False
    with deferred_interrupts() as deferred, _folder_lock(out_dir, deferred) as out_fd:
        try:
            if deferred.stop.is_set():
                return []
            remove_stale_partials(out_dir)
            if not force:
                _refuse_existing(out_dir, names)
            partial = out_dir / f"{PARTIAL_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            partial.mkdir()
            partial_fd = os.open(partial, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                if not _write_all_files(partial_fd, names, blobs, deferred, on_written):
                    return []  # stopped: the signal is raised again when the block ends
                _move_in(partial_fd, out_fd, out_dir, names, force=force, deferred=deferred)
            finally:
                os.close(partial_fd)
            done = not deferred.stop.is_set() or force
        except OSError as error:
            where = out_dir if error.filename is None else Path(str(error.filename))
            if partial is not None and where.parent == partial:
                where = out_dir / where.name  # name the file the user will look for
            raise OutputError(f"cannot write {where}: {cause(error, where)}") from None
        finally:
            if partial is not None:
                shutil.rmtree(partial, ignore_errors=True)
            if created and not done:
                with contextlib.suppress(OSError):
                    out_dir.rmdir()  # only when empty: never anyone else's files
    return paths


class Paths(Sequence[Path]):
    """``out_dir / name`` for each name, made when asked for (a batch's return value)."""

    def __init__(self, out_dir: Path, names: Sequence[str]) -> None:
        self._dir, self._names = out_dir, names

    def __len__(self) -> int:
        return len(self._names)

    @overload
    def __getitem__(self, index: int) -> Path: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Path]: ...
    def __getitem__(self, index: int | slice) -> Path | Sequence[Path]:
        if isinstance(index, slice):
            return [self._dir / name for name in self._names[index]]
        return self._dir / self._names[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Paths({self._dir!s}, {len(self)} files)"


def _refuse_existing(out_dir: Path, names: Iterable[str]) -> None:
    present = set(os.listdir(out_dir))
    if not present:
        return
    for name in names:
        if name in present:
            raise DataError(f"{out_dir / name} already exists; use --force to overwrite it")


def _write_all_files(
    partial_fd: int,
    names: Sequence[str],
    blobs: Iterable[bytes],
    deferred: Deferred,
    on_written: Callable[[int], None] | None,
) -> bool:
    """Create every file in ``partial`` with writer threads; False when a signal stopped it."""
    work: queue.Queue[tuple[str, bytes] | None] = queue.Queue(WRITE_THREADS * _QUEUE_PER_THREAD)
    failures: list[BaseException] = []
    count = [0]
    lock = threading.Lock()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)

    def worker() -> None:
        while (item := work.get()) is not None:
            if failures or deferred.stop.is_set():
                continue  # drain the queue without writing
            name, data = item
            try:
                fd = os.open(name, flags, 0o666, dir_fd=partial_fd)
                try:
                    _write_all(fd, data)
                finally:
                    os.close(fd)
            except BaseException as error:  # re-raised by the main thread
                failures.append(error)  # and keep draining: the producer must never block
                continue
            with lock:
                count[0] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(WRITE_THREADS)]
    for thread in threads:
        thread.start()
    produced = 0
    try:
        for name, data in zip(names, blobs, strict=False):
            if failures or deferred.stop.is_set():
                break
            work.put((name, data))
            produced += 1
            if on_written is not None and produced % 500 == 0:
                on_written(count[0])
    finally:
        for _ in threads:
            work.put(None)
        for thread in threads:
            thread.join()
    if failures:
        raise failures[0]
    if deferred.stop.is_set():
        return False
    if produced != len(names):
        raise ValueError(f"{produced} files for {len(names)} names")
    if on_written is not None:
        on_written(count[0])
    return True


def _move_in(
    partial_fd: int,
    out_fd: int,
    out_dir: Path,
    names: Sequence[str],
    *,
    force: bool,
    deferred: Deferred,
) -> None:
    """Move every file from ``partial`` into ``out_dir``; undo the moves on failure or stop.

    Without ``force`` a hard link creates each name exclusively (an existing file stays and
    the batch fails); with ``force`` a rename replaces it (then a stop finishes the moves:
    the replaced files cannot be brought back, so the folder ends all-new, never mixed).
    """
    moved = _Moved(names)  # a count, not a list: a batch may hold a million names
    name = ""
    try:
        for name in names:
            if deferred.stop.is_set() and not force:
                break
            if force:
                os.replace(name, name, src_dir_fd=partial_fd, dst_dir_fd=out_fd)
            else:
                _link_exclusive(name, partial_fd, out_fd)
            moved.count += 1
    except FileExistsError as error:
        _unlink_all(moved, out_fd, force)
        where = out_dir / str(error.filename)
        raise DataError(f"{where} already exists; use --force to overwrite it") from None
    except OSError as error:
        _unlink_all(moved, out_fd, force)
        raise OSError(error.errno, error.strerror, str(out_dir / name)) from None
    except BaseException:
        _unlink_all(moved, out_fd, force)
        raise
    if deferred.stop.is_set() and not force:
        _unlink_all(moved, out_fd, force)


class _Moved:
    """The first ``count`` of ``names``: the files a batch has moved in so far."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names, self.count = names, 0

    def __iter__(self) -> Iterator[str]:
        return (self.names[i] for i in range(self.count))


def _unlink_all(moved: Iterable[str], out_fd: int, force: bool) -> None:
    if force:
        return
    for name in moved:
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=out_fd)


def _link_exclusive(name: str, partial_fd: int, out_fd: int) -> None:
    """Give the new file ``name`` its place unless a file of that name exists there."""
    try:
        os.link(name, name, src_dir_fd=partial_fd, dst_dir_fd=out_fd, follow_symlinks=False)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "File exists", name) from None
    except OSError as error:  # no hard links here (some network or FAT disks)
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        try:
            os.stat(name, dir_fd=out_fd, follow_symlinks=False)
        except FileNotFoundError:
            os.rename(name, name, src_dir_fd=partial_fd, dst_dir_fd=out_fd)
        else:
            raise FileExistsError(errno.EEXIST, "File exists", name) from None


@contextlib.contextmanager
def _folder_lock(folder: Path, deferred: Deferred) -> Iterator[int]:
    """An exclusive ``flock`` on the folder itself (no lock file left behind); yields its fd.

    Waits up to :data:`LOCK_WAIT_S` for another writer, stopping early on a signal; where
    folders cannot be locked (some network disks) it goes on unlocked.
    """
    import fcntl

    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError as error:
        raise OutputError(f"cannot write into {folder}: {cause(error, folder)}") from None
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OutputError(
                        f"cannot write into {folder}: another rhythmcan has been writing there"
                        f" for {LOCK_WAIT_S:.0f} s; try again when it has finished"
                    ) from None
                if deferred.stop.wait(0.05):
                    break
            except OSError:
                break  # locks unsupported: unlocked, as before
        yield fd
    finally:
        os.close(fd)  # releases the lock


def remove_stale_partials(folder: Path) -> None:
    """Remove partial folders that killed writers (SIGKILL, power loss) left in ``folder``."""
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(PARTIAL_PREFIX)]
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name[len(PARTIAL_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            shutil.rmtree(entry.path, ignore_errors=True)


# ------------------------------------------------------------------------------ folders


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (renames, new files) to disk; best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_RENAME_EXCHANGE: Final = 2
_AT_FDCWD: Final = -100


def exchange_paths(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False when unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def replace_folder(new: Path, dest: Path, aside: Path) -> Path:
    """Put folder ``new`` at ``dest``, replacing the folder there, so that ``dest`` always
    holds a whole folder; returns the folder now holding the old contents (the caller
    deletes it). Linux swaps the two in one step (RENAME_EXCHANGE); elsewhere ``dest`` is
    renamed to ``aside`` first and put back if ``new`` cannot take its place."""
    if exchange_paths(new, dest):
        return new
    os.rename(dest, aside)
    try:
        os.rename(new, dest)
    except OSError:
        os.rename(aside, dest)
        raise
    return aside


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs here: tells a killed writer's leftovers from live work."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
