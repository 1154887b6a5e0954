"""Benchmark `rhythmcan play`'s memory: peak RSS of `sample -n N -f json | play - --wav` (by hand).

    .venv/bin/python benchmarks/bench_play_memory.py [--patterns 500] [--synth builtin]

Samples N patterns (seed 1) from a default-size generator with random weights stored in a
temporary RHYTHMCAN_HOME, then runs ``rhythmcan play - --wav OUT`` on them and reports the
child's peak RSS against the size of the audio it wrote. Target (issue 17): memory in
proportion to the real work, about twice the 16-bit audio plus the interpreter (500 patterns
at 120 bpm = 2,000 s = 353 MB of audio: 0.8 GB measured, against 2.5 GB before).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", type=int, default=500)
    parser.add_argument("--synth", choices=("builtin", "fluidsynth"), default="builtin")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        home = Path(temp)
        env = {**os.environ, "RHYTHMCAN_HOME": str(home), "PYTHONPATH": str(ROOT)}
        env["RHYTHMCAN_SYNTH"] = args.synth
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from tests.helpers import make_stored_model;"
                " make_stored_model('bench', kind='can', tiny=False)",
            ],
            env=env,
            cwd=ROOT,
            check=True,
        )
        cli = [sys.executable, "-m", "rhythmcan_cli"]
        patterns = subprocess.run(
            [*cli, "sample", "-m", "bench", "-n", str(args.patterns), "--seed", "1", "-f", "json"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        wav = home / "out.wav"
        started = time.perf_counter()
        subprocess.run(
            [*cli, "play", "-", "--wav", str(wav), "--quiet"],
            input=patterns,
            env=env,
            cwd=ROOT,
            check=True,
        )
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        audio_mb = wav.stat().st_size / 1e6
    print(
        f"{args.patterns} patterns ({args.synth}): WAV {audio_mb:.0f} MB, peak RSS"
        f" {peak_mb:.0f} MB ({peak_mb / audio_mb:.1f}x the audio), {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
