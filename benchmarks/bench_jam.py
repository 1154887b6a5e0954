"""Benchmark `rhythmcan jam`: audio callback underruns over a headless run (run by hand).

    .venv/bin/python benchmarks/bench_jam.py [--seconds 60] [--model default-can]

Runs ``rhythmcan jam`` in a private tmux server against the ALSA null sink (a temporary
HOME with an ``.asoundrc``, as tests/audio/test_play.py does), presses a key every 2.4 s (new,
vary, lock, tempo, threshold, undo, genre, save...) for ``--seconds``, quits, and prints
the jam's last lines, which count the sounddevice callback's underruns. Target: 0.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = ["n", "v", "1", "v", ">", "n", "-", "u", "g", "v", "2", "n", "v", "<", "s", "+"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--model", default="default-can")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        (home / ".asoundrc").write_text('pcm.!default { type plug; slave.pcm "null" }\n')
        log = Path(tmp) / "jam.err"
        store = os.environ.get("RHYTHMCAN_HOME", str(home))
        env = f"env HOME={home} PYTHONPATH={ROOT} RHYTHMCAN_HOME={store}"
        jam = f"{sys.executable} -m rhythmcan_cli jam -m {args.model} --seed 1 -o {tmp}/saves"
        tmux = ["tmux", "-L", f"bench-jam-{os.getpid()}"]
        command = f"{env} {jam} 2>{log}; echo EXIT=$? >>{log}; sleep 5"
        subprocess.run(
            [*tmux, "new-session", "-d", "-s", "b", "-x", "110", "-y", "30", command], check=True
        )
        try:
            time.sleep(8)  # model load and the first render
            start = time.monotonic()
            pressed = 0
            while time.monotonic() - start < args.seconds:
                subprocess.run(
                    [*tmux, "send-keys", "-t", "b", KEYS[pressed % len(KEYS)]], check=True
                )
                pressed += 1
                time.sleep(2.4)
            subprocess.run([*tmux, "send-keys", "-t", "b", "q"], check=True)
            time.sleep(3)
            print(f"{pressed} keys over {time.monotonic() - start:.0f} s")
            print(log.read_text())
        finally:
            subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)


if __name__ == "__main__":
    main()
