"""Hostile model folders (issue 17): links, pipes, memory bombs, deep JSON, deep trees.

Every case is a reproduction from the adversarial pass: before the fix each read outside
the folder, allocated without bound, hung, or ended in a traceback. Now each is one clear
line (or a listed-as-broken model) within a time bound, and nothing is stored.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rhythmcan_cli import store
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.errors import ModelError, StoreError
from rhythmcan_cli.formats.layers_model import MODEL_JSON, SHARD_NAME, read_layers_model
from rhythmcan_cli.formats.model_folder import remove_tree
from rhythmcan_cli.store import cards as store_cards
from rhythmcan_cli.tfjs.exchange import import_model
from tests.conftest import subprocess_env
from tests.helpers import generator_layers_model, make_stored_model
from tests.reliability.bounds import time_limit
from tests.reliability.disks import leftovers, read_only
from tests.reliability.procs import assert_clean_failure, cli

runner = CliRunner()
SECRET = b"TOP-SECRET-" * 64


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_export(folder: Path) -> tuple[dict[str, Any], bytes]:
    """A tiny generator's model.json (parsed) and shard written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = generator_layers_model().to_files()
    for name, payload in files.items():
        (folder / name).write_bytes(payload)
    return json.loads(files[MODEL_JSON]), files[SHARD_NAME]


def store_is_empty() -> bool:
    return not store.models_dir().exists() or not any(store.models_dir().iterdir())


# --------------------------------------------------------------------------- defect 1


def split_shard(tmp_path: Path, second: Path | bytes) -> Path:
    """The issue's reproduction: the shard loses its last weight's bytes, and a second path
    ``w2.bin`` in the group supplies them (a link to ``second``, or those bytes)."""
    folder = tmp_path / "model"
    data, shard = write_export(folder)
    entries = data["weightsManifest"][0]["weights"]
    last = entries[-1]
    tail = 4 * int(__import__("math").prod(last["shape"]))
    (folder / SHARD_NAME).write_bytes(shard[:-tail])
    data["weightsManifest"][0]["paths"] = [SHARD_NAME, "w2.bin"]
    (folder / MODEL_JSON).write_text(json.dumps(data))
    if isinstance(second, Path):
        (folder / "w2.bin").symlink_to(second)
    else:
        (folder / "w2.bin").write_bytes(second or shard[-tail:])
    return folder / MODEL_JSON


def test_import_never_follows_a_symlinked_weight_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    model_json = split_shard(tmp_path, secret)
    code, _, err = invoke("models", "import", str(model_json), "--name", "leak")
    line = assert_clean_failure((code, err))
    assert "symbolic link" in line and "w2.bin" in line
    assert store_is_empty()


def test_import_refuses_a_hard_linked_weight_file(tmp_path: Path) -> None:
    """A hard link is a second name for another file's bytes: `ln SECRET w2.bin` made the
    secret's first bytes `pattern/bias`, stored and re-exported like the symlink did."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(SECRET)
    model_json = split_shard(tmp_path, b"")
    (model_json.parent / "w2.bin").unlink()
    os.link(secret, model_json.parent / "w2.bin")
    code, _, err = invoke("models", "import", str(model_json), "--name", "leak")
    line = assert_clean_failure((code, err))
    assert "hard link" in line and "w2.bin" in line and "copy the file" in line
    assert store_is_empty()
    (model_json.parent / "w2.bin").unlink()  # a copy of the same bytes is the user's choice
    (model_json.parent / "w2.bin").write_bytes(secret.read_bytes())
    with pytest.raises(ModelError, match="more than the"):  # and still checked for size
        import_model(model_json, name="copied")


def test_a_model_folder_given_by_path_refuses_hard_links_the_store_keeps_them(
    tmp_path: Path,
) -> None:
    """A folder the user names vouches for itself (its card is as untrusted as its files),
    so a hard-linked file there is refused by `sample -m FOLDER` and `export-tfjs`. The store
    copied and checksummed its files itself: a hard link made there (`cp -al` of the store)
    still loads, as do bundled models that installers hard-link from their caches."""
    model = make_stored_model("linked", kind="can")
    outside = tmp_path / "outside"
    outside.mkdir()
    given = tmp_path / "given"
    import shutil

    shutil.copytree(model.path, given)
    shard = next(rel for rel in model.card.files if rel.endswith(".bin"))
    os.link(given / shard, outside / "other-name.bin")
    with pytest.raises(ModelError, match="hard link"):
        store.open_model(given)
    code, out, err = invoke("sample", "-m", str(given), "-f", "json")
    assert "hard link" in assert_clean_failure((code, err)) and out == ""
    code, _, err = invoke("export-tfjs", str(given), str(tmp_path / "web"))
    assert "hard link" in assert_clean_failure((code, err))
    assert not (tmp_path / "web").exists()
    os.link(model.path / shard, outside / "store-backup.bin")  # the store's own file, linked
    stored = store.open_model("linked")
    assert stored.generator().generate([[0.0] * 8]).shape == (1, 32, 9)


def test_a_second_shard_that_is_a_real_file_beside_it_still_imports(tmp_path: Path) -> None:
    """The refusal is about the link: the same split with a regular w2.bin imports."""
    model_json = split_shard(tmp_path, b"")
    model = import_model(model_json, name="split")
    assert model.generator().generate([[0.0] * 8]).shape == (1, 32, 9)


def test_trailing_bytes_after_the_declared_weights_are_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    _, shard = write_export(folder)
    (folder / SHARD_NAME).write_bytes(shard + SECRET)
    with pytest.raises(ModelError, match="more than the"):
        import_model(folder / MODEL_JSON, name="trailing")
    assert store_is_empty()


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_a_model_json_linked_to_dev_zero_or_a_fifo_is_refused_at_once(
    tmp_path: Path, target: str
) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    if target == "fifo":
        os.mkfifo(folder / MODEL_JSON)
    else:
        (folder / MODEL_JSON).symlink_to(target)
    with time_limit(3.0):
        code, _, err = invoke("models", "import", str(folder / MODEL_JSON), "--name", "zero")
    assert "not a regular file" in assert_clean_failure((code, err))


# --------------------------------------------------------------------------- defect 2


def test_one_shard_listed_a_thousand_times_is_refused_before_allocating(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    data, _ = write_export(folder)
    data["weightsManifest"][0]["paths"] = [SHARD_NAME] * 1000
    (folder / MODEL_JSON).write_text(json.dumps(data))
    tracemalloc.start()
    try:
        with pytest.raises(ModelError, match="more than once"):
            import_model(folder / MODEL_JSON, name="bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, peak  # the shard is 12 kB; before the fix: 1,000 copies of it
    assert store_is_empty()


def test_declared_weights_beyond_the_cap_are_refused_without_reading(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    data, _ = write_export(folder)
    entries = data["weightsManifest"][0]["weights"]
    entries.append({"name": "huge/kernel", "shape": [1 << 20, 1 << 10], "dtype": "float32"})
    (folder / MODEL_JSON).write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"declares more than|too large"):
        read_layers_model(folder / MODEL_JSON)


def test_duplicate_weight_names_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    data, shard = write_export(folder)
    entries = data["weightsManifest"][0]["weights"]
    entries.append(dict(entries[0]))
    (folder / SHARD_NAME).write_bytes(shard + shard[: 4 * 8 * 16])
    (folder / MODEL_JSON).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="more than once"):
        import_model(folder / MODEL_JSON, name="dup")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path: Path, value: float) -> None:
    import numpy as np

    folder = tmp_path / "model"
    _, shard = write_export(folder)
    raw = np.frombuffer(shard, dtype="<f4").copy()
    raw[3] = value
    (folder / SHARD_NAME).write_bytes(raw.tobytes())
    with pytest.raises(ModelError, match="NaN or infinite"):
        import_model(folder / MODEL_JSON, name="nan")
    assert store_is_empty()


# --------------------------------------------------------------------------- defect 3


def test_a_fifo_card_does_not_hang_models_list_and_others_still_list() -> None:
    make_stored_model("good")
    folder = store.models_dir() / "piped"
    folder.mkdir()
    os.mkfifo(folder / store.CARD_FILE)
    with time_limit(5.0):
        code, out, err = invoke("models", "list", "--json")
    assert code == 0, err
    listing = json.loads(out)
    assert [m["name"] for m in listing["models"]] == ["good"]
    [broken] = listing["broken"]
    assert broken["name"] == "piped" and "not a regular file" in broken["error"]


def test_a_fifo_defaults_file_does_not_hang(isolated_home: Path) -> None:
    os.mkfifo(isolated_home / "defaults.json")
    with time_limit(5.0):
        with pytest.raises(StoreError, match=r"defaults\.json"):
            store.default_model("can")
        code, _, err = invoke("models", "default")
    assert code == 0 and "Traceback" not in err


# --------------------------------------------------------------------------- defect 4


def run_limited(args: list[str], fsize: int) -> subprocess.CompletedProcess[str]:
    """``rhythmcan ARGS`` with files limited to ``fsize`` bytes (a full disk, as EFBIG)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        cli(*args),
        env=subprocess_env(PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit,  # only resource limits, before exec
        check=False,
    )


def test_models_default_on_a_full_disk_is_one_line_and_leaves_no_temp(isolated_home: Path) -> None:
    make_stored_model("mine")
    done = run_limited(["models", "default", "mine"], fsize=8)
    assert "default" in assert_clean_failure(done)
    assert sorted(p.name for p in isolated_home.iterdir()) == ["models"]


def test_models_default_with_a_home_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home-file"
    home.write_text("not a folder")
    done = subprocess.run(
        cli("models", "default", "--clear", "can"),
        env=subprocess_env(RHYTHMCAN_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = assert_clean_failure(done)
    assert "cannot write" in line and "defaults.json" in line and "not a folder" in line
    assert home.read_text() == "not a folder"


def test_models_default_with_a_read_only_home_is_one_line(tmp_path: Path) -> None:
    with read_only(tmp_path / "ro-home") as home:
        done = subprocess.run(
            cli("models", "default", "--clear", "can"),
            env=subprocess_env(RHYTHMCAN_HOME=str(home)),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "defaults.json" in assert_clean_failure(done)
        assert leftovers(home) == []


@pytest.mark.parametrize("value", ["../../etc", "/abs/model", "evil"])
def test_defaults_values_are_names_never_paths(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A folder holding a valid model at the path ``defaults.json`` names is never loaded."""
    make_stored_model("real")
    evil = tmp_path / "cwd" / "evil"
    evil.parent.mkdir()
    (evil).symlink_to(store.models_dir() / "real", target_is_directory=True)
    monkeypatch.chdir(evil.parent)
    (isolated_home / "defaults.json").write_text(json.dumps({"can": value}))
    with pytest.raises(ModelError) as caught:
        store.default_model("can")
    assert value in str(caught.value)
    code, _, err = invoke("sample", "-n", "1", "-o", "-", "--format", "json")
    assert_clean_failure((code, err))


def test_deeply_nested_defaults_is_one_line(isolated_home: Path) -> None:
    (isolated_home / "defaults.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(StoreError, match="deeper than"):
        store.default_model("can")
    make_stored_model("mine")
    store.set_default_model("can", "mine")  # the broken file is simply rewritten
    assert store.default_model("can").name == "mine"


# --------------------------------------------------------------------------- defect 7


def hidden_shard_model() -> store.StoredModel:
    """A stored model whose model.json reads ``.w.bin``, a file its card does not list."""
    lm = generator_layers_model()
    files = lm.to_files()
    data = json.loads(files[MODEL_JSON])
    data["weightsManifest"][0]["paths"] = [".w.bin"]
    card = store.ModelCard(name="hidden", kind="can", genres=[], z_dim=8)
    saved = store.save_model(
        "hidden",
        card,
        {
            "generator/model.json": json.dumps(data).encode(),
            "generator/group1-shard1of1.bin": files[SHARD_NAME],
        },
    )
    (saved / "generator" / ".w.bin").write_bytes(files[SHARD_NAME])
    return store.StoredModel(saved, store_cards.read_card(saved, "hidden"))


def test_a_hidden_weight_file_is_covered_by_the_checksums() -> None:
    model = hidden_shard_model()
    with pytest.raises(ModelError, match="does not list"):
        store.open_model("hidden")
    with pytest.raises(ModelError, match="does not list"):
        model.generator()  # even without the folder scan, an unlisted file is never read
    assert [b.name for b in store.scan_models().broken] == ["hidden"]


# --------------------------------------------------------------------------- defect 9 (store)


def test_a_deeply_nested_card_breaks_only_its_own_model() -> None:
    make_stored_model("fine")
    folder = store.models_dir() / "deep"
    folder.mkdir()
    (folder / store.CARD_FILE).write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    code, out, err = invoke("models", "list", "--json")
    assert code == 0 and "Traceback" not in err
    listing = json.loads(out)
    assert [m["name"] for m in listing["models"]] == ["fine"]
    assert listing["broken"][0]["name"] == "deep"
    assert "deeper than" in listing["broken"][0]["error"]
    code, _, err = invoke("models", "show", "deep")
    assert "deeper than" in assert_clean_failure((code, err))


def test_a_1500_level_folder_tree_inside_a_model_is_no_recursion_error() -> None:
    model = make_stored_model("tree")
    try:
        fd = os.open(model.path / "generator", os.O_RDONLY)
        try:
            for _ in range(1500):  # relative mkdirs: the full path would pass PATH_MAX
                os.mkdir("d", dir_fd=fd)
                inner = os.open("d", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = inner
        finally:
            os.close(fd)
        code, out, err = invoke("models", "list", "--json")
        assert code == 0 and "Traceback" not in err and "Recursion" not in out + err
        [broken] = json.loads(out)["broken"]
        assert broken["name"] == "tree" and "deeper than" in broken["error"]
        code, _, err = invoke("models", "rm", "tree", "--yes")  # and it can be removed
        assert code == 0 and "Traceback" not in err and not model.path.exists()
    finally:
        remove_tree(model.path)  # pytest's own clean-up recurses: never leave the tree


# --------------------------------------------------------------------------- defect 10 (store)

EVIL_TEXT = "calm \x1b[2J\x1b]0;pwned\x07words\x1b[31m\nsecond line\r\x9b2J\u202etxt.exe"


def test_card_text_cannot_write_escape_sequences_to_the_terminal() -> None:
    model = make_stored_model("evil", kind="cgan", genres=("funk", "rock"))
    card = json.loads((model.path / store.CARD_FILE).read_text())
    card["description"] = EVIL_TEXT
    card["attribution"] = "[bold red]fake markup[/]"
    card["note"] = EVIL_TEXT  # an unknown field, shown as JSON
    (model.path / store.CARD_FILE).write_text(json.dumps(card))
    for args in (("models", "show", "evil"), ("models", "list", "--wide"), ("models", "list")):
        code, out, err = invoke(*args)
        assert code == 0, err
        for bad in ("\x1b", "\x07", "\x9b", "\r", "\u202e"):
            assert bad not in out + err, (args, bad)
    code, out, _ = invoke("models", "show", "evil")
    assert "calm" in out and "words" in out and "second line" in out
    assert "[bold red]fake markup[/]" in out  # shown as text, not interpreted


def test_an_error_quoting_a_file_is_one_line_without_escapes(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    data, _ = write_export(folder)
    layer = data["modelTopology"]["model_config"]["config"]["layers"][1]
    layer["class_name"] = "Evil\x1b[2J\nInjected"
    (folder / MODEL_JSON).write_text(json.dumps(data))
    code, _, err = invoke("models", "import", str(folder / MODEL_JSON), "--name", "evil")
    line = assert_clean_failure((code, err))
    assert "\x1b" not in line and "Evil" in line and "Injected" in line


def test_models_list_with_non_ascii_genres_on_an_ascii_terminal() -> None:
    make_stored_model("world", kind="cgan", genres=("música", "日本", "rock"))
    for args in (["models", "list", "--wide"], ["models", "show", "world"]):
        done = subprocess.run(
            cli(*args),
            env=subprocess_env(LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONIOENCODING=""),
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert b"Traceback" not in done.stderr and b"world" in done.stdout
        assert all(byte < 128 for byte in done.stdout)


if sys.platform != "linux":  # pragma: no cover - FIFOs, rlimits and /dev/zero
    pytestmark = pytest.mark.skip(reason="Linux-specific reproductions")
