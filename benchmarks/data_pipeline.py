"""Speed and memory of the data pipeline on a large synthetic dataset.

Generates the demo dataset at scale (140,000 players -> about 20 million interactions) as CSV once
(cached in benchmarks/_data/), then, each in a fresh process so peak memory is its own:
  - recsys: load (read + validate) -> prepare (duplicates, filter until stable, index) -> split (time)
  - polars.read_csv of the same file, and pyarrow.csv.read_csv (raw reads, no validation)
and prints a table with seconds, peak resident memory and the ratio to the raw read (the peak of
each recsys step is the process's peak so far, so the step that sets the total's peak shows).

    python benchmarks/data_pipeline.py [--users 140000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure_recsys(path: str) -> dict:
    import polars  # noqa: F401  (imported before timing, as in the raw-read measurement)

    from recsys.config import Config
    from recsys.data.loading import load_from_files
    from recsys.data.preparation import prepare
    from recsys.data.splitting import split_interactions

    config = Config(raw_data_fpath=path, score_column="score", timestamp_column="timestamp")
    times, peaks = {}, {}
    started = time.perf_counter()
    raw = load_from_files(config)
    times["load"], peaks["load"] = time.perf_counter() - started, peak_rss_mb()
    t = time.perf_counter()
    prepared = prepare(raw, config)
    times["prepare"], peaks["prepare"] = time.perf_counter() - t, peak_rss_mb()
    del raw
    t = time.perf_counter()
    split = split_interactions(prepared.interactions, config)
    times["split"], peaks["split"] = time.perf_counter() - t, peak_rss_mb()
    times["total"], peaks["total"] = time.perf_counter() - started, peak_rss_mb()
    data = prepared.interactions
    array_mb = sum(a.nbytes for a in (data.users, data.items, data.scores, data.timestamps)) / 2**20
    return {
        "times": times,
        "peaks": peaks,
        "peak_mb": peaks["total"],
        "array_mb": array_mb,
        "interactions": len(data),
        "users": data.n_users,
        "items": data.n_items,
        "train": len(split.train),
        "validation": len(split.validation),
    }


def measure_raw(path: str, reader: str) -> dict:
    import polars as pl
    import pyarrow.csv as pacsv

    started = time.perf_counter()
    if reader == "polars":
        rows = pl.read_csv(path).height
    else:
        rows = pacsv.read_csv(path).num_rows
    return {"seconds": time.perf_counter() - started, "peak_mb": peak_rss_mb(), "rows": rows}


def in_subprocess(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--users", type=int, default=140_000, help="demo players (140,000 -> ~20M interactions)"
    )
    parser.add_argument("--quick", action="store_true", help="small run (5,000 players) to check the script")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--raw", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_recsys(args.measure)))
        return 0
    if args.raw:
        reader, path = args.raw.split(":", 1)
        print(json.dumps(measure_raw(path, reader)))
        return 0

    from recsys.data.demo import write_demo_files

    users = 5_000 if args.quick else args.users
    folder = ROOT / "benchmarks" / "_data" / f"demo_{users}"
    csv = folder / "interactions.csv"
    if not csv.exists():
        print(f"generating the demo dataset with {users:,} players in {folder} (once) ...", flush=True)
        write_demo_files(folder, n_users=users, seed=0)
    size_mb = csv.stat().st_size / 2**20
    ours = in_subprocess("--measure", str(csv))
    polars_read = in_subprocess("--raw", f"polars:{csv}")
    arrow_read = in_subprocess("--raw", f"pyarrow:{csv}")
    fastest_raw = min(polars_read["seconds"], arrow_read["seconds"])

    print(
        f"\nData pipeline: {ours['interactions']:,} interactions "
        f"({ours['users']:,} users x {ours['items']:,} items), "
        f"CSV {size_mb:,.0f} MiB; {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    print(f"{'step':<40}{'seconds':>9}{'x raw read':>12}{'peak RSS MiB':>14}")
    print("-" * 75)
    for step in ("load", "prepare", "split", "total"):
        label = {
            "load": "recsys load (read + validate)",
            "prepare": "recsys prepare (dedupe, filter, index)",
            "split": "recsys split (last 20 % by time)",
            "total": "recsys load -> prepare -> split",
        }[step]
        peak = f"{ours['peaks'][step]:>14,.0f}"
        print(f"{label:<40}{ours['times'][step]:>9.2f}{ours['times'][step] / fastest_raw:>12.2f}{peak}")
    print(
        f"{'polars.read_csv (raw)':<40}{polars_read['seconds']:>9.2f}"
        f"{polars_read['seconds'] / fastest_raw:>12.2f}{polars_read['peak_mb']:>14,.0f}"
    )
    print(
        f"{'pyarrow.csv.read_csv (raw)':<40}{arrow_read['seconds']:>9.2f}"
        f"{arrow_read['seconds'] / fastest_raw:>12.2f}{arrow_read['peak_mb']:>14,.0f}"
    )
    print(
        f"\nindexed interaction arrays: {ours['array_mb']:,.0f} MiB "
        "(users, items int32; scores float32; times float64); "
        f"split: {ours['train']:,} train / {ours['validation']:,} validation"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
