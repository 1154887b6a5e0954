"""Output safety: nothing is overwritten without --force; written MIDI satisfies strict readers."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import mido
import pytest
from typer.testing import CliRunner

from rhythmcan_cli.cli.app import app
from tests.helpers import make_stored_model

runner = CliRunner()
SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


def invoke(*args: str) -> tuple[int, bytes, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout_bytes, result.stderr


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["mid", "json"])
def test_sample_into_a_folder_never_overwrites_without_force(tmp_path: Path, fmt: str) -> None:
    make_stored_model("m")
    out = tmp_path / "grooves"
    code, _, err = invoke(
        "sample", "--model", "m", "-n", "3", "--seed", "1", "-o", f"{out}/", "--format", fmt
    )
    assert code == 0, err
    before = snapshot(out)
    assert sorted(before) == [f"pattern-00{i}.{fmt}" for i in (1, 2, 3)]
    # a second run with other patterns: refused, naming a file, nothing changed or added
    code, _, err = invoke(
        "sample", "--model", "m", "-n", "4", "--seed", "2", "-o", f"{out}/", "--format", fmt
    )
    assert code == 1 and "--force" in one_error_line(err) and "pattern-001" in err
    assert snapshot(out) == before
    code, _, err = invoke(
        "sample",
        "--model",
        "m",
        "-n",
        "3",
        "--seed",
        "2",
        "-o",
        f"{out}/",
        "--format",
        fmt,
        "--force",
    )
    assert code == 0, err
    after = snapshot(out)
    assert sorted(after) == sorted(before) and after != before
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temp files


@pytest.mark.parametrize("name", ["one.mid", "one.json"])
def test_sample_to_one_existing_file_needs_force(tmp_path: Path, name: str) -> None:
    make_stored_model("m")
    target = tmp_path / name
    target.write_bytes(b"precious")
    code, _, err = invoke("sample", "--model", "m", "--seed", "1", "-o", str(target))
    assert target.read_bytes() == b"precious"
    assert code == 1 and "--force" in one_error_line(err)
    code, _, err = invoke("sample", "--model", "m", "--seed", "1", "-o", str(target), "--force")
    assert code == 0, err
    assert target.read_bytes() != b"precious"


def test_export_tfjs_never_overwrites_without_force(tmp_path: Path) -> None:
    make_stored_model("m")
    out = tmp_path / "web"
    out.mkdir()
    (out / "group1-shard1of1.bin").write_text("mine")  # just one of the two names
    code, _, err = invoke("export-tfjs", "m", str(out))
    assert code == 1 and "group1-shard1of1.bin" in one_error_line(err) and "--force" in err
    assert snapshot(out) == {"group1-shard1of1.bin": b"mine"}
    code, _, err = invoke("export-tfjs", "m", str(out), "--force")
    assert code == 0, err
    assert sorted(snapshot(out)) == ["group1-shard1of1.bin", "model.json"]


def test_forced_export_replaces_a_symlink_not_its_target(tmp_path: Path) -> None:
    make_stored_model("m")
    out = tmp_path / "web"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("do not touch")
    (out / "model.json").symlink_to(elsewhere)
    code, _, err = invoke("export-tfjs", "m", str(out))
    assert code == 1 and "model.json" in one_error_line(err)
    code, _, err = invoke("export-tfjs", "m", str(out), "--force")
    assert code == 0, err
    assert elsewhere.read_text() == "do not touch"
    assert not (out / "model.json").is_symlink()


# ------------------------------------------------------------------ strict readers


def written_midi(tmp_path: Path) -> list[Path]:
    """Files from the real CLI: plain, swung and looped, a blend of settings."""
    make_stored_model("m", kind="cgan")
    paths: list[Path] = []
    for i, extra in enumerate(
        (
            [],
            ["--swing", "0.6", "--bpm", "87.5"],
            ["--loops", "3", "--bpm", "200", "--genre", "funk=0.5,rock=0.5"],
            ["--threshold", "0.05", "--genre", "jazz"],
        )
    ):
        out = tmp_path / f"set{i}"
        code, _, err = invoke(
            "sample", "--model", "m", "-n", "3", "--seed", str(i), "-o", f"{out}/", *extra
        )
        assert code == 0, err
        paths += sorted(out.glob("*.mid"))
    code, data, err = invoke("sample", "--model", "m", "-n", "2", "--seed", "9", "-o", "-")
    assert code == 0, err
    piped = tmp_path / "piped.mid"
    piped.write_bytes(data)
    return [*paths, piped]


def check_strict_mido(data: bytes) -> int:
    """mido with clip=False: every event valid; note-ons paired with offs; one end per track."""
    midi = mido.MidiFile(file=io.BytesIO(data), clip=False)
    assert midi.type == 1 and midi.ticks_per_beat > 0 and len(midi.tracks) == 2
    ons = 0
    for track in midi.tracks:
        assert track[-1].type == "end_of_track"
        assert sum(msg.type == "end_of_track" for msg in track) == 1
        sounding: dict[int, int] = {}
        for msg in track:
            assert msg.time >= 0
            if msg.type == "note_on" and msg.velocity > 0:
                assert msg.channel == 9 and 1 <= msg.velocity <= 127
                assert sounding.get(msg.note, 0) == 0, "note started twice without an off"
                sounding[msg.note] = 1
                ons += 1
            elif msg.type in ("note_off", "note_on"):
                assert sounding.get(msg.note, 0) == 1, "note off without an on"
                sounding[msg.note] = 0
        assert not any(sounding.values()), "notes left sounding at the end"
    return ons


def test_written_midi_is_valid_for_strict_readers(tmp_path: Path) -> None:
    import pretty_midi

    paths = written_midi(tmp_path)
    assert len(paths) == 13
    for path in paths:
        ons = check_strict_mido(path.read_bytes())
        assert ons > 0, path
        pm = pretty_midi.PrettyMIDI(str(path))
        (drums,) = pm.instruments
        assert drums.is_drum and len(drums.notes) == ons
        assert all(n.end > n.start >= 0 for n in drums.notes)


@pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not SOUNDFONT.is_file(),
    reason="the fluidsynth command or the TimGM6mb sound font is missing",
)
def test_fluidsynth_renders_written_midi(tmp_path: Path) -> None:
    paths = written_midi(tmp_path)
    for path in (paths[0], paths[4], paths[8], paths[-1]):  # one of each kind
        wav = path.with_suffix(".wav")
        done = subprocess.run(
            ["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", "22050", str(SOUNDFONT), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "error" not in (done.stdout + done.stderr).lower(), done.stderr
        with wave.open(str(wav)) as rendered:
            assert rendered.getnframes() > 22050 * 0.5  # at least half a second of audio
