"""Datasets from folder trees and CSVs, skips and reasons, the cache, splits, `data inspect`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli.cli.app import app
from rhythmcan_cli.dataset import (
    REASON_CORRUPT,
    REASON_DUPLICATE,
    REASON_EMPTY,
    REASON_FEW_ONSETS,
    REASON_MISSING,
    REASON_NO_GENRE,
    Dataset,
    build_dataset,
    parse_where,
    split_by_file,
)
from rhythmcan_cli.dataset import reading as dataset_module
from rhythmcan_cli.errors import DataError, UsageError
from rhythmcan_cli.midi import midi_bytes
from rhythmcan_cli.progress import ProgressEvent

runner = CliRunner()


def pattern(seed: int, density: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hits = rng.random((32, 9)) < density
    hits[0, 0] = True
    return (hits * rng.integers(1, 128, (32, 9)) / 127).astype(np.float32)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def midi_of(*seeds: int) -> bytes:
    return midi_bytes([pattern(s) for s in seeds], threshold=0.0)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """rock: 2 files (one nested, upper-case suffix), jazz: 1 .midi file, plus bad files."""
    root = tmp_path / "drums"
    write(root / "rock" / "a.mid", midi_of(1, 2))  # 3 windows at hop 16
    write(root / "rock" / "live" / "b.MID", midi_of(3))  # 1 window
    write(root / "jazz" / "c.midi", midi_of(4, 5, 6))  # 5 windows
    write(root / "jazz" / "garbage.mid", b"\x00\x01not midi")
    write(root / "jazz" / "empty.mid", b"")
    write(root / "jazz" / "quiet.mid", midi_bytes(np.zeros((32, 9), np.float32)))
    write(root / "loose.mid", midi_of(7))  # no genre folder
    write(root / "rock" / "notes.txt", b"not a MIDI name: ignored")
    write(root / ".hidden" / "d.mid", midi_of(8))  # hidden folders are ignored
    return root


def test_folder_tree(tree: Path) -> None:
    data = build_dataset(tree, cache_dir=False)
    assert data.genres == ("jazz", "rock")
    assert data.files == ("jazz/c.midi", "rock/a.mid", "rock/live/b.MID")
    assert data.x.shape == (9, 32, 9) and data.x.dtype == np.float32
    assert data.y.dtype == np.int32 and data.file_ids.dtype == np.int32
    assert data.y.tolist() == [0] * 5 + [1] * 4
    assert data.file_ids.tolist() == [0] * 5 + [1] * 3 + [2]
    # windows at hop 16 of c.midi: pattern 4, the bar straddling 4 and 5, pattern 5, ...
    np.testing.assert_array_equal(data.x[0], pattern(4))
    np.testing.assert_array_equal(data.x[1, :16], pattern(4)[16:])
    np.testing.assert_array_equal(data.x[1, 16:], pattern(5)[:16])
    np.testing.assert_array_equal(data.x[8], pattern(3))
    report = data.report
    assert report.files_found == 7 and report.files_read == 3 and report.files_skipped == 4
    assert report.windows_per_genre == {"jazz": 5, "rock": 4}
    assert report.files_per_genre == {"jazz": 1, "rock": 2}
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons == {
        "jazz/garbage.mid": REASON_CORRUPT,
        "jazz/empty.mid": REASON_EMPTY,
        "jazz/quiet.mid": "no drum notes on the channel",
        "loose.mid": REASON_NO_GENRE,
    }
    assert report.from_cache is False and report.cache_file is None
    assert report.fingerprint == data.fingerprint


def test_options_reach_the_reader(tree: Path) -> None:
    assert len(build_dataset(tree, cache_dir=False, hop=32)) == 6
    counts = sorted(int((w > 0).sum()) for w in build_dataset(tree, cache_dir=False).x)
    limit = counts[4] + 1
    few = build_dataset(tree, cache_dir=False, min_onsets=limit)
    assert len(few) == sum(c >= limit for c in counts) and 0 < len(few) < 9
    assert all(int((w > 0).sum()) >= limit for w in few.x)
    with pytest.raises(DataError, match="no usable"):
        build_dataset(tree, cache_dir=False, channel=3)
    with pytest.raises(UsageError):
        build_dataset(tree, cache_dir=False, hop=0)


def test_unmapped_pitches_are_reported(tmp_path: Path) -> None:
    pitches = (36, 38, 42, 46, 45, 47, 50, 49, 99)  # the ride written at pitch 99
    one = np.zeros((32, 9), np.float32)
    one[:, 0] = 0.5
    one[:3, 8] = 0.5
    write(tmp_path / "g" / "x.mid", midi_bytes(one, pitches=pitches))
    data = build_dataset(tmp_path, cache_dir=False)
    assert data.report.unmapped == {99: 3}
    assert data.report.to_dict()["unmapped_pitches"] == {"99": 3}


def test_file_with_only_unmapped_pitches(tmp_path: Path) -> None:
    one = np.zeros((32, 9), np.float32)
    one[::2, 0] = 0.5
    write(tmp_path / "g" / "odd.mid", midi_bytes(one, pitches=(90, 38, 42, 46, 45, 47, 50, 49, 51)))
    write(tmp_path / "g" / "ok.mid", midi_of(1))
    data = build_dataset(tmp_path, cache_dir=False)
    assert [(s.path, s.reason) for s in data.report.skipped] == [
        ("g/odd.mid", "only pitches outside the 9 drum classes")
    ]
    assert data.report.unmapped == {90: 16}


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        build_dataset(tmp_path / "nope", cache_dir=False)
    (tmp_path / "rock").mkdir()
    write(tmp_path / "rock" / "readme.txt", b"hi")
    with pytest.raises(DataError, match="no MIDI files"):
        build_dataset(tmp_path, cache_dir=False)
    write(tmp_path / "top.mid", midi_of(1))
    with pytest.raises(DataError, match="genre sub-folders"):
        build_dataset(tmp_path, cache_dir=False)
    write(tmp_path / "rock" / "bad.mid", b"MThd garbage")
    with pytest.raises(DataError, match="no usable"):
        build_dataset(tmp_path, cache_dir=False)


# -- CSV labels --------------------------------------------------------------------------

CSV = """\ufeffid,style,beat_type,midi_filename
1,funk/groove1,beat,s1/a.mid
2,funk/groove2,fill,s1/b.mid
3,rock/groove1,beat,s2/c.mid
4,rock,beat,s2/missing.mid
5,,beat,s2/nolabel.mid
6,jazz/x,beat,s2/bad.mid
7,funk/groove1,beat,s1/a.mid
"""


@pytest.fixture
def csv_dir(tmp_path: Path) -> Path:
    root = tmp_path / "groove"
    write(root / "s1" / "a.mid", midi_of(1))
    write(root / "s1" / "b.mid", midi_of(2, 3))
    write(root / "s2" / "c.mid", midi_of(4))
    write(root / "s2" / "nolabel.mid", midi_of(5))
    write(root / "s2" / "bad.mid", b"MThd\x00\x00")
    (root / "info.csv").write_text(CSV, encoding="utf-8")
    return root


def test_csv_labels_primary_and_filters(csv_dir: Path) -> None:
    data = build_dataset(csv_dir, labels_csv=csv_dir / "info.csv", cache_dir=False)
    assert data.genres == ("funk", "rock")
    assert data.files == ("s1/a.mid", "s1/b.mid", "s2/c.mid")
    assert data.report.windows_per_genre == {"funk": 4, "rock": 1}
    reasons = {s.path: s.reason for s in data.report.skipped}
    assert reasons == {
        "s2/missing.mid": REASON_MISSING,
        "s2/nolabel.mid": "no label",
        "s2/bad.mid": REASON_CORRUPT,
        "s1/a.mid": REASON_DUPLICATE,
    }

    full = build_dataset(
        csv_dir, labels_csv=csv_dir / "info.csv", primary_label=False, cache_dir=False
    )
    assert full.genres == ("funk/groove1", "funk/groove2", "rock/groove1")

    beats = build_dataset(
        csv_dir,
        labels_csv=csv_dir / "info.csv",
        where=parse_where(["beat_type=beat"]),
        cache_dir=False,
    )
    assert beats.files == ("s1/a.mid", "s2/c.mid")
    both = build_dataset(
        csv_dir,
        labels_csv=csv_dir / "info.csv",
        cache_dir=False,
        where=(("beat_type", "beat"), ("beat_type", "fill"), ("style", "funk/groove2")),
    )
    assert both.files == ("s1/b.mid",)  # same column: any value; other columns: all


def test_csv_custom_columns(tmp_path: Path) -> None:
    write(tmp_path / "one.mid", midi_of(1))
    (tmp_path / "labels.csv").write_text("file,genre\none.mid,techno\n", encoding="utf-8")
    data = build_dataset(
        tmp_path,
        labels_csv=tmp_path / "labels.csv",
        path_column="file",
        label_column="genre",
        cache_dir=False,
    )
    assert data.genres == ("techno",) and len(data) == 1


def test_csv_errors_name_the_columns(csv_dir: Path) -> None:
    labels = csv_dir / "info.csv"
    with pytest.raises(DataError, match="columns are: id, style, beat_type, midi_filename"):
        build_dataset(csv_dir, labels_csv=labels, path_column="path", cache_dir=False)
    with pytest.raises(DataError, match="label column 'genre'"):
        build_dataset(csv_dir, labels_csv=labels, label_column="genre", cache_dir=False)
    with pytest.raises(DataError, match=r"'kind'.*id, style"):
        build_dataset(csv_dir, labels_csv=labels, where=(("kind", "beat"),), cache_dir=False)
    with pytest.raises(DataError, match="no rows"):
        build_dataset(csv_dir, labels_csv=labels, where=(("beat_type", "x"),), cache_dir=False)
    with pytest.raises(DataError, match="does not exist"):
        build_dataset(csv_dir, labels_csv=csv_dir / "nope.csv", cache_dir=False)
    (csv_dir / "blank.csv").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="header"):
        build_dataset(csv_dir, labels_csv=csv_dir / "blank.csv", cache_dir=False)
    with pytest.raises(UsageError):
        build_dataset(csv_dir, where=(("beat_type", "beat"),), cache_dir=False)


@pytest.mark.parametrize("bad", ["beat_type", "=beat", ""])
def test_parse_where_rejects_bad_syntax(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_where([bad])
    assert parse_where(["a=b", " c = d=e "]) == (("a", "b"), ("c", "d=e"))


# -- cache ----------------------------------------------------------------------------------


def test_cache_hit_and_invalidation(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = build_dataset(tree, cache_dir=cache)
    files = list((cache / "datasets").iterdir())
    assert [f.name for f in files] == [f"dataset-{first.fingerprint}.npz"]
    assert first.report.cache_file == str(files[0]) and not first.report.from_cache

    second = build_dataset(tree, cache_dir=cache)
    assert second.report.from_cache
    assert second.fingerprint == first.fingerprint
    np.testing.assert_array_equal(second.x, first.x)
    np.testing.assert_array_equal(second.y, first.y)
    np.testing.assert_array_equal(second.file_ids, first.file_ids)
    assert (second.genres, second.files) == (first.genres, first.files)
    assert second.report.skipped == first.report.skipped
    assert second.report.windows_per_genre == first.report.windows_per_genre

    # same size, same mtime, different bytes: the content hash still notices
    target = tree / "rock" / "a.mid"
    stat = target.stat()
    other = bytearray(target.read_bytes())
    velocity = other.index(b"\x99", 40) + 2  # the velocity of the first drum note-on
    other[velocity] = other[velocity] - 1 if other[velocity] > 1 else 2
    target.write_bytes(bytes(other))
    assert target.stat().st_size == stat.st_size
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    third = build_dataset(tree, cache_dir=cache)
    assert not third.report.from_cache and third.fingerprint != first.fingerprint

    # options are part of the key
    assert build_dataset(tree, cache_dir=cache, hop=8).fingerprint != third.fingerprint
    assert not list((cache / "datasets").glob("*.tmp"))


def test_default_cache_dir_and_disabled_cache(tree: Path, isolated_home: Path) -> None:
    build_dataset(tree)
    assert len(list((isolated_home / "cache" / "datasets").glob("*.npz"))) == 1
    assert build_dataset(tree).report.from_cache
    assert not build_dataset(tree, cache_dir=False).report.from_cache


def test_damaged_cache_is_rebuilt(tree: Path, tmp_path: Path) -> None:
    first = build_dataset(tree, cache_dir=tmp_path)
    assert first.report.cache_file is not None
    Path(first.report.cache_file).write_bytes(b"PK\x03\x04 broken")
    again = build_dataset(tree, cache_dir=tmp_path)
    assert not again.report.from_cache
    np.testing.assert_array_equal(again.x, first.x)
    assert build_dataset(tree, cache_dir=tmp_path).report.from_cache


def test_cache_holds_no_pickles(tree: Path, tmp_path: Path) -> None:
    first = build_dataset(tree, cache_dir=tmp_path)
    assert first.report.cache_file is not None
    with np.load(first.report.cache_file, allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)


# -- parallel reading, progress, splits ------------------------------------------------


def test_parallel_equals_serial_and_reports_progress(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serial = build_dataset(tree, cache_dir=False, workers=1)
    monkeypatch.setattr(dataset_module, "SERIAL_BELOW", 0)
    events: list[ProgressEvent] = []
    parallel = build_dataset(tree, cache_dir=False, workers=2, progress=events.append)
    np.testing.assert_array_equal(parallel.x, serial.x)
    assert parallel.files == serial.files
    assert parallel.report.skipped == serial.report.skipped
    reading = [e for e in events if e.task == "reading MIDI"]
    assert [e.done for e in reading] == list(range(1, 7)) and reading[-1].total == 6


def test_an_interrupted_parallel_build_ends_its_workers_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KeyboardInterrupt in the parent (here from the progress callback) propagates and leaves
    no worker behind; the workers themselves ignore SIGINT (the parent alone handles it)."""
    import multiprocessing
    import signal
    import time

    for i in range(12):
        write(tmp_path / "d" / "a" / f"{i}.mid", midi_of(i, i + 1))
    monkeypatch.setattr(dataset_module, "SERIAL_BELOW", 0)

    def interrupt(event: ProgressEvent) -> None:
        if event.task == "reading MIDI":
            assert {p.pid for p in multiprocessing.active_children()}, "no workers running"
            raise KeyboardInterrupt

    earlier = set(multiprocessing.active_children())  # other tests' children are not ours
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        build_dataset(tmp_path / "d", cache_dir=False, workers=2, progress=interrupt)
    # another thread (the pool's manager) may be the one reaping a worker: give it a moment
    while set(multiprocessing.active_children()) - earlier and time.monotonic() - started < 10:
        time.sleep(0.05)
    assert set(multiprocessing.active_children()) - earlier == set()
    assert time.monotonic() - started < 10
    before = signal.getsignal(signal.SIGINT)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        dataset_module._worker_init()
        os._exit(0 if signal.getsignal(signal.SIGINT) is signal.SIG_IGN else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_pool_worker_dies_with_its_killed_parent() -> None:
    """A SIGKILLed builder leaves no worker behind (prctl PR_SET_PDEATHSIG or a ppid watch)."""
    import signal
    import time

    read_end, write_end = os.pipe()
    parent = os.fork()
    if parent == 0:  # pragma: no cover - the would-be builder
        me = os.getpid()
        worker = os.fork()
        if worker == 0:
            dataset_module._worker_init(me)
            time.sleep(30)
            os._exit(0)
        os.write(write_end, str(worker).encode())
        os.kill(os.getpid(), signal.SIGKILL)
    os.close(write_end)
    worker = int(os.read(read_end, 32))
    os.close(read_end)
    os.waitpid(parent, 0)

    def alive(pid: int) -> bool:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False
        return stat[0] != "Z"

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(worker):
        time.sleep(0.05)
    survived = alive(worker)
    if survived:
        os.kill(worker, signal.SIGKILL)
    assert not survived, "the worker outlived its parent"


def many_files(root: Path, genres: int = 3, per_genre: int = 6) -> Dataset:
    for g in range(genres):
        for f in range(per_genre):
            write(root / f"g{g}" / f"{f}.mid", midi_of(*range(f % 3 + 1)))
    return build_dataset(root, cache_dir=False)


def test_split_by_file_holds_out_whole_files(tmp_path: Path) -> None:
    data = many_files(tmp_path)
    train, val = split_by_file(data, validation=0.25, seed=1)
    assert len(train) + len(val) == len(data)
    assert not set(train.file_ids.tolist()) & set(val.file_ids.tolist())
    assert set(val.y.tolist()) == {0, 1, 2}  # every genre is represented
    assert 0.1 < len(val) / len(data) < 0.5
    _, val_again = split_by_file(data, validation=0.25, seed=1)
    np.testing.assert_array_equal(val_again.file_ids, val.file_ids)
    other = {tuple(split_by_file(data, 0.25, seed=s)[1].file_ids.tolist()) for s in range(5)}
    assert len(other) > 1
    everything, nothing = split_by_file(data, validation=0.0)
    assert len(everything) == len(data) and len(nothing) == 0
    assert train.genres == data.genres and train.files == data.files
    assert train.fingerprint != val.fingerprint != data.fingerprint
    with pytest.raises(UsageError):
        split_by_file(data, validation=1.0)


def test_subset(tmp_path: Path) -> None:
    data = many_files(tmp_path, genres=2, per_genre=2)
    picked = data.subset(data.y == 1)
    assert set(picked.y.tolist()) == {1} and len(picked) == int((data.y == 1).sum())
    picked = data.subset([0, 2])
    np.testing.assert_array_equal(picked.x, data.x[[0, 2]])
    with pytest.raises(DataError):
        data.subset([len(data)])
    with pytest.raises(DataError):
        data.subset(np.ones(3, bool))


# -- the CLI --------------------------------------------------------------------------------


def test_data_inspect_json_and_tables(csv_dir: Path) -> None:
    args = ["data", "inspect", str(csv_dir), "--labels", str(csv_dir / "info.csv")]
    result = runner.invoke(app, [*args, "--json", "--where", "beat_type=beat"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["windows_per_genre"] == {"funk": 1, "rock": 1}
    assert report["files_read"] == 2 and report["skip_reasons"][REASON_MISSING] == 1
    tables = runner.invoke(app, [*args, "--no-cache", "-q"])
    assert tables.exit_code == 0
    for text in ("funk", "rock", "Skipped files", REASON_MISSING, "files read"):
        assert text in tables.stdout


def test_data_inspect_errors(csv_dir: Path) -> None:
    args = ["data", "inspect", str(csv_dir), "--labels", str(csv_dir / "info.csv")]
    bad_where = runner.invoke(app, [*args, "--where", "beat_type"])
    assert bad_where.exit_code == 2 and "COLUMN=VALUE" in bad_where.output
    unknown = runner.invoke(app, [*args, "--where", "kind=beat"])
    assert unknown.exit_code == 1 and "midi_filename" in unknown.output
    missing = runner.invoke(app, ["data", "inspect", str(csv_dir / "nope")])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_few_onsets_reason(tmp_path: Path) -> None:
    sparse = np.zeros((32, 9), np.float32)
    sparse[0, 0] = sparse[8, 1] = 1.0
    write(tmp_path / "a" / "sparse.mid", midi_bytes(sparse))
    write(tmp_path / "a" / "ok.mid", midi_of(1))
    data = build_dataset(tmp_path, cache_dir=False)
    assert {s.path: s.reason for s in data.report.skipped} == {"a/sparse.mid": REASON_FEW_ONSETS}


def test_select_genres_renumbers_and_filters(tree: Path) -> None:
    full = build_dataset(tree, cache_dir=False)
    assert full.genres == ("jazz", "rock")
    only_rock = build_dataset(tree, cache_dir=False, genres=["rock"])
    assert only_rock.genres == ("rock",)
    assert set(only_rock.y.tolist()) == {0}
    assert np.array_equal(only_rock.x, full.x[full.y == full.genres.index("rock")])
    big_only = build_dataset(tree, cache_dir=False, min_genre_windows=5)
    assert big_only.genres == ("jazz",)
    assert big_only.report.windows_per_genre == {"jazz": 5}


def test_select_genres_errors_name_what_exists(tree: Path) -> None:
    with pytest.raises(DataError, match=r"polka.*jazz, rock"):
        build_dataset(tree, cache_dir=False, genres=["rock", "polka"])
    with pytest.raises(DataError, match="no genre has 99 windows"):
        build_dataset(tree, cache_dir=False, min_genre_windows=99)


def test_data_inspect_genres_option(tree: Path) -> None:
    result = CliRunner().invoke(app, ["data", "inspect", str(tree), "--genres", "jazz", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["windows_per_genre"] == {"jazz": 5}


def test_saving_a_cache_removes_temp_files_of_killed_builds(tree: Path, tmp_path: Path) -> None:
    """Temp files of dead writers or older than the limit go; a live writer's fresh one stays."""
    import subprocess
    import sys

    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    dead = done.pid
    cache = tmp_path / "cache"
    folder = cache / "datasets"
    folder.mkdir(parents=True)
    names = {
        "dead": f".dataset-abc.{dead}.k2j4h5g6.tmp",
        "live": f".dataset-abc.{os.getpid()}.a1b2c3d4.tmp",
        "live-but-old": f".dataset-abc.{os.getpid()}.zz99yy88.tmp",
        "no-pid-fresh": ".dataset-abc.q1w2e3r4.tmp",
        "no-pid-old": ".dataset-abc.t5y6u7i8.tmp",
        "other": ".notes.tmp",
    }
    for name in names.values():
        (folder / name).write_bytes(b"partial")
    old = os.stat(folder / names["live"]).st_mtime - 3600
    for key in ("live-but-old", "no-pid-old"):
        os.utime(folder / names[key], (old, old))
    built = build_dataset(tree, cache_dir=cache)
    assert built.report.cache_file is not None and Path(built.report.cache_file).is_file()
    left = sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
    assert left == sorted([names["live"], names["no-pid-fresh"], names["other"]])
