"""export-tfjs --web: the page written beside an export.

The page itself runs in headless Chromium further down (skipped with the reason when
chromium is missing; scripts/test installs it).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rhythmcan_cli import store
from rhythmcan_cli.cli.app import app
from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.midi import read_midi_windows
from rhythmcan_cli.tfjs.exchange import export_tfjs
from rhythmcan_cli.tfjs.webpage import DEFAULT_TFJS_URL, web_page
from tests.cdp import Browser, find_chromium
from tests.conftest import ROOT
from tests.helpers import make_stored_model


def test_web_export_writes_the_page_beside_the_model(tmp_path: Path) -> None:
    model = make_stored_model("mx", kind="cgan")
    written = export_tfjs(model, tmp_path, web=True)
    assert [p.name for p in written][-1] == "model.json"
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert f'<script src="{DEFAULT_TFJS_URL}"' in page
    assert "4.22.0" in DEFAULT_TFJS_URL
    assert "__RHYTHMCAN" not in page
    assert 'MODEL_URL = "./model.json"' in page


def test_page_escapes_the_tfjs_url_and_the_name() -> None:
    page = web_page({"name": "a<b>&c"}, tfjs_url='js/tf.min.js?x="1"').decode()
    assert '<script src="js/tf.min.js?x=&quot;1&quot;"' in page
    assert "a&lt;b&gt;&amp;c" in page and "a<b>" not in page
    with pytest.raises(UsageError, match="--tfjs-url"):
        web_page({}, tfjs_url=" ")
    with pytest.raises(UsageError, match="--tfjs-url"):
        web_page({}, tfjs_url="tf.js\n<script>")


def test_cli_web_flags(tmp_path: Path) -> None:
    make_stored_model("m")
    runner = CliRunner()
    done = runner.invoke(
        app, ["export-tfjs", "m", str(tmp_path / "w"), "--web", "--tfjs-url", "tf.min.js"]
    )
    assert done.exit_code == 0, done.output
    assert str(tmp_path / "w" / "index.html") in done.stdout
    assert '<script src="tf.min.js"' in (tmp_path / "w" / "index.html").read_text()
    assert f"http.server 8000 --bind 127.0.0.1 --directory {tmp_path / 'w'}" in done.stderr
    again = runner.invoke(app, ["export-tfjs", "m", str(tmp_path / "w"), "--web"])
    assert again.exit_code == 1 and "--force" in again.output
    lonely = runner.invoke(app, ["export-tfjs", "m", str(tmp_path / "x"), "--tfjs-url", "a.js"])
    assert lonely.exit_code == 2 and "--web" in lonely.output
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- in headless Chromium

TFJS_MIN = (
    ROOT / ".tfjs" / "4.22.0" / "node_modules" / "@tensorflow" / "tfjs" / "dist" / "tf.min.js"
)
NEAR = 1e-3  # cells this close to the threshold may fall either side in float32 arithmetic


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No request log on stderr."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on 127.0.0.1 (ephemeral port): ``(root, base URL)``."""
    root = tmp_path_factory.mktemp("site")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """Headless Chromium with TF.js from the npm copy; skips with the reason when missing."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed (scripts/test installs the Debian package)")
    if not TFJS_MIN.is_file():
        pytest.skip(f"TF.js 4.22.0 is not installed: {TFJS_MIN} (run scripts/test)")
    chrome = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chrome
    finally:
        chrome.close()


def _export_page(model: Any, folder: Path, **options: Any) -> None:
    """Export ``model`` with its page into ``folder``, TF.js copied beside (the offline way)."""
    export_tfjs(model, folder, web=True, tfjs_url="tf.min.js", **options)
    shutil.copyfile(TFJS_MIN, folder / "tf.min.js")


def _page_grid(chrome: Browser) -> np.ndarray:
    """The grid the page drew: (32, 9) booleans, read from the table cells."""
    rows = chrome.evaluate(
        "Array.from(document.querySelectorAll('#grid tr')).map((tr) =>"
        " Array.from(tr.querySelectorAll('td.step')).map((td) => td.classList.contains('hit')))"
    )
    return np.asarray(rows, dtype=bool).T


@pytest.mark.bundled
@pytest.mark.parametrize(("name", "genre"), [("default-can", None), ("default-cgan", 7)])
def test_page_generates_the_numpy_pattern_in_chromium(
    browser: Browser, site: tuple[Path, str], tmp_path: Path, name: str, genre: int | None
) -> None:
    root, base = site
    model = store.open_model(name)
    _export_page(model, root / name)
    z = np.random.default_rng(11).normal(size=100).astype(np.float32)
    query = "z=" + ",".join(repr(float(v)) for v in z)
    if genre is not None:
        query += f"&genre={genre}"
    browser.open(f"{base}/{name}/index.html?{query}")
    state = browser.wait_for(
        "window.rhythmcanState && (window.rhythmcanState.ready || window.rhythmcanState.error)"
        " && window.rhythmcanState"
    )
    assert state["ready"] and not state["error"], state
    if genre is not None:
        options = browser.evaluate(
            "Array.from(document.getElementById('genre').options, o => o.text)"
        )
        assert options == model.card.genres
        assert browser.evaluate("document.getElementById('genre').value") == str(genre)
    browser.click("#generate")
    browser.wait_for("window.rhythmcanState.generated === 1 || window.rhythmcanState.error")
    error = browser.evaluate("window.rhythmcanState.error")
    assert error is None, f"{error} (backend {browser.evaluate('tf.getBackend()')})"
    ours = model.generator().generate(z[None], None if genre is None else [genre])[0]
    theirs = np.asarray(browser.evaluate("window.rhythmcanState.pattern"), dtype=np.float32)
    np.testing.assert_allclose(theirs, ours, atol=1e-4, rtol=0)
    threshold = model.card.threshold
    assert browser.evaluate("Number(document.getElementById('threshold').value)") == threshold
    sure = np.abs(ours - threshold) > NEAR
    drawn = _page_grid(browser)
    assert drawn.shape == (32, 9)
    np.testing.assert_array_equal(drawn[sure], (ours > threshold)[sure])
    assert drawn.sum() > 0
    # The MIDI the page offers, read back with rhythmcan's reader: hits at the output
    # pitches, velocity floor(value * 127).
    midi = bytes(browser.evaluate("Array.from(window.rhythmcanMidi())"))
    windows = read_midi_windows(midi, min_onsets=0).windows
    assert windows.shape == (1, 32, 9)
    read = windows[0]
    np.testing.assert_array_equal((read > 0)[sure], (ours > threshold)[sure])
    expected = np.where(ours > threshold, np.floor(ours * 127), 0)
    assert np.abs(read * 127 - expected)[sure].max() <= 1
    shot = browser.screenshot(tmp_path / f"{name}.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
    assert browser.evaluate("document.getElementById('error').textContent") == ""


def test_page_shows_an_error_when_tfjs_does_not_load(
    browser: Browser, site: tuple[Path, str]
) -> None:
    root, base = site
    export_tfjs(make_stored_model("m"), root / "broken", web=True, tfjs_url="missing/tf.min.js")
    browser.open(f"{base}/broken/index.html")
    error = browser.wait_for("window.rhythmcanState && window.rhythmcanState.error")
    assert "Could not load TF.js" in error and "missing/tf.min.js" in error
    assert browser.evaluate("getComputedStyle(document.getElementById('error')).display") == "block"
    assert browser.evaluate("document.getElementById('generate').disabled") is True


def test_page_shows_an_error_when_the_model_does_not_load(
    browser: Browser, site: tuple[Path, str]
) -> None:
    root, base = site
    folder = root / "no-weights"
    _export_page(make_stored_model("m"), folder)
    (folder / "group1-shard1of1.bin").unlink()
    browser.open(f"{base}/no-weights/index.html")
    error = browser.wait_for("window.rhythmcanState && window.rhythmcanState.error")
    assert "Could not load the model" in error
    assert browser.evaluate("document.getElementById('generate').textContent") == "not available"
