"""Benchmark `rhythmcan sample`: start-up latency and batch throughput (run by hand).

    .venv/bin/python benchmarks/bench_sample.py [--patterns 10000] [--repeat 5]

1. ``rhythmcan sample -n 1 -o x.mid`` wall time, cold (first call on a freshly stored model)
   and warm (median of the next calls), against ``python -c "import numpy"`` measured in the
   same run. Target: at most 3x the baseline.
2. ``rhythmcan sample -n 10000 -o DIR/`` (one MIDI file per pattern). Target: at least
   2,000 patterns per second, end to end (process start included).

The model is a default-size generator (z 100, Dense 512/1024, LSTM 128/128/9, about 800k
parameters) with random weights, stored with ``tests/helpers.make_stored_model`` in a
temporary RHYTHMCAN_HOME.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="rhythmcan-bench-"))
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, RHYTHMCAN_HOME=str(home), PYTHONPATH=path)
    try:
        os.environ["RHYTHMCAN_HOME"] = str(home)
        sys.path.insert(0, str(ROOT))
        from tests.helpers import make_stored_model

        make_stored_model("bench", kind="can", tiny=False)
        cli = [sys.executable, "-m", "rhythmcan_cli"]
        out = home / "x.mid"
        sample_cmd = [*cli, "sample", "-m", "bench", "-n", "1", "-o", str(out), "-q", "--force"]

        cold = timed(sample_cmd, env)
        warm = statistics.median(timed(sample_cmd, env) for _ in range(args.repeat))
        base = statistics.median(
            timed([sys.executable, "-c", "import numpy"], env) for _ in range(args.repeat)
        )
        print(f"python -c 'import numpy'     {base * 1000:7.0f} ms  (median of {args.repeat})")
        print(f"sample -n 1 -o x.mid  cold   {cold * 1000:7.0f} ms  = {cold / base:.2f}x baseline")
        print(
            f"sample -n 1 -o x.mid  warm   {warm * 1000:7.0f} ms  = {warm / base:.2f}x baseline"
            "  (target <= 3x)"
        )

        folder = home / "batch"
        batch_cmd = [
            *cli,
            "sample",
            "-m",
            "bench",
            "-n",
            str(args.patterns),
            "--seed",
            "1",
            "-o",
            f"{folder}/",
            "-q",
        ]
        seconds = timed(batch_cmd, env)
        files = len(list(folder.iterdir()))
        assert files == args.patterns, files
        print(
            f"sample -n {args.patterns} -o DIR/    {seconds:7.2f} s   = "
            f"{args.patterns / seconds:,.0f} patterns/s  (target >= 2,000)"
        )

        # Where the time goes, in-process.
        from rhythmcan_cli.sample import sample, write_pattern_files
        from rhythmcan_cli.store import open_model

        model = open_model("bench")
        start = time.perf_counter()
        patterns = sample(model, n=args.patterns, seed=2)
        mid = time.perf_counter()
        write_pattern_files(patterns, home / "batch2")
        end = time.perf_counter()
        print(
            f"  in-process: generate {args.patterns / (mid - start):,.0f} patterns/s, "
            f"write MIDI files {args.patterns / (end - mid):,.0f} files/s"
        )
        from rhythmcan_cli.midi import midi_files
        from rhythmcan_cli.sample import midi_file_bytes

        values = [p.values for p in patterns]
        start = time.perf_counter()
        blobs = midi_files(
            values,
            threshold=[p.threshold for p in patterns],
            pitches=[p.output_pitches for p in patterns],
        )
        mid = time.perf_counter()
        assert blobs[0] == midi_file_bytes(patterns[:1])
        print(f"  in-process: encode MIDI (no disk) {args.patterns / (mid - start):,.0f} files/s")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
