"""Run folders: ``<store root>/runs/<name>/`` with ``run.json`` (what ``--resume``
continues), ``checkpoints/``, ``metrics.jsonl``; creating, reusing, refusing and clearing them,
and the run lock (one training run per name).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rhythmcan_cli.atomic import atomic_write, output_error
from rhythmcan_cli.errors import DataError, ModelError, StoreError, UsageError
from rhythmcan_cli.training.config import (
    TrainConfig,
)
from rhythmcan_cli.vocabulary import ModelKind

if TYPE_CHECKING:
    from rhythmcan_cli.dataset import Dataset


RUN_FILE = "run.json"


METRICS_FILE = "metrics.jsonl"


def run_dir(name: str) -> Path:
    """``<store root>/runs/<name>/`` (the name is validated first)."""
    from rhythmcan_cli import store

    return store.run_path(name)


def model_exists(name: str) -> bool:
    """True when the user's store (not the bundled defaults) holds a model ``name``."""
    from rhythmcan_cli import store

    return (store.models_dir() / name).exists()


def read_run(name: str) -> dict[str, Any] | None:
    """The run record (``run.json``) of the run ``name``, or None when there is no such run.

    Holds ``mode``, ``seed``, ``config``, ``epochs`` (the target) and ``command`` (the options
    the run was started with): what ``--resume`` continues.
    """
    from rhythmcan_cli import store

    store.validate_name(name)
    folder = run_dir(name)
    if not (folder / RUN_FILE).exists():
        return None
    return read_run_file(folder)


def read_run_file(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot read the run record {path / RUN_FILE}: {error}") from error
    return data


def trim_metrics(path: Path, epoch: int) -> list[dict[str, float]]:
    """Keep only metric lines up to ``epoch`` (a checkpoint may be older than the log)."""
    file = path / METRICS_FILE
    if not file.exists():
        return []
    kept = []
    for line in file.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if int(record.get("epoch", 0)) <= epoch:
                kept.append(record)
    atomic_write(file, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


def discard_empty_run(folder: Path) -> None:
    """Remove a run folder that holds nothing but the lock file (a refused start)."""
    with contextlib.suppress(OSError):
        if folder.is_dir() and {p.name for p in folder.iterdir()} <= {".lock"}:
            shutil.rmtree(folder)


def prepare_folder(
    folder: Path,
    mode: ModelKind,
    name: str,
    config: TrainConfig,
    data: Dataset,
    resume: bool,
    force: bool,
    epochs: int | None,
    command: Mapping[str, Any] | None,
) -> tuple[TrainConfig, int, int]:
    """Create, reuse or refuse the run folder. Returns the run's config, seed and epochs."""
    exists = (folder / RUN_FILE).exists()
    if resume:
        if not exists:
            raise UsageError(f"no run named {name!r} to resume: start it without --resume")
        record = read_run_file(folder)
        if record.get("mode") != mode:
            raise UsageError(
                f"run {name!r} was started with --mode {record.get('mode')}, not {mode}"
            )
        if record.get("data_fingerprint") != data.fingerprint:
            raise DataError(
                f"run {name!r} was trained on different data: resume with the same data and "
                "options, or start over with --force"
            )
        # Sizes and hyper-parameters come from the run; the batch size and loop options too.
        saved = TrainConfig.from_dict(record.get("config", {}))
        merged = dataclasses.replace(
            saved, checkpoint_every=config.checkpoint_every, tensorboard=config.tensorboard
        )
        target = epochs if epochs is not None else record.get("epochs")
        if not isinstance(target, int) or isinstance(target, bool) or target < 1:
            raise UsageError(
                f"run {name!r} does not record how many epochs it was started for: "
                "resume with --epochs N"
            )
        if target != record.get("epochs"):  # --epochs N --resume extends the run
            record["epochs"] = target
            atomic_write(folder / RUN_FILE, json.dumps(record, indent=2) + "\n")
        return merged, int(record["seed"]), target
    if exists and not force:
        raise StoreError(
            f"a run named {name!r} exists in {folder}: add --resume to continue it or --force to "
            "start over"
        )
    if epochs is None:
        raise UsageError("--epochs is needed to start a run")
    folder.mkdir(parents=True, exist_ok=True)
    clear_run(folder)  # start over
    seed = config.seed if config.seed is not None else int(np.random.default_rng().integers(2**31))
    record = {
        "name": name,
        "mode": mode,
        "seed": seed,
        "config": config.to_dict(),
        "data_fingerprint": data.fingerprint,
        "genres": list(data.genres),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "epochs": epochs,
        "command": dict(command or {}),
    }
    atomic_write(folder / RUN_FILE, json.dumps(record, indent=2) + "\n")
    return config, seed, epochs


def clear_run(folder: Path) -> None:
    """Delete a run folder's contents except the lock file its holder still has open."""
    for item in folder.iterdir():
        if item.name != ".lock":
            shutil.rmtree(item) if item.is_dir() else item.unlink()


def json_number(value: float) -> float | int | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return (
        int(value)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53
        else value
    )


@contextlib.contextmanager
def run_lock(name: str) -> Iterator[Path]:
    """Hold the exclusive lock of training run ``name``; yields the run folder.

    A second holder (another process) gets StoreError at once instead of waiting.
    """
    import fcntl

    from rhythmcan_cli.store import run_path

    folder = run_path(name)
    lock_file = folder / ".lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise output_error(lock_file, error) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            try:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            except OSError:
                holder = "unknown"
            raise StoreError(
                f"a training run named {name!r} is already running (pid {holder}); "
                "wait for it or choose another --name"
            ) from error
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        try:
            yield folder
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
