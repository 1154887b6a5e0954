"""The web page ``export-tfjs --web`` writes beside an export (``index.html``).

The page is a template shipped in the package (``web/index.html``, written by this project):
it reads rhythmcan's metadata from ``model.json``, loads the model with TF.js, generates
patterns (a genre menu for conditional models, a threshold slider), draws them as a grid,
plays them with a synthesized WebAudio kit, saves them as MIDI and shows any load failure in
a visible error box. Only two things are filled in here: the page title and where TF.js
comes from, so the page can use a local copy of ``tf.min.js`` and work offline.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Any, Final

from rhythmcan_cli.errors import UsageError

PAGE_NAME: Final = "index.html"
TFJS_TESTED_VERSION: Final = "4.22.0"
"""The TF.js version the page is tested with (tests/test_web_page.py, headless Chromium)."""
DEFAULT_TFJS_URL: Final = (
    f"https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@{TFJS_TESTED_VERSION}/dist/tf.min.js"
)
_TEMPLATE: Final = "web/index.html"


def web_page(meta: dict[str, Any], *, tfjs_url: str | None = None) -> bytes:
    """``index.html`` for an export with metadata ``meta``, loading TF.js from ``tfjs_url``
    (an absolute URL or a path relative to the page; default :data:`DEFAULT_TFJS_URL`).

    Raises UsageError for an empty URL or one with control characters.
    """
    url = DEFAULT_TFJS_URL if tfjs_url is None else tfjs_url.strip()
    if not url or any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise UsageError("--tfjs-url needs a URL or a path to tf.min.js, e.g. tf.min.js")
    template = resources.files("rhythmcan_cli.tfjs").joinpath(_TEMPLATE).read_text(encoding="utf-8")
    page = template.replace("__RHYTHMCAN_TFJS_URL__", html.escape(url, quote=True))
    page = page.replace("__RHYTHMCAN_TITLE__", html.escape(str(meta.get("name", "model"))))
    return page.encode("utf-8")
