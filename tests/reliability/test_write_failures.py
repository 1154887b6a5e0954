"""Every command that writes: a read-only folder, a full disk or a file in the way is one line.

The line names the path the user gave and the cause; nothing half-written is left (no
temp file, no zero-byte pattern, no truncated JSON); the store's ``last.json`` never costs
the user's output. Full disks are a 64 KiB tmpfs (root only: skipped otherwise) or an
``RLIMIT_FSIZE`` child (any user). Helpers in ``disks.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli.cli.app import app
from rhythmcan_cli.midi import write_midi
from tests.conftest import subprocess_env
from tests.helpers import make_generator_files, make_stored_model
from tests.reliability.disks import file_size_limit, full_disk, leftovers, read_only
from tests.reliability.procs import assert_clean_failure, cli, error_lines, write_drum_folder

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"exception escaped: {result.exception!r}\n{result.stderr}")
    return result.exit_code, result.stdout, result.stderr


def one_line(code: int, stderr: str, *needles: str) -> str:
    """Exit 1, exactly one ``error:`` line holding every needle; returns it."""
    lines = error_lines(stderr)
    assert "Traceback" not in stderr, stderr
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), (code, stderr)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def fill(folder: Path) -> None:
    """Fill the disk ``folder`` is on to the last byte (a file named ``filler``)."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for size in (65536, 4096, 512, 64, 8, 1):
            try:
                while os.write(fd, b"\0" * size) == size:
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)


@pytest.fixture
def ro(tmp_path: Path) -> Iterator[Path]:
    with read_only(tmp_path / "ro") as folder:
        yield folder


@pytest.fixture
def full(tmp_path: Path) -> Iterator[Path]:
    with full_disk(tmp_path / "full") as folder:
        yield folder


@pytest.fixture
def groove(tmp_path: Path) -> Path:
    """A small MIDI file to play."""
    path = tmp_path / "groove.mid"
    rng = np.random.default_rng(0)
    write_midi((rng.random((2, 32, 9)) > 0.7).astype(np.float32), path)
    return path


@pytest.fixture
def patterns(tmp_path: Path) -> Path:
    """JSON lines of 4 sampled patterns and a 2-genre MIDI folder, for evaluate."""
    make_stored_model("m")
    code, out, err = invoke("sample", "-m", "m", "-n", "8", "--seed", "3", "-o", "-", "-f", "json")
    assert code == 0, err
    path = tmp_path / "p.json"
    path.write_text(out)
    write_drum_folder(tmp_path / "data")
    return path


# ------------------------------------------------------------------ read-only folders


@pytest.mark.parametrize("target", ["x.mid", "x.json", "sub/"])
def test_sample_into_a_read_only_folder(ro: Path, target: str) -> None:
    make_stored_model("m")
    code, _, err = invoke("sample", "-m", "m", "-n", "3", "-o", f"{ro}/{target}")
    one_line(code, err, str(ro / target.rstrip("/")))
    assert leftovers(ro) == []


def test_play_wav_into_a_read_only_folder(ro: Path, groove: Path) -> None:
    code, _, err = invoke("play", str(groove), "--wav", str(ro / "x.wav"))
    one_line(code, err, str(ro / "x.wav"))
    assert leftovers(ro) == []


@pytest.mark.parametrize("sub", ["", "web"])
def test_export_tfjs_into_a_read_only_folder(ro: Path, sub: str) -> None:
    make_stored_model("m")
    code, _, err = invoke("export-tfjs", "m", str(ro / sub))
    one_line(code, err, str(ro))
    assert leftovers(ro) == []


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_evaluate_report_into_a_read_only_folder(
    ro: Path, patterns: Path, tmp_path: Path, option: str
) -> None:
    name = "r.json" if option == "--json" else "r.png"
    data = str(tmp_path / "data")
    code, _, err = invoke(
        "evaluate", str(patterns), data, "--no-classifier", "-q", option, f"{ro}/{name}"
    )
    one_line(code, err, str(ro / name))
    assert leftovers(ro) == []


def test_a_read_only_store_costs_sample_a_warning_not_the_output(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_stored_model("m")
    with read_only(tmp_path / "ro") as store_home:
        monkeypatch.setenv("RHYTHMCAN_HOME", str(store_home))
        from rhythmcan_cli import store

        # the model lives elsewhere: passed as a folder, as users of downloaded models do
        folder = str(isolated_home / "models" / "m")
        for target in ("-", str(tmp_path / "x.mid")):
            code, _, err = invoke("sample", "-m", folder, "-o", target, "-f", "json")
            assert code == 0, err
            warnings = [line for line in error_lines(err) if line.startswith("warning:")]
            assert len(warnings) == 1 and "last" in warnings[0] and str(store_home) in warnings[0]
        assert json.loads((tmp_path / "x.mid").read_text())["model"] == "m"
        assert store.store_root() == store_home


@pytest.mark.parametrize("command", ["import", "train"])
def test_store_writes_into_a_read_only_store_are_one_line(
    tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_generator_files(tmp_path)  # tmp_path/generator/model.json
    data = write_drum_folder(tmp_path / "data")
    with read_only(tmp_path / "ro") as store_home:
        monkeypatch.setenv("RHYTHMCAN_HOME", str(store_home))
        if command == "import":
            args = ["models", "import", str(tmp_path / "generator" / "model.json"), "--name", "x"]
        else:
            args = ["train", str(data), "--name", "x", "--epochs", "1", "--quiet"]
        code, _, err = invoke(*args)
        one_line(code, err, str(store_home))
        assert leftovers(store_home) == []


def test_models_default_with_a_folder_in_the_way(isolated_home: Path) -> None:
    make_stored_model("m")
    (isolated_home / "defaults.json").mkdir()  # a folder where the file goes
    code, _, err = invoke("models", "default", "m")
    one_line(code, err, str(isolated_home / "defaults.json"), "is a folder")
    assert [p.name for p in isolated_home.iterdir() if p.name.startswith(".")] == []


def test_data_inspect_with_a_read_only_cache_still_reports(
    ro: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_drum_folder(tmp_path / "data")
    monkeypatch.setenv("RHYTHMCAN_CACHE", str(ro))
    code, out, err = invoke("data", "inspect", str(data), "--json")
    assert code == 0, err
    assert json.loads(out)["files_read"] == 6
    assert leftovers(ro) == []


# ------------------------------------------------------------------ a file in the way


def test_a_file_where_a_folder_should_be(tmp_path: Path, groove: Path) -> None:
    make_stored_model("m")
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    for args in (
        ["sample", "-m", "m", "-o", f"{blocker}/x.mid"],
        ["sample", "-m", "m", "-n", "2", "-o", f"{blocker}/"],
        ["play", str(groove), "--wav", f"{blocker}/x.wav"],
        ["export-tfjs", "m", str(blocker / "web")],
    ):
        code, _, err = invoke(*args)
        line = one_line(code, err, str(blocker))
        assert "not a folder" in line or "Not a directory" in line, line
    assert blocker.read_text() == "mine"


def test_a_store_that_is_a_file_costs_sample_a_warning(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_stored_model("m")
    folder = str(isolated_home / "models" / "m")
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    monkeypatch.setenv("RHYTHMCAN_HOME", str(home))
    code, out, err = invoke("sample", "-m", folder, "-o", "-", "-f", "json")
    assert code == 0, err
    assert json.loads(out)["model"] == "m"
    (warning,) = error_lines(err)[:1]
    assert warning.startswith("warning:") and "not a folder" in warning, err


# ------------------------------------------------------------------ full disks


def test_sample_batch_on_a_full_disk_leaves_no_file(full: Path) -> None:
    make_stored_model("m")
    code, _, err = invoke("sample", "-m", "m", "-n", "5000", "-o", f"{full}/s/")
    one_line(code, err, str(full / "s"), "No space left on device")
    assert leftovers(full) == []
    # into an existing folder that holds the user's files: those stay, nothing is added
    (full / "keep").mkdir()
    (full / "keep" / "mine.mid").write_bytes(b"MThd")
    code, _, err = invoke("sample", "-m", "m", "-n", "5000", "-o", f"{full}/keep/", "-f", "json")
    one_line(code, err, "No space left on device")
    assert leftovers(full) == ["keep", "keep/mine.mid"]


@pytest.mark.parametrize("name", ["one.mid", "one.json"])
def test_sample_one_file_on_a_full_disk(full: Path, name: str) -> None:
    make_stored_model("m")
    (full / name).write_bytes(b"old")
    fill(full)
    code, _, err = invoke("sample", "-m", "m", "-n", "400", "-o", str(full / name), "--force")
    one_line(code, err, str(full / name), "No space left on device")
    assert leftovers(full) == ["filler", name] and (full / name).read_bytes() == b"old"


def test_play_wav_and_evaluate_json_on_a_full_disk(
    full: Path, groove: Path, patterns: Path, tmp_path: Path
) -> None:
    fill(full)
    for args, path in (
        (["play", str(groove), "--wav", str(full / "x.wav")], full / "x.wav"),
        (
            [
                *("evaluate", str(patterns), str(tmp_path / "data"), "--no-classifier", "-q"),
                *("--json", str(full / "r.json")),
            ],
            full / "r.json",
        ),
    ):
        code, _, err = invoke(*args)
        one_line(code, err, str(path))
        assert leftovers(full) == ["filler"], args


def test_export_tfjs_on_a_full_disk_leaves_nothing(full: Path) -> None:
    make_stored_model("m")
    fill(full)
    code, _, err = invoke("export-tfjs", "m", str(full / "web"))
    one_line(code, err, str(full / "web"))
    assert leftovers(full) == ["filler"]


def test_store_writes_on_a_full_disk(
    full: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RHYTHMCAN_HOME", str(full))
    make_stored_model("m")
    make_generator_files(tmp_path)
    fill(full)
    before = leftovers(full)
    code, _, err = invoke("models", "default", "m")
    one_line(code, err, "defaults.json", "No space left on device")
    code, _, err = invoke(
        "models", "import", str(tmp_path / "generator" / "model.json"), "--name", "x"
    )
    one_line(code, err, "No space left on device")
    code, out, err = invoke("sample", "-m", "m", "-o", "-", "-f", "json")
    assert code == 0 and json.loads(out)["model"] == "m", err
    assert "warning:" in err
    assert leftovers(full) == before


# ------------------------------------------------------------------ any user: RLIMIT_FSIZE


@pytest.mark.parametrize("name", ["many.json", "many.mid"])
def test_a_file_cut_short_by_a_size_limit_is_not_left(tmp_path: Path, name: str) -> None:
    """No root needed: the child may write files of at most 2 KiB (EFBIG past that)."""
    make_stored_model("m")
    target = tmp_path / name
    done = subprocess.run(
        cli("sample", "-m", "m", "-n", "200", "-o", str(target)),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=file_size_limit(2048),
    )
    line = assert_clean_failure(done)
    assert str(target) in line and "File too large" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("size", ["8k", "40k"])
def test_train_on_a_full_disk_is_one_line(tmp_path: Path, size: str) -> None:
    """8 KiB fills at the metrics log, 40 KiB at a TensorFlow checkpoint (a traceback before)."""
    from tests.reliability.test_interrupts import TINY_TRAIN

    data = write_drum_folder(tmp_path / "data")
    with full_disk(tmp_path / "home", size) as home:
        done = subprocess.run(
            cli("train", str(data), "--name", "t", "--epochs", "3", *TINY_TRAIN),
            env=subprocess_env(RHYTHMCAN_HOME=str(home), RHYTHMCAN_CACHE=str(tmp_path / "c")),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        line = assert_clean_failure(done)
        assert str(home / "runs" / "t") in line and "No space left on device" in line, line


def test_jam_save_on_a_full_disk_leaves_no_empty_pair(full: Path) -> None:
    from rhythmcan_cli.errors import OutputError
    from rhythmcan_cli.sampling.jam import Jam

    jam = Jam(make_stored_model("m"), seed=4)
    fill(full)
    with pytest.raises(OutputError, match="No space left on device"):
        jam.save(full)
    assert leftovers(full) == ["filler"]  # no zero-byte jam-001.mid claiming a number
