"""Benchmark `rhythmcan sample`: start-up latency and batch throughput (run by hand).

    .venv/bin/python benchmarks/bench_sample.py [--patterns 10000] [--repeat 5] [--editable]

1. ``rhythmcan sample -n 1 -o x.mid`` against ``python -c "import numpy"``: the median of
   ``--repeat`` whole-process runs each, ``OPENBLAS_NUM_THREADS=1`` for both, wall time and
   CPU time (user + system: steadier than wall time on a shared machine). Measured from a
   NON-editable install, as users get it: a wheel of this checkout is built and installed
   (``--no-deps``) into a throwaway virtual environment that borrows the running
   environment's site-packages for the dependencies. Target: at most 3x the baseline.
   ``--editable`` measures this checkout in place instead (the development install).
2. ``rhythmcan sample -n 10000 -o DIR/`` (one MIDI file per pattern). Target: at least
   2,000 patterns per second, end to end (process start included).

The model is a default-size generator (z 100, Dense 512/1024, LSTM 128/128/9, about 800k
parameters) with random weights, stored with ``tests/helpers.make_stored_model`` in a
temporary RHYTHMCAN_HOME.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import site
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIP = [sys.executable, "-m", "pip"]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def wall_and_cpu(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one whole process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def installed_python(work: Path) -> Path:
    """A throwaway venv with a wheel of this checkout installed (no editable finder)."""
    wheels = work / "wheels"
    subprocess.run(
        [*PIP, "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = next((venv / "lib").glob("python*/site-packages"))
    wheel = next(wheels.glob("rhythmcan-*.whl"))
    subprocess.run(
        [*PIP, "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # the dependencies come from the running environment, after the wheel on sys.path
    borrowed = [p for p in sys.path if p.endswith("site-packages")] or site.getsitepackages()
    (target / "borrowed.pth").write_text("\n".join(borrowed) + "\n")
    return venv / "bin" / "python"


def median_runs(cmd: list[str], env: dict[str, str], cwd: Path, repeat: int) -> tuple[float, float]:
    runs = [wall_and_cpu(cmd, env, cwd) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", type=int, default=10_000, help="0: start-up only")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--editable", action="store_true", help="measure this checkout in place")
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
        quiet_env = dict(env, OPENBLAS_NUM_THREADS="1")
        if args.editable:
            python, where, start_env = Path(sys.executable), ROOT, quiet_env
        else:
            python, where = installed_python(home / "install"), home
            start_env = {k: v for k, v in quiet_env.items() if k != "PYTHONPATH"}
            probe = subprocess.run(
                [str(python), "-c", "import rhythmcan_cli; print(rhythmcan_cli.__file__)"],
                env=start_env,
                cwd=where,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            assert str(home) in probe, f"not the installed wheel: {probe}"
        sample_cmd = [str(python), "-m", "rhythmcan_cli", "sample", "-m", "bench", "-n", "1"]
        sample_cmd += ["-o", str(out), "-q", "--force"]
        wall_and_cpu(sample_cmd, start_env, where)  # the first call hashes the new model
        base_wall, base_cpu = median_runs(
            [str(python), "-c", "import numpy"], start_env, where, args.repeat
        )
        wall, cpu = median_runs(sample_cmd, start_env, where, args.repeat)
        how = "editable checkout" if args.editable else "installed wheel"
        print(f"start-up ({how}, OPENBLAS_NUM_THREADS=1, median of {args.repeat}):")
        print(
            f"  python -c 'import numpy'   wall {base_wall * 1000:5.0f} ms"
            f"  cpu {base_cpu * 1000:5.0f} ms"
        )
        print(
            f"  sample -n 1 -o x.mid       wall {wall * 1000:5.0f} ms  cpu {cpu * 1000:5.0f} ms"
            f"  = {wall / base_wall:.2f}x wall, {cpu / base_cpu:.2f}x cpu  (target <= 3x)"
        )

        if args.patterns <= 0:  # --patterns 0: start-up only
            return
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
        from rhythmcan_cli.sampling.sample import sample, write_pattern_files
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
        from rhythmcan_cli.sampling.sample import midi_file_bytes

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
