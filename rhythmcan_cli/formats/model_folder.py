"""Reading the files of a model folder: regular files inside it only, bounded, never blocking.

A model folder comes from anywhere (a download, a shared drive, a store someone edited), so
every file rhythmcan reads from one goes through here:

- a file is opened relative to the folder, one path component at a time, with
  ``O_NOFOLLOW``: a symbolic link (to a secret, to ``/dev/zero``, to a folder elsewhere) is
  refused, so nothing outside the folder is ever read;
- the type is checked on the open descriptor (``fstat``), opened with ``O_NONBLOCK`` so a
  FIFO cannot stall the open: FIFOs, devices, sockets and folders are refused;
- a file with more than one name (a hard link, ``st_nlink > 1``) is refused where no
  checksum of ours vouches for its bytes (a folder the user gives): its bytes may be another
  file's, outside the folder (``ln ~/.ssh/id_rsa w2.bin``). The store and the bundled models
  accept them (``hard_links=True``): their files are copies rhythmcan made and checksummed,
  and installers such as uv hard-link package files from their cache;
- the size comes from ``fstat`` and is checked against a cap *before* reading, and the read
  stops at the cap (a file growing meanwhile is refused too);
- JSON is parsed with a nesting bound, so a 100,000-level document is one ``ModelError``;
- folder trees are walked iteratively with depth and entry bounds and removed without
  recursion (no ``RecursionError``).

Only the folder itself (the one the user named) may be reached through a link.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Final

from rhythmcan_cli.errors import ModelError
from rhythmcan_cli.inputs import file_kind

MAX_JSON_BYTES: Final = 16 * 1024 * 1024
"""Largest model.json / card.json / metadata file read (the paper's model.json is 5 kB)."""
MAX_JSON_DEPTH: Final = 64
"""Deepest JSON nesting accepted (a model.json nests about 9 levels, a card 3)."""
MAX_TREE_DEPTH: Final = 16
"""Deepest folder nesting accepted inside a model folder (a model uses 1)."""
MAX_TREE_ENTRIES: Final = 10_000
"""Most files and folders accepted inside a model folder (a model has 3)."""
_CHUNK: Final = 1 << 20


class UnsafeFileError(ModelError):
    """A model file that is a link, pipe, device, socket or folder, or larger than allowed."""


def _flags() -> int:
    return (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_NOCTTY", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )


def _refuse_link(name: str, dir_fd: int, where: str, error: OSError) -> None:
    """Turn the ELOOP/ENOTDIR of an ``O_NOFOLLOW`` open of a link into UnsafeFileError."""
    if error.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return
    if stat.S_ISLNK(mode):
        raise UnsafeFileError(
            f"{where} is a symbolic link; model files must be regular files inside the "
            "model folder (copy the file there instead)"
        ) from None


def _check_regular(fd: int, where: str) -> os.stat_result:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafeFileError(f"{where} is {file_kind(info.st_mode)}, not a regular file")
    return info


def _check_single_name(info: os.stat_result, where: str) -> None:
    if info.st_nlink > 1:
        raise UnsafeFileError(
            f"{where} is a hard link ({info.st_nlink} names share its bytes, which may be a"
            " file outside the model folder); copy the file into the folder instead"
        )


@contextlib.contextmanager
def open_inside(
    folder: Path, rel: str, where: str = "", *, hard_links: bool = False
) -> Iterator[int]:
    """A read-only descriptor of regular file ``rel`` (``a/b`` form) inside ``folder``.

    No component of ``rel`` may be a symbolic link (``O_NOFOLLOW`` at each step), and the
    file must be regular (checked on the descriptor) with one name unless ``hard_links``.
    OSError (FileNotFoundError...) passes through; links and special files raise
    UnsafeFileError.
    """
    label = where or rel
    parts = PurePosixPath(rel).parts
    if not parts or any(part in ("", ".", "..", "/") for part in parts):
        raise UnsafeFileError(f"{label}: not a plain path inside the model folder")
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    directory = getattr(os, "O_DIRECTORY", 0)
    dir_fd = os.open(folder, _flags() | directory)  # never blocks, even on a FIFO
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(part, _flags() | directory | nofollow, dir_fd=dir_fd)
            except OSError as error:
                _refuse_link(part, dir_fd, label, error)
                raise
            os.close(dir_fd)
            dir_fd = next_fd
        try:
            fd = os.open(parts[-1], _flags() | nofollow, dir_fd=dir_fd)
        except OSError as error:
            _refuse_link(parts[-1], dir_fd, label, error)
            raise
    finally:
        os.close(dir_fd)
    try:
        info = _check_regular(fd, label)
        if not hard_links:
            _check_single_name(info, label)
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def open_given(path: Path, where: str = "") -> Iterator[int]:
    """A descriptor of the regular file the user named (a link to a regular file is fine)."""
    fd = os.open(path, _flags())
    try:
        _check_regular(fd, where or str(path))
        yield fd
    finally:
        os.close(fd)


def read_fd(fd: int, cap: int, where: str) -> bytes:
    """All bytes of regular file ``fd``: the size is checked against ``cap`` before reading,
    and the read stops one byte past it (a file growing meanwhile is refused too)."""
    size = os.fstat(fd).st_size
    if size > cap:
        raise UnsafeFileError(f"{where} is {size:,} bytes, more than the {cap:,} allowed")
    os.set_blocking(fd, True)
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, min(_CHUNK, cap + 1 - total))
        if not chunk:
            return b"".join(parts)
        total += len(chunk)
        if total > cap:
            raise UnsafeFileError(f"{where} grew past the {cap:,} bytes allowed while read")
        parts.append(chunk)


def read_inside(
    folder: Path, rel: str, cap: int, where: str = "", *, hard_links: bool = False
) -> bytes:
    """The bytes of regular file ``rel`` inside ``folder`` (no links), at most ``cap``."""
    with open_inside(folder, rel, where, hard_links=hard_links) as fd:
        return read_fd(fd, cap, where or rel)


def sha256_inside(folder: Path, rel: str, where: str = "", *, hard_links: bool = False) -> str:
    """sha256 of regular file ``rel`` inside ``folder`` (no links, no pipes, no devices)."""
    digest = hashlib.sha256()
    with open_inside(folder, rel, where, hard_links=hard_links) as fd:
        os.set_blocking(fd, True)
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def json_depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when parsed JSON ``value`` nests at most ``limit`` levels (checked iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def parse_json(raw: bytes, where: str) -> Any:
    """Parse JSON bytes; ModelError (one line) for bad UTF-8, bad JSON or deep nesting."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ModelError(f"{where} is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ModelError(f"{where} is not valid JSON ({error})") from None
    except RecursionError:
        raise ModelError(f"{where} nests deeper than {MAX_JSON_DEPTH} levels") from None
    if not json_depth_ok(data):
        raise ModelError(f"{where} nests deeper than {MAX_JSON_DEPTH} levels")
    return data


def walk_tree(
    folder: Path, *, max_depth: int = MAX_TREE_DEPTH, max_entries: int = MAX_TREE_ENTRIES
) -> list[str]:
    """Every non-folder entry under ``folder`` as ``a/b`` paths, hidden ones and links too.

    Iterative (a 1,500-level tree is no RecursionError) and bounded: ModelError past
    ``max_depth`` levels or ``max_entries`` entries. Links are listed, never followed.
    """
    found: list[str] = []
    seen = 0
    stack: list[tuple[Path, str, int]] = [(folder, "", 0)]
    while stack:
        path, prefix, depth = stack.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                seen += 1
                if seen > max_entries:
                    raise ModelError(f"{folder} holds more than {max_entries:,} entries")
                rel = f"{prefix}{entry.name}"
                if entry.is_dir(follow_symlinks=False):
                    if depth + 1 > max_depth:
                        raise ModelError(
                            f"{folder} nests folders deeper than {max_depth} levels ({rel[:80]}...)"
                        )
                    stack.append((Path(entry.path), rel + "/", depth + 1))
                else:
                    found.append(rel)
    return sorted(found)


def remove_tree(path: Path) -> None:
    """Delete folder ``path`` and everything in it, best effort, never following links.

    ``shutil.rmtree`` recurses once per level, so a 1,500-level tree inside a model folder
    raised RecursionError. The fallback flattens instead: each nested folder is moved up to
    ``path`` itself before it is emptied, so no walk goes deeper than two levels. Errors are
    ignored (another process may be removing the same folder).
    """
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):  # a link to a folder: only the link goes
            os.unlink(path)
            return
    except OSError:
        return
    with contextlib.suppress(RecursionError):
        shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return
    pending = [path]
    moved = 0
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                if not entry.is_dir(follow_symlinks=False):
                    os.unlink(entry.path)
                elif folder == path:
                    pending.append(Path(entry.path))
                else:
                    moved += 1
                    flat = path / f".flat-{moved}"
                    os.rename(entry.path, flat)
                    pending.append(flat)
        if folder != path:
            with contextlib.suppress(OSError):
                os.rmdir(folder)
    with contextlib.suppress(OSError):
        os.rmdir(path)
