"""Concurrent ``export-tfjs`` into one folder (issue 17, defect 6).

Before: a fixed temp name made 12 of 400 concurrent exports fail; without ``--force`` two
racing exports both passed the "already exists" check; with ``--force`` one round in 40
left model.json of one model beside the shard of another while every writer reported
success. Now an export goes through ``atomic.write_batch`` (a unique hidden folder, moved in
whole, under a lock on the output folder): every result is one model's files.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.formats.layers_model import MODEL_JSON, SHARD_NAME
from rhythmcan_cli.tfjs.exchange import export_files, export_tfjs
from tests.helpers import make_stored_model
from tests.reliability.procs import cli, start

THREADS = 8


def two_models() -> dict[str, bytes]:
    """Two models with the same architecture and different weights: name -> their shard."""
    shards = {}
    for name, seed in (("alpha", 1), ("beta", 2)):
        model = make_stored_model(name, seed=seed)
        shards[name] = export_files(model)[0][SHARD_NAME]
    assert shards["alpha"] != shards["beta"]
    return shards


def consistent(out: Path, shards: dict[str, bytes]) -> str:
    """The one model whose files ``out`` holds (model.json's metadata names it and the
    shard is its bytes), and no leftovers of the writers."""
    meta = json.loads((out / MODEL_JSON).read_text())["userDefinedMetadata"]["rhythmcan"]
    assert (out / SHARD_NAME).read_bytes() == shards[meta["name"]], "mixed export"
    assert sorted(p.name for p in out.iterdir()) == sorted([MODEL_JSON, SHARD_NAME])
    return str(meta["name"])


def race(out: Path, *, force: bool) -> list[BaseException | None]:
    """THREADS exports (alternating models) released at once; each one's outcome."""
    from rhythmcan_cli import store

    models = [store.open_model(name) for name in ("alpha", "beta")]
    barrier = threading.Barrier(THREADS)
    outcomes: list[BaseException | None] = [None] * THREADS

    def export(i: int) -> None:
        barrier.wait()
        try:
            export_tfjs(models[i % 2], out, force=force)
        except BaseException as error:  # every outcome is judged below
            outcomes[i] = error

    threads = [threading.Thread(target=export, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_forced_concurrent_exports_all_succeed_and_leave_one_models_files(
    tmp_path: Path,
) -> None:
    shards = two_models()
    winners = set()
    for round_ in range(12):
        out = tmp_path / f"round-{round_}"
        outcomes = race(out, force=True)
        assert outcomes == [None] * THREADS, outcomes
        winners.add(consistent(out, shards))
    assert winners <= {"alpha", "beta"}


def test_unforced_concurrent_exports_exactly_one_wins(tmp_path: Path) -> None:
    shards = two_models()
    for round_ in range(6):
        out = tmp_path / f"round-{round_}"
        outcomes = race(out, force=False)
        assert outcomes.count(None) == 1, outcomes
        assert all(
            isinstance(error, DataError) and "already exists" in str(error)
            for error in outcomes
            if error is not None
        ), outcomes
        winner = consistent(out, shards)
        assert winner == ("alpha", "beta")[outcomes.index(None) % 2]


def test_concurrent_cli_exports_with_force(tmp_path: Path) -> None:
    """The same through the CLI, four processes at once."""
    shards = two_models()
    out = tmp_path / "web"
    procs = [
        start(cli("export-tfjs", name, str(out), "--force", "--quiet"))
        for name in ("alpha", "beta", "alpha", "beta")
    ]
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        assert proc.returncode == 0 and "Traceback" not in err, err
    consistent(out, shards)


def test_each_cli_export_prints_the_menu_of_the_model_it_wrote(tmp_path: Path) -> None:
    """The device menu came from re-reading model.json after writing it: with another
    export replacing the folder meanwhile, a process printed the other model's genres. Now
    the library returns the metadata it wrote (``tfjs.write_export``) and the CLI prints it."""
    from rhythmcan_cli.tfjs.exchange import write_export

    genres = {"cond-a": ("funk", "rock"), "cond-b": ("jazz", "latin")}
    for seed, (name, names) in enumerate(genres.items()):
        model = make_stored_model(name, kind="cgan", genres=names, seed=seed)
        exported = write_export(model, tmp_path / f"lib-{name}")
        assert exported.meta["genres"] == list(names)
        written = json.loads((tmp_path / f"lib-{name}" / MODEL_JSON).read_text())
        assert written["userDefinedMetadata"]["rhythmcan"] == exported.meta
    out = tmp_path / "web"
    for _ in range(2):
        order = ["cond-a", "cond-b", "cond-a", "cond-b"]
        procs = [start(cli("export-tfjs", name, str(out), "--force")) for name in order]
        for name, proc in zip(order, procs, strict=True):
            try:
                _, err = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
            assert proc.returncode == 0 and "Traceback" not in err, err
            other = next(n for n in genres if n != name)
            assert all(genre in err for genre in genres[name]), err
            assert not any(genre in err for genre in genres[other]), err
