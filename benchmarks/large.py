"""An end-to-end large run: the seed's workflow on about 20 million interactions, action by action.

Writes the demo dataset at scale (140,000 players x ~20,000 games -> about 20 million interactions,
with scores, timestamps and both feature tables) as CSV once (cached in benchmarks/_data/), and a
config for it, then runs, each as its own `recsys` process (as `python main.py <action>` would):
  1. `validate`: training on the time split's training part (~16 million interactions), ranking
     metrics on the held-out last 20 % of each user's history every epoch, with an epoch cap
     (`--epochs`, default 1: `max_epochs = 1`, so the cosine schedule also ends there);
  2. `train`: the production model on every interaction, for the validation run's best epoch count;
  3. `recommend`: the top 10 unseen items of every user -> recommendations.json.
and prints each action's wall time and peak resident memory (its process's maximum RSS), with the
validation metrics beside most popular. Every other setting is the library default (embedding_dim
256, batch_size 1024, softmax loss, features on, the row-sparse step on JAX).

    python benchmarks/large.py [--users 140000] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACTIONS = (
    ("validate", "validation (train split, metrics each epoch)"),
    ("train", "production"),
    ("recommend", "predictions (top 10, every user)"),
)


def run_action(action: str, config_path: Path, log_path: Path) -> dict:
    """Run one `recsys` action in a fresh process; its wall seconds, peak RSS and output."""
    code = (
        "import json, resource, sys; from recsys.cli import main; status = main(sys.argv[1:]); "
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; "
        "print(json.dumps({'status': status, 'peak_mb': peak}))"
    )
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code, action, "--config", str(config_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - started
    log_path.write_text(out.stdout + out.stderr)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines or not lines[-1].startswith("{"):
        raise SystemExit(f"`recsys {action}` failed (exit {out.returncode}); its output is in {log_path}")
    result = json.loads(lines[-1])
    if result["status"] != 0:
        raise SystemExit(f"`recsys {action}` exited with {result['status']}; its output is in {log_path}")
    return {"seconds": seconds, "peak_mb": result["peak_mb"], "output": out.stdout}


def write_config(folder: Path, data: dict[str, Path], epochs: int) -> Path:
    """A config.py for the large run: the CSV files, the epoch cap, outputs inside `folder`."""
    path = folder / "config.py"
    path.write_text(
        "# Written by benchmarks/large.py\n"
        f"raw_data_fpath = {str(data['interactions'])!r}\n"
        'score_column = "score"\n'
        'timestamp_column = "timestamp"\n'
        f"user_features_fpath = {str(data['users'])!r}\n"
        f"item_features_fpath = {str(data['items'])!r}\n"
        f"max_epochs = {epochs}\n"
        f"output_dir = {str(folder / 'outputs')!r}\n"
        f"recommendations_fpath = {str(folder / 'outputs' / 'recommendations.json')!r}\n"
        "top_n = 10\n"
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--users", type=int, default=140_000, help="demo players (140,000 -> ~20M interactions)"
    )
    parser.add_argument("--epochs", type=int, default=1, help="epoch cap of the validation run (max_epochs)")
    args = parser.parse_args()

    from recsys.data.demo import write_demo_files

    data_folder = ROOT / "benchmarks" / "_data" / f"demo_{args.users}"
    data = {name: data_folder / f"{name}.csv" for name in ("interactions", "users", "items")}
    if not all(path.exists() for path in data.values()):
        print(
            f"generating the demo dataset with {args.users:,} players in {data_folder} (once) ...", flush=True
        )
        write_demo_files(data_folder, n_users=args.users, seed=0)
    run_folder = ROOT / "benchmarks" / "_data" / f"large_{args.users}_e{args.epochs}"
    run_folder.mkdir(parents=True, exist_ok=True)
    config_path = write_config(run_folder, data, args.epochs)

    results = {}
    for action, _ in ACTIONS:
        print(f"running `recsys {action}` ...", flush=True)
        results[action] = run_action(action, config_path, run_folder / f"{action}.log")
        print(
            f"  {results[action]['seconds']:,.0f} s, peak RSS {results[action]['peak_mb']:,.0f} MiB",
            flush=True,
        )

    import keras

    size_mb = data["interactions"].stat().st_size / 2**20
    print(
        f"\nLarge run: {data['interactions']} ({size_mb:,.0f} MiB CSV, {args.users:,} players), "
        f"validation capped at {args.epochs} epoch(s); Keras {keras.__version__} on "
        f"{os.environ.get('KERAS_BACKEND', 'jax')}, {os.cpu_count()} CPU cores ({platform.machine()})"
    )
    print(f"{'action':<46}{'wall s':>9}{'min':>7}{'peak RSS MiB':>14}")
    print("-" * 76)
    for action, label in ACTIONS:
        result = results[action]
        print(
            f"{label:<46}{result['seconds']:>9,.0f}{result['seconds'] / 60:>7.1f}{result['peak_mb']:>14,.0f}"
        )
    total = sum(result["seconds"] for result in results.values())
    print(f"{'total':<46}{total:>9,.0f}{total / 60:>7.1f}")
    shown = [
        line.strip()
        for line in results["validate"]["output"].splitlines()
        if re.search(r"most-popular:|epoch \d+/", line)
    ]
    if shown:
        print("\nvalidation run:\n  " + "\n  ".join(shown))
    print(f"\nlogs and outputs: {run_folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
