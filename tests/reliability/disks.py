"""Folders that refuse writes: a full disk (a tiny tmpfs), a read-only folder, a file limit.

Root ignores file modes, so a read-only folder for root is a read-only tmpfs mount (or
``chattr +i`` where mounting is not allowed); for other users ``chmod 555`` is enough. A
full disk is a 64 KiB tmpfs, which needs root (``CAP_SYS_ADMIN``): without it the tests that
need one skip with the reason, and :func:`file_size_limit` (``RLIMIT_FSIZE``, any user)
still makes single-file writes fail mid-way.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _mount_tmpfs(target: Path, options: str) -> str | None:
    """Mount a tmpfs on ``target``; None when done, else why it could not be."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if shutil.which("mount") is None:
        return "no mount command"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else f"mount -t tmpfs failed: {done.stderr.strip()}"


def _unmount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_bytes(b"x")
    except OSError:
        return False
    probe.unlink()
    return True


@contextlib.contextmanager
def full_disk(folder: Path, size: str = "64k") -> Iterator[Path]:
    """``folder`` as a tmpfs of ``size`` bytes (skips the test where mounting is impossible)."""
    folder.mkdir(parents=True, exist_ok=True)
    why = _mount_tmpfs(folder, f"size={size},mode=0777")
    if why is not None:
        pytest.skip(f"no small disk to fill: {why}")
    try:
        yield folder
    finally:
        _unmount(folder)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """An existing, empty folder this process cannot create files in (skips if none works)."""
    folder.mkdir(parents=True, exist_ok=True)
    undo: Callable[[], object] | None = None
    reasons = []
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = lambda: folder.chmod(0o755)  # noqa: E731
    else:
        why = _mount_tmpfs(folder, "ro,size=64k")
        if why is None:
            undo = lambda: _unmount(folder)  # noqa: E731
        else:
            reasons.append(why)
            chattr = subprocess.run(
                ["chattr", "+i", str(folder)], capture_output=True, text=True, check=False
            )
            if chattr.returncode == 0:
                undo = lambda: subprocess.run(["chattr", "-i", str(folder)], check=False)  # noqa: E731
            else:
                reasons.append(f"chattr +i failed: {chattr.stderr.strip()}")
    try:
        if _writable(folder):
            pytest.skip(f"no way to make a read-only folder here ({'; '.join(reasons)})")
        yield folder
    finally:
        if undo is not None:
            undo()


def file_size_limit(limit: int) -> Callable[[], None]:
    """A ``preexec_fn``: files the child writes stop at ``limit`` bytes (EFBIG, like a full
    disk for one file; Python ignores SIGXFSZ, so the write fails instead of killing)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def leftovers(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (hidden ones too), relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
