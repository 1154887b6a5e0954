"""The bounded readers of rhythmcan_cli.inputs: regular files only, capped reads and lines."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from rhythmcan_cli.errors import DataError
from rhythmcan_cli.inputs import (
    NOT_REGULAR,
    TOO_LARGE,
    InputError,
    iter_lines,
    json_depth,
    read_file,
    read_stream,
)


def test_a_regular_file_is_read_whole_up_to_its_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * 1000)
    assert read_file(path, limit=1000) == b"x" * 1000
    with pytest.raises(InputError, match="larger than the") as caught:
        read_file(path, limit=999)
    assert caught.value.reason == TOO_LARGE
    assert isinstance(caught.value, DataError)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifos_devices_and_folders_are_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "zero").symlink_to("/dev/zero")
    for name, kind in (("pipe", "FIFO"), ("zero", "a device"), (".", "folder")):
        with pytest.raises(InputError, match=kind) as caught:
            read_file(tmp_path / name, limit=10)
        assert caught.value.reason == NOT_REGULAR


def test_a_stream_is_refused_once_past_its_limit() -> None:
    assert read_stream(io.BytesIO(b"abc"), limit=3, what="stdin") == b"abc"
    with pytest.raises(InputError, match="stdin holds more than"):
        read_stream(io.BytesIO(b"abcd"), limit=3, what="stdin")
    with pytest.raises(InputError):
        read_stream(io.BytesIO(b"cd"), limit=3, what="stdin", already=2)


def lines(
    data: bytes, max_line: int = 8, max_total: int = 100, max_lines: int | None = None
) -> list[bytes]:
    return list(
        iter_lines(
            io.BytesIO(data),
            what="in",
            max_line=max_line,
            max_total=max_total,
            max_lines=max_lines,
        )
    )


def test_lines_are_split_and_bounded() -> None:
    assert lines(b"ab\n\ncd") == [b"ab", b"", b"cd"]
    assert lines(b"12345678\n") == [b"12345678"]
    assert list(iter_lines(io.BytesIO(b"c\nd\n"), what="in", max_line=8, max_total=9,
                           prefix=b"ab")) == [b"abc", b"d"]  # fmt: skip
    with pytest.raises(InputError, match="a line longer than"):
        lines(b"123456789\n")
    with pytest.raises(InputError, match="a line longer than"):
        lines(b"ok\n" + b"1" * 50)
    with pytest.raises(InputError, match="more than the"):
        lines(b"1234\n" * 30)
    with pytest.raises(InputError, match="more than the 3 lines"):
        lines(b"\n" * 4, max_lines=3)
    assert lines(b"\n" * 3, max_lines=3) == [b"", b"", b""]


def _random_json(rng: random.Random, depth: int) -> Any:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(['[{"', "\\", '\\"]', "}", 1, None, "plain", '"[', "\\\\["])
    if rng.random() < 0.5:
        return [_random_json(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["[", "}", '"', "k"]): _random_json(rng, depth - 1) for _ in range(2)}


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


def test_json_depth_ignores_brackets_inside_strings() -> None:
    rng = random.Random(17)
    for _ in range(300):
        value = _random_json(rng, 6)
        assert json_depth(json.dumps(value).encode()) == _depth(value), value
    assert json_depth(b"") == 0
    assert json_depth(b"[" * 100_000) == 100_000
