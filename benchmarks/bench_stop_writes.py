"""Ctrl-C (or SIGTERM) during ``rhythmcan sample -n 30000 -o DIR/``: how fast it stops, and
whether what it says is true. Run by hand; figures go to docs/reliability.md.

    .venv/bin/python benchmarks/bench_stop_writes.py --trials 30 [--signal TERM]

Each trial stores a tiny generator, starts the batch, waits until its hidden partial folder
exists (the writes have begun), waits a random 0-1 s more, sends the signal and measures the
time to exit. A trial is *true* when exit 130/143 left no file and exit 0 left all of them;
a *hang* is still running 60 s after the signal.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _default_sigint() -> None:
    """Ctrl-C as on a terminal even when this runs in the background (which ignores SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("-n", type=int, default=30000)
    parser.add_argument("--signal", choices=("INT", "TERM"), default="INT")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    signum = getattr(signal, f"SIG{args.signal}")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="rhythmcan-stop-") as tmp:
        home = Path(tmp) / "home"
        env = dict(os.environ, RHYTHMCAN_HOME=str(home), PYTHONPATH=str(ROOT), NO_COLOR="1")
        os.environ["RHYTHMCAN_HOME"] = str(home)
        from tests.helpers import make_stored_model

        make_stored_model("bench")
        seconds: list[float] = []
        outcomes = {"stopped": 0, "finished": 0, "untrue": 0, "hang": 0, "traceback": 0}
        for trial in range(args.trials):
            out = Path(tmp) / f"out{trial}"
            cmd = [sys.executable, "-m", "rhythmcan_cli", "sample", "-m", "bench"]
            cmd += ["-n", str(args.n), "-o", f"{out}/", "-q"]
            proc = subprocess.Popen(
                cmd, env=env, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint
            )
            while proc.poll() is None and not list(out.glob(".rhythmcan-partial-*")):
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 1.0))
            proc.send_signal(signum)
            sent = time.monotonic()
            try:
                _, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                outcomes["hang"] += 1
                continue
            seconds.append(time.monotonic() - sent)
            files = len(list(out.glob("pattern-*"))) if out.is_dir() else 0
            outcomes["traceback"] += "Traceback" in err
            if proc.returncode == 0 and files == args.n:
                outcomes["finished"] += 1
            elif proc.returncode == 128 + signum and files == 0:
                outcomes["stopped"] += 1
            else:
                outcomes["untrue"] += 1
                print(f"trial {trial}: exit {proc.returncode}, {files} files: {err.strip()}")
    print(f"SIG{args.signal} during sample -n {args.n} -o DIR/, {args.trials} trials: {outcomes}")
    if seconds:
        print(
            f"signal -> exit: median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s"
        )


if __name__ == "__main__":
    main()
