"""The model store: cards, atomic writes, checksums, names, bundled defaults, locks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from rhythmcan_cli import atomic, store
from rhythmcan_cli.errors import ModelError, StoreError
from rhythmcan_cli.formats import model_folder as model_files
from rhythmcan_cli.store import ModelCard
from rhythmcan_cli.store import paths as store_paths
from rhythmcan_cli.store import saving as store_saving
from rhythmcan_cli.store import stored as store_stored
from rhythmcan_cli.training.runs import run_lock
from rhythmcan_cli.vocabulary import ModelKind
from tests.conftest import subprocess_env

FILES: dict[str, bytes] = {
    "generator/model.json": b'{"format": "layers-model"}',
    "generator/group1-shard1of1.bin": bytes(range(256)) * 4,
}


def card(kind: ModelKind = "can", **extra: Any) -> ModelCard:
    values: dict[str, Any] = {"genres": ["funk", "rock"], "epochs": 3, **extra}
    return ModelCard(name="ignored", kind=kind, **values)


def save(name: str = "m1", **kwargs: Any) -> Path:
    return store.save_model(name, card(), FILES, **kwargs)


def store_entries() -> list[str]:
    root = store.models_dir()
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


# ---------------------------------------------------------------- cards


def test_card_round_trips_and_keeps_unknown_fields() -> None:
    original = card(final_losses={"d": 0.5, "g": 1.25}, versions={"numpy": "2.0"})
    data = original.to_dict()
    data["future_field"] = {"x": 1}
    back = ModelCard.from_dict(json.loads(json.dumps(data)))
    assert back.final_losses == {"d": 0.5, "g": 1.25}
    assert back.genres == ["funk", "rock"]
    assert back.extra == {"future_field": {"x": 1}}
    assert back.to_dict()["future_field"] == {"x": 1}
    assert back.class_names[0] == "kick" and back.output_pitches[0] == 36


@pytest.mark.parametrize("missing", ["name", "kind", "genres", "files"])
def test_card_missing_required_field_is_model_error(missing: str) -> None:
    data = card().to_dict()
    del data[missing]
    with pytest.raises(ModelError, match=missing):
        ModelCard.from_dict(data)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("kind", "vae"),
        ("genres", "funk"),
        ("z_dim", 1.5),
        ("epochs", True),
        ("files", {"a": 1}),
        ("files", {"../../etc/passwd": "00"}),
        ("final_losses", {"d": "x"}),
    ],
)
def test_card_bad_values_are_model_errors(key: str, value: Any) -> None:
    data = card().to_dict()
    data[key] = value
    with pytest.raises(ModelError):
        ModelCard.from_dict(data)


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "a/b",
        "/abs",
        "",
        ".hidden",
        "a..b",
        "..",
        "a\\b",
        "x" * 65,
        "-x",
        "a b",
        "é",
        "a\x00b",
    ],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(StoreError, match="invalid model name"):
        store.validate_name(name)
    with pytest.raises(StoreError):
        store.save_model(name, card(), FILES)
    assert store_entries() == []


@pytest.mark.parametrize("name", ["a", "default-can", "My_model.v2", "x" * 64, "0"])
def test_good_names_pass(name: str) -> None:
    assert store.validate_name(name) == name


@pytest.mark.parametrize("rel", ["../evil", "/abs/file", "card.json", "a//b", "./x", ""])
def test_bad_file_names_inside_a_model_are_refused(rel: str) -> None:
    with pytest.raises(ModelError):
        store.save_model("m1", card(), {rel: b"x"})
    assert store_entries() == []


# ---------------------------------------------------------------- save / open


def test_save_then_open_verifies_and_describes(isolated_home: Path) -> None:
    folder = save()
    assert folder == isolated_home / "models" / "m1"
    assert (folder / "generator" / "group1-shard1of1.bin").read_bytes() == FILES[
        "generator/group1-shard1of1.bin"
    ]
    model = store.open_model("m1")
    assert model.name == "m1" and model.kind == "can" and not model.bundled
    assert set(model.card.files) == set(FILES)
    assert all(len(digest) == 64 for digest in model.card.files.values())
    assert model.card.created  # filled in
    assert model.size_bytes() > sum(len(b) for b in FILES.values())
    assert store.model_path("m1") == folder
    on_disk = json.loads((folder / "card.json").read_text())
    assert on_disk["name"] == "m1" and on_disk["files"] == model.card.files


def test_save_copies_path_sources(tmp_path: Path) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(b"\x01\x02" * 1000)
    store.save_model("p", card(), {"generator/model.json": b"{}", "generator/w.bin": source})
    assert (store.model_path("p") / "generator" / "w.bin").read_bytes() == source.read_bytes()


def test_open_by_folder_path_and_card_path() -> None:
    folder = save()
    assert store.open_model(folder).name == "m1"
    assert store.open_model(str(folder / "card.json")).name == "m1"


def test_open_unknown_name_says_where_to_look() -> None:
    with pytest.raises(ModelError, match="models list"):
        store.open_model("nope")
    with pytest.raises(ModelError):
        store.open_model("/no/such/folder")


def test_existing_name_needs_force() -> None:
    save()
    before = (store.model_path("m1") / "card.json").read_bytes()
    with pytest.raises(StoreError, match="--force"):
        store.save_model("m1", card(epochs=99), FILES)
    assert (store.model_path("m1") / "card.json").read_bytes() == before


def test_force_replaces_in_one_step_and_leaves_nothing_behind() -> None:
    save()
    new_files = {"generator/model.json": b'{"new": true}'}
    replaced = card()
    replaced.epochs = 42
    store.save_model("m1", replaced, new_files, force=True)
    model = store.open_model("m1")
    assert model.card.epochs == 42
    assert set(model.card.files) == {"generator/model.json"}
    assert not (model.path / "generator" / "group1-shard1of1.bin").exists()
    assert store_entries() == ["m1"]


def _fail_on_second_write(monkeypatch: pytest.MonkeyPatch) -> None:
    real = store_saving._write_file
    calls = {"n": 0}

    def flaky(target: Path, source: bytes | Path) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            target.write_bytes(b"half")  # a partial file, then the crash
            raise RuntimeError("disk on fire")
        return real(target, source)

    monkeypatch.setattr(store_saving, "_write_file", flaky)


def test_crash_mid_write_leaves_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_on_second_write(monkeypatch)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save()
    assert store.list_models() == []
    assert store_entries() == []  # the temp folder went too
    with pytest.raises(ModelError):
        store.open_model("m1")


def test_crash_during_forced_replace_keeps_the_old_model(monkeypatch: pytest.MonkeyPatch) -> None:
    save()
    old = store.open_model("m1").card.files
    _fail_on_second_write(monkeypatch)
    with pytest.raises(RuntimeError):
        store.save_model("m1", card(epochs=7), {"a.bin": b"1", "b.bin": b"2"}, force=True)
    assert store.open_model("m1").card.files == old
    assert store_entries() == ["m1"]


KILL_MID_WRITE = """
import os, signal
from pathlib import Path
from rhythmcan_cli import store
from rhythmcan_cli.store import saving as store_saving
real = store_saving._write_file
n = [0]
def dying(target, source):
    n[0] += 1
    if n[0] == 2:
        target.write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGKILL)
    return real(target, source)
store_saving._write_file = dying
store.save_model("killed", store.ModelCard(name="killed", kind="can", genres=["a", "b"]),
                 {"generator/model.json": b"{}", "generator/w.bin": b"0" * 100})
"""


def test_killed_process_leaves_an_ignored_temp_folder_that_gets_cleaned() -> None:
    done = subprocess.run(
        [sys.executable, "-c", KILL_MID_WRITE],
        env=subprocess_env(),
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == -9, done.stderr
    leftovers = [name for name in store_entries() if name.startswith(".tmp-")]
    assert len(leftovers) == 1
    assert store.list_models() == []  # never listed (and cleaned by the listing)
    assert store.scan_models().broken == []
    assert store_entries() == []
    save("after")
    assert [m.name for m in store.list_models()] == ["after"]


def test_leftover_of_a_live_process_is_kept_unless_stale() -> None:
    root = store.models_dir()
    root.mkdir(parents=True)
    live = root / f".tmp-{os.getpid()}-abcd-writing"
    live.mkdir()
    assert store.clean_leftovers() == []
    assert live.exists()
    stale = time.time() - 2 * 24 * 3600
    os.utime(live, (stale, stale))
    assert store.clean_leftovers() == [live]
    assert not live.exists()


# ---------------------------------------------------------------- checksums and corruption


def test_checksum_mismatch_is_detected_and_named() -> None:
    folder = save()
    weights = folder / "generator" / "group1-shard1of1.bin"
    data = bytearray(weights.read_bytes())
    data[10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"checksum.*group1-shard1of1\.bin"):
        store.open_model("m1")
    listing = store.scan_models()
    assert listing.models == []
    assert [b.name for b in listing.broken] == ["m1"]
    assert "checksum" in listing.broken[0].error
    assert store.list_models() == []


def test_missing_file_is_named() -> None:
    folder = save()
    (folder / "generator" / "model.json").unlink()
    with pytest.raises(ModelError, match=r"generator/model\.json is missing"):
        store.open_model("m1")


def test_unlisted_file_makes_the_model_unusable() -> None:
    folder = save()
    (folder / "generator" / "extra.py").write_text("print('hi')")
    with pytest.raises(ModelError, match="does not list"):
        store.open_model("m1")


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"name": "m1"}', b"\xff\xfe"])
def test_corrupt_card_is_reported_not_raised(content: bytes) -> None:
    folder = save()
    save("good")
    (folder / "card.json").write_bytes(content)
    listing = store.scan_models()
    assert [m.name for m in listing.models] == ["good"]
    assert [b.name for b in listing.broken] == ["m1"]
    with pytest.raises(ModelError, match="m1"):
        store.open_model("m1")


def test_folder_without_card_is_broken_not_a_crash() -> None:
    (store.models_dir() / "junk").mkdir(parents=True)
    listing = store.scan_models()
    assert listing.models == [] and listing.broken[0].name == "junk"
    assert "card.json" in listing.broken[0].error


def test_model_removed_while_being_read_is_a_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    save()
    real = model_files.sha256_inside

    def racing(folder: Path, rel: str, where: str = "", **options: bool) -> str:
        store.remove_model("m1")  # another command's 'models rm' lands right now
        return real(folder, rel, where, **options)

    monkeypatch.setattr(store_stored, "sha256_inside", racing)
    with pytest.raises(ModelError, match="vanished"):
        store.open_model("m1")


def test_model_removed_during_listing_is_simply_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    save("a")
    save("b")
    real = model_files.sha256_inside

    def racing(folder: Path, rel: str, where: str = "", **options: bool) -> str:
        if store.models_dir().joinpath("b").exists() and folder.name == "b":
            store.remove_model("b")
        return real(folder, rel, where, **options)

    monkeypatch.setattr(store_stored, "sha256_inside", racing)
    listing = store.scan_models()
    assert [m.name for m in listing.models] == ["a"]
    assert listing.broken == []


# ---------------------------------------------------------------- remove


def test_remove_model() -> None:
    save()
    store.remove_model("m1")
    assert store_entries() == []
    with pytest.raises(ModelError, match="no model named"):
        store.remove_model("m1")
    with pytest.raises(StoreError):
        store.remove_model("../m1")


# ---------------------------------------------------------------- bundled defaults


@pytest.fixture
def bundled_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A bundled-defaults folder holding 'default-can', built through save_model."""
    folder = tmp_path / "bundled"
    folder.mkdir()
    (folder / "__pycache__").mkdir()  # not a model; must be skipped silently
    built = store.save_model("default-can", card(), FILES)
    shutil.move(str(built), str(folder / "default-can"))
    monkeypatch.setattr(store_paths, "BUNDLED_DIR", folder)
    return folder


def test_bundled_models_open_list_and_cannot_be_removed(bundled_dir: Path) -> None:
    model = store.open_model("default-can")
    assert model.bundled and model.path == bundled_dir / "default-can"
    save("mine")
    listing = store.scan_models()
    assert [(m.name, m.bundled) for m in listing.models] == [("mine", False), ("default-can", True)]
    assert listing.broken == []
    with pytest.raises(StoreError, match="bundled"):
        store.remove_model("default-can")
    assert store.model_path("default-can") == bundled_dir / "default-can"


def test_store_model_shadows_bundled_one_of_the_same_name(bundled_dir: Path) -> None:
    save("default-can")
    assert not store.open_model("default-can").bundled
    assert [m.name for m in store.list_models()] == ["default-can"]


def test_default_model_uses_bundled_then_user_choice(bundled_dir: Path) -> None:
    assert store.default_model("can").name == "default-can"
    save("mine")
    store.set_default_model("can", "mine")
    assert store.default_model("can").name == "mine"
    with pytest.raises(ModelError, match="not cgan"):
        store.set_default_model("cgan", "mine")
    store.set_default_model("can", None)
    assert store.default_model("can").name == "default-can"


def test_missing_default_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(store_paths, "BUNDLED_DIR", tmp_path / "empty")
    with pytest.raises(ModelError) as info:
        store.default_model("can")
    assert "rhythmcan train DATA_DIR --mode can --name NAME" in str(info.value)
    assert "models import" in str(info.value)
    with pytest.raises(ModelError, match="--mode classifier"):
        store.default_model("classifier")


def test_classifier_has_no_generator() -> None:
    store.save_model("clf", card(kind="classifier"), {"classifier/model.json": b"{}"})
    with pytest.raises(ModelError, match="no generator"):
        store.open_model("clf").generator()


# ---------------------------------------------------------------- run lock


HOLD_LOCK = """
import sys
from rhythmcan_cli.training.runs import run_lock
with run_lock("busy"):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_run_lock_excludes_a_second_process() -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK],
        env=subprocess_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with (
            pytest.raises(StoreError, match=rf"already running \(pid {holder.pid}\)"),
            run_lock("busy"),
        ):
            pass
        with run_lock("other") as folder:  # other names are free
            assert folder == store.runs_dir() / "other"
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs, the kernel drops the lock
        holder.wait(timeout=30)
    with run_lock("busy"):  # released when the holder dies
        pass


def test_run_lock_is_exclusive_within_a_process_too() -> None:
    with (
        run_lock("x"),
        pytest.raises(StoreError, match="already running"),
        run_lock("x"),
    ):
        pass
    with pytest.raises(StoreError):
        run_lock("../x").__enter__()


# ---------------------------------------------------------------- versions, imports


def test_package_versions_import_no_tensorflow() -> None:
    code = textwrap.dedent(
        """
        import sys, json
        from rhythmcan_cli import store
        v = store.package_versions()
        print(json.dumps(v))
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    versions_line, heavy_line = done.stdout.strip().splitlines()
    versions = json.loads(versions_line)
    assert versions["python"].count(".") == 2 and "numpy" in versions
    assert heavy_line == "[]"


def test_store_root_follows_rhythmcan_home(isolated_home: Path) -> None:
    assert store.store_root() == isolated_home
    assert store.models_dir() == isolated_home / "models"


def test_forced_replace_swaps_atomically_or_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    save()
    if sys.platform.startswith("linux"):
        a, b = store.models_dir() / "swap-a", store.models_dir() / "swap-b"
        a.mkdir()
        b.mkdir()
        (a / "f").write_text("a")
        if atomic.exchange_paths(a, b):  # renameat2 RENAME_EXCHANGE where the filesystem has it
            assert (b / "f").read_text() == "a" and not (a / "f").exists()
        shutil.rmtree(a)
        shutil.rmtree(b)
    monkeypatch.setattr(atomic, "exchange_paths", lambda a, b: False)
    store.save_model("m1", card(epochs=5), FILES, force=True)
    assert store.open_model("m1").card.epochs == 5
    assert store_entries() == ["m1"]


# ---------------------------------------------------------------- generators and concurrent readers


def test_generator_loads_through_the_engine_and_detects_late_changes() -> None:
    import numpy as np

    from tests.helpers import make_stored_model

    model = make_stored_model("g", kind="cgan", genres=("a", "b"))
    generator = model.generator()
    assert generator.z_dim == 8 and generator.n_genres == 2
    patterns = generator.generate(np.zeros((2, 8), np.float32), genres=np.array([0, 1]))
    assert patterns.shape == (2, 32, 9)
    weights = model.path / "generator" / "group1-shard1of1.bin"
    data = bytearray(weights.read_bytes())
    data[0] ^= 0x01
    weights.write_bytes(bytes(data))  # changed after open_model verified it
    with pytest.raises(ModelError, match="checksum"):
        model.generator()
    store.remove_model("g")
    with pytest.raises(ModelError):
        model.generator()


READER = """
import sys, time
from rhythmcan_cli import store
from rhythmcan_cli.errors import ModelError
ok = gone = 0
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    try:
        store.open_model("shared").generator()
        store.list_models()
        ok += 1
    except ModelError:
        gone += 1
print(ok, gone)
"""


def test_rm_and_replace_while_another_process_reads() -> None:
    from tests.helpers import make_generator_files, make_stored_model

    make_stored_model("shared")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, "1.5"],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    files = [make_generator_files(seed=s) for s in (1, 2)]
    deadline = time.monotonic() + 1.5
    rounds = 0
    while time.monotonic() < deadline:
        store.remove_model("shared")
        store.save_model("shared", card(), files[rounds % 2])
        store.save_model("shared", card(), files[(rounds + 1) % 2], force=True)
        rounds += 1
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err  # no traceback: only loads or ModelError
    ok, gone = (int(x) for x in out.split())
    assert ok + gone > 0 and rounds > 0
    assert [name for name in store_entries() if name.startswith(".")] == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("special", ["fifo", "dev-zero", "folder"])
def test_a_model_file_that_is_not_a_regular_file_is_broken_not_a_hang(special: str) -> None:
    from tests.reliability.bounds import time_limit

    folder = save("odd")
    shard = folder / "generator" / "group1-shard1of1.bin"
    shard.unlink()
    if special == "fifo":
        os.mkfifo(shard)
    elif special == "dev-zero":
        shard.symlink_to("/dev/zero")
    else:
        shard.mkdir()
    with time_limit(5.0):
        with pytest.raises(ModelError, match=r"not a regular file|symbolic link") as caught:
            store.open_model("odd")
        listing = store.scan_models()
    assert "group1-shard1of1.bin" in str(caught.value) and "\n" not in str(caught.value)
    assert [b.name for b in listing.broken] == ["odd"]
    assert "odd" not in [m.name for m in listing.models]
