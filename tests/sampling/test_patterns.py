"""Pattern JSON lines: round trips, validation with line numbers, the 'last' pattern."""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.grid import CLASS_NAMES, OUTPUT_PITCHES
from rhythmcan_cli.sampling.patterns import (
    SampledPattern,
    atomic_write,
    dumps_patterns,
    genre_label,
    load_last,
    loads_patterns,
    read_patterns,
    resolve_patterns,
    save_last,
    to_json_line,
    write_patterns,
)


def make(index: int = 0, genre: str | dict[str, float] | None = None) -> SampledPattern:
    rng = np.random.default_rng(index)
    values = np.round(rng.random((32, 9)), 4).astype(np.float32)
    return SampledPattern(
        model="m",
        kind="cgan" if genre else "can",
        genre=genre,
        seed=99,
        index=index,
        z=np.round(rng.standard_normal(5), 6),
        threshold=0.2,
        class_names=CLASS_NAMES,
        output_pitches=OUTPUT_PITCHES,
        values=values,
    )


def test_json_lines_round_trip_exactly() -> None:
    patterns = [make(0), make(1, "rock"), make(2, {"rock": 0.25, "funk": 0.75})]
    text = dumps_patterns(patterns)
    assert text.count("\n") == 3
    back = loads_patterns(text)
    assert dumps_patterns(back) == text
    for a, b in zip(patterns, back, strict=True):
        assert np.array_equal(a.values, b.values)
        assert np.array_equal(a.z, b.z)
        assert a.genre == b.genre
    obj = json.loads(text.splitlines()[0])
    assert obj["format"] == "rhythmcan.pattern/1"
    assert len(obj["values"]) == 32 and len(obj["values"][0]) == 9
    assert list(obj) == [
        "format",
        "model",
        "kind",
        "genre",
        "seed",
        "index",
        "z",
        "threshold",
        "class_names",
        "output_pitches",
        "values",
    ]


def test_read_from_path_text_and_stream(tmp_path: Path) -> None:
    patterns = [make(0), make(1)]
    path = tmp_path / "p.jsonl"
    write_patterns(patterns, path)
    assert len(read_patterns(path)) == 2
    assert len(read_patterns(path.read_text())) == 2
    stream = io.StringIO()
    write_patterns(patterns, stream)
    stream.seek(0)
    assert [p.index for p in read_patterns(stream)] == [0, 1]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"format": "other"}', "format"),
        ('{"format": "rhythmcan.pattern/1"}', "lacks"),
    ],
)
def test_a_line_that_is_not_a_pattern_names_its_line(line: str, message: str) -> None:
    text = to_json_line(make(0)) + "\n\n" + line + "\n"
    with pytest.raises(DataError, match=f"line 3: .*{message}"):
        loads_patterns(text)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("values", [[0.5] * 9] * 31, "32 rows"),
        ("values", [[1.5] * 9] * 32, r"\[0, 1\]"),
        ("threshold", 2, "threshold"),
        ("genre", 3, "genre"),
        ("z", [], "z"),
        ("seed", -1, "seed"),
        ("output_pitches", [200] * 9, "pitches"),
    ],
)
def test_bad_fields_are_refused(key: str, value: object, message: str) -> None:
    obj = make(0).to_dict()
    obj[key] = value
    with pytest.raises(DataError, match=message):
        loads_patterns(json.dumps(obj))


def test_empty_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no patterns"):
        loads_patterns("\n \n")
    with pytest.raises(DataError, match="no such pattern file"):
        read_patterns(tmp_path / "missing.json")


def test_last_pattern_is_kept_atomically() -> None:
    with pytest.raises(DataError, match="run 'rhythmcan sample' first"):
        load_last()
    path = save_last(make(4, "jazz"))
    assert path.name == "last.json"
    assert path.parent == Path(os.environ["RHYTHMCAN_HOME"])
    assert load_last().index == 4
    assert resolve_patterns("last")[0].genre == "jazz"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_gives_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.bin"
    atomic_write(target, b"abc")
    assert target.read_bytes() == b"abc"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask


def test_genre_labels() -> None:
    assert genre_label(None) == ""
    assert genre_label("rock") == "rock"
    assert genre_label({"funk": 0.3, "rock": 0.7}) == "rock 70% + funk 30%"
