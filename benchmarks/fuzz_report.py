"""A longer fuzz run of the MIDI reader than CI affords; prints the docs/reliability.md figures.

Run by hand from the repository root::

    .venv/bin/python benchmarks/fuzz_report.py [--inputs 5000] [--seed 0] [--bound 2.0]

Inputs: each valid seed file (tests/reliability/smf.py, written with mido or raw running
status) mutated by 1-3 random mutations (truncation, lying chunk lengths, bit flips, huge
delta times, absurd tempos, odd time signatures, running-status abuse, sysex garbage,
thousands of tracks, odd divisions and formats, junk chunks), plus random track bodies in
well-formed chunks. For every input it records the outcome of ``read_midi_windows``: windows
read, MidiError (the only allowed failure), another exception (a crash) or more than
``--bound`` seconds (a hang; the call is interrupted by SIGALRM). It also prints the slowest
input, the peak RSS and the outcome of the known slow-input probes (event bomb, time-signature
storm) with their times. The same seeds give the same inputs on every machine.
"""

from __future__ import annotations

import argparse
import random
import resource
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rhythmcan_cli.errors import MidiError
from rhythmcan_cli.midi import read_midi_windows
from tests.reliability import smf


class Overtime(BaseException):
    """The per-input bound ran out (a BaseException so the reader cannot swallow it)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Overtime


def one(blob: bytes, bound: float) -> tuple[str, float, str]:
    """(outcome, seconds, detail) for one input."""
    signal.setitimer(signal.ITIMER_REAL, bound)
    started = time.perf_counter()
    try:
        found = read_midi_windows(blob, min_onsets=0)
        outcome, detail = "read", f"{len(found.windows)} windows"
    except MidiError as error:
        outcome, detail = "MidiError", str(error)
    except Overtime:
        outcome, detail = "hang", f"> {bound} s"
    except Exception:  # what we are counting
        outcome, detail = "crash", traceback.format_exc(limit=3)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return outcome, time.perf_counter() - started, detail


def inputs(count: int, seed: int) -> list[tuple[str, bytes]]:
    """``count`` labelled hostile inputs from ``seed``."""
    rng = random.Random(seed)
    seeds = smf.seeds()
    names = sorted(smf.MUTATIONS)
    made: list[tuple[str, bytes]] = []
    for i in range(count):
        if i % 5 == 4:
            bodies = [rng.randbytes(rng.randint(0, 200)) for _ in range(rng.randint(1, 3))]
            division = rng.choice([1, 96, 480, 0x7FFF, 0xE728])
            made.append(
                ("random-bodies", smf.smf(bodies, fmt=rng.choice([0, 1]), division=division))
            )
        else:
            chosen = [rng.choice(names) for _ in range(rng.randint(1, 3))]
            blob = smf.mutate(rng.choice(seeds), chosen, rng.randrange(2**32))
            made.append(("+".join(chosen), blob))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bound", type=float, default=2.0)
    parser.add_argument("--no-probes", action="store_true", help="skip the slow-input probes")
    args = parser.parse_args()
    signal.signal(signal.SIGALRM, _alarm)

    outcomes: Counter[str] = Counter()
    per_mutation: dict[str, Counter[str]] = {}
    slowest = (0.0, "")
    failures: list[str] = []
    started = time.perf_counter()
    for label, blob in inputs(args.inputs, args.seed):
        outcome, seconds, detail = one(blob, args.bound)
        outcomes[outcome] += 1
        for name in label.split("+"):
            per_mutation.setdefault(name, Counter())[outcome] += 1
        if seconds > slowest[0]:
            slowest = (seconds, label)
        if outcome in ("crash", "hang") and len(failures) < 10:
            failures.append(f"{label}: {detail}")
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"inputs tried      {args.inputs} (seed {args.seed}, bound {args.bound} s)")
    for key in ("read", "MidiError", "crash", "hang"):
        print(f"{key:<17} {outcomes[key]}")
    print(f"total time        {total:.1f} s ({1000 * total / max(1, args.inputs):.2f} ms/input)")
    print(f"slowest input     {slowest[0] * 1000:.0f} ms ({slowest[1]})")
    print(f"peak RSS          {peak:.0f} MB")
    print("per mutation      read / MidiError / crash / hang")
    for name in sorted(per_mutation):
        c = per_mutation[name]
        print(f"  {name:<16} {c['read']:>5} {c['MidiError']:>6} {c['crash']:>3} {c['hang']:>3}")
    for failure in failures:
        print("FAILURE", failure)

    if not args.no_probes:
        from tests.reliability.test_fuzz_midi import event_bomb, signature_storm

        print("slow-input probes (bound 30 s)")
        for label, blob in (
            ("event bomb 100,000 events", event_bomb(100_000)),
            ("event bomb 300,000 events", event_bomb(300_000)),
            ("time-signature storm 10,000", signature_storm(10_000)),
            ("time-signature storm 40,000", signature_storm(40_000)),
        ):
            outcome, seconds, detail = one(blob, 30.0)
            print(
                f"  {label:<30} {len(blob) / 1e3:>7.0f} KB  {seconds:6.2f} s  {outcome}: "
                f"{detail[:60]}"
            )


if __name__ == "__main__":
    main()
