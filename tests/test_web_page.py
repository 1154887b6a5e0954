"""export-tfjs --web: the page written beside an export.

The page itself runs in headless Chromium further down (skipped with the reason when
chromium is missing; scripts/test installs it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rhythmcan_cli.cli.app import app
from rhythmcan_cli.errors import UsageError
from rhythmcan_cli.tfjs import export_tfjs
from rhythmcan_cli.webpage import DEFAULT_TFJS_URL, web_page
from tests.helpers import make_stored_model


def test_web_export_writes_the_page_beside_the_model(tmp_path: Path) -> None:
    model = make_stored_model("mx", kind="cgan")
    written = export_tfjs(model, tmp_path, web=True)
    assert [p.name for p in written][-1] == "model.json"
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert f'<script src="{DEFAULT_TFJS_URL}"' in page
    assert "4.22.0" in DEFAULT_TFJS_URL
    assert "__RHYTHMCAN" not in page
    assert 'MODEL_URL = "model.json"' in page


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
    again = runner.invoke(app, ["export-tfjs", "m", str(tmp_path / "w"), "--web"])
    assert again.exit_code == 1 and "--force" in again.output
    lonely = runner.invoke(app, ["export-tfjs", "m", str(tmp_path / "x"), "--tfjs-url", "a.js"])
    assert lonely.exit_code == 2 and "--web" in lonely.output
    assert not (tmp_path / "x").exists()
