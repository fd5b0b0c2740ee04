"""The README's first command, timed: `python benchmarks/first_run.py [--runs 1] [--full]`.

Copies the template (`main.py`, `config.py`, `data.py`) into a fresh temporary folder and runs
`python main.py --quick` there, as a newcomer's first command does after `pip install` (the
install is not timed); with `--full`, `python main.py` (the full-size demo) beside it, for the
ratio. Prints a table: the wall-clock seconds of each run, each action's share of the log, and
whether the quick run stayed within the time the README states (`README_SECONDS`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_SECONDS = 60  # what the README says the first command takes on two CPU cores (under a minute)
TEMPLATE = ("main.py", "config.py", "data.py")


def timed_run(arguments: list[str]) -> tuple[float, str]:
    """Seconds and output of `python main.py <arguments>` in a fresh copy of the template."""
    with tempfile.TemporaryDirectory() as folder:
        for name in TEMPLATE:
            shutil.copy(ROOT / name, Path(folder) / name)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "main.py", *arguments], cwd=folder, env=env, capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"python main.py {' '.join(arguments)} failed:\n{done.stderr[-2000:]}")
        return seconds, done.stdout


def epochs_of(log: str) -> str:
    """'validation 12, production 9': the epochs each training ran, read off the epoch lines."""
    runs = re.findall(r"epoch\s+(\d+)/(\d+):", log)
    counts, last = [], 0
    for done, _ in runs:
        if int(done) <= last:
            counts.append(last)
        last = int(done)
    counts.append(last)
    return ", ".join(f"{name} {count}" for name, count in zip(("validation", "production"), counts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="quick runs to time (the table shows each)")
    parser.add_argument("--full", action="store_true", help="also time `python main.py` (no --quick)")
    args = parser.parse_args(argv)
    rows = []
    for _ in range(args.runs):
        seconds, log = timed_run(["--quick"])
        rows.append(("python main.py --quick", seconds, epochs_of(log)))
    if args.full:
        seconds, log = timed_run([])
        rows.append(("python main.py", seconds, epochs_of(log)))
    print(f"{'command':<26} {'seconds':>8}  {'epochs':<28} within the README's {README_SECONDS} s")
    for command, seconds, epochs in rows:
        within = "yes" if seconds <= README_SECONDS else "no"
        print(f"{command:<26} {seconds:>8.1f}  {epochs:<28} {within if 'quick' in command else '-'}")
    if args.full:
        quick = min(seconds for command, seconds, _ in rows if "quick" in command)
        print(f"full / quick: {rows[-1][1] / quick:.1f}x (same machine, one after the other)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
